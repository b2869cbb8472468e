"""Trackers: what a score, a sweep, the Evaluator or a training run sends to its `--log` sinks as it goes.

The record is in metrics.jsonl before it is sent (the callers append first), so a tracker that is down loses
nothing: each write is tried TRIES times, BACKOFF_SECONDS apart, then one warning line names the sink and what was
not logged, and the work goes on; `ganeval log RUN --to SINK` sends it later. Only rank 0 of a torchrun job sends.

>>> trackers = Trackers(["tensorboard:runs/tb"])            # doctest: +SKIP
>>> trackers.log_record(record, RunDir("runs/ring8-gan"))    # doctest: +SKIP
"""
from __future__ import annotations

import atexit
import json
import re
import time
import weakref
from collections.abc import Callable, Iterable

from ..distributed import world
from ..errors import warn_at_caller
from ..records import Record
from ..runs import RunDir
from .names import run_name
from .points import Batch, config_batch, record_batch, training_batch
from .sinks import Existing, Sink, open_sink
from .spec import SinkSpec, parse_sinks

TRIES = 2
BACKOFF_SECONDS = 0.5


class TrackerWarning(UserWarning):
    """A tracker could not be reached or refused a write; what it lacks is in metrics.jsonl and training.jsonl."""


class Trackers:
    """The sinks of `--log` values (strings or SinkSpecs), each tracker run opened at its first write. Bad values
    raise a one-line InputError here, before any work."""

    def __init__(self, sinks: Iterable[str | SinkSpec] | str | None = None) -> None:
        self.specs = parse_sinks(sinks)
        self._open: dict[tuple[SinkSpec, str], Sink] = {}
        self._held: dict[tuple[SinkSpec, str], Existing] = {}  # the parameters and pictures each run has
        if self.specs:
            _LIVE.add(self)  # closed at exit (W&B needs it) without being kept alive by that

    def __bool__(self) -> bool:
        return bool(self.specs)

    def log_record(self, record: Record, run: RunDir | None = None) -> None:
        """Send one record (already appended to its metrics.jsonl, if it has one) to every sink; `run` is its run
        folder, whose picture of the checkpoint's samples and config.toml go along."""
        self._send(record_batch(record, run), run_name(record, run.name if run else None), run)

    def log_training(self, lines: list[dict], run: RunDir) -> None:
        """Send training.jsonl lines (read_training_log's) of `run` to every sink, under train/KEY."""
        batch = training_batch(lines)
        if batch:
            self._send(batch, run_name(None, run.name), run)

    def close(self) -> None:
        for (spec, name), sink in list(self._open.items()):
            _attempt(sink.close, spec, f"close run {name}")
        self._open.clear()
        self._held.clear()

    def _send(self, batch: Batch, name: str, run: RunDir | None) -> None:
        if not world().is_main:
            return
        for spec in self.specs:
            self._deliver(spec, name, run, batch)

    def _deliver(self, spec: SinkSpec, name: str, run: RunDir | None, batch: Batch) -> None:
        """Write `batch` to `spec`'s run `name` (opened first, with the run's config, if it is not yet), less the
        parameters and pictures the run holds; one warning when the tracker fails."""
        try:
            sink = self._open.get((spec, name))
            if sink is None:
                sink = retried(lambda: open_sink(spec, name))
                held = retried(lambda: sink.existing(set()))  # a second score of the run: no picture twice
                self._open[(spec, name)], self._held[(spec, name)] = sink, held
            held = self._held[(spec, name)]
            # the run's config goes with every batch until the tracker has it (a failed first write is made good)
            params = {key: value for key, value in {**config_batch(run).params, **batch.params}.items()
                      if key not in held.params}
            pictures = [picture for picture in batch.pictures if (picture.tag, picture.step) not in held.pictures]
            for part, call in ((batch.scalars, sink.write_scalars), (params, sink.write_params),
                               (pictures, sink.write_pictures)):
                if part:
                    retried(lambda: call(part))
            held.params.update(params)
            held.pictures.update((picture.tag, picture.step) for picture in pictures)
        except Exception as error:  # noqa: BLE001 - whatever the tracker raises, the score or the training goes on
            later = f"; `ganeval log {run.path} --to {spec.text}` sends it later" if run is not None else ""
            warn_at_caller(f"{spec.label}: could not log {batch.what} ({brief_error(error)}){later}", TrackerWarning)


class RunFollower:
    """Sends what a run's metrics.jsonl and training.jsonl gained since the follower was made (the training hook
    calls `forward` after each checkpoint, so the loop's own steps pay nothing): records with their pictures,
    training signals under train/KEY. What the files held before is `ganeval log`'s to send."""

    def __init__(self, trackers: Trackers, run: RunDir) -> None:
        self.trackers, self.run = trackers, run
        records, lines = self._read()
        self.sent = {_identity(record.to_json()) for record in records} | {_identity(line) for line in lines}

    def forward(self) -> None:
        records, lines = self._read()
        new_records = [record for record in records if _identity(record.to_json()) not in self.sent]
        new_lines = [line for line in lines if _identity(line) not in self.sent]
        if new_lines:
            self.trackers.log_training(new_lines, self.run)
        for record in new_records:
            self.trackers.log_record(record, self.run)
        self.sent.update(_identity(record.to_json()) for record in new_records)
        self.sent.update(_identity(line) for line in new_lines)

    def _read(self) -> tuple[list[Record], list[dict]]:
        from ..training_log import read_training_log  # here: `import ganeval.pipeline` loads no ganeval.train* name

        lines = read_training_log(self.run.training_file) if self.run.training_file.is_file() else []
        return self.run.records(skip_invalid=True), lines


class FollowingHook:
    """A training hook (`train(..., on_checkpoint=...)`) that runs `hook` (the CheckpointScorer, or None under
    --no-eval), then forwards what the run's files gained; the scorer's other methods (`missing`) pass through."""

    def __init__(self, hook: Callable | None, follower: RunFollower) -> None:
        self.hook, self.follower = hook, follower

    def __call__(self, checkpoint, step: int, last: bool = False):
        record = self.hook(checkpoint, step, last) if self.hook is not None else None
        self.follower.forward()
        return record

    def __getattr__(self, name: str):
        if name in ("hook", "follower"):  # not set yet (copy, pickle): no recursion through __getattr__
            raise AttributeError(name)
        if self.hook is None:
            raise AttributeError(name)
        return getattr(self.hook, name)


_LIVE: weakref.WeakSet[Trackers] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for trackers in list(_LIVE):
        trackers.close()


def retried(call: Callable):
    """`call()`, tried TRIES times BACKOFF_SECONDS * attempt apart; the last error is raised."""
    for attempt in range(1, TRIES + 1):
        try:
            return call()
        except Exception:  # noqa: BLE001 - a tracker's errors have no common base class
            if attempt == TRIES:
                raise
            time.sleep(BACKOFF_SECONDS * attempt)


def _attempt(call: Callable, spec: SinkSpec, what: str) -> None:
    try:
        call()
    except Exception as error:  # noqa: BLE001
        warn_at_caller(f"{spec.label}: could not {what} ({brief_error(error)})", TrackerWarning)


def brief_error(error: BaseException) -> str:
    """The error's class and its message's first line, cut to 200 characters; of a connection that failed deep in
    an HTTP client, the operating system's reason ('[Errno 111] Connection refused')."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if reason:
        text = reason.group(0).strip()
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _identity(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, default=str)
