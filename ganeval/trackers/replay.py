"""`ganeval log RUN --to SINK`: send a run's metrics.jsonl, training.jsonl, pictures and config to a tracker,
skipping what the tracker run already holds, so that a second replay adds nothing.

What is there is asked of the tracker itself (MLflow: the run's metric histories, parameters and artifacts;
TensorBoard: the event files of DIR/RUN, read with EventAccumulator), by (name, step): a value logged live before a
tracker went down is not logged twice. W&B offline runs cannot be read back: each replay is a new offline run.

>>> replay("runs/ring8-gan", "tensorboard:runs/tb")      # doctest: +SKIP
Replayed(sink='tensorboard runs/tb', run='ring8-gan', scalars=42, skipped=0, params=17, pictures=3)
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import GanevalError, InputError
from ..runs import RunDir
from .live import brief_error, retried
from .names import run_name
from .points import Batch, config_batch, record_batch, training_batch
from .sinks import open_sink
from .spec import SinkSpec, parse_sink


class TrackerError(GanevalError):
    """A tracker that `ganeval log` could not write to, after its retries."""


@dataclass(frozen=True)
class Replayed:
    """What one replay sent: scalars (and those skipped, already there), parameters and pictures."""

    sink: str
    run: str
    scalars: int
    skipped: int
    params: int
    pictures: int

    def summary(self) -> str:
        return (f"{self.run} -> {self.sink}: {self.scalars} values logged, {self.skipped} already there; "
                f"{self.params} parameters, {self.pictures} pictures")


def run_batch(run: RunDir) -> Batch:
    """Everything a run's files say, as one Batch: config, records (with pictures), training signals."""
    from ..training_log import read_training_log  # here: `import ganeval.pipeline` loads no ganeval.train* name

    if not run.metrics_file.is_file() and not run.training_file.is_file():
        raise InputError(f"{run.path}: holds neither {run.metrics_file.name} nor {run.training_file.name}: "
                         f"nothing to log")
    batch = config_batch(run)
    for record in run.records(skip_invalid=True):
        batch.extend(record_batch(record, run))
    if run.training_file.is_file():
        batch.extend(training_batch(read_training_log(run.training_file)))
    return batch


def replay(run: str | os.PathLike | RunDir, sink: str | SinkSpec) -> Replayed:
    """Send what `run` holds and the tracker run lacks (see the module docstring); a TrackerError when the tracker
    cannot be written to after its retries."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    spec = sink if isinstance(sink, SinkSpec) else parse_sink(sink)
    batch, name = run_batch(run), run_name(None, run.name)
    try:
        tracker = retried(lambda: open_sink(spec, name))
        there = retried(lambda: tracker.existing({scalar.name for scalar in batch.scalars}))
        latest = {(scalar.name, scalar.step): scalar for scalar in batch.scalars}  # a step scored twice: its last
        scalars = sorted((scalar for key, scalar in latest.items() if key not in there.points),
                         key=lambda scalar: (scalar.step, scalar.wall_time))
        params = {key: value for key, value in batch.params.items() if key not in there.params}
        pictures = list({(picture.tag, picture.step): picture for picture in batch.pictures
                         if (picture.tag, picture.step) not in there.pictures}.values())
        for part, call in ((params, tracker.write_params), (scalars, tracker.write_scalars),
                           (pictures, tracker.write_pictures)):
            if part:
                retried(lambda: call(part))
        tracker.close()
    except GanevalError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the tracker raises is one line here
        raise TrackerError(f"{spec.label}: could not log {run.path} ({brief_error(error)}); run it again when the "
                           f"tracker is up: what is there is skipped") from error
    return Replayed(spec.label, name, len(scalars), len(latest) - len(scalars), len(params), len(pictures))
