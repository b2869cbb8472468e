"""Run folders, typed: what `ganeval train` writes and where scores of its checkpoints go.

    runs/NAME/config.toml                       the resolved training config
    runs/NAME/checkpoints/step-XXXXXXX.pt       checkpoints, in step order by name
    runs/NAME/checkpoints/.step-XXXXXXX.pt.lock a checkpoint's claim (an flock while one process scores it)
    runs/NAME/samples/step-XXXXXXX.png          a picture of each checkpoint's samples
    runs/NAME/metrics.jsonl                     one score record per line
    runs/NAME/training.jsonl                    the training signals, one line per logged step (training_log)

`RunDir` owns that layout: its paths, its checkpoints, reading and appending its records. `Checkpoint` is one
checkpoint file, with its run (when it sits in one) and its claim.

>>> run = RunDir("runs/ring8-gan")
>>> run.metrics_file, run.checkpoint("step-0000100.pt").run == run
(PosixPath('runs/ring8-gan/metrics.jsonl'), True)
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from .atomic import write_error
from .errors import InputError
from .jsonl import append_line
from .records import Record, read_record_file

METRICS_FILE = "metrics.jsonl"
TRAINING_FILE = "training.jsonl"
CONFIG_FILE = "config.toml"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
CHECKPOINT_PATTERN = "step-*.pt"
PICTURE_PATTERN = "step-*.png"


def checkpoint_name(step: int) -> str:
    """The file name of the checkpoint of `step`: step-0000100.pt (names sort in step order)."""
    return f"step-{step:07d}.pt"


def step_of(path: str | os.PathLike) -> int:
    """The step a checkpoint's or picture's file name says: step-0000100.pt -> 100."""
    return int(Path(path).stem.split("-", 1)[1])


@dataclass(frozen=True)
class RunDir:
    """A run folder (see the module docstring); `path` need not exist yet."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    @staticmethod
    def is_run(path: str | os.PathLike) -> bool:
        """Whether `path` is a folder `ganeval train` wrote (it holds checkpoints/ or config.toml)."""
        folder = Path(path)
        return (folder / CHECKPOINTS).is_dir() or (folder / CONFIG_FILE).is_file()

    @staticmethod
    def of_picture(path: str | os.PathLike) -> RunDir | None:
        """The run whose samples/ folder holds the picture `path`, or None for a picture stored elsewhere."""
        folder = Path(path).parent
        return RunDir(folder.parent) if folder.name == SAMPLES else None

    @property
    def name(self) -> str:
        """The run's name: its folder's (the current folder's when the path is '.')."""
        return self.path.absolute().name

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def training_file(self) -> Path:
        return self.path / TRAINING_FILE

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    def saved_config(self) -> dict | None:
        """The resolved config the run wrote to its config.toml; None when there is none to read."""
        try:
            return tomllib.loads(self.config_file.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None

    @property
    def checkpoints_folder(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def samples_folder(self) -> Path:
        return self.path / SAMPLES

    def checkpoint(self, name: str) -> Checkpoint:
        """The checkpoint file `name` (step-XXXXXXX.pt) of this run, whether written yet or not."""
        return Checkpoint(self.checkpoints_folder / name)

    def picture(self, checkpoint: Checkpoint) -> Path:
        """Where the picture of `checkpoint`'s samples goes: samples/step-XXXXXXX.png."""
        return self.samples_folder / f"{checkpoint.path.stem}.png"

    def pictures(self) -> list[Path]:
        """The pictures of the run's checkpoints' samples, in step order."""
        return sorted(self.samples_folder.glob(PICTURE_PATTERN))

    def checkpoints(self, allow_none: bool = False) -> list[Checkpoint]:
        """The run's checkpoints in step order; an InputError when there are none, unless `allow_none`."""
        found = sorted(self.checkpoints_folder.glob(CHECKPOINT_PATTERN))
        if not found and not allow_none:
            raise InputError(f"{self.path}: run directory holds no checkpoints ({CHECKPOINTS}/{CHECKPOINT_PATTERN})")
        return [Checkpoint(path) for path in found]

    def records(self, skip_invalid: bool = False) -> list[Record]:
        """The run's score records, each checked ([] before its first score); see records.read_record_file for
        `skip_invalid`."""
        if not self.metrics_file.is_file():
            return []
        return [record for _, record in read_record_file(self.metrics_file, skip_invalid)]

    def append(self, record: Record | dict) -> Path:
        """Append one record to the run's metrics.jsonl (creating the folder), atomically with respect to other
        writers; returns the file."""
        if not self.path.is_dir():
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(self.path, exc) from exc
        return append_line(self.metrics_file, record.to_json() if isinstance(record, Record) else record)


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file; `run` is its RunDir when it sits in a run's checkpoints/ folder."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def run(self) -> RunDir | None:
        folder = self.path.parent
        return RunDir(folder.parent) if folder.name == CHECKPOINTS else None

    @contextlib.contextmanager
    def claim(self) -> Iterator[bool]:
        """Hold this checkpoint's claim, an exclusive flock on checkpoints/.NAME.lock, for the block; yields False
        at once when another process holds it. The claim dies with its process; the lock file stays (removing a
        locked file would let a third process lock a new one)."""
        lock_path = self.path.parent / f".{self.name}.lock"
        try:
            descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise write_error(lock_path, exc) from exc
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(descriptor)  # closing releases the lock
