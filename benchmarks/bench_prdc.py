"""Precision/recall/density/coverage: ganeval's blocked prdc against the `prdc` package (clovaai), same run.

1. N = 10,000 real and fake, d = 1000, float32, k = 5: values equal (or off by at most 1/N, a near-tie flipped by
   float32 vs float64 distances) and ganeval >= 2x faster than prdc.compute_prdc (sklearn pairwise distances).
2. N = GANEVAL_BENCH_PRDC_N (default 50,000) per side, d = 2048, float32, in a fresh subprocess: peak RSS < 3 GB
   (VmHWM of the subprocess; see _common.py for why not ru_maxrss).
   The prdc package cannot run this size: it holds three full N x N float32 distance matrices (50,000^2 x 4 bytes =
   10 GB each), plus boolean temporaries of the same shape.
GANEVAL_BENCH_DEVICE (default cpu) sets the device of ganeval's inputs; on CUDA, case 2 asserts the GPU's peak
allocated memory instead (the host RSS then includes the CUDA libraries and is reported only).
"""
from __future__ import annotations

import pytest
import torch
from _common import env_int, min_seconds, run_python
from prdc import compute_prdc

from ganeval.metrics import prdc

N, DIM, K = 10_000, 1000, 5
LARGE_N, LARGE_DIM = env_int("GANEVAL_BENCH_PRDC_N", 50_000), 2048
TARGET_SPEEDUP = 2.0
LARGE_PEAK_LIMIT_GB = 3.0
KEYS = ("precision", "recall", "density", "coverage")
TIMES: dict[str, float] = {}
VALUES: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module")
def features() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2026)
    real = torch.randn(N, DIM, generator=generator)
    fake = torch.randn(N, DIM, generator=generator) * 1.01 + 0.02  # close to real: shares well inside (0, 1)
    return real, fake


def test_prdc_ganeval(benchmark, features, device, figures):
    real, fake = (tensor.to(device) for tensor in features)
    warmup = 1 if device.type == "cuda" else 0  # CUDA: exclude kernel loading; CPU: a round is ~10 s, skip it
    VALUES["ganeval"] = benchmark.pedantic(prdc, (real, fake, K), rounds=3, warmup_rounds=warmup, iterations=1)
    if min_seconds(benchmark) is not None:
        TIMES["ganeval"] = min_seconds(benchmark)
        figures(f"min {TIMES['ganeval']:.2f} s (N={N}, d={DIM}, k={K}, {device}) {VALUES['ganeval']}")


def test_prdc_package(benchmark, features, figures):
    real, fake = (tensor.numpy() for tensor in features)
    result = benchmark.pedantic(compute_prdc, (real, fake, K), rounds=2, iterations=1)
    VALUES["prdc"] = {key: float(value) for key, value in result.items()}
    if min_seconds(benchmark) is not None:
        TIMES["prdc"] = min_seconds(benchmark)
        figures(f"min {TIMES['prdc']:.2f} s (N={N}, d={DIM}, k={K}, cpu) {VALUES['prdc']}")


def test_prdc_values_and_speed_ratio(figures):
    if "ganeval" not in VALUES or "prdc" not in VALUES:
        pytest.skip("needs test_prdc_ganeval and test_prdc_package in the same run")
    ours, theirs = VALUES["ganeval"], VALUES["prdc"]
    differences = {key: abs(ours[key] - theirs[key]) for key in KEYS}
    figures(f"|ganeval - prdc| = {differences} (allowed 1/N = {1 / N})")
    assert all(difference <= 1 / N + 1e-12 for difference in differences.values())
    if "ganeval" not in TIMES or "prdc" not in TIMES:
        pytest.skip("no timings recorded (--benchmark-disable)")
    ratio = TIMES["prdc"] / TIMES["ganeval"]
    ok = ratio >= TARGET_SPEEDUP
    figures(f"ganeval vs prdc: {ratio:.2f}x faster (target >= {TARGET_SPEEDUP}x) {'PASS' if ok else 'FAIL'}")
    assert ok, f"ganeval prdc is {ratio:.2f}x faster than prdc.compute_prdc, target {TARGET_SPEEDUP}x"


LARGE_SCRIPT = """
import json, sys, time
import torch
from ganeval.metrics import prdc

num, dim, device = int(sys.argv[1]), int(sys.argv[2]), torch.device(sys.argv[3])
generator = torch.Generator().manual_seed(2026)
real = torch.randn(num, dim, generator=generator)  # float32, 0.4 GB per side at 50,000 x 2048
fake = torch.randn(num, dim, generator=generator).mul_(1.01).add_(0.02)
real, fake = real.to(device), fake.to(device)
if device.type == "cuda":
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats(device)
start = time.perf_counter()
values = prdc(real, fake, 5)
seconds = time.perf_counter() - start
peak_gpu = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None
print(json.dumps({"seconds": seconds, "peak_rss_gb": peak_rss_gb(), "ru_maxrss_gb": ru_maxrss_gb(),
                  "peak_gpu_gb": peak_gpu, **values}))
"""


def test_prdc_large_memory(device, figures):
    result = run_python(LARGE_SCRIPT, LARGE_N, LARGE_DIM, device)
    values = {key: result[key] for key in KEYS}
    figures(
        f"N={LARGE_N}, d={LARGE_DIM}, {device}: {result['seconds']:.0f} s, peak RSS {result['peak_rss_gb']:.2f} GB"
        f" (ru_maxrss {result['ru_maxrss_gb']:.2f} GB)"
        + (f", peak GPU {result['peak_gpu_gb']:.2f} GB" if result["peak_gpu_gb"] is not None else "")
        + f" (limit {LARGE_PEAK_LIMIT_GB} GB) {values}"
    )
    peak = result["peak_gpu_gb"] if device.type == "cuda" else result["peak_rss_gb"]
    assert peak < LARGE_PEAK_LIMIT_GB
