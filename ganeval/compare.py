"""Compare runs: one row per run (or checkpoint), one column per metric, ranked by the first metric.

Values measured against different references, with different extractors or with different sample counts are not
comparable; when the records hold more than one such setting, every column is named with its setting
("fid [fashion-mnist:train, fmnist-classifier, N=2000]") instead of mixing them in one column.
"""
from __future__ import annotations

import os

import pandas as pd

from .errors import InputError, UnknownNameError
from .metrics.registry import HIGHER_IS_BETTER, METRIC_FAMILIES
from .records import load_records

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
            select: str = "best", setting: str | None = None) -> pd.DataFrame:
    """One row per run ('best' or 'last' checkpoint) or per checkpoint ('all'), one column per metric.

    Ranked by the first metric column in its better direction (lower FID first, higher IS first). The frame's
    attrs name the ranking column ('rank_by') and the settings ('settings'). `setting` keeps the records of one
    setting only (a label of load_records' `setting` column).

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
    wide = _select(wide[INDEX + columns], rank_by, select)
    wide = wide.sort_values(rank_by, ascending=not _higher_is_better(rank_by), na_position="last", kind="stable")
    wide = wide.reset_index(drop=True)
    wide.attrs.update(rank_by=rank_by, settings=settings)
    return wide


def _suffix(setting: str, settings: list[str]) -> str:
    return "" if len(settings) == 1 else f" [{setting}]"


def _wide(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, checkpoint, step); the latest record wins where a checkpoint was scored twice alike."""
    # records of sample files have neither checkpoint nor step: stand-ins keep them as index values
    tidy = tidy.sort_values("created", kind="stable").assign(
        checkpoint=tidy["checkpoint"].fillna("-"), step=tidy["step"].astype("float").fillna(-1.0)
    )
    latest = tidy.drop_duplicates(subset=INDEX + ["column"], keep="last")
    wide = latest.set_index(INDEX + ["column"])["value"].unstack("column").reset_index()
    wide.columns.name = None
    wide["step"] = wide["step"].astype("Int64").mask(wide["step"] < 0)
    return wide


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
    return bool(HIGHER_IS_BETTER.get(column.split(" [", 1)[0], False))


FORMATS = ("table", "markdown", "csv", "json", "html")


def render(frame: pd.DataFrame, fmt: str = "table") -> str:
    """The comparison as text: an aligned table, Markdown, CSV, JSON (records) or an HTML table."""
    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, FORMATS)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=1) + "\n"
    if fmt == "html":
        return frame.to_html(index=False, na_rep="", float_format=_number, border=0, classes="comparison") + "\n"
    note = _settings_note(frame)
    if fmt == "markdown":
        return frame.to_markdown(index=False, floatfmt=".4g") + "\n\n" + note + "\n"
    return frame.to_string(index=False, na_rep="", float_format=_number) + "\n" + note + "\n"


def _settings_note(frame: pd.DataFrame) -> str:
    settings = frame.attrs.get("settings", [])
    rank = frame.attrs.get("rank_by", "")
    direction = "higher" if _higher_is_better(rank) else "lower"
    where = f"setting: {settings[0]}" if len(settings) == 1 else f"{len(settings)} settings, one column each"
    return f"ranked by {rank} ({direction} is better); {where} (reference, extractor, samples)"


def _number(value: float) -> str:
    return f"{value:.4g}"
