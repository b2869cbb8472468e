"""Records where researchers already look: TensorBoard, MLflow and Weights & Biases (docs/trackers.md).

`--log tensorboard:DIR`, `--log mlflow:URI`, `--log wandb[:PROJECT]` on `score`, `train` and `human score`, and
`ganeval.Evaluator(..., log=[...])` / `ganeval.score(..., log=...)`, send each record after it is in metrics.jsonl
(`Trackers`); `ganeval log RUN --to SINK` sends a run's files afterwards, skipping what is there (`replay`). Each
tracker's package is imported only when a sink of it is opened.

This package stands on the records floor (it reads Records, run folders and training.jsonl, nothing above), so
that the orchestration above it (sweeps, the Evaluator, the training hook, the human study) can feed it.
"""
from __future__ import annotations

from .live import FollowingHook, RunFollower, TrackerWarning, Trackers
from .names import metric_name, run_name, setting_path, signal_name
from .replay import Replayed, TrackerError, replay
from .spec import SinkSpec, parse_sink, parse_sinks

__all__ = ["FollowingHook", "Replayed", "RunFollower", "SinkSpec", "TrackerError", "TrackerWarning", "Trackers",
           "metric_name", "parse_sink", "parse_sinks", "replay", "run_name", "setting_path", "signal_name"]
