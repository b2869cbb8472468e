"""Score records: the typed `Record` (one JSON line of a metrics.jsonl) and the `ScoreSettings` a sweep compares,
and records as pandas tables: find them (runs, files, globs), read them, and lay them out tidy.

A record says what was compared (input, reference, extractor, sample counts, seed), the metric values, diagnostics
and provenance; a checkpoint's record also names its run, checkpoint and step and what the score was asked
(`ScoreSettings`). `Record.to_json()` is the JSON object ganeval writes, key for key and in order;
`Record.from_json` reads one back, checked (a field of the wrong type is one line naming file:line). Which JSON
keys are metric values is read from the metric registry as each record is read, so a family registered later (a
plugin, a test) is read like a built-in one.

`load_records` gives one row per record and metric, with what makes two values comparable beside each value: the
reference, the extractor and the number of samples (`Record.comparable_key()`, labelled as the `setting`). Values
measured under different settings are never compared with each other.
"""
from __future__ import annotations

import glob
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError, RecordsWarning  # noqa: F401  (RecordsWarning: what load_records warns with)
from .metrics.registry import HIGHER_IS_BETTER, metric_keys
from .runs import METRICS_FILE, read_numbered_records

SCHEMA_VERSION = 1  # the layout of a record, written as its `schema`

# The JSON fields of a record besides its metric values, in groups in the order records write them: the header,
# a checkpoint's (which weights and latents made the samples), what a checkpoint's score was asked, the interval
# level, what was compared; the values come next, then diagnostics and provenance.
HEADER_FIELDS = ("schema", "created")
CHECKPOINT_FIELDS = ("run", "checkpoint", "step", "ema", "latents")
ASKED_FIELDS = ("reference_argument", "requested_num_samples", "requested_reference_samples", "metrics",
                "requested_extractor")
DEFAULT_EXTRACTOR = "auto"  # records written before the extractor was part of the ask were scored with --extractor auto
COMPARED_FIELDS = ("input", "reference", "extractor", "num_samples", "num_reference", "seed")
KNOWN_FIELDS = frozenset((*HEADER_FIELDS, *CHECKPOINT_FIELDS, *ASKED_FIELDS, "ci_level", "preset", *COMPARED_FIELDS,
                          "diagnostics", "provenance"))
INTERVAL_SUFFIXES = ("_ci_low", "_ci_high")
DEFAULT_LATENTS = "normal"  # records written before --latents existed drew normal latents

TIDY_COLUMNS = ("run", "checkpoint", "step", "reference", "extractor", "num_samples", "seed", "metric", "value",
                "ci_low", "ci_high", "standard_error", "higher_is_better", "setting", "created", "source")
COMPARABLE_COLUMNS = ("reference", "extractor", "num_samples")  # Record.comparable_key() in the tidy table


