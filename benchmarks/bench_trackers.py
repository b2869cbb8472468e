"""The cost of `ganeval train --log tensorboard:DIR` (issue 35): a 1,500-step fmnist-dcgan run (checkpoints every
500 steps, each scored with fid on 1,000 samples, signals every 20 steps) logged to TensorBoard, against the run's
own time.

What logging adds is measured where it happens, in one run: the time inside the follower that, after each
checkpoint, reads what metrics.jsonl and training.jsonl gained and writes it to the event files (the loop's own
steps never call a tracker). Its sum over the run's wall time is the overhead, asserted under 2%. A comparison of
two whole runs, with and without --log, would measure the machine's noise (a few percent between two runs of the
same work on a shared 2-core machine: bench_training_signals.py) rather than a cost this small.
GANEVAL_BENCH_TRACKERS_STEPS (default 1,500) shortens the run.
"""
from __future__ import annotations

import time

import pytest
import torch
from _common import env_int

from ganeval.data import fashion_mnist
from ganeval.runs import RunDir
from ganeval.trackers import FollowingHook, RunFollower, Trackers
from ganeval.train.config import load_config
from ganeval.train.loop import train
from ganeval.train.scoring import CheckpointScorer

STEPS = env_int("GANEVAL_BENCH_TRACKERS_STEPS", 1500)
TARGET = 0.02


class TimedFollower(RunFollower):
    """The follower the CLI uses, with the seconds of each forward() kept."""

    seconds: list[float]

    def forward(self) -> None:
        started = time.perf_counter()
        super().forward()
        self.seconds.append(time.perf_counter() - started)


@pytest.mark.skipif(fashion_mnist.find_folder("train") is None, reason="Fashion-MNIST not installed (make data)")
def test_logging_a_training_run_to_tensorboard_costs_under_2_percent(tmp_path, figures):
    pytest.importorskip("tensorboard")
    config = load_config("fmnist-dcgan", ["max_minutes=0", f"steps={STEPS}", "checkpoint_every=500", "eval_every=1",
                                          "eval_metrics=fid"])
    run = RunDir(tmp_path / "run")
    follower = TimedFollower(Trackers([f"tensorboard:{tmp_path / 'tb'}"]), run)
    follower.seconds = []
    hook = FollowingHook(CheckpointScorer(config, torch.device("cpu")), follower)
    started = time.perf_counter()
    train(config, run.path, device=torch.device("cpu"), progress=False, on_checkpoint=hook)
    follower.forward()  # what the CLI does after train() returns: the lines after the last checkpoint
    total = time.perf_counter() - started
    logging = sum(follower.seconds)
    lines = len(run.training_file.read_text().splitlines())
    figures(f"fmnist-dcgan {STEPS} steps in {total:.1f} s; logging {lines} lines of signals and "
            f"{len(run.records())} records to TensorBoard in {len(follower.seconds)} calls took {logging:.3f} s: "
            f"{logging / total:.2%} of the run (target < 2%)")
    assert logging / total < TARGET
