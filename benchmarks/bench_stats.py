"""Streaming FID statistics (FeatureStats.update): exactness against numpy, memory and throughput.

1. 20,000 x 256 float32 features (with a common offset of 5) in batches of 1,000: mean and covariance equal np.mean and
   np.cov of the same rows in float64 within 1e-9 (largest absolute difference / largest absolute reference value).
2. One update() of a 1,000 x 2,048 float32 batch, timed by pytest-benchmark (features/s, for information).
3. GANEVAL_BENCH_STATS_N (default 200,000) x 2,048 float32 rows generated on the fly in batches of 1,000 and streamed
   through FeatureStats in a fresh subprocess: peak RSS (VmHWM) at the end minus the peak after the first batch
   < 0.5 GB.
"""
from __future__ import annotations

import numpy as np
import torch
from _common import env_int, min_seconds, run_python

from ganeval.features.stats import FeatureStats

BATCH = 1000
STREAM_N, STREAM_DIM = env_int("GANEVAL_BENCH_STATS_N", 200_000), 2048
GROWTH_LIMIT_GB = 0.5


def test_stats_match_numpy(figures):
    generator = torch.Generator().manual_seed(2026)
    features = torch.randn(20_000, 256, generator=generator) * 2 + 5  # float32, offset: tests the shifted sums
    stats = FeatureStats()
    for start in range(0, len(features), BATCH):
        stats.update(features[start : start + BATCH])
    reference = features.numpy().astype(np.float64)
    mean_ref, cov_ref = np.mean(reference, axis=0), np.cov(reference, rowvar=False)
    mean_error = np.abs(stats.mean().numpy() - mean_ref).max() / np.abs(mean_ref).max()
    cov_error = np.abs(stats.covariance().numpy() - cov_ref).max() / np.abs(cov_ref).max()
    figures(f"relative max error: mean {mean_error:.1e}, covariance {cov_error:.1e} (limit 1e-9)")
    assert mean_error < 1e-9 and cov_error < 1e-9


def test_stats_update_throughput(benchmark, figures):
    generator = torch.Generator().manual_seed(2026)
    stats = FeatureStats()
    stats.update(torch.randn(BATCH, STREAM_DIM, generator=generator))  # allocate the d x d sums outside the timing
    batch = torch.randn(BATCH, STREAM_DIM, generator=generator)
    benchmark.pedantic(stats.update, (batch,), rounds=20, warmup_rounds=2, iterations=1)
    if min_seconds(benchmark) is not None:
        figures(f"{BATCH / min_seconds(benchmark):,.0f} features/s (best round, batch {BATCH} x {STREAM_DIM})")


STREAM_SCRIPT = """
import json, sys, time
import torch
from ganeval.features.stats import FeatureStats

num, dim, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
generator = torch.Generator().manual_seed(2026)
stats = FeatureStats()
updating = 0.0
start = time.perf_counter()
for index in range(num // batch):
    rows = torch.randn(batch, dim, generator=generator)  # float32, generated on the fly
    tick = time.perf_counter()
    stats.update(rows)
    updating += time.perf_counter() - tick
    if index == 0:
        rss_first = peak_rss_gb()  # the peak so far: imports, generator, one batch and the d x d sums
total = time.perf_counter() - start
mean, cov = stats.mean(), stats.covariance()  # the outputs count too: two more d x d / d tensors
print(json.dumps({"rows": stats.num_samples, "rss_first_gb": rss_first, "rss_end_gb": peak_rss_gb(),
                  "update_seconds": updating, "total_seconds": total}))
"""


def test_stats_streaming_memory(figures):
    result = run_python(STREAM_SCRIPT, STREAM_N, STREAM_DIM, BATCH)
    growth = result["rss_end_gb"] - result["rss_first_gb"]
    figures(
        f"{result['rows']:,} x {STREAM_DIM} in batches of {BATCH}: RSS after first batch {result['rss_first_gb']:.3f} GB,"
        f" peak at end {result['rss_end_gb']:.3f} GB, growth {growth:.3f} GB (limit {GROWTH_LIMIT_GB} GB);"
        f" {result['rows'] / result['update_seconds']:,.0f} features/s in update(),"
        f" {result['rows'] / result['total_seconds']:,.0f} features/s including generation"
    )
    assert result["rows"] == STREAM_N // BATCH * BATCH
    assert growth < GROWTH_LIMIT_GB