@dataclass(frozen=True)
class ScoreSettings:
    """What a checkpoint's score was asked, which a sweep compares to skip checkpoints already scored alike (`key`).

    `reference_argument`: the reference as given (None: a Samples object); `requested_num_samples` and
    `requested_reference_samples`: --num-samples and --reference-samples (None: the defaults); `metrics`: the
    families as asked (a string such as 'fid,kid' is split at its commas; None: the defaults, not the same ask as
    naming them, since the defaults depend on the extractor); `ci_level`: --ci (None: no intervals); `latents`: the
    latent stream ('normal' or 'sobol').

    >>> asked = ScoreSettings("ring8", 2020, metrics="fid,kid")
    >>> asked.key("a.pt") == ScoreSettings("ring8", 2020, metrics="kid, fid").key("a.pt"), asked.metrics_text
    (True, 'fid,kid')
    """

    reference_argument: str | None
    seed: int
    ema: bool = False
    requested_num_samples: int | None = None
    requested_reference_samples: int | None = None
    metrics: tuple[str, ...] | None = None
    ci_level: float | None = None
    latents: str = DEFAULT_LATENTS
    extractor: str = DEFAULT_EXTRACTOR  # as asked ('auto', or the one name of this record's feature space)
    preset: str | None = None  # --preset (its reference cap is no other field's)

    def __post_init__(self) -> None:
        # the names as given (the CLI gives them parsed, Python callers as typed): the record writes them back so
        if isinstance(self.metrics, str):
            object.__setattr__(self, "metrics", tuple(self.metrics.split(",")))
        elif self.metrics is not None:
            object.__setattr__(self, "metrics", tuple(self.metrics))

    @property
    def metrics_text(self) -> str | None:
        """`metrics` as records write it: the names comma-joined as asked, or None for the defaults."""
        return None if self.metrics is None else ",".join(self.metrics)

    def metric_set(self) -> frozenset[str] | None:
        """The families asked, as a set: 'fid,kid' and 'kid, fid' compute the same. None: the defaults."""
        if self.metrics is None:
            return None
        return frozenset(name.strip().lower() for name in self.metrics if name.strip())

    def key(self, checkpoint: str) -> tuple:
        """The sweep key of a score of `checkpoint` (its file name) under these settings: equal keys, the same
        score. The order of --metrics does not count; None (the defaults) differs from any list."""
        return (checkpoint, self.reference_argument, self.seed, self.ema, self.requested_num_samples,
                self.requested_reference_samples, self.extractor, self.preset, self.metric_set(), self.ci_level,
                self.latents)

    @classmethod
    def from_json(cls, data: dict) -> ScoreSettings | None:
        """The settings a record says it was asked, or None where it says none (not a checkpoint's record, or
        hand-written without them). A field added after the record was written reads its default."""
        if "reference_argument" not in data:
            return None
        return cls(data["reference_argument"], data.get("seed"), data.get("ema", False),
                   data.get("requested_num_samples"), data.get("requested_reference_samples"), data.get("metrics"),
                   data.get("ci_level"), _latents(data), data.get("requested_extractor") or DEFAULT_EXTRACTOR,
                   data.get("preset"))


def _latents(data: dict) -> str:
    return data.get("latents") or DEFAULT_LATENTS


