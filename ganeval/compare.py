"""Compare runs: one row per run (or checkpoint), one column per metric, ranked by the first metric.

Values measured against different references, with different extractors or with different sample counts are not
comparable; when the records hold more than one such setting, every column is named with its setting
("fid [fashion-mnist:train, fmnist-classifier, N=2000]") instead of mixing them in one column.

Runs are named by their folders. Runs whose config.toml files differ only in `seed` are one experiment: compare
reports them as one row with the mean over seeds, a `<metric> std` column (sample std over seeds), `seeds`, their
number, and `runs`, the folders it stands for ("grid25-gan-seed0, grid25-gan-seed1"). The row is named by the
folders' common prefix without its seed part ("grid25-gan"), or by the folders joined ("a + b") where they share
none. Where the records were scored with --ci, `<metric> ci_low` / `<metric> ci_high` columns hold the bootstrap
interval (of a single run's value; for a group of seeds, the std column is the spread that matters).

The best checkpoint by a metric scored with --ci may be best by noise alone: with select='best', a `tied_with` column
names the other checkpoints of the run whose values are statistically tied with the chosen one's (see
`interval_ties`), and the table's text says so under it. Without intervals of the ranking metric there is no such
column and the outputs are as they were.
"""
from __future__ import annotations

import html
import json
import os
import re
import sys
from pathlib import Path

import pandas as pd

from .errors import InputError, UnknownNameError
from .formatting import format_interval, format_number
from .metrics.registry import HIGHER_IS_BETTER, METRIC_FAMILIES
from .runs import RunDir
from .tables import load_records

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SELECTIONS = ("best", "last", "all")
INDEX = ["run", "checkpoint", "step"]


def metric_keys(spec: str | list[str] | None, available: list[str]) -> list[str]:
    """Record keys for a metrics spec: families expand to their ranked keys ('is' -> is_mean, 'prdc' -> precision,
    recall, density, coverage); keys pass as they are. None: every ranked key the records hold, in registry order
    (the registry as it is now: a family registered later is a column too)."""
    ranked = [key for family in METRIC_FAMILIES.values() for key in family.ranked_keys]
    if spec is None:
        return [key for key in ranked if key in available]
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    keys: list[str] = []
    for name in (name.strip().lower() for name in names if name.strip()):
        if name in METRIC_FAMILIES:
            wanted = list(METRIC_FAMILIES[name].ranked_keys)
        elif name in HIGHER_IS_BETTER:
            wanted = [name]
        else:
            raise UnknownNameError("metric", name, dict.fromkeys([*METRIC_FAMILIES, *ranked]))
        held = [key for key in wanted if key in available]  # a family counts when the records hold any of its keys
        if not held:
            raise InputError(f"no record holds {' or '.join(wanted)}; the records hold {', '.join(available) or 'no metrics'}")
        keys += held
    return list(dict.fromkeys(keys))


