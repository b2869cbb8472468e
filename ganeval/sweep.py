"""Sweeps: score a run's checkpoints that are not scored yet with the asked settings (`ganeval score RUN_DIR`), and
the training hook's score of one checkpoint, both under the checkpoint's claim.

A checkpoint is scored only under its claim (an exclusive flock, ganeval.runs.Checkpoint.claim), and what it still
lacks is read from the run's records under that claim, so two sweeps of one run, or a sweep beside the training
that writes it (an evaluation job watching a run), split the checkpoints and score each once. A sweep passes over
a checkpoint another process holds, then waits for it at the end and scores it if that process died before
recording it (its claim died with it). One ReferenceStore serves every score, so the reference is extracted once.

Under torchrun the ranks score each checkpoint together: rank 0 lists the checkpoints, takes the claims and reads
the records; every rank follows its word. Waiting for a claim is polling, so that no rank waits inside a collective
operation longer than a poll (they time out after --dist-timeout).
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from .config import ScoreConfig
from .distributed import world
from .pipeline import score_all
from .records import Record, ScoreSettings
from .reference import ReferenceStore
from .runs import Checkpoint, RunDir
from .trackers import Trackers

BUSY = None  # what Sweep.score_claimed says of a checkpoint another process holds
CLAIM_POLL_SECONDS = 0.5  # how often a process waiting for a claim tries it again


class Sweep:
    """Scores checkpoints against `reference` with `config`'s settings, each extractor of the config once per
    checkpoint; `store` (default: the cache, unless config.use_cache is False) keeps the reference's statistics;
    `trackers` (ganeval.trackers) receive each record once it is in the run's metrics.jsonl."""

    def __init__(self, reference: str, config: ScoreConfig, store: ReferenceStore | None = None,
                 trackers: Trackers | None = None) -> None:
        self.reference, self.config = reference, config
        self.store = store or ReferenceStore(enabled=config.use_cache)
        self.trackers = trackers
        self.asked = {name: ScoreSettings.asked(reference, config.for_extractor(name))
                      for name in config.extractor.names}

    def missing(self, checkpoint: Checkpoint, records: list[Record]) -> list[str]:
        """The extractors whose score of `checkpoint` with these settings `records` lack."""
        done = {record.sweep_key() for record in records}
        return [name for name, settings in self.asked.items() if settings.key(checkpoint.name) not in done]

    def score_claimed(self, checkpoint: Checkpoint, wait: bool) -> list[Record] | None:
        """Under `checkpoint`'s claim, score what it lacks: the records scored here, or [] when nothing was
        missing. When another process holds the claim: BUSY (None), or with `wait` try again until it is free."""
        processes = world()
        while True:
            with checkpoint.claim() if processes.decides else contextlib.nullcontext(True) as claimed:
                lacking = processes.broadcast(self._lacking(checkpoint, claimed) if processes.decides else None)
                if lacking is not BUSY:
                    return self.score(checkpoint, lacking) if lacking else []
            if not wait:
                return BUSY
            time.sleep(CLAIM_POLL_SECONDS)

    def _lacking(self, checkpoint: Checkpoint, claimed: bool) -> list[str] | None:
        """What the decider tells every rank: the extractors `checkpoint` lacks, or BUSY without its claim."""
        return self.missing(checkpoint, checkpoint.run.records(skip_invalid=True)) if claimed else BUSY

    def score(self, checkpoint: Checkpoint, extractors: list[str]) -> list[Record]:
        """The records of `checkpoint` with `extractors` (generated once), each appended to its run by the score."""
        config = self.config.for_extractor(",".join(extractors))
        records = [scored.record for scored in score_all(str(checkpoint.path), self.reference, config, self.store)]
        for record in records if self.trackers else ():  # appended by score_all: metrics.jsonl comes first
            self.trackers.log_record(record, checkpoint.run)
        return records

    def run(self, run: RunDir, on_scored: Callable[[Path, Record], object] | None = None) -> list[Path]:
        """Score every checkpoint of `run` that lacks a score with these settings; `on_scored(checkpoint, record)`
        after each. Returns the checkpoints scored here (not those another process scored meanwhile)."""
        processes = world()
        todo = processes.broadcast(self._unscored(run) if processes.decides else None)
        scored, busy = [], []
        for wait, queue in ((False, todo), (True, busy)):
            for path in list(queue):
                records = self.score_claimed(Checkpoint(path), wait)
                if records is BUSY:
                    busy.append(path)
                elif records:
                    scored.append(Path(path))
                    if on_scored is not None:
                        for record in records:
                            on_scored(Path(path), record)
        return scored

    def _unscored(self, run: RunDir) -> list[str]:
        """The run's checkpoints (as paths, which rank 0 sends the others) lacking a score when the sweep starts
        (read once: the scored ones are never claimed, so a sweep of a finished run in a read-only folder works)."""
        records = run.records(skip_invalid=True)
        return [str(checkpoint.path) for checkpoint in run.checkpoints() if self.missing(checkpoint, records)]


def score_run(run_dir: str | os.PathLike, reference: str, config: ScoreConfig,
              on_scored: Callable[[Path, Record], object] | None = None,
              store: ReferenceStore | None = None, trackers: Trackers | None = None) -> list[Path]:
    """Score every checkpoint of the run not yet scored against `reference` with `config`'s settings (one
    reference pass); `on_scored(checkpoint, record)` after each; `trackers` receive each record. Returns the
    checkpoints scored here.

    >>> score_run("runs/ring8-gan", "ring8", ScoreConfig(metrics=("fid",)))   # doctest: +SKIP
    [PosixPath('runs/ring8-gan/checkpoints/step-0000000.pt'), ...]
    """
    return Sweep(reference, config, store, trackers).run(RunDir(run_dir), on_scored)