@dataclass(frozen=True)
class Record:
    """One score: what was compared, the metric values, diagnostics and provenance.

    `values`: metric keys and their `<key>_ci_low` / `<key>_ci_high` bounds, in the order computed; a value that is
    not finite is None (NaN is not JSON). `run`, `checkpoint`, `step`, `ema`, `latents` and `settings` describe a
    checkpoint's samples (None and 'normal' for other inputs); `settings` repeats the record's seed, ema, latents
    and ci_level, and must agree with them. `ci_level`: the level of the intervals (None without --ci). `schema`:
    the layout version the record was written with. `extra`: fields this version does not know (a newer writer's,
    the keys of a family not registered here), kept so that the record is written back as it was read.

    >>> record = Record("ring8", "ring8", "identity", 500, 2500, 2020, values={"fid": 0.01})
    >>> record["fid"], record.setting_label, record.sweep_key()
    (0.01, 'ring8, identity, N=500', None)
    """

    input: str | None
    reference: str
    extractor: str | None
    num_samples: int | None
    num_reference: int | None
    seed: int | None
    values: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    created: str | None = None
    run: str | None = None
    checkpoint: str | None = None
    step: int | None = None
    ema: bool | None = None
    latents: str = DEFAULT_LATENTS
    settings: ScoreSettings | None = None
    ci_level: float | None = None
    preset: str | None = None
    schema: int | None = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", {key: _finite_or_none(value) for key, value in self.values.items()})
        clash = KNOWN_FIELDS & (set(self.values) | set(self.extra))
        if clash:
            raise ValueError(f"record: {', '.join(sorted(clash))} are record fields, not values or extra fields")
        if self.settings is not None:
            settings = self.settings
            said = {"seed": (settings.seed, self.seed), "ema": (settings.ema, self.ema),
                    "latents": (settings.latents, self.latents), "ci_level": (settings.ci_level, self.ci_level),
                    "preset": (settings.preset, self.preset)}
            differ = [name for name, (asked, recorded) in said.items() if asked != recorded]
            if differ:  # one record must not say two things; a writer's bug, not the user's input
                raise ValueError(f"record: its settings and its fields disagree on {', '.join(differ)}")

    # --- JSON ---------------------------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: dict, where: str = "record") -> Record:
        """The record of one JSON object, checked first: a field of the wrong type is a one-line InputError naming
        `where` (file:line). Metric keys are those registered now; other unknown fields are kept in `extra`."""
        if not isinstance(data, dict):
            raise InputError(f"{where}: a record must be a JSON object, got {_shown(data)}")
        check_record(data, where)
        keys = set(number_fields())
        settings = ScoreSettings.from_json(data)
        return cls(
            input=data.get("input"), reference=data["reference"], extractor=data.get("extractor"),
            num_samples=data.get("num_samples"), num_reference=data.get("num_reference"), seed=data.get("seed"),
            values={key: value for key, value in data.items() if key in keys},
            diagnostics=data.get("diagnostics") or {}, provenance=data.get("provenance") or {},
            created=data.get("created"), run=data.get("run"), checkpoint=data.get("checkpoint"), step=data.get("step"),
            ema=settings.ema if settings is not None else data.get("ema"), latents=_latents(data), settings=settings,
            ci_level=data.get("ci_level"), preset=data.get("preset"), schema=data.get("schema"),
            extra={key: value for key, value in data.items() if key not in KNOWN_FIELDS and key not in keys},
        )

    def to_json(self) -> dict:
        """The record as ganeval writes it, key for key and in order. Fields a record leaves out when they do not
        apply stay out: the checkpoint's fields and ci_level when None, latents when 'normal', diagnostics and
        provenance when empty; what was asked is written whole (nulls included) wherever `settings` is set."""
        data: dict = {}
        _put(data, schema=self.schema, created=self.created, run=self.run, checkpoint=self.checkpoint,
             step=self.step, ema=self.ema)
        if self.latents != DEFAULT_LATENTS:
            data["latents"] = self.latents
        if self.settings is not None:
            settings = self.settings
            data.update(reference_argument=settings.reference_argument,
                        requested_num_samples=settings.requested_num_samples,
                        requested_reference_samples=settings.requested_reference_samples,
                        metrics=settings.metrics_text)
            if settings.extractor != DEFAULT_EXTRACTOR:  # records of the default ask stay as they were written
                data["requested_extractor"] = settings.extractor
        _put(data, ci_level=self.ci_level, preset=self.preset)
        data.update(input=self.input, reference=self.reference, extractor=self.extractor,
                    num_samples=self.num_samples, num_reference=self.num_reference, seed=self.seed)
        data.update(self.values)
        data.update(self.extra)
        if self.diagnostics:
            data["diagnostics"] = self.diagnostics
        if self.provenance:
            data["provenance"] = self.provenance
        return data

    # --- what a record is compared by ---------------------------------------------------------------------------

    def comparable_key(self) -> tuple:
        """What two values must share to be compared: (reference, extractor, number of samples)."""
        return (self.reference, self.extractor, self.num_samples)

    @property
    def setting_label(self) -> str:
        """comparable_key() as text, the `setting` of tables: 'grid25, identity, N=2500'."""
        return f"{self.reference}, {self.extractor}, N={self.num_samples}"

    def sweep_key(self) -> tuple | None:
        """settings.key(checkpoint): equal for two scores of one checkpoint asked alike; None for a record that is
        no checkpoint's or says nothing of what it was asked (a sweep never counts it as done)."""
        if self.settings is None or self.checkpoint is None:
            return None
        return self.settings.key(self.checkpoint)

    # --- reading values -----------------------------------------------------------------------------------------

    def metric_values(self) -> dict[str, Any]:
        """The metric values by key (not their interval bounds), in registry order, as tables list them."""
        return {key: self.values[key] for key in metric_keys() if key in self.values}

    def interval(self, key: str) -> tuple[Any, Any]:
        """(low, high) of `key`'s bootstrap interval; (None, None) without one."""
        return self.values.get(f"{key}_ci_low"), self.values.get(f"{key}_ci_high")

    @property
    def standard_errors(self) -> dict:
        """The bootstrap standard error of each key that has one (records scored with --ci)."""
        return (self.diagnostics.get("ci") or {}).get("standard_errors") or {}

    def __getitem__(self, name: str) -> Any:
        """A value or field by its JSON name, as the record's JSON object reads it: record['fid'], record['step']."""
        if name in self.values:
            return self.values[name]
        return self.to_json()[name]

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return name in self.values or name in self.to_json()


def _put(data: dict, **fields: Any) -> None:
    """Add the fields that are not None, in order."""
    data.update({name: value for name, value in fields.items() if value is not None})