def compare(paths_or_globs: str | os.PathLike | list, metrics: str | list[str] | None = None,
            select: str = "best", setting: str | None = None, group_seeds: bool = True) -> pd.DataFrame:
    """One row per run ('best' or 'last' checkpoint) or per checkpoint ('all'), one column per metric.

    Ranked by the first metric column in its better direction (lower FID first, higher IS first). The frame's
    attrs name the ranking column ('rank_by'), its metric key ('rank_metric') and the settings ('settings').
    `setting` keeps the records of one setting only (a label of load_records' `setting` column). `group_seeds`
    folds runs that differ only by seed into one row (mean, std, number of seeds and the folders folded; not with
    select='all'); attrs 'groups' maps each such row's name to its run folders.

    With select='best' and a ranking metric scored with --ci, column `tied_with` holds the steps (checkpoint names
    where a record has no step) of the run's other checkpoints tied with the chosen one within bootstrap intervals
    ('2000, 3000'; empty where none is, see `interval_ties`), and attrs 'ties' maps each run folder whose best is
    tied to (its step, [the tied steps]). A group of seeds lists its members' ties ('seed0: 2000; seed1: 300').

    >>> ganeval.compare("runs/*", metrics="fid,is", select="best")     # doctest: +SKIP
    """
    if select not in SELECTIONS:
        raise UnknownNameError("selection", select, SELECTIONS)
    tidy = load_records(paths_or_globs)
    if setting is not None:
        tidy = tidy[tidy["setting"] == setting]
    if tidy.empty:
        raise InputError("the records hold no metric values" + (f" under {setting}" if setting else ""))
    keys = metric_keys(metrics, list(dict.fromkeys(tidy["metric"])))
    tidy = tidy[tidy["metric"].isin(keys)]
    settings = list(dict.fromkeys(tidy["setting"]))
    tidy = tidy.assign(column=tidy["metric"] + tidy["setting"].map(lambda label: _suffix(label, settings)))
    wide = _wide(tidy)
    # each column's metric key, kept beside its name: the key is never parsed back out of 'fid [setting]'
    key_of = {f"{key}{_suffix(setting, settings)}": key for setting in settings for key in keys}
    columns = [column for column in key_of if column in wide.columns]
    rank_by = columns[0]
    higher = _higher_is_better(key_of[rank_by])
    bounds = [f"{column} {side}" for column in columns for side in ("ci_low", "ci_high") if f"{column} {side}" in wide]
    wide = _select(wide[INDEX + ["config"] + columns + bounds], rank_by, select, higher)
    ties = wide.attrs.get("ties", {})  # per run folder, taken before seeds fold: the notes name the folders
    groups: dict[str, list[str]] = {}
    if group_seeds and select != "all":
        wide = _group_seeds(wide, columns)
        groups = wide.attrs.get("groups", {})
    wide = wide.drop(columns="config")
    wide = wide.sort_values(rank_by, ascending=not higher, na_position="last", kind="stable")
    wide = wide.reset_index(drop=True)
    wide.attrs.update(rank_by=rank_by, rank_metric=key_of[rank_by], settings=settings, groups=groups, ties=ties)
    return wide


def _suffix(setting: str, settings: list[str]) -> str:
    return "" if len(settings) == 1 else f" [{setting}]"


def _wide(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, checkpoint, step); the latest record wins where a checkpoint was scored twice alike. Holds
    the value columns, their interval columns where any record has one, and `config` (the run's config without
    its seed, for grouping seeds)."""
    # records of sample files have neither checkpoint nor step: stand-ins keep them as index values
    tidy = tidy.sort_values("created", kind="stable").assign(
        checkpoint=tidy["checkpoint"].fillna("-"), step=tidy["step"].astype("float").fillna(-1.0)
    )
    latest = tidy.drop_duplicates(subset=INDEX + ["column"], keep="last").set_index(INDEX + ["column"])
    parts = [latest["value"].unstack("column")]
    for side in ("ci_low", "ci_high"):
        if latest[side].notna().any():
            part = latest[side].unstack("column").dropna(axis=1, how="all")
            parts.append(part.rename(columns=lambda column, side=side: f"{column} {side}"))
    wide = pd.concat(parts, axis=1).reset_index()
    wide.columns.name = None
    wide["step"] = wide["step"].astype("Int64").mask(wide["step"] < 0)
    sources = latest.reset_index().drop_duplicates("run").set_index("run")["source"]
    wide["config"] = wide["run"].map(lambda run: _config_without_seed(sources.get(run)))
    return wide


def _config_without_seed(source: str | None) -> str | None:
    """The run's config.toml (beside its metrics.jsonl) without the seed line: what runs of one experiment share."""
    if source is None:
        return None
    path = RunDir(Path(source).parent).config_file
    if not path.is_file():
        return None
    try:
        document = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    if "seed" not in document:
        return None
    document.pop("seed")
    return json.dumps(document, sort_keys=True, default=str)


