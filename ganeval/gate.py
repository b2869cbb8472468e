"""The CI gate: check a run's (or checkpoint's, or records file's) scores against limits, and say so in a table.

Limits: `max` (value <= limit), `min` (value >= limit) and `max_regression` against a baseline run (no worse than the
baseline by more than the allowance, in the metric's better direction). With `alpha`, a regression check is a
one-sided z-test instead: it fails only when the target is worse than baseline + allowance beyond what resampling
noise explains (p < alpha), the noise being the bootstrap standard errors that `ganeval score --ci` stored in both
records: z = (worse_by - allowance) / sqrt(se_target^2 + se_baseline^2). They come from the command line, from
`[tool.ganeval.gate]` in pyproject.toml, or from a TOML file given with --config (the same table, `[gate]`, or
top-level keys). A verdict is about ONE checkpoint: a run's last scored one, or with select='best' its best by one
metric (--select-by; default the first limit's), and every gated metric is read from that checkpoint's records.
Where that metric was scored with --ci and other checkpoints of the run are tied with the best within bootstrap
intervals (compare.interval_ties), the verdict says so ('best fid of 3 scored checkpoints; tied with steps 2000,
3000 within bootstrap intervals') and lists them (Verdict.tied_steps); whether it passes does not change.
Several targets (runs, folders of runs, glob patterns) give a verdict each. Exit status: 0 all pass, 1 some fail,
2 bad input (unknown metric, a metric the chosen checkpoint has no record of, a malformed limit, records that mix
settings, a pattern that matches nothing).
"""
from __future__ import annotations

import glob
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .compare import checkpoints_text, interval_ties
from .errors import InputError, UnknownNameError
from .formatting import format_interval, format_number
from .metrics.registry import HIGHER_IS_BETTER, METRIC_FAMILIES
from .runs import Checkpoint
from .tables import comparable_rows, load_records, record_files, setting_labels

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LIMIT_KINDS = ("max", "min", "max_regression")
SELECTIONS = ("last", "best")


@dataclass
class Limits:
    """Limits by kind and metric key, and the baseline the regressions are measured against."""

    max: dict[str, float] = field(default_factory=dict)
    min: dict[str, float] = field(default_factory=dict)
    max_regression: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    alpha: float | None = None  # set: regressions are judged by a z-test on the bootstrap standard errors

    def empty(self) -> bool:
        return not (self.max or self.min or self.max_regression)

    def update(self, other: Limits) -> None:
        """Add `other`'s limits over these (the command line over the config file)."""
        for kind in LIMIT_KINDS:
            getattr(self, kind).update(getattr(other, kind))
        self.baseline = other.baseline or self.baseline
        self.alpha = other.alpha if other.alpha is not None else self.alpha


@dataclass(frozen=True)
class Check:
    metric: str
    kind: str
    value: float
    limit: float
    passed: bool
    baseline: float | None = None
    interval: tuple[float, float] | None = None  # the target's bootstrap interval, where its record has one
    p_value: float | None = None  # noise-aware regression checks: P(a worse value | no regression beyond allowance)

    @property
    def condition(self) -> str:
        if self.kind == "max_regression":
            sign = "-" if HIGHER_IS_BETTER[self.metric] else "+"
            relation = ">=" if HIGHER_IS_BETTER[self.metric] else "<="
            test = "" if self.p_value is None else f", p = {self.p_value:.3g}"
            return f"{relation} {format_number(self.limit)} (baseline {format_number(self.baseline)} {sign} allowance{test})"
        return f"{'<=' if self.kind == 'max' else '>='} {format_number(self.limit)}"

    @property
    def name(self) -> str:
        """What is checked, without the values that change from run to run: 'fid <= 25', 'fid regression <= 2'."""
        if self.kind == "max_regression":
            return f"{self.metric} regression <= {format_number(abs(self.limit - self.baseline))}"
        return f"{self.metric} {self.condition}"

    @property
    def shown_value(self) -> str:
        """The value, with its interval where the record has one: '12.3 [11.9, 12.8]'."""
        if self.interval is None or any(math.isnan(bound) for bound in self.interval):
            return format_number(self.value)
        return f"{format_number(self.value)} {format_interval(*self.interval)}"


