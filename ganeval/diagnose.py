"""`ganeval diagnose`: name a GAN run's failure modes from its training signals (training.jsonl) and its scores
(metrics.jsonl), each finding with the steps where it shows, the numbers it rests on, a remedy and its citation.

Kinds (KINDS): divergence, discriminator_wins, oscillation, mode_collapse, mode_hopping, learning_rate_mismatch;
a run where none fires is healthy. Every threshold lives in THRESHOLDS with the reason for its value; the shipped
configs on three seeds fire none of them (benchmarks/README.md, "Training health"). A run without metrics.jsonl is
diagnosed from its signals alone and says which kinds it could not judge; one without training.jsonl (trained
before the signals, or scored only) from its scores alone.

>>> import tempfile
>>> from ganeval.training_log import TrainingLog
>>> run = tempfile.mkdtemp()
>>> for step in range(20, 220, 20):
...     _ = TrainingLog(run).log(step, d_loss=1.3, g_loss=0.8, d_accuracy=0.6, loss="ns")
>>> diagnose_run(run).healthy
True
"""
from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from statistics import median

from .errors import InputError
from .records import Record
from .runs import RunDir
from .training_log import SIGNALS, read_training_log

KINDS = ("divergence", "discriminator_wins", "oscillation", "mode_collapse", "mode_hopping", "learning_rate_mismatch")


@dataclass(frozen=True)
class Threshold:
    value: float
    reason: str


# The one table of thresholds. The losses' equilibrium values come from ganeval.train.losses.EQUILIBRIUM_LOSSES
# (copied here as numbers: diagnosis reads records and never imports training).
THRESHOLDS: dict[str, Threshold] = {
    "growth": Threshold(100.0, "a loss or gradient norm 100x (two orders of magnitude) its early median is divergence, "
                               "not learning: healthy runs stay within 10x (calibration table)"),
    "gradient_norm": Threshold(100.0, "ganhacks: gradient norms above 100 are trouble; growth needs this floor too, so "
                                      "that a norm growing from 0.01 to 1 is not called divergence"),
    "saturation": Threshold(50.0, "a mean D output or a loss beyond +-50: for the BCE losses sigmoid's gradient there "
                                  "is below 2e-22 and neither network learns; LSGAN's scores aim at 0 and 1 and "
                                  "hinge's margins are +-1, so +-50 is far outside both games; healthy runs stay "
                                  "within +-15 (calibration table)"),
    "d_accuracy": Threshold(0.95, "D separates real from generated at a rate equilibrium (0.5) never reaches; shipped "
                                  "runs sit below 0.9 after their first few hundred steps"),
    "d_loss_share": Threshold(0.25, "D's loss below a quarter of its equilibrium value (2 ln 2 = 1.386 for BCE): "
                                    "ganhacks' 'D loss goes to 0', scaled per loss; lr_d 10x lr_g sits at 0.1-0.25 "
                                    "of it, shipped runs above 0.6 (calibration table)"),
    "window": Threshold(5, "D's accuracy and loss are judged on running medians of 5 logged lines (100 steps at "
                           "log_every 20): one batch's accuracy of 1 or loss of 0 is common in healthy runs"),
    "sustained": Threshold(0.25, "a pattern counts when it holds over at least a quarter of the logged steps (and 5 "
                                 "lines): a few bad batches are noise"),
    "fid_progress": Threshold(0.05, "FID 'stops improving' when it falls by less than 5% over the span"),
    "noise": Threshold(0.10, "without bootstrap intervals, a FID move counts beyond noise above 10% relative (the "
                             "spread of FID at 1,000 samples over seeds is a few percent)"),
    "rises": Threshold(2, "oscillation: FID rises beyond noise at least twice after falling (one rise is a bad "
                          "checkpoint)"),
    "diversity_drop": Threshold(0.2, "a diversity metric (modes, coverage, recall, Vendi) 20% below its best "
                                     "checkpoint's while precision holds is collapse, not noise"),
    "precision_hold": Threshold(0.9, "precision 'holds' when it stays above 90% of its value at that best checkpoint"),
    "covered": Threshold(0.5, "a mode is covered from half its share of the checkpoint's samples under uniform "
                              "coverage (PacGAN counts one high-quality sample: too few to tell a hop from noise)"),
    "lost": Threshold(0.1, "and lost below a tenth of it; between the two it keeps its state (hysteresis), so a "
                           "count wavering around one line is no hop"),
    "mode_samples": Threshold(10, "a checkpoint's modes are read from 10 samples per mode on average (250 on grid25): "
                                  "early grid25 checkpoints hold 12-60 high-quality samples in all"),
    "hops": Threshold(3, "mode hopping: 3 modes or more lost and found again (or found and lost again); grid25-gan "
                         "shows 7 over 24,000 steps, grid25-pacgan2 1 (calibration table)"),
    "chance": Threshold(0.55, "D 'at chance': the median accuracy of the second half at most 0.55 (0.5 is a coin); "
                              "shipped fmnist runs sit at 0.6-0.7 (calibration table)"),
    "at_equilibrium": Threshold(0.95, "and its median loss at least 95% of the equilibrium value (2 ln 2 for BCE): "
                                      "D gains nothing on G"),
    "lr_ratio": Threshold(5.0, "a ratio of D's to G's effective rate (lr x steps per G step) at or beyond 5 or 1/5 "
                               "with the matching pattern names the rates: beyond TTUR's usual setting (SAGAN 4e-4 "
                               "/ 1e-4, ratio 4) and DCGAN's 1"),
}
EQUILIBRIUM_D_LOSS = {"ns": 2 * math.log(2), "minimax": 2 * math.log(2), "lsgan": 0.25, "hinge": 2.0}
SIGNAL_KINDS = ("divergence", "discriminator_wins", "learning_rate_mismatch")
MIN_LINES = 5  # lines D's accuracy and loss are judged on, at the least
SCORE_KINDS = ("oscillation", "mode_collapse", "mode_hopping")