def _group_seeds(wide: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Fold the runs that share a config but for its seed into one row: mean, std over seeds, their number and the
    folders folded (`runs`). The frame's attrs map each group's name to its folders ('groups')."""
    if not wide["config"].dropna().duplicated().any():
        return wide  # no two runs of one config
    rows, groups = [], {}
    for config, runs in wide.groupby(wide["config"].fillna(wide["run"]), sort=False):
        if len(runs) == 1 or runs["config"].isna().all():
            rows.append(runs.assign(seeds=1, runs=runs["run"]))
            continue
        members = [str(run) for run in runs["run"]]
        name = group_name(members, taken=set(wide["run"]) - set(members))
        groups[name] = members
        row = {"run": name, "checkpoint": "-", "config": config, "seeds": len(runs), "runs": ", ".join(members),
               "step": runs["step"].iloc[0] if runs["step"].nunique() == 1 else pd.NA}
        for column in columns:
            row[column], row[f"{column} std"] = runs[column].mean(), runs[column].std()
        if "tied_with" in runs:
            # one row stands for several folders, each with its own best: name whose checkpoints tie
            ties = [f"{run}: {tied}" for run, tied in zip(runs["run"], runs["tied_with"]) if isinstance(tied, str)]
            row["tied_with"] = "; ".join(ties) or None
        rows.append(pd.DataFrame([row]))
    folded = pd.concat(rows, ignore_index=True)
    ordered = INDEX + ["config", "seeds", "runs"] + [name for column in columns for name in (column, f"{column} std")]
    folded = folded[ordered + [name for name in folded.columns if name not in ordered]]
    folded.attrs["groups"] = groups
    return folded


SEPARATORS = "-_. "


def group_name(members: list[str], taken: set[str] | frozenset[str] = frozenset()) -> str:
    """The name of a group of seeds: the folders' common prefix without its seed part ('grid25-gan-seed0',
    'grid25-gan-seed1' -> 'grid25-gan'). Where that prefix stops inside a word ('alpha', 'alpine'), is empty or is
    another run's name (`taken`), the folder names joined: 'alpha + alpine', never a name that is neither folder.

    >>> group_name(["grid25-gan-seed0", "grid25-gan-seed1"]), group_name(["alpha", "alpine"])
    ('grid25-gan', 'alpha + alpine')
    """
    prefix = os.path.commonprefix(members).rstrip("0123456789").rstrip(SEPARATORS)
    prefix = prefix[: -len("seed")].rstrip(SEPARATORS) if prefix.lower().endswith("seed") else prefix
    # the prefix must end where a member's name breaks (a separator, a digit or its end), not mid-word
    whole = all(len(member) == len(prefix) or member[len(prefix)] in SEPARATORS + "0123456789" for member in members)
    return prefix if prefix and whole and prefix not in taken else " + ".join(members)


def _select(wide: pd.DataFrame, rank_by: str, select: str, higher: bool) -> pd.DataFrame:
    """A row per run (its best or last checkpoint), or every row ('all'). Choosing the best by a metric with
    intervals adds `tied_with`: the labels of the run's checkpoints tied with the best, joined, or None."""
    if select == "all":
        return wide.sort_values(["run", "step"], kind="stable")
    chosen, ties = [], {}
    low, high = f"{rank_by} ci_low", f"{rank_by} ci_high"
    for run, rows in wide.groupby("run", sort=False):
        if select == "last" or rows[rank_by].isna().all():
            chosen.append(rows.sort_values("step", na_position="first", kind="stable").index[-1])
            continue
        best = rows[rank_by].idxmax() if higher else rows[rank_by].idxmin()
        chosen.append(best)
        tied = interval_ties(rows, best, rank_by, low, high)
        if tied:
            ties[best] = (str(run), _label(rows.loc[best]), tied)
    selected = wide.loc[chosen]
    if select == "best" and (low in wide or high in wide):
        # the column is there whenever the ranking metric has intervals: an empty cell says "checked, no tie"
        selected = selected.assign(tied_with=[", ".join(map(str, ties[index][2])) if index in ties else None
                                              for index in chosen])
    selected.attrs["ties"] = {run: (label, tied) for run, label, tied in ties.values()}
    return selected


