"""Records as pandas tables: find them (runs, records files, folders of runs, globs), read them, lay them out tidy.

`load_records` gives one row per record and metric, with what makes two values comparable beside each value: the
reference, the extractor and the number of samples (`Record.comparable_key()`, labelled as the `setting`). Values
measured under different settings are never compared with each other.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .errors import InputError
from .metrics.registry import HIGHER_IS_BETTER
from .records import Record, read_record_file
from .runs import METRICS_FILE, RunDir

TIDY_COLUMNS = ("run", "checkpoint", "step", "reference", "extractor", "num_samples", "seed", "metric", "value",
                "ci_low", "ci_high", "standard_error", "higher_is_better", "setting", "created", "source")
COMPARABLE_COLUMNS = ("reference", "extractor", "num_samples")  # Record.comparable_key() in the tidy table


def load_record_objects(paths_or_globs: str | os.PathLike | list) -> list[tuple[Path, Record]]:
    """(records file, Record) of every record behind runs, records files, folders of runs and glob patterns."""
    return [(path, record) for path in record_files(paths_or_globs) for _, record in read_record_file(path)]


def record_files(paths_or_globs: str | os.PathLike | list) -> list[Path]:
    """metrics.jsonl files behind run directories, records files, folders of runs and glob patterns (in order)."""
    items = [paths_or_globs] if isinstance(paths_or_globs, (str, os.PathLike)) else list(paths_or_globs)
    if not items:
        raise InputError("no runs or records files given")
    files: list[Path] = []
    for item in items:
        text = str(item)
        if glob.has_magic(text):
            # a pattern such as runs/* may also match other things beside the runs (files, a report folder): take
            # .jsonl files and the folders that are runs (scored or not) or hold scored runs
            matches = [match for match in sorted(glob.glob(text, recursive=True))
                       if match.endswith(".jsonl") or _is_run_like(Path(match))]
            if not matches:
                raise InputError(f"{text}: the pattern matches no run directory or .jsonl file")
        else:
            matches = [text]
        for match in matches:
            files += _files_of(Path(match))
    unique = list(dict.fromkeys(path.resolve() for path in files))
    return unique


def _is_run_like(path: Path) -> bool:
    """A run (scored or not) or a folder of scored runs."""
    return path.is_dir() and (RunDir(path).metrics_file.is_file() or RunDir.is_run(path)
                              or any(path.glob(f"*/{METRICS_FILE}")))


def _files_of(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    run = RunDir(path)
    if run.metrics_file.is_file():
        return [run.metrics_file]
    if path.is_dir():
        found = sorted(path.glob(f"*/{METRICS_FILE}"))
        if found:
            return found
        if RunDir.is_run(path):
            raise InputError(f"{path}: run has no scores yet ({METRICS_FILE}); run `ganeval score {path} --reference ...`")
        raise InputError(f"{path}: neither a run directory nor a folder of runs (no {METRICS_FILE})")
    raise InputError(f"{path}: no such run directory or records file")


# --- records as a tidy table --------------------------------------------------------------------------------------


def load_records(paths_or_globs: str | os.PathLike | list) -> pd.DataFrame:
    """Tidy table of every record and metric: one row per (record, metric) with the columns of TIDY_COLUMNS.

    `setting` = "reference, extractor, N=num_samples": values are only comparable within one setting. Records
    scored with --ci fill `ci_low`, `ci_high` and the bootstrap `standard_error` (NaN elsewhere).

    >>> frame = load_records("runs/*")          # doctest: +SKIP
    >>> frame.pivot_table(index="step", columns="metric", values="value")   # doctest: +SKIP
    """
    return tidy_frame(load_record_objects(paths_or_globs))


def tidy_frame(records: Iterable[tuple[Path, Record]]) -> pd.DataFrame:
    """The tidy table (see load_records) of (records file, Record) pairs."""
    directions = dict(HIGHER_IS_BETTER)  # the registry's directions now, read once per table rather than per row
    rows = [row for path, record in records for row in _tidy_rows(record, Path(path), directions)]
    frame = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    frame["step"] = frame["step"].astype("Int64")
    for column in ("value", "ci_low", "ci_high", "standard_error"):
        frame[column] = frame[column].astype(float)
    return frame


def _tidy_rows(record: Record, path: Path, directions: dict[str, bool]) -> list[dict]:
    common = {
        "run": run_name(record, path),
        "checkpoint": record.checkpoint,
        "step": record.step,
        "reference": record.reference,
        "extractor": record.extractor,
        "num_samples": record.num_samples,
        "seed": record.seed,
        "setting": record.setting_label,
        "created": record.created,
        "source": str(path),
    }
    errors = record.standard_errors
    rows = []
    for key, value in record.metric_values().items():
        low, high = record.interval(key)
        rows.append({**common, "metric": key, "value": _number(value), "ci_low": _number(low),
                     "ci_high": _number(high), "standard_error": _number(errors.get(key)),
                     "higher_is_better": directions.get(key)})
    return rows


def comparable_rows(tidy: pd.DataFrame, row: pd.Series) -> pd.Series:
    """Which rows of a tidy table share `row`'s setting: its comparable key (reference, extractor, N), compared
    column by column, since two settings can read alike as labels ('a, b' + 'c' and 'a' + 'b, c')."""
    same = pd.Series(True, index=tidy.index)
    for column in COMPARABLE_COLUMNS:
        value = row[column]
        same &= tidy[column].isna() if pd.isna(value) else tidy[column] == value
    return same


def setting_labels(tidy: pd.DataFrame) -> list[str]:
    """The label of each distinct setting (comparable key) of a tidy table, sorted."""
    return sorted(map(str, tidy.drop_duplicates(list(COMPARABLE_COLUMNS))["setting"]))


def _number(value) -> float:
    return float("nan") if value is None else float(value)


# --- naming -------------------------------------------------------------------------------------------------------


def run_name(record: Record, path: Path) -> str:
    """A record's run: the folder of its run directory, whatever name the record was written with (a run folder
    copied or renamed keeps the old name in its records, and two names for one run would not match the folder the
    user sees). Records outside a run directory keep their `run`; those of plain sample files have none and are
    named by their input (a file's name without folders)."""
    if RunDir.is_run(path.parent):
        return path.parent.name
    if record.run:
        return str(record.run)
    text = str(record.input or path.parent.name)
    return Path(text).name if os.sep in text else text
