"""Score records: the typed `Record` (one JSON line of a metrics.jsonl) and the `ScoreSettings` a sweep compares.

A record says what was compared (input, reference, extractor, sample counts, seed), the metric values, diagnostics
and provenance; a checkpoint's record also names its run, checkpoint and step and what the score was asked
(`ScoreSettings`). `Record.to_json()` is the JSON object ganeval writes, key for key and in order;
`Record.from_json` reads one back, checked (a field of the wrong type is one line naming file:line). Which JSON
keys are metric values is read from the metric registry as each record is read, so a family registered later (a
plugin, a test) is read like a built-in one. Where records live is ganeval.runs' business; records as pandas
tables are ganeval.tables'.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from .config import ScoreConfig
from .errors import InputError, RecordsWarning, warn_at_caller
from .jsonl import read_lines
from .metrics.registry import metric_keys

SCHEMA_VERSION = 1  # the layout of a record, written as its `schema`

# The JSON fields of a record besides its metric values, in groups in the order records write them: the header,
# a checkpoint's (which weights and latents made the samples), what a checkpoint's score was asked, the interval
# level, what was compared; the values come next, then diagnostics and provenance.
HEADER_FIELDS = ("schema", "created")
CHECKPOINT_FIELDS = ("run", "checkpoint", "step", "ema", "latents")
ASKED_FIELDS = ("reference_argument", "requested_num_samples", "requested_reference_samples", "metrics",
                "requested_extractor", "requested_generator", "train_argument")
DEFAULT_EXTRACTOR = "auto"  # records written before the extractor was part of the ask were scored with --extractor auto
COMPARED_FIELDS = ("input", "reference", "extractor", "num_samples", "num_reference", "seed")
KNOWN_FIELDS = frozenset((*HEADER_FIELDS, *CHECKPOINT_FIELDS, *ASKED_FIELDS, "ci_level", "preset", *COMPARED_FIELDS,
                          "diagnostics", "provenance"))
INTERVAL_SUFFIXES = ("_ci_low", "_ci_high")
DEFAULT_LATENTS = "normal"  # records written before --latents existed drew normal latents


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
    generator: str | None = None  # a user's generator as asked: its spec and arguments, latents, labels, range
    train: str | None = None  # --train as given (None: none, or a checkpoint's own training data)

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
                self.latents, self.generator, self.train)

    @classmethod
    def asked(cls, reference: str | os.PathLike | None, config: ScoreConfig) -> ScoreSettings:
        """What a score against `reference` (as given; None: an object, not a spec) under `config` asks."""
        return cls(reference_argument=None if reference is None else str(reference), seed=config.seed,
                   ema=config.ema, requested_num_samples=config.num_samples,
                   requested_reference_samples=config.reference_samples, metrics=config.metrics,
                   ci_level=config.ci.level if config.ci else None, latents=config.latents,
                   extractor=asked_extractor(config), preset=config.preset,
                   train=str(config.train) if isinstance(config.train, (str, os.PathLike)) else None)

    @classmethod
    def from_json(cls, data: dict) -> ScoreSettings | None:
        """The settings a record says it was asked, or None where it says none (not a checkpoint's record, or
        hand-written without them). A field added after the record was written reads its default."""
        if "reference_argument" not in data:
            return None
        return cls(data["reference_argument"], data.get("seed"), data.get("ema", False),
                   data.get("requested_num_samples"), data.get("requested_reference_samples"), data.get("metrics"),
                   data.get("ci_level"), _latents(data), data.get("requested_extractor") or DEFAULT_EXTRACTOR,
                   data.get("preset"), data.get("requested_generator"), data.get("train_argument"))


def _latents(data: dict) -> str:
    return data.get("latents") or DEFAULT_LATENTS


# Extractor options that say where the weights are or whether to trust them: they do not change the feature space
# (the weights' SHA256 is in the record's provenance), so a sweep asked with another path is the same ask.
_LOCATION_OPTIONS = frozenset(("weights", "trust", "download"))


def asked_extractor(config: ScoreConfig) -> str:
    """The extractor a score asks for, with the options that change its space: 'auto', 'dinov2-vit-l-14',
    'inception-v3-compat[resize=clean]'; under 'auto' the options of the extractor it may pick,
    'auto[inception-v3-compat:resize=clean]'."""
    name = config.extractor.name
    spaces = []
    for extractor, options in sorted(config.extractor.options.items()):
        if extractor != name and name != "auto":  # another extractor of the same list: not this record's space
            continue
        for key, value in sorted((options or {}).items()):
            if key not in _LOCATION_OPTIONS and value is not None:
                spaces.append(f"{key}={value}" if extractor == name else f"{extractor}:{key}={value}")
    return name + (f"[{','.join(spaces)}]" if spaces else "")


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
            if settings.generator is not None:
                data["requested_generator"] = settings.generator
            if settings.train is not None:
                data["train_argument"] = settings.train
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

    def labelled(self, run: str | None, step: int | None, checkpoint: str | None,
                 settings: ScoreSettings | None = None) -> Record:
        """This record as one of a run's: its run, step and checkpoint label (a user's generator scored in a
        training loop, or one file of theirs among several); with the `settings` asked, a later score of the same
        file asked alike skips it."""
        return dataclasses.replace(self, run=run, step=step, checkpoint=checkpoint, settings=settings,
                                   ema=None if settings is None else settings.ema)

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


def is_record(data: dict) -> bool:
    """Whether a JSON object is a score record (every record names its reference)."""
    return "reference" in data


def read_record_file(path: str | os.PathLike, skip_invalid: bool = False) -> list[tuple[int, Record]]:
    """(line number, Record) of every record of one records file, each checked: a field of the wrong type is an
    InputError naming file:line, or with `skip_invalid` a RecordsWarning and the record left out (a sweep or a
    training run reads records to skip what is scored, and one hand-edited line must not stop it). Unreadable
    lines are skipped with a RecordsWarning naming them."""
    records = []
    for line, data in read_lines(path, is_record, "record"):
        try:
            records.append((line, Record.from_json(data, f"{path}:{line}")))
        except InputError as error:
            if not skip_invalid:
                raise
            warn_at_caller(f"{error}; the record is left out", RecordsWarning)
    return records


# --- checking a record's fields ----------------------------------------------------------------------------------

# What compare, gate and report read from a record, by the type each must have (null is always allowed, but for
# `reference`): checked when records are loaded, so a hand-edited "fid": "abc" is one line naming file:line, not a
# traceback from deep inside pandas. The metric values' keys are the registry's (number_fields()).
STRING_FIELDS = ("reference", "run", "checkpoint", "extractor", "created", "input", "preset")
INTEGER_FIELDS = ("step", "num_samples", "seed")
# What a sweep compares (ScoreSettings.key): scalars, or a hand-edited list would fail the sweep, not the read
SETTING_STRINGS = ("reference_argument", "metrics", "latents", "requested_extractor", "requested_generator")
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