def interval_ties(rows: pd.DataFrame, best, value: str, low: str, high: str) -> list[int | str]:
    """The labels (step, or the checkpoint's name where a record has none) of the rows tied with row `best`, in order
    of step: those whose value lies inside the best's bootstrap interval, or whose interval holds the best's value.

    Why this definition: each interval is where resampling puts that checkpoint's value, so either containment
    means the two could trade places on another draw of samples, whichever of them was scored with --ci. Mere
    overlap of the two intervals is not used: two 95% intervals can overlap while the difference between the
    values is significant, and overlap would call nearly every close pair a tie. Rows without an interval on
    either side (or without a value) are never tied: there is nothing to say they are. `low` and `high` name the
    interval columns of `value`; a missing column counts as no interval.

    >>> rows = pd.DataFrame({"step": [1, 2, 3], "checkpoint": "-", "fid": [5.0, 5.2, 9.0],
    ...                      "fid ci_low": [4.8, 5.1, 8.0], "fid ci_high": [5.3, 5.6, 10.0]})
    >>> interval_ties(rows, 0, "fid", "fid ci_low", "fid ci_high")
    [2]
    """
    missing = pd.Series(float("nan"), index=rows.index)
    values, lows, highs = rows[value], rows.get(low, missing), rows.get(high, missing)
    # comparisons with NaN are False: a side without an interval ties nothing by itself
    inside_best = (values >= lows[best]) & (values <= highs[best])
    holds_best = (lows <= values[best]) & (highs >= values[best])
    tied = rows[(inside_best | holds_best) & values.notna() & (rows.index != best)]
    order = tied["step"].astype("float").fillna(-1.0).sort_values(kind="stable").index
    return [_label(tied.loc[index]) for index in order]


def _label(row: pd.Series) -> int | str:
    """A checkpoint as the tie notes name it: its step, else its file's name (records of sample files: the run's)."""
    if pd.notna(row["step"]):
        return int(row["step"])
    checkpoint = row.get("checkpoint")
    return checkpoint if isinstance(checkpoint, str) and checkpoint != "-" else str(row.get("run", ""))


def _higher_is_better(key: str) -> bool:
    """The registry's direction of `key` (now: a family registered later has one too)."""
    return bool(HIGHER_IS_BETTER.get(key, False))


FORMATS = ("table", "markdown", "csv", "json", "html")


def render(frame: pd.DataFrame, fmt: str = "table") -> str:
    """The comparison as text: an aligned table, Markdown, CSV, JSON (records) or an HTML table.

    Table, Markdown and HTML show numbers by ganeval.formatting (4 significant digits, rounding noise as 0); CSV and
    JSON keep the raw numbers.
    """
    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, FORMATS)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return _json(frame)
    notes = [*_tie_notes(frame), _settings_note(frame)]  # the settings note stays last: report's HTML reads it there
    shown = readable(frame)
    if fmt == "html":
        return shown.to_html(index=False, na_rep="", border=0, classes="comparison") + "\n"
    if fmt == "markdown":
        # the cells are already text: tabulate must neither re-parse them as numbers nor wrap them; names come from
        # folders and records, so a pipe or a backtick in one must not break the table
        aligns = ["left" if column in TEXT_COLUMNS else "right" for column in shown.columns]
        shown = shown.rename(columns=lambda column: markdown_escape(column, brackets=False))
        for column in [column for column in TEXT_COLUMNS if column in shown]:
            shown[column] = [markdown_escape(str(cell)) for cell in shown[column]]
        notes = [markdown_escape(note) for note in notes[:-1]] + notes[-1:]
        return shown.to_markdown(index=False, disable_numparse=True, colalign=aligns) + "\n\n" + "\n\n".join(notes) + "\n"
    return shown.to_string(index=False, na_rep="") + "\n" + "\n".join(notes) + "\n"


TEXT_COLUMNS = ("run", "checkpoint", "runs", "tied_with")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_|~\[\]])")


