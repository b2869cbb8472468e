"""The CI gate: check a run's (or checkpoint's, or records file's) scores against limits, and say so in a table.

Limits: `max` (value <= limit), `min` (value >= limit) and `max_regression` against a baseline run (no worse than the
baseline by more than the allowance, in the metric's better direction). With `alpha`, a regression check is a
one-sided z-test instead: it fails only when the target is worse than baseline + allowance beyond what resampling
noise explains (p < alpha), the noise being the bootstrap standard errors that `ganeval score --ci` stored in both
records: z = (worse_by - allowance) / sqrt(se_target^2 + se_baseline^2). They come from the command line, from
`[tool.ganeval.gate]` in pyproject.toml, or from a TOML file given with --config (the same table, `[gate]`, or
top-level keys). Exit status: 0 all pass, 1 some fail, 2 bad input (unknown metric, a metric the target has no record
of, a malformed limit, records that mix settings).
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from .atomic import write_text_atomically
from .errors import InputError, UnknownNameError
from .metrics.registry import HIGHER_IS_BETTER
from .records import load_records

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LIMIT_KINDS = ("max", "min", "max_regression")
ALIASES = {"is": "is_mean", "kid": "kid_mean"}


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
            return f"{relation} {self.limit:.6g} (baseline {self.baseline:.6g} {sign} allowance{test})"
        return f"{'<=' if self.kind == 'max' else '>='} {self.limit:.6g}"

    @property
    def shown_value(self) -> str:
        """The value, with its interval where the record has one: '12.3 [11.9, 12.8]'."""
        if self.interval is None or any(math.isnan(bound) for bound in self.interval):
            return f"{self.value:.6g}"
        return f"{self.value:.6g} [{self.interval[0]:.4g}, {self.interval[1]:.4g}]"


def metric_key(name: str) -> str:
    """'fid' -> 'fid', 'is' -> 'is_mean'; a family with several ranked keys must be named by key."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in HIGHER_IS_BETTER:
        raise UnknownNameError("metric", name.strip(), list(HIGHER_IS_BETTER) + list(ALIASES))
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


def target_values(target: str, metrics: list[str], select: str = "last", reference: str | None = None) -> tuple[dict, str]:
    """({metric: tidy row}, description) of the record the gate judges: a run's last (or best) scored checkpoint,
    one checkpoint's record, or a records file's last record. Every metric must come from one setting. A row holds
    the value and, where scored with --ci, ci_low, ci_high and standard_error."""
    path = Path(target)
    checkpoint = path.name if path.suffix == ".pt" else None
    source = path.parent.parent if checkpoint else path
    if checkpoint and not path.is_file():
        raise InputError(f"{target}: no such checkpoint")
    tidy = load_records(str(source))
    if checkpoint:
        tidy = tidy[tidy["checkpoint"] == checkpoint]
        if tidy.empty:
            raise InputError(f"{target}: no score of this checkpoint in {source}; run `ganeval score {target} --reference ...`")
    if reference is not None:
        tidy = tidy[tidy["reference"] == reference]
    values, settings = {}, set()
    for metric in metrics:
        rows = tidy[(tidy["metric"] == metric) & tidy["value"].notna()]
        if rows.empty:
            held = ", ".join(sorted(set(tidy["metric"]))) or "no metrics"
            raise InputError(f"{target} has no record of metric '{metric}' (it holds {held})")
        row = _pick(rows, metric, select)
        values[metric] = row
        settings.add(row["setting"])
    if len(settings) > 1:
        raise InputError(f"{target}: the gated metrics come from different settings ({'; '.join(sorted(settings))}); "
                         "choose one with --reference")
    step = "" if pd.isna(row["step"]) else f" step {int(row['step'])}"
    return values, f"{row['run']}{step} [{settings.pop()}]"


def _pick(rows: pd.DataFrame, metric: str, select: str) -> pd.Series:
    settings = rows["setting"].unique()
    if len(settings) > 1:
        raise InputError(f"metric '{metric}' was scored under {len(settings)} settings ({'; '.join(settings)}); "
                         "choose one with --reference")
    if select == "best":
        return rows.loc[rows["value"].idxmax() if HIGHER_IS_BETTER[metric] else rows["value"].idxmin()]
    ordered = rows.assign(order=rows["step"].astype("float").fillna(-1)).sort_values(["order", "created"], kind="stable")
    return ordered.iloc[-1]


