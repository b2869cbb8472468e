"""The findings training.jsonl shows: divergence (non-finite, saturated or exploding signals), the discriminator
winning, and a learning-rate mismatch (D too fast for G, or G too fast for D)."""
from __future__ import annotations

import math
from statistics import median

from ..training_log import SIGNALS
from .findings import Finding, shown
from .history import RunHistory, effective_rates, is_number, loss_name
from .thresholds import EQUILIBRIUM_D_LOSS, MIN_LINES, THRESHOLDS


def why_not_judged(kind: str, history: RunHistory, diverged: bool = False) -> str | None:
    """Why `kind` (discriminator_wins or learning_rate_mismatch) cannot be judged from `history`'s lines, or None."""
    loss = loss_name(history)
    if loss is not None and loss not in EQUILIBRIUM_D_LOSS:
        return f"loss {loss}: a critic's scores have no accuracy or equilibrium loss to judge D by"
    usable = sum(is_number(line.get("d_accuracy")) and is_number(line.get("d_loss")) for line in history.lines)
    if usable < MIN_LINES:
        where = " before the divergence" if diverged else ""
        return f"{usable} line(s) with d_accuracy and d_loss{where}; {MIN_LINES} needed"
    if kind == "learning_rate_mismatch" and not effective_rates(history):
        return "the learning rates are unknown (no config.toml; log lr_d and lr_g)"
    return None


GROWING = ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g")
LOSS_FLOOR = 10.0  # a loss counts as grown only above this (THRESHOLDS gradient_norm's reason)


def divergence(lines: list[dict], loss: str | None = None) -> list[Finding]:
    """A non-finite signal (from its first line), D's outputs saturated (from their first line), or a loss or
    gradient norm that ends two orders of magnitude above its early median (and above its floor)."""
    for index, line in enumerate(lines):
        bad = [key for key, value in line.items() if key in SIGNALS and _nonfinite(value)]
        if bad:
            later = sum(any(_nonfinite(other.get(key)) for key in bad) for other in lines[index:])
            before = lines[index - 1]["step"] if index else None
            return [Finding("divergence", line["step"], lines[-1]["step"],
                            f"{', '.join(bad)} {shown(line[bad[0]])} at step {line['step']}, the first non-finite "
                            f"signal ({later} of the {len(lines) - index} lines from there)",
                            {"keys": bad, "values": [shown(line[key]) for key in bad],
                             "last_finite_step": before, "nonfinite_lines": later})]
    saturated = saturation(lines, loss)
    if saturated:
        return saturated
    growth = THRESHOLDS["growth"].value
    for key in GROWING:
        series = [(line["step"], abs(line[key])) for line in lines if is_number(line.get(key))]
        if len(series) < 8:
            continue
        floor = THRESHOLDS["gradient_norm"].value if key.startswith("grad_norm") else LOSS_FLOOR
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
        outputs = {key: line[key] for key in ("d_real", "d_fake", "d_loss", "g_loss") if is_number(line.get(key))}
        if any(abs(value) > limit for value in outputs.values()):
            later = sum(any(is_number(other.get(key)) and abs(other[key]) > limit for key in outputs)
                        for other in lines[index:])
            shown = ", ".join(f"{key} {value:.4g}" for key, value in outputs.items())
            gradients = {key: line[key] for key in ("grad_norm_d", "grad_norm_g") if is_number(line.get(key))}
            return [Finding("divergence", line["step"], lines[-1]["step"],
                            f"D saturated at step {line['step']} ({shown}; gradient norms "
                            f"{', '.join(f'{value:.3g}' for value in gradients.values()) or 'not logged'}), the first "
                            f"line beyond +-{limit:g} ({later} of the {len(lines) - index} lines from there)",
                            {**outputs, **gradients, "last_good_step": lines[index - 1]["step"] if index else None,
                             "saturated_lines": later})]
    return []


def _nonfinite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def dominance_span(history: RunHistory) -> tuple[list[dict], float] | None:
    """(the longest stretch of lines where D wins, the equilibrium D loss) when it is sustained; None otherwise, or
    for a WGAN critic (no accuracy). D wins where the running medians (THRESHOLDS window) of its accuracy and its loss
    are past THRESHOLDS d_accuracy and d_loss_share x its equilibrium loss: single batches swing either way."""
    equilibrium = EQUILIBRIUM_D_LOSS.get(loss_name(history) or "ns")
    lines = [line for line in history.lines if is_number(line.get("d_accuracy")) and is_number(line.get("d_loss"))]
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
            if is_number(line.get("d_accuracy")) and is_number(line.get("d_loss"))]
    if equilibrium is None or len(late) < 5:
        return None
    accuracy, loss = median(line["d_accuracy"] for line in late), median(line["d_loss"] for line in late)
    if accuracy <= THRESHOLDS["chance"].value and loss >= THRESHOLDS["at_equilibrium"].value * equilibrium:
        return late, accuracy, loss
    return None


def _mean(lines: list[dict], key: str) -> float:
    values = [line[key] for line in lines if is_number(line.get(key))]
    return sum(values) / len(values) if values else math.nan