def aliases() -> dict[str, str]:
    """Family name -> its key, for the registered families with one ranked key under another name ('is' ->
    'is_mean', 'kid' -> 'kid_mean'); a family with several ranked keys (prdc) must be named by key."""
    names = {}
    for family in METRIC_FAMILIES.values():
        ranked = family.ranked_keys
        if len(ranked) == 1 and ranked[0] != family.name:
            names[family.name] = ranked[0]
    return names


def metric_key(name: str) -> str:
    """'fid' -> 'fid', 'is' -> 'is_mean'; a family with several ranked keys must be named by key."""
    known = aliases()
    key = known.get(name.strip().lower(), name.strip().lower())
    if key not in HIGHER_IS_BETTER:
        raise UnknownNameError("metric", name.strip(), list(HIGHER_IS_BETTER) + list(known))
    return key


def parse_limits(kind: str, items: list[str] | None) -> dict[str, float]:
    """['fid=25', 'kid=0.01,is=7'] -> {'fid': 25.0, ...}; a malformed item is an InputError naming it."""
    limits: dict[str, float] = {}
    for item in items or []:
        for part in filter(None, (text.strip() for text in item.split(","))):
            name, equals, text = part.partition("=")
            if not equals or not name.strip():
                raise InputError(f"--{kind.replace('_', '-')} '{part}': expected METRIC=NUMBER, e.g. fid=25")
            try:
                value = float(text)
            except ValueError:
                raise InputError(f"--{kind.replace('_', '-')} '{part}': '{text}' is not a number") from None
            if value != value:
                raise InputError(f"--{kind.replace('_', '-')} '{part}': the limit is NaN")
            limits[metric_key(name)] = value
    return limits


def read_limits(path: str | os.PathLike | None) -> Limits:
    """Limits from a TOML file (`[tool.ganeval.gate]`, `[gate]` or top-level keys); None: ./pyproject.toml if it has
    a [tool.ganeval.gate] table, else no limits."""
    explicit = path is not None
    path = Path(path) if explicit else Path("pyproject.toml")
    if not path.is_file():
        if explicit:
            raise InputError(f"--config {path}: no such file")
        return Limits()
    try:
        document = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from exc
    table = document.get("tool", {}).get("ganeval", {}).get("gate")
    if table is None:
        table = document.get("gate", document if explicit else None)
    if table is None:
        return Limits()
    unknown = sorted(set(table) - set(LIMIT_KINDS) - {"baseline", "alpha"})
    if unknown:
        raise InputError(f"{path}: unknown gate key(s) {', '.join(unknown)}; valid: {', '.join(LIMIT_KINDS)}, baseline, alpha")
    limits = Limits(baseline=table.get("baseline"), alpha=check_alpha(table["alpha"]) if "alpha" in table else None)
    for kind in LIMIT_KINDS:
        entries = table.get(kind, {})
        if not isinstance(entries, dict):
            raise InputError(f"{path}: gate.{kind} must be a table such as {{ fid = 25 }}")
        getattr(limits, kind).update(parse_limits(kind, [f"{key}={value}" for key, value in entries.items()]))
    return limits