REMEDIES = {
    "divergence": ("lower the learning rates (both, by 2-10x), add a gradient penalty or spectral normalisation to "
                   "D, and restart from the last finite checkpoint",
                   "Mescheder, Geiger & Nowozin 2018, Which Training Methods for GANs do actually Converge? (ICML); "
                   "Miyato et al. 2018, Spectral Normalization for GANs (ICLR)"),
    "discriminator_wins": ("weaken D or strengthen G: lower lr_d or its steps per G step, use the non-saturating or "
                           "hinge loss, add instance noise / label smoothing or a penalty on D (R1, spectral norm)",
                           "Arjovsky & Bottou 2017, Towards Principled Methods for Training GANs (ICLR); Salimans et "
                           "al. 2016, Improved Techniques for Training GANs (NeurIPS); ganhacks"),
    "oscillation": ("lower the learning rates or use TTUR, Adam with beta1 0 to 0.5, an EMA of G's weights for "
                    "sampling, and pick checkpoints by score with intervals (compare --select best)",
                    "Heusel et al. 2017, GANs Trained by a Two Time-Scale Update Rule (NeurIPS); Yazici et al. 2019, "
                    "The Unusual Effectiveness of Averaging in GAN Training (ICLR)"),
    "mode_collapse": ("let D see several samples at once (PacGAN packing, minibatch discrimination), add a gradient "
                      "penalty, or stop at the checkpoint before the drop",
                      "Lin et al. 2018, PacGAN (NeurIPS); Salimans et al. 2016 (minibatch discrimination)"),
    "mode_hopping": ("the generator chases D from mode to mode: unrolled or packed discriminators, lower rates, an EMA "
                     "of G's weights",
                     "Metz et al. 2017, Unrolled GANs (ICLR); Lin et al. 2018, PacGAN (NeurIPS)"),
    "learning_rate_mismatch": ("bring the rates into balance: TTUR's D faster than G by up to ~4x (SAGAN G 1e-4 / D "
                               "4e-4), DCGAN's 2e-4 / 2e-4, WGAN-GP's 5 critic steps at 1e-4",
                               "Heusel et al. 2017 (TTUR); Zhang et al. 2019, SAGAN (ICML); Radford et al. 2016, DCGAN "
                               "(ICLR); Gulrajani et al. 2017, WGAN-GP (NeurIPS)"),
}


@dataclass(frozen=True)
class Finding:
    """One diagnosed failure: its kind, the steps it spans, the numbers it rests on, a remedy and the citation."""

    kind: str
    first_step: int | None
    last_step: int | None
    summary: str
    evidence: dict
    remedy: str = ""
    citation: str = ""

    def __post_init__(self) -> None:
        if not self.remedy:
            remedy, citation = REMEDIES[self.kind]
            object.__setattr__(self, "remedy", remedy)
            object.__setattr__(self, "citation", citation)


