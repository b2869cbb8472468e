"""Shared fixtures: seeded random feature matrices, helpers to run the CLI in-process, tiny training configs and the
Fashion-MNIST marker."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from ganeval.cli import main
from ganeval.data import fashion_mnist

needs_fmnist = pytest.mark.skipif(
    fashion_mnist.find_folder("test") is None or fashion_mnist.find_folder("train") is None,
    reason="Fashion-MNIST not installed (make data installs it)",
)

# The 2D GANs on a small training set: a step takes about a millisecond (a config's own keys follow).
TINY_2D = ("batch_size=10", "train_size=500")


def set_flags(*overrides: str) -> list[str]:
    """`ganeval train`'s flags for config overrides: set_flags("steps=2") -> ["--set", "steps=2"]."""
    return [part for override in overrides for part in ("--set", override)]


def pytest_configure(config):
    """Under pytest-xdist (make test runs two workers on two cores) each worker, and every process it starts, runs
    torch on one thread: two workers of two threads each would wait for cores (BLAS slows 5-40x)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Reference statistics go to a fresh folder per test, never to the user's ~/.cache/ganeval."""
    monkeypatch.setenv("GANEVAL_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def gaussian_pair(rng: np.random.Generator, num: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets whose means and covariances differ (a random linear map makes the covariance non-diagonal)."""
    real = rng.standard_normal((num, dim))
    mixing = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
    fake = rng.standard_normal((num, dim)) @ mixing * 1.1 + 0.05
    return real, fake


@pytest.fixture
def run_cli(capsys):
    """Run `ganeval ARGS...` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit_:  # argparse usage errors and --help
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


GRID = {"reference": "grid25", "extractor": "identity", "num_samples": 2500}


def write_scored_run(folder, name: str, scores: dict[int, dict], setting: dict = GRID):
    """A run directory with one record per step holding the metrics given for that step, under `setting`, and the
    (empty) checkpoint files the records name."""
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    lines = []
    for index, (step, metrics) in enumerate(scores.items()):
        checkpoint = f"step-{step:07d}.pt"
        (run / "checkpoints" / checkpoint).write_bytes(b"")
        lines.append(json.dumps({"schema": 1, "created": f"2026-11-30T00:00:{index:02d}+00:00", "run": name,
                                 "checkpoint": checkpoint, "step": step, "input": str(run / "checkpoints" / checkpoint),
                                 **setting, "num_reference": 2500, "seed": 2020, **metrics}))
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return run


@pytest.fixture(scope="module")
def dcgan_network():
    """A 28 x 28 grey DCGAN generator of 16 latent dimensions, untrained, with BatchNorm statistics set so that its
    images vary: a user's generator for the tests of GeneratorSource and the Evaluator."""
    from ganeval.nets.dcgan import DCGANConfig, DCGANGenerator

    torch.manual_seed(0)
    generator = DCGANGenerator(DCGANConfig(latent_dim=16))
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.fill_(0.05)
    return generator


def reference_stats(name: str, rows: torch.Tensor):
    """ReferenceStats of feature rows (rows kept), as a family's compute() reads them."""
    from ganeval.reference.stats import ReferenceStats

    return ReferenceStats(name, rows.mean(0), torch.cov(rows.T), len(rows), rows=rows)


def metric_context(train, test, generated, options, seed: int = 0):
    """A MetricContext for one family's compute() without the pipeline: `test` as the reference, `generated` as the
    input's rows, `train` (or None) as --train; derived statistics computed on the spot."""
    from ganeval.features.stats import FeatureStats
    from ganeval.metrics.context import MetricContext, TrainSide

    features = FeatureStats(keep_raw=True)
    features.update(generated)
    side = None if train is None else TrainSide(
        reference_stats("train", train), lambda kind, parameter, compute, status, phase=None: compute(train))
    return MetricContext(reference=reference_stats("test", test), features=features, logits=None, options=options,
                         seed=seed, derive=lambda kind, parameter, compute, status, phase=None: compute(test),
                         train=side)