def check_alpha(alpha) -> float:
    """A significance level strictly between 0 and 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise InputError(f"--alpha {alpha}: the significance level must lie strictly between 0 and 1, e.g. 0.05")
    return float(alpha)


def expand_targets(targets: str | os.PathLike | list) -> list[str]:
    """The gated units behind `targets`, in order and once each: a checkpoint (.pt) as given; run directories,
    records files, folders of runs and glob patterns as the metrics.jsonl files `compare` reads for them (one per
    run). A pattern that matches nothing, or a folder holding no runs, is an InputError."""
    items = [targets] if isinstance(targets, (str, os.PathLike)) else list(targets)
    if not items:
        raise InputError("no targets: name a run directory, a checkpoint, a metrics.jsonl or a pattern such as 'runs/*'")
    units: list[str] = []
    for item in items:
        text = str(item)
        if text.endswith(".pt") and not glob.has_magic(text):
            units.append(text)
        else:
            units += [str(path) for path in record_files(text)]
    return list(dict.fromkeys(units))


def target_records(target: str, reference: str | None = None, setting: str | None = None) -> pd.DataFrame:
    """The scored rows (tidy, see tables.load_records) of one unit: a run's or records file's, or one checkpoint's;
    only those against `reference`, or under `setting` (a label such as 'grid25, identity, N=2500'), when given."""
    path = Path(target)
    if path.suffix == ".pt":
        if not path.is_file():
            raise InputError(f"{target}: no such checkpoint")
        run = Checkpoint(path).run
        if run is None:
            raise InputError(f"{target}: not in a run's checkpoints/ folder, so no run holds its scores; gate the "
                             f"records file it was scored into (score --append RUN), or that run")
        tidy = load_records(str(run.path))
        tidy = tidy[tidy["checkpoint"] == path.name]
        if tidy.empty:
            raise InputError(f"{target}: no score of this checkpoint in {run.path}; "
                             f"run `ganeval score {target} --reference ...`")
    else:
        tidy = load_records(target)
    if reference is not None:
        held = ", ".join(sorted(map(str, set(tidy["reference"]))))
        tidy = tidy[tidy["reference"] == reference]
        if tidy.empty:
            raise InputError(f"{target}: no record scored against reference '{reference}' (it holds {held})")
    if setting is not None:
        held = "; ".join(sorted(map(str, set(tidy["setting"]))))
        tidy = tidy[tidy["setting"] == setting]
        if tidy.empty:
            raise InputError(f"{target}: no record scored under setting '{setting}' (it holds {held})")
    return tidy[tidy["value"].notna()]


def select_checkpoint(tidy: pd.DataFrame, metrics: list[str], select: str = "last", select_by: str | None = None,
                      target: str = "target") -> tuple[dict[str, pd.Series], str, tuple[int | str, ...]]:
    """({metric: row}, how it was chosen, tied steps) of the ONE checkpoint judged: every metric comes from that
    checkpoint's records (same run, checkpoint and setting; its latest score where it was scored twice). `last`: the
    last scored checkpoint; `best`: the best by `select_by`. A chosen checkpoint without a gated metric is an
    InputError, never a value taken from another checkpoint.

    With `best`, the tied steps are those of the run's other checkpoints (same setting) whose `select_by` value is
    tied with the best's within bootstrap intervals: one's value inside the other's interval, either way round (see
    compare.interval_ties); `how` then ends in '; tied with steps 2000, 3000 within bootstrap intervals'. Records
    without intervals tie nothing: () and `how` as before."""
    wanted = list(dict.fromkeys([*metrics, *([select_by] if select == "best" else [])]))
    rows = tidy[tidy["metric"].isin(wanted)]
    if rows.empty:
        raise InputError(f"{target} has no record of metric '{wanted[0]}' (it holds {_held(tidy)})")
    settings = setting_labels(rows)
    if len(settings) > 1:
        raise InputError(f"{target}: the gated metrics were scored under {len(settings)} settings "
                         f"({'; '.join(settings)}); choose one with --setting '{settings[0]}' (or --reference)")
    order = rows["step"].astype("float").fillna(-1)  # records without a step (sample files) come first
    # one number per checkpoint (run, checkpoint, step), missing parts alike: what "the same checkpoint" is
    key = rows.assign(order=order).groupby(["run", "checkpoint", "order"], dropna=False, sort=False).ngroup()
    ordered = rows.assign(key=key, order=order)
    ordered = ordered.sort_values(["order", "created"], kind="stable")
    latest = ordered.drop_duplicates(["key", "metric"], keep="last")  # a checkpoint scored twice: its latest score
    if select == "best":
        ranking = latest[latest["metric"] == select_by]
        if ranking.empty:
            raise InputError(f"{target} has no record of metric '{select_by}' to pick the best checkpoint by "
                             f"(it holds {_held(tidy)}); choose another with --select-by")
        best = ranking["value"].idxmax() if HIGHER_IS_BETTER[select_by] else ranking["value"].idxmin()
        chosen_key, count, how = ranking.loc[best, "key"], ranking["key"].nunique(), f"best {select_by}"
        # rivals of the same run only: steps of another run's records would name other checkpoints
        tied = tuple(interval_ties(ranking[ranking["run"] == ranking.loc[best, "run"]], best, "value", "ci_low", "ci_high"))
    else:
        chosen_key, count, how, tied = latest["key"].iloc[-1], latest["key"].nunique(), "last", ()
    chosen = latest[latest["key"] == chosen_key].set_index("metric")
    how = f"{how} of {count} scored checkpoints" if count > 1 else ""
    if tied:
        how += f"; tied with {checkpoints_text(list(tied))} within bootstrap intervals"
    for metric in metrics:
        if metric not in chosen.index:
            raise InputError(f"{target}: {_checkpoint_label(chosen.iloc[0])}{f' ({how})' if how else ''} has no record "
                             f"of metric '{metric}' (it holds {', '.join(chosen.index)}); score that checkpoint "
                             "with it, or gate another checkpoint")
    return {metric: chosen.loc[metric] for metric in metrics}, how, tied


def _held(tidy: pd.DataFrame) -> str:
    return ", ".join(sorted(set(tidy["metric"]))) or "no metrics"


def _checkpoint_label(row: pd.Series) -> str:
    """'alpha step-0000200.pt (step 200)', or the run's name alone for records without checkpoint and step."""
    step = "" if pd.isna(row["step"]) else f"step {int(row['step'])}"
    checkpoint = row["checkpoint"] if isinstance(row["checkpoint"], str) else ""
    if checkpoint and step:
        return f"{row['run']} {checkpoint} ({step})"
    return " ".join(filter(None, [str(row["run"]), checkpoint, step]))