@dataclass(frozen=True)
class Diagnosis:
    """A run's findings, and the kinds it could not judge with why."""

    run: str
    findings: tuple[Finding, ...]
    not_judged: dict[str, str] = field(default_factory=dict)
    rates: dict = field(default_factory=dict)
    duality_gaps: tuple[dict, ...] = ()  # ganeval.train.duality_gap's per checkpoint, where asked (--duality-gap)

    @property
    def healthy(self) -> bool:
        """No finding, and at least one kind judged (a run with nothing to read is not called healthy)."""
        return not self.findings and len(self.not_judged) < len(KINDS)

    def kinds(self) -> set[str]:
        return {finding.kind for finding in self.findings}

    def to_json(self) -> dict:
        shown = {"run": self.run, "healthy": self.healthy, "findings": [asdict(finding) for finding in self.findings],
                 "not_judged": dict(self.not_judged), "rates": dict(self.rates)}
        if self.duality_gaps:
            shown["duality_gaps"] = list(self.duality_gaps)
        return _strict_json(shown)


def _strict_json(value: object) -> object:
    """`value` with NaN and infinities as the strings "nan", "inf", "-inf": json.dumps would write bare NaN tokens,
    which JSON parsers other than Python's refuse.

    >>> _strict_json({"a": [float("nan"), 1.0]})
    {'a': ['nan', 1.0]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return _shown(value)
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(item) for item in value]
    return value


@dataclass(frozen=True)
class RunHistory:
    """What diagnosis reads of a run: its training lines, its checkpoint scores (one setting) and its rates."""

    name: str
    lines: list[dict]
    scores: list[Record]  # one per scored step, in step order, one setting
    config: dict
    has_log: bool = True  # whether the run has a training.jsonl (lines may still be none: an empty file)


def diagnose_run(run: str | os.PathLike) -> Diagnosis:
    """The Diagnosis of one run folder (see the module docstring); an InputError when it holds neither file."""
    return diagnose(read_history(run))


def diagnose(history: RunHistory) -> Diagnosis:
    """The findings of every kind that `history` can judge."""
    findings: list[Finding] = []
    not_judged = {}
    if history.lines:
        findings += divergence(history.lines, loss_name(history))
        # after a divergence the signals are the broken networks': judge the game on the lines before it
        before = replace(history, lines=[line for line in history.lines
                                         if not findings or line["step"] < findings[0].first_step])
        for kind, judge in (("discriminator_wins", discriminator_wins), ("learning_rate_mismatch",
                                                                          learning_rate_mismatch)):
            reason = why_not_judged(kind, before, diverged=bool(findings))
            if reason:
                not_judged[kind] = reason
            else:
                findings += judge(before)
    else:
        reason = "training.jsonl holds no lines" if history.has_log else "no training.jsonl (trained before ganeval " \
                 "logged signals, or scored only)"
        not_judged.update(dict.fromkeys(SIGNAL_KINDS, reason))
    if len(history.scores) >= 3:
        findings += oscillation(history.scores)
        findings += mode_collapse(history.scores)
        findings += mode_hopping(history.scores)
    else:
        reason = "no metrics.jsonl (trained with --no-eval?)" if not history.scores else "fewer than 3 scored checkpoints"
        not_judged.update(dict.fromkeys(SCORE_KINDS, reason))
    findings.sort(key=lambda finding: (finding.first_step if finding.first_step is not None else -1, finding.kind))
    return Diagnosis(history.name, tuple(findings), not_judged, effective_rates(history))


def read_history(run: str | os.PathLike) -> RunHistory:
    """A run folder's training lines, its scored checkpoints under its main setting (the one with the most scored
    steps; the latest score of a step) and its config.toml's values. A run folder with neither file (just started,
    or trained with --no-eval before the signals) has an empty history; a folder that is no run is an InputError."""
    folder = RunDir(run)
    if not folder.path.is_dir():
        raise InputError(f"{folder.path}: no such run directory")
    has_lines, has_scores = folder.training_file.is_file(), folder.metrics_file.is_file()
    if not has_lines and not has_scores and not RunDir.is_run(folder.path):
        raise InputError(f"{folder.path}: holds neither training.jsonl nor metrics.jsonl (not a ganeval run, or not "
                         "trained or scored yet)")
    lines = read_training_log(folder.training_file) if has_lines else []
    return RunHistory(folder.name, lines, main_setting_scores(folder.records(skip_invalid=True)), _config(folder),
                      has_log=has_lines)


def main_setting_scores(records: Sequence[Record]) -> list[Record]:
    """One record per scored step, in step order, of the setting scored at the most steps (a curve is only a curve
    within one setting: reference, extractor, sample count)."""
    by_setting: dict[str, dict[int, Record]] = {}
    for record in records:
        if record.step is None:
            continue
        steps = by_setting.setdefault(record.setting_label, {})
        earlier = steps.get(record.step)
        # a step scored twice (the training hook's families, then `score --ci` of some): its values merged, the
        # latest's winning where both hold a key
        steps[record.step] = record if earlier is None else replace(
            record, values={**earlier.values, **record.values},
            diagnostics={**earlier.diagnostics, **record.diagnostics})
    if not by_setting:
        return []
    steps = max(by_setting.values(), key=len)
    return [steps[step] for step in sorted(steps)]


def _config(run: RunDir) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(run.config_file.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def effective_rates(history: RunHistory) -> dict:
    """D's and G's learning rates (the config's, else the first logged line's), D steps per G step and the ratio of
    D's effective rate to G's (lr_d x d_steps / lr_g); empty when the rates are unknown."""
    source = history.config if "lr_d" in history.config else (history.lines[0] if history.lines else {})
    lr_d, lr_g = source.get("lr_d"), source.get("lr_g")
    if not _is_number(lr_d) or not _is_number(lr_g) or lr_g <= 0:
        return {}
    d_steps = history.config.get("d_steps", 1)
    return {"lr_d": lr_d, "lr_g": lr_g, "d_steps": d_steps, "ratio": lr_d * d_steps / lr_g}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def loss_name(history: RunHistory) -> str | None:
    """The loss the run trained with (its config's, else its lines'); None when unknown or not a name."""
    names = [history.config.get("loss")] + [line.get("loss") for line in history.lines]
    return next((name for name in names if isinstance(name, str)), None)


def why_not_judged(kind: str, history: RunHistory, diverged: bool = False) -> str | None:
    """Why `kind` (discriminator_wins or learning_rate_mismatch) cannot be judged from `history`'s lines, or None."""
    loss = loss_name(history)
    if loss is not None and loss not in EQUILIBRIUM_D_LOSS:
        return f"loss {loss}: a critic's scores have no accuracy or equilibrium loss to judge D by"
    usable = sum(_is_number(line.get("d_accuracy")) and _is_number(line.get("d_loss")) for line in history.lines)
    if usable < MIN_LINES:
        where = " before the divergence" if diverged else ""
        return f"{usable} line(s) with d_accuracy and d_loss{where}; {MIN_LINES} needed"
    if kind == "learning_rate_mismatch" and not effective_rates(history):
        return "the learning rates are unknown (no config.toml; log lr_d and lr_g)"
    return None


