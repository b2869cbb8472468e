"""The cost of the training signals (issue 32): fmnist-dcgan's steps per second with training.jsonl written every
`log_every` (20, the default) steps against no signals at all, on one trainer in one run.

The two arms alternate in blocks of GANEVAL_BENCH_SIGNALS_STEPS (default 400) steps on the same trainer, so both see
the same networks, data and machine state; GANEVAL_BENCH_SIGNALS_ROUNDS (default 5) rounds of each, after a
warm-up block. The logged arm does everything the loop does on a logged step: the probe's reads of the scores and
gradients, the singular values, and the fsynced append to training.jsonl. Target: under 3% fewer steps per second
(the median over rounds of each round's ratio).
"""
from __future__ import annotations

import statistics
import time

import pytest
import torch
from _common import env_int

from ganeval.data import fashion_mnist
from ganeval.train.config import load_config
from ganeval.train.loop import training_step
from ganeval.train.signals import TrainingSignals
from ganeval.train.trainer import create_trainer
from ganeval.training_log import TrainingLog

STEPS = env_int("GANEVAL_BENCH_SIGNALS_STEPS", 400)
ROUNDS = env_int("GANEVAL_BENCH_SIGNALS_ROUNDS", 5)
LOG_EVERY = 20
TARGET = 0.03


def run_block(trainer, signals: TrainingSignals | None) -> float:
    """Seconds for STEPS training steps, with the signals logged every LOG_EVERY steps when given."""
    started = time.perf_counter()
    for _ in range(STEPS):
        probe = signals.probe(trainer.step + 1) if signals else None
        losses = training_step(trainer, probe)
        if signals is not None:
            signals.record(trainer, probe, losses)
    return time.perf_counter() - started


@pytest.mark.skipif(fashion_mnist.find_folder("train") is None, reason="Fashion-MNIST not installed (make data)")
def test_training_signals_cost_under_3_percent_of_the_steps(tmp_path, figures):
    config = load_config("fmnist-dcgan", ["max_minutes=0"])
    trainer = create_trainer(config, torch.device("cpu"))
    signals = TrainingSignals(TrainingLog(tmp_path), LOG_EVERY, config.loss, config.packing)
    run_block(trainer, signals)  # warm-up: allocator, oneDNN kernels, the file
    ratios, plain, logged = [], [], []
    for _ in range(ROUNDS):
        plain.append(run_block(trainer, None))
        logged.append(run_block(trainer, signals))
        ratios.append(logged[-1] / plain[-1])
    overhead = statistics.median(ratios) - 1
    figures(f"fmnist-dcgan {STEPS / min(plain):.1f} steps/s without signals, {STEPS / min(logged):.1f} with them "
            f"every {LOG_EVERY} steps; overhead {overhead:+.2%} (median of {ROUNDS} paired rounds; target < 3%)")
    assert overhead < TARGET
