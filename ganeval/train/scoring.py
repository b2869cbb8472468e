"""The in-training evaluation hook: score a checkpoint the way `ganeval score RUN_DIR` would, as training runs.

Each scored checkpoint gives the record a sweep would write with `--reference <config.data> --num-samples
<eval_samples> --metrics <eval_metrics>` (plus `--ema` when the config keeps an EMA, whose weights are then the ones
scored), appended to the run's metrics.jsonl; a later sweep with those settings skips it, and a resumed run scores
a due checkpoint again unless a record with exactly these settings (seed, metrics, N, ...) is there. The hook
scores under the checkpoint's claim, as a sweep does (ganeval.sweep), so a sweep of the run beside the training
(an evaluation job watching the run) and the hook score each checkpoint once. Training does not wait for a sweep: a
checkpoint whose claim a sweep holds is tried again after each later checkpoint, and the run's last checkpoint
waits for what is left. The reference statistics are extracted once and cached, so every checkpoint after the
first costs only its own samples.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import DataConfig, ScoreConfig
from ..distributed import world
from ..records import Record
from ..runs import Checkpoint
from ..sweep import BUSY, Sweep
from .config import TrainConfig


class CheckpointScorer:
    """Called by the training loop with each new checkpoint; scores every `eval_every`-th one and the last."""

    def __init__(self, config: TrainConfig, device: torch.device, data_root: str | None = None):
        self.config = config
        self.score_config = ScoreConfig(
            metrics=tuple(config.eval_metrics.split(",")), num_samples=config.eval_samples, ema=config.ema > 0,
            device=str(device), progress=False, data=DataConfig(data_root=data_root),
        )
        self.sweep = Sweep(config.data, self.score_config)  # one reference pass for the whole run, cached or not
        self.pending: list[Checkpoint] = []  # due checkpoints whose claim another process held: tried again later

    def due(self, step: int, last: bool = False) -> bool:
        """Whether the checkpoint of `step` is scored: every `eval_every`-th scheduled one and the last; not one
        that a signal wrote between the scheduled ones (an uninterrupted run has none there)."""
        config = self.config
        if config.eval_every == 0:
            return False
        scheduled = step % config.checkpoint_every == 0
        return last or step >= config.steps or (scheduled and (step // config.checkpoint_every) % config.eval_every == 0)

    def missing(self, checkpoint: Path, step: int, last: bool = False) -> bool:
        """Whether `checkpoint` is due but its run's metrics.jsonl has no record of it with this scorer's settings:
        a kill between the checkpoint and its score leaves it so, and the resumed run scores it then."""
        if not self.due(step, last):
            return False
        checkpoint, processes = Checkpoint(checkpoint), world()
        records = checkpoint.run.records(skip_invalid=True) if processes.decides else []
        lacking = self.sweep.missing(checkpoint, records) if processes.decides else None
        return bool(processes.broadcast(lacking))  # every rank must agree: the score that follows is collective

    def __call__(self, checkpoint: Path, step: int, last: bool = False) -> Record | None:
        """Score `checkpoint` when due, and the due ones passed over before; returns its record (also appended to
        the run's metrics.jsonl), or None when not due, scored already (by a sweep beside the training, say) or
        passed over because a sweep holds its claim. `last` marks a run's final checkpoint (a time budget may end
        it before `steps`): it is always due, and it waits for every checkpoint passed over."""
        checkpoint = Checkpoint(checkpoint)
        if self.due(step, last):
            self.pending.append(checkpoint)
        record, waiting, self.pending = None, self.pending, []
        for each in waiting:
            records = self.sweep.score_claimed(each, wait=last)
            if records is BUSY:
                self.pending.append(each)
            elif records and each == checkpoint:
                record = records[0]
        return record
