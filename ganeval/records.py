"""Score records as pandas tables: find them (runs, files, globs), read them, and lay them out tidy.

A record is one JSON line of a metrics.jsonl (see ganeval.evaluate.make_record). `load_records` gives one row per
record and metric, with what makes two values comparable beside each value: the reference, the extractor and the
number of samples (the `setting`). Values measured under different settings are never compared with each other.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

import pandas as pd

from .errors import InputError, RecordsWarning  # noqa: F401  (RecordsWarning: what load_records warns with)
from .metrics.registry import HIGHER_IS_BETTER, METRIC_FAMILIES
from .runs import METRICS_FILE, read_record_file

TIDY_COLUMNS = ("run", "checkpoint", "step", "reference", "extractor", "num_samples", "seed", "metric", "value",
                "ci_low", "ci_high", "standard_error", "higher_is_better", "setting", "created", "source")


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
    return path.is_dir() and ((path / METRICS_FILE).is_file() or (path / "checkpoints").is_dir()
                              or any(path.glob(f"*/{METRICS_FILE}")))


def _files_of(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if (path / METRICS_FILE).is_file():
        return [path / METRICS_FILE]
    if path.is_dir():
        found = sorted(path.glob(f"*/{METRICS_FILE}"))
        if found:
            return found
        if (path / "checkpoints").is_dir():
            raise InputError(f"{path}: run has no scores yet ({METRICS_FILE}); run `ganeval score {path} --reference ...`")
        raise InputError(f"{path}: neither a run directory nor a folder of runs (no {METRICS_FILE})")
    raise InputError(f"{path}: no such run directory or records file")


def load_records(paths_or_globs: str | os.PathLike | list) -> pd.DataFrame:
    """Tidy table of every record and metric: one row per (record, metric) with the columns of TIDY_COLUMNS.

    `setting` = "reference, extractor, N=num_samples": values are only comparable within one setting. Records
    scored with --ci fill `ci_low`, `ci_high` and the bootstrap `standard_error` (NaN elsewhere).

    >>> frame = load_records("runs/*")          # doctest: +SKIP
    >>> frame.pivot_table(index="step", columns="metric", values="value")   # doctest: +SKIP
    """
    rows = []
    for path in record_files(paths_or_globs):
        for record in read_record_file(path):
            rows += _tidy_rows(record, path)
    frame = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    frame["step"] = frame["step"].astype("Int64")
    for column in ("value", "ci_low", "ci_high", "standard_error"):
        frame[column] = frame[column].astype(float)
    return frame


def _tidy_rows(record: dict, path: Path) -> list[dict]:
    common = {
        "run": run_name(record, path),
        "checkpoint": record.get("checkpoint"),
        "step": record.get("step"),
        "reference": record.get("reference"),
        "extractor": record.get("extractor"),
        "num_samples": record.get("num_samples"),
        "seed": record.get("seed"),
        "setting": setting_label(record),
        "created": record.get("created"),
        "source": str(path),
    }
    errors = (record.get("diagnostics") or {}).get("ci", {}).get("standard_errors", {})
    rows = []
    for family in METRIC_FAMILIES.values():
        for key in family.keys:
            if key in record:
                rows.append({**common, "metric": key, "value": _number(record[key]),
                             "ci_low": _number(record.get(f"{key}_ci_low")), "ci_high": _number(record.get(f"{key}_ci_high")),
                             "standard_error": _number(errors.get(key)), "higher_is_better": HIGHER_IS_BETTER.get(key)})
    return rows


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def run_name(record: dict, path: Path) -> str:
    """A record's run: the folder of its run directory, whatever name the record was written with (a run folder
    copied or renamed keeps the old name in its records, and two names for one run would not match the folder the
    user sees). Records outside a run directory keep their `run`; those of plain sample files have none and are
    named by their input (a file's name without folders)."""
    if is_run_directory(path.parent):
        return path.parent.name
    if record.get("run"):
        return str(record["run"])
    text = str(record.get("input") or path.parent.name)
    return Path(text).name if os.sep in text else text


def is_run_directory(folder: Path) -> bool:
    """A folder written by `ganeval train` (checkpoints/ or config.toml beside the records)."""
    return (folder / "checkpoints").is_dir() or (folder / "config.toml").is_file()


def setting_label(record: dict) -> str:
    """What two values must share to be compared: reference, extractor and sample count."""
    return f"{record.get('reference')}, {record.get('extractor')}, N={record.get('num_samples')}"