@dataclass(frozen=True)
class Verdict:
    """The checks of one target: one checkpoint of one run, every metric read from that checkpoint's records."""

    target: str  # the run's records file, records file or checkpoint that was gated
    run: str
    checkpoint: str | None
    step: int | None
    setting: str
    checks: tuple[Check, ...]
    chosen: str = ""  # how the checkpoint was chosen where the target held several: 'best fid of 3 scored checkpoints'
    # steps (names, for checkpoints without one) tied with the best within bootstrap intervals: best by noise alone
    tied_steps: tuple[int | str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def description(self) -> str:
        step = "" if self.step is None else f" step {self.step}"
        chosen = f" ({self.chosen})" if self.chosen else ""
        return f"{self.run}{step}{chosen} [{self.setting}]"


def gate_targets(targets: str | os.PathLike | list, limits: Limits, select: str = "last",
                 select_by: str | None = None, reference: str | None = None,
                 setting: str | None = None) -> list[Verdict]:
    """One verdict per run behind `targets` (run directories, folders of runs, glob patterns, checkpoints,
    records files), each judging one checkpoint: the last scored, or with select='best' the best by `select_by`
    (default: the first limit's metric). A regression is measured against the baseline's checkpoint chosen the same
    way, under the target's setting.

    >>> verdicts = gate_targets(["runs/*"], Limits(max={"fid": 25}), select="best")   # doctest: +SKIP
    >>> [verdict.run for verdict in verdicts if not verdict.passed]                    # doctest: +SKIP
    """
    metrics = _gated_metrics(limits)
    select_by = _selection_metric(metrics, select, select_by)
    baseline = None
    if limits.max_regression:
        units = expand_targets(limits.baseline)
        if len(units) != 1:
            raise InputError(f"--baseline {limits.baseline}: names {len(units)} runs; "
                             "give one run, checkpoint or records file")
        baseline = target_records(units[0], reference, setting)
    units = expand_targets(targets)
    return [_gate_one(limits, unit, metrics, select, select_by, reference, setting, baseline) for unit in units]


def _gated_metrics(limits: Limits) -> list[str]:
    if limits.empty():
        raise InputError("no limits: give --max, --min or --max-regression, or a [tool.ganeval.gate] table")
    if limits.max_regression and not limits.baseline:
        raise InputError("--max-regression needs --baseline RUN (or baseline = ... in the gate table)")
    if limits.alpha is not None and not limits.max_regression:
        raise InputError("--alpha tests regressions against a baseline: give --baseline RUN and --max-regression")
    return list(dict.fromkeys([*limits.max, *limits.min, *limits.max_regression]))


def _selection_metric(metrics: list[str], select: str, select_by: str | None) -> str | None:
    """The metric that ranks checkpoints under --select best: --select-by's, else the first limit's."""
    if select not in SELECTIONS:
        raise UnknownNameError("selection", select, SELECTIONS)
    if select_by is not None and select != "best":
        raise InputError(f"--select-by {select_by} picks the best checkpoint: use it with --select best")
    if select != "best":
        return None
    return metric_key(select_by) if select_by is not None else metrics[0]


def _gate_one(limits: Limits, target: str, metrics: list[str], select: str, select_by: str | None,
              reference: str | None, setting: str | None, baseline: pd.DataFrame | None) -> Verdict:
    rows, chosen, tied = select_checkpoint(target_records(target, reference, setting), metrics, select, select_by,
                                           target)
    first = next(iter(rows.values()))
    checks = [_limit_check(metric, "max", rows[metric], limit) for metric, limit in limits.max.items()]
    checks += [_limit_check(metric, "min", rows[metric], limit) for metric, limit in limits.min.items()]
    if baseline is not None:
        comparable = baseline[comparable_rows(baseline, first)]
        if comparable.empty:
            raise InputError(f"baseline {limits.baseline} has no record scored under the setting of {target} "
                             f"({first['setting']}); their values are not comparable")
        base_rows, _, _ = select_checkpoint(comparable, list(limits.max_regression), select, select_by,
                                         f"baseline {limits.baseline}")
        checks += [_regression_check(metric, allowance, rows[metric], base_rows[metric], limits.alpha, target,
                                     limits.baseline) for metric, allowance in limits.max_regression.items()]
    step = None if pd.isna(first["step"]) else int(first["step"])
    checkpoint = first["checkpoint"] if isinstance(first["checkpoint"], str) else None
    return Verdict(target, str(first["run"]), checkpoint, step, str(first["setting"]), tuple(checks), chosen, tied)


def _limit_check(metric: str, kind: str, row: pd.Series, limit: float) -> Check:
    value = float(row["value"])
    return Check(metric, kind, value, limit, value <= limit if kind == "max" else value >= limit,
                 interval=(float(row["ci_low"]), float(row["ci_high"])))


def evaluate_limits(limits: Limits, target: str, select: str = "last", reference: str | None = None,
                    select_by: str | None = None) -> tuple[list[Check], str]:
    """Every check of `limits` on one target (a run, checkpoint or records file), and a description of the
    checkpoint judged. Several runs: gate_targets."""
    verdicts = gate_targets(target, limits, select, select_by, reference)
    if len(verdicts) != 1:
        raise InputError(f"{target}: names {len(verdicts)} runs; gate them with gate_targets")
    return list(verdicts[0].checks), verdicts[0].description


def _regression_check(metric: str, allowance: float, row: pd.Series, base_row: pd.Series, alpha: float | None,
                      target: str, baseline: str) -> Check:
    """Target no worse than baseline + allowance; with `alpha`, no worse beyond the resampling noise (z-test)."""
    higher = HIGHER_IS_BETTER[metric]
    value, base = float(row["value"]), float(base_row["value"])
    limit = base - allowance if higher else base + allowance
    passed, p_value = (value >= limit if higher else value <= limit), None
    if alpha is not None:
        errors = {target: float(row["standard_error"]), baseline: float(base_row["standard_error"])}
        missing = [name for name, error in errors.items() if math.isnan(error)]
        if missing:
            raise InputError(f"--alpha needs the bootstrap standard error of {metric} in both records; {missing[0]} has "
                             f"none: score it with `ganeval score ... --ci 0.95`")
        worse_by = base - value if higher else value - base
        noise = math.hypot(*errors.values())
        if noise > 0:
            p_value = 0.5 * math.erfc((worse_by - allowance) / noise / math.sqrt(2))
        else:
            p_value = 0.0 if worse_by > allowance else 1.0
        passed = p_value >= alpha
    return Check(metric, "max_regression", value, limit, passed, base, (float(row["ci_low"]), float(row["ci_high"])), p_value)
