"""The findings metrics.jsonl shows across checkpoints: FID oscillating beyond its noise, mode collapse, and mode
hopping."""
from __future__ import annotations

from ..records import Record
from .findings import Finding
from .history import is_number
from .thresholds import THRESHOLDS

DIVERSITY_KEYS = ("modes", "coverage", "recall", "vendi")
PRECISION_KEYS = ("precision", "high_quality")


def _trained(scores: list[Record]) -> list[Record]:
    """The scores after step 0 (the untrained generator is every curve's outlier)."""
    return [record for record in scores if record.step]


def oscillation(scores: list[Record]) -> list[Finding]:
    """FID rising beyond noise (disjoint from the previous checkpoint's bootstrap interval where both have one,
    else by more than THRESHOLDS noise) at least THRESHOLDS rises times, each after a fall."""
    series = [record for record in _trained(scores) if is_number(record.values.get("fid"))]
    rises, fell = [], False
    for before, after in zip(series, series[1:]):
        change = _significant_change(before, after, "fid")
        if change > 0 and fell:
            rises.append((before.step, after.step, before.values["fid"], after.values["fid"]))
        fell = fell or change < 0
    if len(rises) < THRESHOLDS["rises"].value:
        return []
    shown = ", ".join(f"{low:.4g} -> {high:.4g} (steps {first}-{second})" for first, second, low, high in rises)
    intervals = all(is_number(bound) for record in series for bound in record.interval("fid"))
    noise = "outside the bootstrap intervals" if intervals else \
        f"by over {THRESHOLDS['noise'].value:.0%} (no bootstrap intervals: score with --ci to judge against the noise)"
    return [Finding("oscillation", rises[0][0], rises[-1][1], f"FID rose {len(rises)} times after falling, {noise}: "
                    f"{shown}", {"rises": [list(rise) for rise in rises], "noise": noise,
                                 "fid": {record.step: record.values["fid"] for record in series}})]


def _significant_change(before: Record, after: Record, key: str) -> int:
    """+1 when `key` rose beyond noise from `before` to `after`, -1 when it fell beyond it, else 0."""
    old, new = before.values[key], after.values[key]
    (old_low, old_high), (new_low, new_high) = before.interval(key), after.interval(key)
    if all(is_number(bound) for bound in (old_low, old_high, new_low, new_high)):
        return 1 if new_low > old_high else (-1 if new_high < old_low else 0)
    noise = THRESHOLDS["noise"].value * abs(old)
    return 1 if new - old > noise else (-1 if old - new > noise else 0)


def mode_collapse(scores: list[Record]) -> list[Finding]:
    """A diversity metric below its best checkpoint by THRESHOLDS diversity_drop at THRESHOLDS persist checkpoints in
    a row (one low checkpoint is a dip of the trajectory), beyond the noise where both were scored with bootstrap
    intervals (the later's interval entirely below the best's), while precision (or the share of high-quality
    samples) holds."""
    trained = _trained(scores)
    for key in DIVERSITY_KEYS:
        series = [record for record in trained if is_number(record.values.get(key))]
        if len(series) < 3:
            continue
        realistic = _realistic(series)
        peak = max(realistic, key=lambda index: series[index].values[key])
        best, fallen = series[peak], []
        for record in series[peak + 1:]:
            fallen = fallen + [record] if _collapsed(best, record, key) else []
            if len(fallen) >= THRESHOLDS["persist"].value:
                worst = min(fallen, key=lambda item: item.values[key])
                drop = 1 - worst.values[key] / best.values[key]
                return [Finding("mode_collapse", best.step, fallen[-1].step,
                                f"{key} fell {drop:.0%} from {best.values[key]:.4g} (step {best.step}) to "
                                f"{worst.values[key]:.4g} (step {worst.step}), below it at {len(fallen)} checkpoints in "
                                f"a row while precision held", {"key": key, "best": best.values[key],
                                                                 "worst": worst.values[key], "drop": drop,
                                                                 **_precisions(best, worst)})]
    return []


def _realistic(series: list[Record]) -> list[int]:
    """The checkpoints a diversity peak may come from: those whose precision (or high-quality share) reaches
    THRESHOLDS peak_precision of the run's best. An early generator that sprays samples everywhere covers every real
    sample (recall ~1) with almost none realistic: its diversity is no level to collapse from."""
    key = next((key for key in PRECISION_KEYS if all(is_number(record.values.get(key)) for record in series)), None)
    if key is None:
        return list(range(len(series)))
    best = max(record.values[key] for record in series)
    return [index for index, record in enumerate(series)
            if record.values[key] >= THRESHOLDS["peak_precision"].value * best]


def _collapsed(best: Record, later: Record, key: str) -> bool:
    """Whether `later` lies THRESHOLDS diversity_drop below `best` in `key`, beyond their intervals, precision held."""
    drop = 1 - later.values[key] / best.values[key] if best.values[key] > 0 else 0
    return drop >= THRESHOLDS["diversity_drop"].value and _beyond_intervals(best, later, key) and \
        _precision_holds(best, later)


def _beyond_intervals(best: Record, later: Record, key: str) -> bool:
    """False only when both records hold `key`'s bootstrap interval and the two overlap (the fall may be noise)."""
    (best_low, _), (_, later_high) = best.interval(key), later.interval(key)
    if not (is_number(best_low) and is_number(later_high)):
        return True
    return later_high < best_low


def _precision_holds(best: Record, later: Record) -> bool:
    for key in PRECISION_KEYS:
        if is_number(best.values.get(key)) and is_number(later.values.get(key)):
            return later.values[key] >= THRESHOLDS["precision_hold"].value * best.values[key]
    return True  # no precision recorded: diversity alone speaks


def _precisions(best: Record, later: Record) -> dict:
    key = next((key for key in PRECISION_KEYS if key in best.values and key in later.values), None)
    return {} if key is None else {"precision_key": key, "precision_then": best.values[key],
                                   "precision_now": later.values[key]}


def mode_counts(record: Record) -> list[float] | None:
    """The checkpoint's high-quality samples per mode (or class), where it was scored with `modes`."""
    counts = (record.diagnostics.get("modes") or {}).get("mode_counts")
    if not isinstance(counts, list) or not counts or not all(is_number(count) for count in counts):
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
