"""Score records as pandas tables: find them (runs, files, globs), read them, and lay them out tidy.

A record is one JSON line of a metrics.jsonl (see ganeval.evaluate.make_record). `load_records` gives one row per
record and metric, with what makes two values comparable beside each value: the reference, the extractor and the
number of samples (the `setting`). Values measured under different settings are never compared with each other.
"""
from __future__ import annotations

import glob
import math
import os
from pathlib import Path

import pandas as pd

from .errors import InputError, RecordsWarning  # noqa: F401  (RecordsWarning: what load_records warns with)
from .metrics.registry import HIGHER_IS_BETTER, METRIC_FAMILIES, METRIC_KEYS
from .runs import METRICS_FILE, read_numbered_records

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
        for line, record in read_numbered_records(path):
            check_record(record, f"{path}:{line}")
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
    errors = ((record.get("diagnostics") or {}).get("ci") or {}).get("standard_errors") or {}
    rows = []
    for family in METRIC_FAMILIES.values():
        for key in family.keys:
            if key in record:
                rows.append({**common, "metric": key, "value": _number(record[key]),
                             "ci_low": _number(record.get(f"{key}_ci_low")), "ci_high": _number(record.get(f"{key}_ci_high")),
                             "standard_error": _number(errors.get(key)), "higher_is_better": HIGHER_IS_BETTER.get(key)})
    return rows


# What compare, gate and report read from a record, by the type each must have (null is always allowed, but for
# `reference`): checked when records are loaded, so a hand-edited "fid": "abc" is one line naming file:line, not a
# traceback from deep inside pandas.
STRING_FIELDS = ("reference", "run", "checkpoint", "extractor", "created", "input")
INTEGER_FIELDS = ("step", "num_samples", "seed")
NUMBER_FIELDS = tuple(f"{key}{part}" for key in METRIC_KEYS for part in ("", "_ci_low", "_ci_high"))


def check_record(record: dict, where: str) -> None:
    """Raise a one-line InputError naming `where` (file:line) for the first field of the wrong type."""
    problem = _record_problem(record)
    if problem:
        raise InputError(f"{where}: {problem}")


def _record_problem(record: dict) -> str | None:
    if not isinstance(record.get("reference"), str):
        return f"field 'reference' must be a string, got {_shown(record.get('reference'))}"
    for fields, check, kind in ((STRING_FIELDS, _is_string, "a string"), (INTEGER_FIELDS, _is_integer, "an integer"),
                                (NUMBER_FIELDS, _is_number, "a finite number")):
        for field in fields:
            if not check(record.get(field)):
                return f"field '{field}' must be {kind} or null, got {_shown(record[field])}"
    return _diagnostics_problem(record.get("diagnostics"))


def _diagnostics_problem(diagnostics) -> str | None:
    """The parts of `diagnostics` that tables and the report read: bootstrap standard errors and mode counts."""
    if diagnostics is None:
        return None
    if not isinstance(diagnostics, dict):
        return f"field 'diagnostics' must be an object or null, got {_shown(diagnostics)}"
    for name in ("ci", "modes"):
        if not isinstance(diagnostics.get(name), (dict, type(None))):
            return f"field 'diagnostics.{name}' must be an object or null, got {_shown(diagnostics[name])}"
    errors = (diagnostics.get("ci") or {}).get("standard_errors") or {}
    if not isinstance(errors, dict):
        return f"field 'diagnostics.ci.standard_errors' must be an object or null, got {_shown(errors)}"
    for key, value in errors.items():  # NaN is what ganeval writes for a standard error of fewer than 2 replicates
        if not _is_number(value, finite=False):
            return f"field 'diagnostics.ci.standard_errors.{key}' must be a number or null, got {_shown(value)}"
    modes = diagnostics.get("modes") or {}
    counts = modes.get("mode_counts", [])
    if not isinstance(counts, list) or not counts and modes or not all(_is_number(count) for count in counts):
        return f"field 'diagnostics.modes.mode_counts' must be a non-empty list of numbers, got {_shown(counts)}"
    if not _is_string(modes.get("source")):
        return f"field 'diagnostics.modes.source' must be a string or null, got {_shown(modes['source'])}"
    return None


def _is_string(value) -> bool:
    return value is None or isinstance(value, str)


def _is_integer(value) -> bool:
    return value is None or isinstance(value, int) and not isinstance(value, bool)


def _is_number(value, finite: bool = True) -> bool:
    """null or an int or float (not a bool: JSON true would read 1.0), finite unless `finite` is False (ganeval
    writes null for a non-finite metric value, so NaN there was written by someone else)."""
    if value is None:
        return True
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) or not finite
    except OverflowError:  # an integer beyond float range
        return False


def _shown(value) -> str:
    """A wrong value as short, one-line JSON-ish text with its type: 'abc' (a string), [1, 2] (a list)."""
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{text} ({_JSON_TYPES.get(type(value), type(value).__name__)})"


_JSON_TYPES = {str: "a string", list: "a list", dict: "an object", bool: "a boolean", float: "a number", int: "a number",
               type(None): "null"}


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
