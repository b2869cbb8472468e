"""The in-training evaluation hook: score a checkpoint the way `ganeval score RUN_DIR` would, as training runs.

Each scored checkpoint gives the record a sweep would write with `--reference <config.data> --num-samples
<eval_samples> --metrics <eval_metrics>` (plus `--ema` when the config keeps an EMA, whose weights are then the ones
scored), appended to the run's metrics.jsonl; a later sweep with those settings skips it, and a resumed run scores
a due checkpoint again unless a record with exactly these settings (seed, metrics, N, ...) is there. The hook
scores under the checkpoint's claim, as a sweep does (ganeval.sweep), so a sweep of the run beside the training
scores each checkpoint once. The reference statistics are extracted once and cached, so every checkpoint after the
first costs only its own samples.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import DataConfig, ScoreConfig
from ..records import Record
from ..runs import Checkpoint
from ..sweep import Sweep
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
        checkpoint = Checkpoint(checkpoint)
        return bool(self.sweep.missing(checkpoint, checkpoint.run.records()))

    def __call__(self, checkpoint: Path, step: int, last: bool = False) -> Record | None:
        """The record of `checkpoint` (also appended to the run's metrics.jsonl), or None when not due or when a
        sweep beside the training scored it first; `last` marks a run's final checkpoint (a time budget may end it
        before `steps`), which is always scored. Waits while a sweep holds the checkpoint's claim."""
        if not self.due(step, last):
            return None
        records = self.sweep.score_claimed(Checkpoint(checkpoint), wait=True)
        return records[0] if records else None
