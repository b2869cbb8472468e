"""The training-health part of a run's report section: its signals (losses, D's outputs and accuracy, gradient norms,
last-layer singular values) and its FID on one step axis, the diagnosed spans shaded, and the findings as text.
"""
from __future__ import annotations

from pathlib import Path

from .diagnose import EQUILIBRIUM_D_LOSS, Diagnosis, RunHistory, diagnose, loss_name, read_history
from .errors import InputError
from .plots import pyplot, save_figure

# (title, [(key, label)], log scale): the panels, top to bottom; a panel without any of its keys is left out
PANELS = (
    ("losses", [("d_loss", "D loss"), ("g_loss", "G loss")], False),
    ("discriminator", [("d_accuracy", "D accuracy"), ("d_real", "mean D(real)"), ("d_fake", "mean D(generated)"),
                       ("wasserstein", "Wasserstein estimate")], False),
    ("gradient norms", [("grad_norm_d", "D"), ("grad_norm_g", "G"), ("gp_grad_norm", "D at interpolates")], True),
    ("last-layer top singular value", [("sigma_d", "D"), ("sigma_g", "G")], False),
)
COLOURS = {"divergence": "red", "discriminator_wins": "orange", "oscillation": "purple", "mode_collapse": "brown",
           "mode_hopping": "olive", "learning_rate_mismatch": "teal"}


def health_section(folder: Path, name: str, out: Path) -> dict | None:
    """{'figure': file written in `out`, 'findings': [lines of text], 'verdict': str} for a run with training
    signals or scores to diagnose; None for one with neither."""
    run_files = (folder / "training.jsonl", folder / "metrics.jsonl")
    if not any(path.is_file() for path in run_files):
        return None
    try:
        history = read_history(folder)
    except InputError as error:  # an unreadable training.jsonl spoils its own section, not the report
        return {"figure": None, "findings": [f"unreadable: {error}"], "verdict": "not diagnosed"}
    diagnosis = diagnose(history)
    figure = _plot(history, diagnosis, name, out) if _plotted(history) else None
    findings = [f"{finding.kind} at steps {finding.first_step}-{finding.last_step}: {finding.summary} "
                f"(remedy: {finding.remedy}; {finding.citation})" for finding in diagnosis.findings]
    verdict = "healthy" if diagnosis.healthy else (f"{len(findings)} finding(s)" if findings else "nothing to judge")
    not_judged = [f"not judged: {kind} ({reason})" for kind, reason in diagnosis.not_judged.items()]
    return {"figure": figure, "findings": findings + not_judged, "verdict": verdict}


def _plotted(history: RunHistory) -> bool:
    """Whether the run has signals to draw: a panel's key on some line (a user's own keys alone draw nothing)."""
    keys = {key for _, panel, _ in PANELS for key, _ in panel}
    return any(key in line for line in history.lines for key in keys)


def _plot(history: RunHistory, diagnosis: Diagnosis, name: str, out: Path) -> str:
    panels = [(title, [(key, label) for key, label in keys if any(key in line for line in history.lines)], log)
              for title, keys, log in PANELS]
    panels = [panel for panel in panels if panel[1]]
    fid = [(record.step, record.values["fid"]) for record in history.scores if "fid" in record.values]
    rows = len(panels) + bool(fid)
    figure, axes = pyplot().subplots(rows, 1, figsize=(7, 1.9 * rows), sharex=True, squeeze=False)
    axes = [row[0] for row in axes]
    for axis, (title, keys, log) in zip(axes, panels):
        for key, label in keys:
            points = [(line["step"], line[key]) for line in history.lines if isinstance(line.get(key), (int, float))]
            axis.plot([step for step, _ in points], [value for _, value in points], linewidth=0.8, label=label)
        if title == "losses":
            _equilibrium_line(axis, history)
        if log:
            axis.set_yscale("log")
        axis.set_title(title, fontsize=8)
        axis.legend(fontsize=6, loc="upper right")
        axis.grid(alpha=0.3)
    if fid:
        axes[-1].plot([step for step, _ in fid], [value for _, value in fid], marker="o", markersize=3, label="FID")
        axes[-1].set_title("FID at the checkpoints", fontsize=8)
        axes[-1].grid(alpha=0.3)
    for finding in diagnosis.findings:
        for axis in axes:
            axis.axvspan(finding.first_step, max(finding.last_step, finding.first_step + 1), alpha=0.15,
                         color=COLOURS[finding.kind], label=None)
    axes[0].set_title(f"{name}: {'healthy' if diagnosis.healthy else ', '.join(sorted(diagnosis.kinds())) or 'losses'}"
                      f"\nlosses", fontsize=8)
    axes[-1].set_xlabel("step")
    file = f"health-{name}.png"
    save_figure(figure, out / file)
    return file


def _equilibrium_line(axis, history: RunHistory) -> None:
    loss = loss_name(history)
    if loss in EQUILIBRIUM_D_LOSS:
        axis.axhline(EQUILIBRIUM_D_LOSS[loss], color="grey", linestyle="--", linewidth=0.7, label="D at equilibrium")
