"""What a record, a training.jsonl line and a run's config become in a tracker: a Batch of scalars at steps,
parameters and pictures, named by ganeval.trackers.names. Sinks write Batches; they never read records.

Per record: every numeric value (metric keys and their `_ci_low` / `_ci_high` bounds) at the record's step (0 for a
score that is no checkpoint's), the setting as parameters (`setting/SETTING/reference`, `.../extractor`,
`.../num_samples`, `.../num_reference`, `.../seed`, `.../preset`, `.../ci_level`, `.../label`), and the picture of the
checkpoint's samples (samples/step-XXXXXXX.png of its run) where it exists. Per training line: every numeric signal
under train/KEY at its step. Per run, once: its config.toml as `config/...` parameters.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..records import INTERVAL_SUFFIXES, Record
from ..runs import RunDir
from .names import PICTURE_TAG, SIGNAL_PREFIX, flatten, metric_name, setting_path, signal_name

SETTING_FIELDS = ("reference", "extractor", "num_samples", "num_reference", "seed", "preset", "ci_level")


@dataclass(frozen=True)
class Scalar:
    """One value at one step; `wall_time` in seconds since the epoch (the record's `created`, else now)."""

    name: str
    step: int
    value: float
    wall_time: float


@dataclass(frozen=True)
class Picture:
    tag: str
    step: int
    path: Path


@dataclass
class Batch:
    """What one log call writes; `what` says it in warnings ('fid, kid at step 500')."""

    scalars: list[Scalar] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    pictures: list[Picture] = field(default_factory=list)

    @property
    def what(self) -> str:
        """The metric keys (a record's: 'fid, kid'; training signals: 'train/d_loss, ...') and the steps."""
        keys = list(dict.fromkeys(scalar.name if scalar.name.startswith(SIGNAL_PREFIX + "/")
                                  else scalar.name.split("/")[0] for scalar in self.scalars))
        keys = [key for key in keys if not key.endswith(INTERVAL_SUFFIXES)] or keys  # 'fid', not its bounds too
        shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        steps = sorted({scalar.step for scalar in self.scalars} | {picture.step for picture in self.pictures})
        at = f" at step {steps[0]}" if len(steps) == 1 else f" at steps {steps[0]}-{steps[-1]}" if steps else ""
        return (shown or ("a picture" if self.pictures else "parameters")) + at

    def extend(self, other: Batch) -> None:
        self.scalars.extend(other.scalars)
        self.params.update(other.params)
        self.pictures.extend(other.pictures)

    def __bool__(self) -> bool:
        return bool(self.scalars or self.params or self.pictures)


def record_batch(record: Record, run: RunDir | None) -> Batch:
    """The scalars, setting parameters and picture of one record (see the module docstring)."""
    step = record.step or 0
    wall_time = _seconds(record.created)
    scalars = [Scalar(metric_name(key, record), step, float(value), wall_time)
               for key, value in record.values.items() if _is_number(value)]
    prefix = f"setting/{setting_path(record)}"
    params = {f"{prefix}/{name}": str(getattr(record, name)) for name in SETTING_FIELDS
              if getattr(record, name) is not None}
    params[f"{prefix}/label"] = record.setting_label
    pictures = []
    if run is not None and record.checkpoint:
        picture = run.picture(run.checkpoint(Path(record.checkpoint).name))
        if picture.is_file():
            pictures.append(Picture(PICTURE_TAG, step, picture))
    return Batch(scalars, params, pictures)


def training_batch(lines: list[dict]) -> Batch:
    """The numeric signals of training.jsonl lines (read_training_log's) under train/KEY; non-finite ones are left
    out (the file names them)."""
    now = _now()  # training.jsonl keeps no times
    return Batch([Scalar(signal_name(key), line["step"], float(value), now) for line in lines
                  for key, value in line.items() if key != "step" and _is_number(value)])


def config_batch(run: RunDir | None) -> Batch:
    """The run's config.toml as `config/...` parameters (none for a folder without one)."""
    config = run.saved_config() if run is not None else None
    return Batch(params=flatten(config, "config")) if config else Batch()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(created: str | None) -> float:
    try:
        return _dt.datetime.fromisoformat(created).timestamp() if created else _now()
    except ValueError:
        return _now()


def _now() -> float:
    return _dt.datetime.now(_dt.timezone.utc).timestamp()