def markdown_escape(text: str, brackets: bool = True) -> str:
    r"""`text` shown as itself in Markdown: HTML (<, >, &) as entities, and backslashes, backticks, emphasis, pipes
    and (unless `brackets` is False: a column such as 'fid [grid25, identity, N=2500]') brackets escaped.

    >>> print(markdown_escape("a|b `c` [d](e) <i>"))
    a\|b \`c\` \[d\](e) &lt;i&gt;
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))
    return escaped if brackets else escaped.replace("\\[", "[").replace("\\]", "]")


def _json(frame: pd.DataFrame) -> str:
    """Records as JSON with every digit (pandas' to_json keeps 10 decimals: FID -1.99e-13 would read -0.0)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json.dumps(records, indent=1, default=_plain) + "\n"


def _plain(value):
    """numpy scalars as Python numbers for json; anything else as its text."""
    return value.item() if hasattr(value, "item") else str(value)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame for reading, every cell as text: numbers by format_number (4 digits, so FID -1.99e-13 reads 0), a
    metric with a std over seeds as '12.3 ± 0.4', one with a bootstrap interval as '12.3 [11.9, 12.8]'; the helper
    columns fold into it. CSV and JSON keep every number in its own column."""
    shown = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            shown[column] = [_number(value) for value in frame[column]]
    for column in [name for name in frame.columns if f"{name} std" in frame or f"{name} ci_low" in frame]:
        texts = []
        for _, row in frame.iterrows():
            value, text = row[column], _number(row[column])
            spread, low, high = (row.get(f"{column} {part}") for part in ("std", "ci_low", "ci_high"))
            if pd.notna(value) and spread is not None and pd.notna(spread):
                text += f" ± {_number(spread)}"
            elif pd.notna(value) and low is not None and pd.notna(low):
                text += f" {format_interval(low, high)}"
            texts.append(text)
        shown[column] = texts
    helpers = [name for name in frame.columns if name.endswith((" std", " ci_low", " ci_high"))]
    shown = shown.drop(columns=helpers)
    return shown.astype(object).where(shown.notna(), "")


def _tie_notes(frame: pd.DataFrame) -> list[str]:
    """A line per run whose best checkpoint is tied with others within bootstrap intervals (attrs 'ties')."""
    metric = frame.attrs.get("rank_by", "")  # the column: it names the setting where there are several
    notes = []
    for run, (chosen, tied) in frame.attrs.get("ties", {}).items():
        notes.append(f"run {run}: best {metric} at {checkpoints_text([chosen])} is tied with {checkpoints_text(tied)} "
                     "within bootstrap intervals (scored with --ci): not a winner beyond noise")
    return notes


def checkpoints_text(labels: list[int | str]) -> str:
    """Checkpoints as a phrase: [2000, 3000] -> 'steps 2000, 3000'; names (checkpoints without a step) as they are.

    >>> checkpoints_text([2000]), checkpoints_text([2000, 3000]), checkpoints_text([100, "final.pt"])
    ('step 2000', 'steps 2000, 3000', 'step 100, final.pt')
    """
    if all(isinstance(label, int) for label in labels):
        return f"step{'s' if len(labels) > 1 else ''} {', '.join(map(str, labels))}"
    return ", ".join(f"step {label}" if isinstance(label, int) else str(label) for label in labels)


def _settings_note(frame: pd.DataFrame) -> str:
    settings = frame.attrs.get("settings", [])
    rank = frame.attrs.get("rank_by", "")
    direction = "higher" if _higher_is_better(frame.attrs.get("rank_metric", rank)) else "lower"
    where = f"setting: {settings[0]}" if len(settings) == 1 else f"{len(settings)} settings, one column each"
    return f"ranked by {rank} ({direction} is better); {where} (reference, extractor, samples)"


def _number(value: float) -> str:
    """A table cell: 4 significant digits, rounding noise as 0, nothing for a missing value."""
    return format_number(value, 4) if pd.notna(value) else ""
