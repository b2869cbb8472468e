"""FID from statistics (d = 2048): ganeval against torch-fidelity 0.4.0 and the scipy.linalg.sqrtm formula, same run.

Targets, as ratios of the fastest rounds: ganeval (uncached) >= 2.5x faster than torch-fidelity and >= 10x faster than
scipy sqrtm; ganeval with the reference factor cached >= 3x faster than torch-fidelity. Values agree within 1e-6
relative. GANEVAL_BENCH_FID_N (default 5000) sets the samples per side; GANEVAL_BENCH_DEVICE (default cpu) the device
of ganeval's inputs (the anchors are numpy/scipy on the CPU).
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from _common import env_int, min_seconds
from torch_fidelity.metric_fid import fid_statistics_to_metric

from ganeval.metrics import covariance_factor, fid_from_stats

N = env_int("GANEVAL_BENCH_FID_N", 5000)
DIM = 2048
# (faster, slower): minimum speed-up of `faster` over `slower`
TARGETS = {("uncached", "torch_fidelity"): 2.5, ("uncached", "sqrtm"): 10.0, ("cached", "torch_fidelity"): 3.0}
TIMES: dict[str, float] = {}  # fastest round per benchmark, filled by the benchmarks below, read by the ratio test


@pytest.fixture(scope="module")
def stats() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mu1, sigma1, mu2, sigma2 in float64 (np.mean / np.cov) of two float32 feature sets with different covariances."""
    rng = np.random.default_rng(2026)
    real = rng.standard_normal((N, DIM), dtype=np.float32)
    mixing = (np.eye(DIM) + 0.3 * rng.standard_normal((DIM, DIM)) / np.sqrt(DIM)).astype(np.float32)
    fake = rng.standard_normal((N, DIM), dtype=np.float32) @ mixing * 1.1 + 0.05
    result = []
    for features in (real, fake):
        features = features.astype(np.float64)
        result += [np.mean(features, axis=0), np.cov(features, rowvar=False)]
    return tuple(result)


@pytest.fixture(scope="module")
def on_device(stats, device) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(array).to(device) for array in stats)


def torch_fidelity_fid(mu1, sigma1, mu2, sigma2) -> float:
    return fid_statistics_to_metric({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}, False)[
        "frechet_inception_distance"
    ]


def sqrtm_fid(mu1, sigma1, mu2, sigma2) -> float:
    """The pytorch-fid / clean-fid formula, without their retry-with-offset fallback."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean).real)


def relative(value: float, reference: float) -> float:
    return abs(value - reference) / abs(reference)


def record(name: str, benchmark, figures) -> None:
    seconds = min_seconds(benchmark)
    if seconds is not None:
        TIMES[name] = seconds
        figures(f"min {seconds:.3f} s (N={N}, d={DIM})")


def test_fid_values_agree(stats, on_device, figures):
    reference = torch_fidelity_fid(*stats)
    uncached = fid_from_stats(*on_device)
    cached = fid_from_stats(*on_device, factor1=covariance_factor(on_device[1]))
    figures(f"torch-fidelity {reference!r}, ganeval {uncached!r}, cached factor {cached!r}")
    assert relative(uncached, reference) < 1e-6
    assert relative(cached, reference) < 1e-6


def test_fid_ganeval_uncached(benchmark, on_device, figures):
    benchmark.pedantic(fid_from_stats, on_device, rounds=5, warmup_rounds=1, iterations=1)
    record("uncached", benchmark, figures)


def test_fid_ganeval_cached_factor(benchmark, on_device, figures):
    mu1, sigma1, mu2, sigma2 = on_device
    factor1 = covariance_factor(sigma1)  # computed once per reference, outside the timing
    benchmark.pedantic(
        fid_from_stats, (mu1, sigma1, mu2, sigma2), {"factor1": factor1}, rounds=5, warmup_rounds=1, iterations=1
    )
    record("cached", benchmark, figures)


def test_fid_torch_fidelity(benchmark, stats, figures):
    benchmark.pedantic(torch_fidelity_fid, stats, rounds=3, iterations=1)
    record("torch_fidelity", benchmark, figures)


def test_fid_scipy_sqrtm(benchmark, stats, on_device, figures):
    value = benchmark.pedantic(sqrtm_fid, stats, rounds=1, iterations=1)  # about a minute on 2 cores: one round
    record("sqrtm", benchmark, figures)
    assert relative(value, fid_from_stats(*on_device)) < 1e-6


def test_fid_speed_ratios(figures):
    measured = [(pair, target) for pair, target in TARGETS.items() if pair[0] in TIMES and pair[1] in TIMES]
    if not measured:
        pytest.skip("no timings recorded (benchmarks deselected or --benchmark-disable)")
    failed = []
    for (faster, slower), target in measured:
        ratio = TIMES[slower] / TIMES[faster]
        ok = ratio >= target
        figures(f"{faster} vs {slower}: {ratio:.2f}x faster (target >= {target}x) {'PASS' if ok else 'FAIL'}")
        if not ok:
            failed.append(f"{faster} vs {slower}: {ratio:.2f}x < {target}x")
    if "cached" in TIMES and "uncached" in TIMES:
        figures(f"cached vs uncached: {TIMES['uncached'] / TIMES['cached']:.2f}x (information)")
    assert not failed, "; ".join(failed)
