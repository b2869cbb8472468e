"""Compare runs: one row per run (or checkpoint), one column per metric, ranked by the first metric.

Values measured against different references, with different extractors or with different sample counts are not
comparable; when the records hold more than one such setting, every column is named with its setting
("fid [fashion-mnist:train, fmnist-classifier, N=2000]") instead of mixing them in one column.

Runs whose config.toml files differ only in `seed` are one experiment: compare reports them as one row (the config's
name) with the mean over seeds, a `<metric> std` column (sample std over seeds) and `seeds`, their number. Where the
records were scored with --ci, `<metric> ci_low` / `<metric> ci_high` columns hold the bootstrap interval (of a
single run's value; for a group of seeds, the std column is the spread that matters).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd

from .errors import InputError, UnknownNameError
from .metrics.registry import HIGHER_IS_BETTER, METRIC_FAMILIES
from .records import load_records

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SELECTIONS = ("best", "last", "all")
INDEX = ["run", "checkpoint", "step"]


def metric_keys(spec: str | list[str] | None, available: list[str]) -> list[str]:
    """Record keys for a metrics spec: families expand to their ranked keys ('is' -> is_mean, 'prdc' -> precision,
    recall, density, coverage); keys pass as they are. None: every ranked key the records hold, in registry order."""
    ranked = [key for family in METRIC_FAMILIES.values() for key in family.keys if key in HIGHER_IS_BETTER]
    if spec is None:
        return [key for key in ranked if key in available]
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    keys: list[str] = []
    for name in (name.strip().lower() for name in names if name.strip()):
        if name in METRIC_FAMILIES:
            wanted = [key for key in METRIC_FAMILIES[name].keys if key in HIGHER_IS_BETTER]
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
    attrs name the ranking column ('rank_by') and the settings ('settings'). `setting` keeps the records of one
    setting only (a label of load_records' `setting` column). `group_seeds` folds runs that differ only by seed
    into one row (mean, std and number of seeds; not with select='all').

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
    columns = [f"{key}{_suffix(setting, settings)}" for setting in settings for key in keys
               if f"{key}{_suffix(setting, settings)}" in wide.columns]
    rank_by = columns[0]
    bounds = [f"{column} {side}" for column in columns for side in ("ci_low", "ci_high") if f"{column} {side}" in wide]
    wide = _select(wide[INDEX + ["config"] + columns + bounds], rank_by, select)
    if group_seeds and select != "all":
        wide = _group_seeds(wide, columns)
    wide = wide.drop(columns="config")
    wide = wide.sort_values(rank_by, ascending=not _higher_is_better(rank_by), na_position="last", kind="stable")
    wide = wide.reset_index(drop=True)
    wide.attrs.update(rank_by=rank_by, settings=settings)
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
    path = Path(source).parent / "config.toml"
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
    """Fold the runs that share a config but for its seed into one row: mean, std over seeds and their number."""
    if not wide["config"].dropna().duplicated().any():
        return wide  # no two runs of one config
    rows = []
    for config, runs in wide.groupby(wide["config"].fillna(wide["run"]), sort=False):
        if len(runs) == 1 or runs["config"].isna().all():
            rows.append(runs.assign(seeds=1))
            continue
        row = {"run": _config_name(config, runs), "checkpoint": "-", "config": config, "seeds": len(runs),
               "step": runs["step"].iloc[0] if runs["step"].nunique() == 1 else pd.NA}
        for column in columns:
            row[column], row[f"{column} std"] = runs[column].mean(), runs[column].std()
        rows.append(pd.DataFrame([row]))
    folded = pd.concat(rows, ignore_index=True)
    ordered = INDEX + ["config", "seeds"] + [name for column in columns for name in (column, f"{column} std")]
    return folded[ordered + [name for name in folded.columns if name not in ordered]]


def _config_name(config: str, runs: pd.DataFrame) -> str:
    """The runs' shared name without its seed part ('grid25-gan-seed0', '...-seed1' -> 'grid25-gan'), else the
    config's own name."""
    prefix = os.path.commonprefix([str(run) for run in runs["run"]]).rstrip("0123456789").rstrip("-_ ")
    prefix = prefix[: -len("seed")].rstrip("-_ ") if prefix.lower().endswith("seed") else prefix
    return prefix or str(json.loads(config).get("name") or runs["run"].iloc[0])


def _select(wide: pd.DataFrame, rank_by: str, select: str) -> pd.DataFrame:
    if select == "all":
        return wide.sort_values(["run", "step"], kind="stable")
    chosen = []
    for _, rows in wide.groupby("run", sort=False):
        if select == "last" or rows[rank_by].isna().all():
            chosen.append(rows.sort_values("step", na_position="first", kind="stable").index[-1])
        else:
            chosen.append(rows[rank_by].idxmax() if _higher_is_better(rank_by) else rows[rank_by].idxmin())
    return wide.loc[chosen]


def _higher_is_better(column: str) -> bool:
    return bool(HIGHER_IS_BETTER.get(column.split(" [", 1)[0].split(" ", 1)[0], False))


FORMATS = ("table", "markdown", "csv", "json", "html")


def render(frame: pd.DataFrame, fmt: str = "table") -> str:
    """The comparison as text: an aligned table, Markdown, CSV, JSON (records) or an HTML table."""
    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, FORMATS)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=1) + "\n"
    note = _settings_note(frame)
    shown = readable(frame)
    if fmt == "html":
        return shown.to_html(index=False, na_rep="", float_format=_number, border=0, classes="comparison") + "\n"
    if fmt == "markdown":
        return shown.to_markdown(index=False, floatfmt=".4g") + "\n\n" + note + "\n"
    return shown.to_string(index=False, na_rep="", float_format=_number) + "\n" + note + "\n"


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame for reading: a metric with a std over seeds shows as '12.3 +- 0.4', one with a bootstrap interval
    as '12.3 [11.9, 12.8]'; the helper columns fold into it. CSV and JSON keep every number in its own column."""
    shown = frame.copy()
    for column in [name for name in frame.columns if f"{name} std" in frame or f"{name} ci_low" in frame]:
        texts = []
        for _, row in frame.iterrows():
            value, text = row[column], _number(row[column]) if pd.notna(row[column]) else ""
            spread, low, high = (row.get(f"{column} {part}") for part in ("std", "ci_low", "ci_high"))
            if pd.notna(value) and spread is not None and pd.notna(spread):
                text += f" +- {_number(spread)}"
            elif pd.notna(value) and low is not None and pd.notna(low):
                text += f" [{_number(low)}, {_number(high)}]"
            texts.append(text)
        shown[column] = texts
    helpers = [name for name in frame.columns if name.endswith((" std", " ci_low", " ci_high"))]
    return shown.drop(columns=helpers)


def _settings_note(frame: pd.DataFrame) -> str:
    settings = frame.attrs.get("settings", [])
    rank = frame.attrs.get("rank_by", "")
    direction = "higher" if _higher_is_better(rank) else "lower"
    where = f"setting: {settings[0]}" if len(settings) == 1 else f"{len(settings)} settings, one column each"
    return f"ranked by {rank} ({direction} is better); {where} (reference, extractor, samples)"


def _number(value: float) -> str:
    return f"{value:.4g}"