# --- signals ---------------------------------------------------------------------------------------------------------

GROWING = ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g")


def divergence(lines: list[dict], loss: str | None = None) -> list[Finding]:
    """A non-finite signal (from its first line), D's outputs saturated (from their first line), or a loss or
    gradient norm that ends two orders of magnitude above its early median (and above the gradient-norm floor)."""
    for index, line in enumerate(lines):
        bad = [key for key, value in line.items() if key in SIGNALS and _nonfinite(value)]
        if bad:
            later = sum(any(_nonfinite(other.get(key)) for key in bad) for other in lines[index:])
            before = lines[index - 1]["step"] if index else None
            return [Finding("divergence", line["step"], lines[-1]["step"],
                            f"{', '.join(bad)} {_shown(line[bad[0]])} at step {line['step']}, the first non-finite "
                            f"signal ({later} of the {len(lines) - index} lines from there)",
                            {"keys": bad, "values": [_shown(line[key]) for key in bad],
                             "last_finite_step": before, "nonfinite_lines": later})]
    saturated = saturation(lines, loss)
    if saturated:
        return saturated
    growth, floor = THRESHOLDS["growth"].value, THRESHOLDS["gradient_norm"].value
    for key in GROWING:
        series = [(line["step"], abs(line[key])) for line in lines if _is_number(line.get(key))]
        if len(series) < 8:
            continue
        early = median(value for _, value in series[: max(4, len(series) // 4)])
        late = median(value for _, value in series[-3:])
        if early > 0 and late > growth * early and late > floor:
            first = next(step for step, value in series if value > growth * early)
            return [Finding("divergence", first, series[-1][0],
                            f"{key} grew from {early:.3g} (early median) to {late:.3g} (last lines), "
                            f"{late / early:.0f}x", {"key": key, "early_median": early, "late_median": late})]
    return []


def saturation(lines: list[dict], loss: str | None) -> list[Finding]:
    """D's mean output, or a loss, beyond THRESHOLDS saturation on a line (not for a WGAN critic, whose scores have no
    scale). The BCE and hinge losses pass it only with D's outputs past it, LSGAN's sooner: the training core writes
    a line at the first step whose losses do, logged or not (ganeval.train.signals)."""
    if loss not in EQUILIBRIUM_D_LOSS and loss is not None:
        return []
    limit = THRESHOLDS["saturation"].value
    for index, line in enumerate(lines):
        outputs = {key: line[key] for key in ("d_real", "d_fake", "d_loss", "g_loss") if _is_number(line.get(key))}
        if any(abs(value) > limit for value in outputs.values()):
            later = sum(any(_is_number(other.get(key)) and abs(other[key]) > limit for key in outputs)
                        for other in lines[index:])
            shown = ", ".join(f"{key} {value:.4g}" for key, value in outputs.items())
            gradients = {key: line[key] for key in ("grad_norm_d", "grad_norm_g") if _is_number(line.get(key))}
            return [Finding("divergence", line["step"], lines[-1]["step"],
                            f"D saturated at step {line['step']} ({shown}; gradient norms "
                            f"{', '.join(f'{value:.3g}' for value in gradients.values()) or 'not logged'}), the first "
                            f"line beyond +-{limit:g} ({later} of the {len(lines) - index} lines from there)",
                            {**outputs, **gradients, "last_good_step": lines[index - 1]["step"] if index else None,
                             "saturated_lines": later})]
    return []


def _nonfinite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _shown(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def dominance_span(history: RunHistory) -> tuple[list[dict], float] | None:
    """(the longest stretch of lines where D wins, the equilibrium D loss) when it is sustained; None otherwise, or
    for a WGAN critic (no accuracy). D wins where the running medians (THRESHOLDS window) of its accuracy and its loss
    are past THRESHOLDS d_accuracy and d_loss_share x its equilibrium loss: single batches swing either way."""
    equilibrium = EQUILIBRIUM_D_LOSS.get(loss_name(history) or "ns")
    lines = [line for line in history.lines if _is_number(line.get("d_accuracy")) and _is_number(line.get("d_loss"))]
    if equilibrium is None or len(lines) < 5:
        return None
    width = int(THRESHOLDS["window"].value)
    accuracy = running_median([line["d_accuracy"] for line in lines], width)
    loss = running_median([line["d_loss"] for line in lines], width)
    limit = THRESHOLDS["d_loss_share"].value * equilibrium
    best: list[int] = []
    current: list[int] = []
    for index in range(len(lines)):
        wins = accuracy[index] >= THRESHOLDS["d_accuracy"].value and loss[index] <= limit
        current = current + [index] if wins else []
        best = current if len(current) > len(best) else best
    needed = max(5, THRESHOLDS["sustained"].value * len(lines))
    return ([lines[index] for index in best], equilibrium) if len(best) >= needed else None


def running_median(values: list[float], width: int) -> list[float]:
    """The median of each value's window of `width` lines centred on it (shorter at the ends).

    >>> running_median([1, 9, 1, 1, 9, 9, 9], 3)
    [5.0, 1, 1, 1, 9, 9, 9.0]
    """
    half = width // 2
    return [median(values[max(0, index - half): index + half + 1]) for index in range(len(values))]


def discriminator_wins(history: RunHistory) -> list[Finding]:
    """D's accuracy near 1 and its loss near 0 for a sustained span while FID stops improving (where scored)."""
    found = dominance_span(history)
    if found is None:
        return []
    span, equilibrium = found
    first, last = span[0]["step"], span[-1]["step"]
    evidence = {"lines": len(span), "mean_d_accuracy": _mean(span, "d_accuracy"), "mean_d_loss": _mean(span, "d_loss"),
                "equilibrium_d_loss": equilibrium, "mean_grad_norm_g": _mean(span, "grad_norm_g")}
    fid = [(record.step, record.values["fid"]) for record in history.scores
           if "fid" in record.values and first <= record.step <= last]
    if len(fid) >= 2:
        evidence.update(fid_start=fid[0][1], fid_end=fid[-1][1])
        if fid[-1][1] < (1 - THRESHOLDS["fid_progress"].value) * fid[0][1]:
            return []  # D wins, yet G keeps improving: not (yet) a failure
    fid_text = (f"; FID {evidence['fid_start']:.4g} -> {evidence['fid_end']:.4g}" if "fid_start" in evidence
                else "; FID not scored in the span")
    return [Finding("discriminator_wins", first, last,
                    f"D accuracy {evidence['mean_d_accuracy']:.3f} and D loss {evidence['mean_d_loss']:.3g} "
                    f"(equilibrium {equilibrium:.3g}) over {len(span)} logged steps{fid_text}", evidence)]


def learning_rate_mismatch(history: RunHistory) -> list[Finding]:
    """D too fast against G (D dominates, with lr_d x d_steps / lr_g >= lr_ratio) or G too fast against D (D at
    chance through the second half, with the ratio <= 1 / lr_ratio)."""
    rates = effective_rates(history)
    if not rates:
        return []
    ratio, limit = rates["ratio"], THRESHOLDS["lr_ratio"].value
    named = (f"lr_d {rates['lr_d']:g} x {rates['d_steps']} D steps against lr_g {rates['lr_g']:g}: ratio {ratio:.3g} "
             f"(TTUR's SAGAN 4, DCGAN 1)")
    if ratio >= limit:
        found = dominance_span(history)
        if found is not None:
            span = found[0]
            return [Finding("learning_rate_mismatch", span[0]["step"], span[-1]["step"],
                            f"D too fast for G: D wins over {len(span)} logged steps with {named}",
                            {**rates, "direction": "discriminator too fast", "mean_d_accuracy":
                             _mean(span, "d_accuracy")})]
    if ratio <= 1 / limit:
        stuck = discriminator_at_chance(history)
        if stuck is not None:
            late, accuracy, loss = stuck
            return [Finding("learning_rate_mismatch", late[0]["step"], late[-1]["step"],
                            f"G too fast for D: D stays at chance through the second half (accuracy {accuracy:.3f}, "
                            f"loss {loss:.3g} at or above its equilibrium) with {named}",
                            {**rates, "direction": "generator too fast", "median_d_accuracy": accuracy,
                             "median_d_loss": loss})]
    return []


def discriminator_at_chance(history: RunHistory) -> tuple[list[dict], float, float] | None:
    """(the second half's lines, D's median accuracy, D's median loss) when D stays at chance through the second
    half: accuracy at most THRESHOLDS chance and loss at least THRESHOLDS at_equilibrium x its equilibrium value (it
    cannot tell G's samples apart: it learns too slowly for G); None otherwise."""
    equilibrium = EQUILIBRIUM_D_LOSS.get(loss_name(history) or "ns")
    late = [line for line in history.lines[len(history.lines) // 2:]
            if _is_number(line.get("d_accuracy")) and _is_number(line.get("d_loss"))]
    if equilibrium is None or len(late) < 5:
        return None
    accuracy, loss = median(line["d_accuracy"] for line in late), median(line["d_loss"] for line in late)
    if accuracy <= THRESHOLDS["chance"].value and loss >= THRESHOLDS["at_equilibrium"].value * equilibrium:
        return late, accuracy, loss
    return None


def _mean(lines: list[dict], key: str) -> float:
    values = [line[key] for line in lines if _is_number(line.get(key))]
    return sum(values) / len(values) if values else math.nan


# --- scores ----------------------------------------------------------------------------------------------------------

DIVERSITY_KEYS = ("modes", "coverage", "recall", "vendi")
PRECISION_KEYS = ("precision", "high_quality")


def _trained(scores: list[Record]) -> list[Record]:
    """The scores after step 0 (the untrained generator is every curve's outlier)."""
    return [record for record in scores if record.step]


def oscillation(scores: list[Record]) -> list[Finding]:
    """FID rising beyond noise (disjoint from the previous checkpoint's bootstrap interval where both have one,
    else by more than THRESHOLDS noise) at least THRESHOLDS rises times, each after a fall."""
    series = [record for record in _trained(scores) if _is_number(record.values.get("fid"))]
    rises, fell = [], False
    for before, after in zip(series, series[1:]):
        change = _significant_change(before, after, "fid")
        if change > 0 and fell:
            rises.append((before.step, after.step, before.values["fid"], after.values["fid"]))
        fell = fell or change < 0
    if len(rises) < THRESHOLDS["rises"].value:
        return []
    shown = ", ".join(f"{low:.4g} -> {high:.4g} (steps {first}-{second})" for first, second, low, high in rises)
    intervals = all(_is_number(bound) for record in series for bound in record.interval("fid"))
    noise = "outside the bootstrap intervals" if intervals else \
        f"by over {THRESHOLDS['noise'].value:.0%} (no bootstrap intervals: score with --ci to judge against the noise)"
    return [Finding("oscillation", rises[0][0], rises[-1][1], f"FID rose {len(rises)} times after falling, {noise}: "
                    f"{shown}", {"rises": [list(rise) for rise in rises], "noise": noise,
                                 "fid": {record.step: record.values["fid"] for record in series}})]


def _significant_change(before: Record, after: Record, key: str) -> int:
    """+1 when `key` rose beyond noise from `before` to `after`, -1 when it fell beyond it, else 0."""
    old, new = before.values[key], after.values[key]
    (old_low, old_high), (new_low, new_high) = before.interval(key), after.interval(key)
    if all(_is_number(bound) for bound in (old_low, old_high, new_low, new_high)):
        return 1 if new_low > old_high else (-1 if new_high < old_low else 0)
    noise = THRESHOLDS["noise"].value * abs(old)
    return 1 if new - old > noise else (-1 if old - new > noise else 0)


def mode_collapse(scores: list[Record]) -> list[Finding]:
    """A diversity metric falling THRESHOLDS diversity_drop below its best checkpoint while precision (or the share
    of high-quality samples) holds."""
    trained = _trained(scores)
    for key in DIVERSITY_KEYS:
        series = [record for record in trained if _is_number(record.values.get(key))]
        if len(series) < 3:
            continue
        peak = max(range(len(series)), key=lambda index: series[index].values[key])
        best = series[peak].values[key]
        for record in series[peak + 1:]:
            drop = 1 - record.values[key] / best if best > 0 else 0
            if drop >= THRESHOLDS["diversity_drop"].value and _precision_holds(series[peak], record):
                return [Finding("mode_collapse", series[peak].step, record.step,
                                f"{key} fell {drop:.0%} from {best:.4g} (step {series[peak].step}) to "
                                f"{record.values[key]:.4g} (step {record.step}) while precision held",
                                {"key": key, "best": best, "worst": record.values[key], "drop": drop,
                                 **_precisions(series[peak], record)})]
    return []


def _precision_holds(best: Record, later: Record) -> bool:
    for key in PRECISION_KEYS:
        if _is_number(best.values.get(key)) and _is_number(later.values.get(key)):
            return later.values[key] >= THRESHOLDS["precision_hold"].value * best.values[key]
    return True  # no precision recorded: diversity alone speaks


def _precisions(best: Record, later: Record) -> dict:
    key = next((key for key in PRECISION_KEYS if key in best.values and key in later.values), None)
    return {} if key is None else {"precision_key": key, "precision_then": best.values[key],
                                   "precision_now": later.values[key]}


def mode_counts(record: Record) -> list[float] | None:
    """The checkpoint's high-quality samples per mode (or class), where it was scored with `modes`."""
    counts = (record.diagnostics.get("modes") or {}).get("mode_counts")
    if not isinstance(counts, list) or not counts or not all(_is_number(count) for count in counts):
        return None
    return counts


def mode_flips(scores: list[Record]) -> dict[int, list[tuple[int, str]]]:
    """Each mode's changes of state over the checkpoints, [(step, 'lost' or 'gained')]. A mode is covered from
    THRESHOLDS covered x the uniform share of the checkpoint's samples and lost below THRESHOLDS lost x it; between
    the two it keeps its state, so a count wavering around one line does not flip it. Checkpoints with fewer than
    THRESHOLDS mode_samples samples per mode are skipped (early ones hold a dozen high-quality samples in all)."""
    states: dict[int, bool] = {}
    flips: dict[int, list[tuple[int, str]]] = {}
    for record in _trained(scores):
        counts = mode_counts(record)
        if counts is None or sum(counts) < THRESHOLDS["mode_samples"].value * len(counts):
            continue
        share = sum(counts) / len(counts)
        for mode, count in enumerate(counts):
            state = (True if count >= THRESHOLDS["covered"].value * share
                     else False if count < THRESHOLDS["lost"].value * share else states.get(mode))
            if state is not None and states.get(mode) not in (None, state):
                flips.setdefault(mode, []).append((record.step, "gained" if state else "lost"))
            if state is not None:
                states[mode] = state
    return flips


def mode_hopping(scores: list[Record]) -> list[Finding]:
    """Modes lost and found again (or found and lost again) between checkpoints: at least THRESHOLDS hops modes
    changing state twice or more."""
    hopping = {mode: events for mode, events in mode_flips(scores).items() if len(events) >= 2}
    if len(hopping) < THRESHOLDS["hops"].value:
        return []
    steps = [step for events in hopping.values() for step, _ in events]
    example, events = next(iter(hopping.items()))
    shown = ", ".join(f"{event} at {step}" for step, event in events)
    return [Finding("mode_hopping", min(steps), max(steps),
                    f"{len(hopping)} modes were lost and found again between checkpoints (mode {example}: {shown})",
                    {"modes": {str(mode): [list(event) for event in events] for mode, events in hopping.items()}})]


# --- runs and text -----------------------------------------------------------------------------------------------------


def expand_runs(arguments: Sequence[str | os.PathLike]) -> list[Path]:
    """The run folders that `arguments` name: run folders, folders of runs, or glob patterns of either."""
    import glob

    runs: list[Path] = []
    for argument in arguments:
        text = str(argument)
        # a pattern such as runs/* may match files beside the runs (a README): folders only
        matches = [match for match in sorted(glob.glob(text)) if Path(match).is_dir()] if glob.has_magic(text) else [text]
        if not matches:
            raise InputError(f"{text}: the pattern matches no run directory")
        for match in matches:
            runs += _runs_in(Path(match))
    if not runs:
        raise InputError(f"{', '.join(map(str, arguments))}: no run directory (a folder with training.jsonl, "
                         "metrics.jsonl or checkpoints)")
    return list(dict.fromkeys(runs))


def _is_diagnosable(path: Path) -> bool:
    run = RunDir(path)
    return run.training_file.is_file() or run.metrics_file.is_file() or RunDir.is_run(path)


def _runs_in(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError(f"{path}: no such run directory")
    if not path.is_dir():
        raise InputError(f"{path}: not a run directory (diagnose reads a run folder's training.jsonl and metrics.jsonl)")
    if _is_diagnosable(path):
        return [path]
    inside = sorted(child for child in path.iterdir() if child.is_dir() and _is_diagnosable(child))
    if not inside:
        raise InputError(f"{path}: neither a run directory nor a folder of runs")
    return inside


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """A diagnosis for the terminal: the verdict line, then each finding with its steps, evidence and remedy."""
    rates = diagnosis.rates
    rate_text = (f" (lr_d {rates['lr_d']:g}, lr_g {rates['lr_g']:g}, ratio {rates['ratio']:.3g})" if rates else "")
    if diagnosis.healthy:
        lines = [f"{diagnosis.run}: healthy{rate_text}"]
    elif not diagnosis.findings:
        lines = [f"{diagnosis.run}: nothing to judge (no training signals or scores yet)"]
    else:
        kinds = ", ".join(dict.fromkeys(finding.kind for finding in diagnosis.findings))
        lines = [f"{diagnosis.run}: {len(diagnosis.findings)} finding{'s' * (len(diagnosis.findings) > 1)} "
                 f"({kinds}){rate_text}"]
    for finding in diagnosis.findings:
        lines.append(f"  {finding.kind} at {_steps(finding)}: {finding.summary}")
        lines.append(f"    remedy: {finding.remedy} [{finding.citation}]")
    for kind, reason in diagnosis.not_judged.items():
        lines.append(f"  not judged: {kind} ({reason})")
    if diagnosis.duality_gaps:
        gaps = ", ".join(f"step {gap['step']} {gap['gap']:.3g}" for gap in diagnosis.duality_gaps)
        seconds = sum(gap["seconds"] for gap in diagnosis.duality_gaps) / len(diagnosis.duality_gaps)
        lines.append(f"  duality gap (lower is nearer an equilibrium): {gaps} ({seconds:.0f} s per checkpoint)")
    return "\n".join(lines)


def _steps(finding: Finding) -> str:
    if finding.first_step == finding.last_step:
        return f"step {finding.first_step}"
    return f"steps {finding.first_step}-{finding.last_step}"


def parse_kinds(text: str | None) -> set[str]:
    """--fail-on's kinds ('any': every kind); an InputError names an unknown one.

    >>> sorted(parse_kinds("divergence, mode_collapse"))
    ['divergence', 'mode_collapse']
    """
    if text is None:
        return set()
    kinds = {kind.strip() for kind in text.split(",") if kind.strip()}
    if not kinds:
        raise InputError(f"--fail-on {text!r}: no kind given (kinds: {', '.join(KINDS)}, any)")
    if "any" in kinds:
        return set(KINDS)
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise InputError(f"--fail-on {text}: unknown kind {unknown[0]!r} (kinds: {', '.join(KINDS)}, any)")
    return kinds