def evaluate_limits(limits: Limits, target: str, select: str = "last", reference: str | None = None) -> tuple[list[Check], str]:
    """Every check of `limits` on `target` (and its baseline), and a description of what was judged."""
    if limits.empty():
        raise InputError("no limits: give --max, --min or --max-regression, or a [tool.ganeval.gate] table")
    if limits.max_regression and not limits.baseline:
        raise InputError("--max-regression needs --baseline RUN (or baseline = ... in the gate table)")
    if limits.alpha is not None and not limits.max_regression:
        raise InputError("--alpha tests regressions against a baseline: give --baseline RUN and --max-regression")
    metrics = list(dict.fromkeys([*limits.max, *limits.min, *limits.max_regression]))
    rows, description = target_values(target, metrics, select, reference)
    values = {metric: float(row["value"]) for metric, row in rows.items()}
    intervals = {metric: (float(row["ci_low"]), float(row["ci_high"])) for metric, row in rows.items()}
    checks = [Check(metric, "max", values[metric], limit, values[metric] <= limit, interval=intervals[metric])
              for metric, limit in limits.max.items()]
    checks += [Check(metric, "min", values[metric], limit, values[metric] >= limit, interval=intervals[metric])
               for metric, limit in limits.min.items()]
    if limits.max_regression:
        base_rows, base_description = target_values(limits.baseline, list(limits.max_regression), "last", reference)
        if base_description.split(" [", 1)[1] != description.split(" [", 1)[1]:
            raise InputError(f"baseline {base_description} and target {description} were scored under different "
                             "settings; their values are not comparable")
        for metric, allowance in limits.max_regression.items():
            checks.append(_regression_check(metric, allowance, rows[metric], base_rows[metric], limits.alpha, target,
                                            limits.baseline))
    return checks, description


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


def verdict_table(checks: list[Check], description: str) -> str:
    width = max(12, *(len(check.shown_value) for check in checks))
    lines = [f"gate: {description}", "", f"{'metric':<13}{'value':>{width}}  {'limit':<44}verdict"]
    for check in checks:
        lines.append(f"{check.metric:<13}{check.shown_value:>{width}}  {check.condition:<44}{'pass' if check.passed else 'FAIL'}")
    failed = sum(not check.passed for check in checks)
    lines.append("")
    lines.append(f"gate {'FAILED' if failed else 'passed'}: {len(checks) - failed} of {len(checks)} checks pass")
    return "\n".join(lines)


def markdown_summary(checks: list[Check], description: str) -> str:
    failed = sum(not check.passed for check in checks)
    lines = [f"### ganeval gate: {'FAILED' if failed else 'passed'}", "", f"`{description}`", "",
             "| metric | value | limit | verdict |", "|---|---|---|---|"]
    lines += [f"| {c.metric} | {c.shown_value} | {c.condition} | {'pass' if c.passed else '**FAIL**'} |" for c in checks]
    return "\n".join(lines) + "\n"


def junit_xml(checks: list[Check], description: str) -> str:
    """A JUnit report: one test case per check, a failure element for each failed one."""
    suite = ElementTree.Element("testsuite", name="ganeval gate", tests=str(len(checks)),
                                failures=str(sum(not check.passed for check in checks)), errors="0")
    ElementTree.SubElement(ElementTree.SubElement(suite, "properties"), "property", name="target", value=description)
    for check in checks:
        case = ElementTree.SubElement(suite, "testcase", classname="ganeval.gate", name=f"{check.metric} {check.condition}")
        if not check.passed:
            failure = ElementTree.SubElement(case, "failure", message=f"{check.metric} = {check.value:.6g}, limit {check.condition}")
            failure.text = f"{description}: {check.metric} = {check.value!r}"
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def publish(checks: list[Check], description: str, junit: str | os.PathLike | None) -> None:
    """Write the JUnit file when asked, and the Markdown summary to $GITHUB_STEP_SUMMARY when set."""
    if junit:
        write_text_atomically(Path(junit), junit_xml(checks, description))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as handle:  # GitHub's file collects every step's summary: append
            handle.write(markdown_summary(checks, description))