def _finite_or_none(value: Any) -> Any:
    """NaN and infinity (an empty mode histogram, a KL against an empty bin) as None: they are not JSON."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def number_fields() -> tuple[str, ...]:
    """The JSON keys of metric values: every registered key and its interval bounds (read now, never stale)."""
    return tuple(f"{key}{part}" for key in metric_keys() if key not in KNOWN_FIELDS
                 for part in ("", *INTERVAL_SUFFIXES))


# --- reading records ----------------------------------------------------------------------------------------------


def read_record_objects(path: str | os.PathLike) -> list[tuple[int, Record]]:
    """(line number, Record) of every record of one file, each checked (an InputError naming file:line for a field
    of the wrong type); unreadable lines are skipped with a RecordsWarning naming them."""
    path = Path(path)
    return [(line, Record.from_json(data, f"{path}:{line}")) for line, data in read_numbered_records(path)]


def read_run_records(run_dir: str | os.PathLike) -> list[Record]:
    """The Records of a run directory's metrics.jsonl ([] before its first score)."""
    path = Path(run_dir) / METRICS_FILE
    return [record for _, record in read_record_objects(path)] if path.is_file() else []


def load_record_objects(paths_or_globs: str | os.PathLike | list) -> list[tuple[Path, Record]]:
    """(records file, Record) of every record behind runs, records files, folders of runs and glob patterns."""
    return [(path, record) for path in record_files(paths_or_globs) for _, record in read_record_objects(path)]


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


# --- checking a record's fields ----------------------------------------------------------------------------------

# What compare, gate and report read from a record, by the type each must have (null is always allowed, but for
# `reference`): checked when records are loaded, so a hand-edited "fid": "abc" is one line naming file:line, not a
# traceback from deep inside pandas. The metric values' keys are the registry's (number_fields()).
STRING_FIELDS = ("reference", "run", "checkpoint", "extractor", "created", "input", "preset")
INTEGER_FIELDS = ("step", "num_samples", "seed")
# What a sweep compares (ScoreSettings.key): scalars, or a hand-edited list would fail the sweep, not the read
SETTING_STRINGS = ("reference_argument", "metrics", "latents", "requested_extractor")
SETTING_INTEGERS = ("requested_num_samples", "requested_reference_samples")
SETTING_NUMBERS = ("ci_level",)
SETTING_BOOLEANS = ("ema",)


def check_record(record: dict, where: str) -> None:
    """Raise a one-line InputError naming `where` (file:line) for the first field of the wrong type."""
    problem = _record_problem(record)
    if problem:
        raise InputError(f"{where}: {problem}")


def _record_problem(record: dict) -> str | None:
    if not isinstance(record.get("reference"), str):
        return f"field 'reference' must be a string, got {_shown(record.get('reference'))}"
    for fields, check, kind in ((STRING_FIELDS, _is_string, "a string"), (INTEGER_FIELDS, _is_integer, "an integer"),
                                (number_fields(), _is_number, "a finite number"),
                                (SETTING_STRINGS, _is_string, "a string"),
                                (SETTING_INTEGERS, _is_integer, "an integer"),
                                (SETTING_NUMBERS, _is_number, "a finite number"),
                                (SETTING_BOOLEANS, _is_boolean, "a boolean")):
        for field_name in fields:
            if not check(record.get(field_name)):
                return f"field '{field_name}' must be {kind} or null, got {_shown(record[field_name])}"
    if not isinstance(record.get("provenance"), (dict, type(None))):
        return f"field 'provenance' must be an object or null, got {_shown(record['provenance'])}"
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


def _is_boolean(value) -> bool:
    return value is None or isinstance(value, bool)


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


# --- naming -------------------------------------------------------------------------------------------------------


def run_name(record: Record, path: Path) -> str:
    """A record's run: the folder of its run directory, whatever name the record was written with (a run folder
    copied or renamed keeps the old name in its records, and two names for one run would not match the folder the
    user sees). Records outside a run directory keep their `run`; those of plain sample files have none and are
    named by their input (a file's name without folders)."""
    if is_run_directory(path.parent):
        return path.parent.name
    if record.run:
        return str(record.run)
    text = str(record.input or path.parent.name)
    return Path(text).name if os.sep in text else text


def is_run_directory(folder: Path) -> bool:
    """A folder written by `ganeval train` (checkpoints/ or config.toml beside the records)."""
    return (folder / "checkpoints").is_dir() or (folder / "config.toml").is_file()


def __getattr__(name: str):
    if name == "NUMBER_FIELDS":  # the keys registered now (a tuple, as before, but never stale)
        return number_fields()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
