"""CMMD: ganeval's blocked float64 kernel sums against the full-matrix formula of google-research cmmd/distance.py.

1. N = 5,000 per side, d = 768, random unit-norm float32 embeddings (CLIP's shape): ganeval `cmmd` against the
   full-matrix transcription (three N x N float64 kernel matrices, each averaged whole), timed in the same run;
   values within 1e-9 relative. The same with 200 bootstrap replicates, for their cost. Peak RSS of each, alone in
   a fresh subprocess.
2. N = GANEVAL_BENCH_CMMD_N (default 30,000: COCO-30k, the paper's size) per side, d = 768, ganeval alone in a fresh
   subprocess: peak RSS < 2 GB (VmHWM; see _common.py). The full-matrix formula is not run there: one 30,000^2
   float64 kernel matrix is 7.2 GB, and distance.py's expression holds it and a temporary of its size at once.
GANEVAL_BENCH_DEVICE (default cpu) sets the device of ganeval's inputs; on CUDA the memory runs report the GPU's
peak allocated memory too, and case 2 asserts it instead of the host RSS.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _common import env_int, min_seconds, run_python

from ganeval.metrics.bootstrap import resampling_weights
from ganeval.metrics.cmmd import cmmd, cmmd_with_replicates

N, DIM, REPLICATES = 5_000, 768, 200
LARGE_N = env_int("GANEVAL_BENCH_CMMD_N", 30_000)
LARGE_PEAK_LIMIT_GB = 2.0  # inputs 0.8 GB with torch, float64 copies 0.37 GB, one 128 MiB block; N^2 would be 7.2 GB
HERE = Path(__file__).resolve().parent
VALUES: dict[str, float] = {}


def embeddings(num: int, dim: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random unit-norm float32 rows, two sets slightly apart (CLIP embeddings' shape and norm)."""
    generator = torch.Generator().manual_seed(2026)
    real = torch.nn.functional.normalize(torch.randn(num, dim, generator=generator), dim=1)
    fake = torch.nn.functional.normalize(torch.randn(num, dim, generator=generator) + 0.02, dim=1)
    return real.to(device), fake.to(device)


def naive_cmmd(x: torch.Tensor, y: torch.Tensor, sigma: float = 10.0, scale: float = 1000.0) -> float:
    """distance.py's formula: three full kernel matrices in float64, each averaged whole."""
    x, y = x.double(), y.double()
    gamma = 1 / (2 * sigma**2)

    def mean_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-gamma * (-2 * a @ b.T + (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :])).mean()

    return float(scale * (mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y)))


@pytest.fixture(scope="module")
def features(device) -> tuple[torch.Tensor, torch.Tensor]:
    return embeddings(N, DIM, device)


def test_cmmd_ganeval(benchmark, features, device, figures):
    VALUES["ganeval"] = benchmark.pedantic(cmmd, features, rounds=3, warmup_rounds=1, iterations=1)
    if min_seconds(benchmark) is not None:
        figures(f"min {min_seconds(benchmark):.2f} s (N={N}, d={DIM}, {device}) cmmd={VALUES['ganeval']!r}")


def test_cmmd_full_matrices(benchmark, features, figures):
    VALUES["naive"] = benchmark.pedantic(naive_cmmd, features, rounds=3, warmup_rounds=1, iterations=1)
    if min_seconds(benchmark) is not None:
        figures(f"min {min_seconds(benchmark):.2f} s (N={N}, d={DIM}, full float64 matrices) "
                f"cmmd={VALUES['naive']!r}")


def test_cmmd_values_agree(figures):
    if "ganeval" not in VALUES or "naive" not in VALUES:
        pytest.skip("needs test_cmmd_ganeval and test_cmmd_full_matrices in the same run")
    difference = abs(VALUES["ganeval"] / VALUES["naive"] - 1)
    figures(f"|ganeval / full matrices - 1| = {difference:.1e} (allowed 1e-9)")
    assert difference < 1e-9


def test_cmmd_replicates(benchmark, features, device, figures):
    weights = resampling_weights(N, REPLICATES, seed=0, device=device)
    value, replicates = benchmark.pedantic(cmmd_with_replicates, (*features, weights), rounds=1, iterations=1)
    assert value == pytest.approx(cmmd(*features), rel=1e-12) and replicates.shape == (REPLICATES,)
    if min_seconds(benchmark) is not None:
        figures(f"{min_seconds(benchmark):.2f} s with {REPLICATES} bootstrap replicates (N={N}, d={DIM}, {device}); "
                f"replicate standard error {float(replicates.std()):.2e} at cmmd {value:.4f}")


MEMORY_SCRIPT = """
import json, sys, time
import torch
sys.path.insert(0, sys.argv[5])  # this folder: the same embeddings() and naive_cmmd() as in-process
from bench_cmmd import embeddings, naive_cmmd
from ganeval.metrics.cmmd import cmmd

num, dim, device, method = int(sys.argv[1]), int(sys.argv[2]), torch.device(sys.argv[3]), sys.argv[4]
real, fake = embeddings(num, dim, device)  # float32: 92 MB per side at 30,000 x 768
if device.type == "cuda":
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats(device)
def rss_gb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 / 1e9 for line in status if line.startswith("VmRSS:"))
before = rss_gb()
start = time.perf_counter()
value = cmmd(real, fake) if method == "blocked" else naive_cmmd(real, fake)
seconds = time.perf_counter() - start
peak_gpu = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None
print(json.dumps({"seconds": seconds, "peak_rss_gb": peak_rss_gb(), "rss_before_gb": before,
                  "ru_maxrss_gb": ru_maxrss_gb(), "peak_gpu_gb": peak_gpu, "cmmd": value}))
"""


def _memory_line(result: dict, num: int, device, method: str) -> str:
    return (f"{method}, N={num}, d={DIM}, {device}: {result['seconds']:.1f} s, peak RSS {result['peak_rss_gb']:.2f} "
            f"GB (RSS {result['rss_before_gb']:.2f} GB with the inputs made; ru_maxrss {result['ru_maxrss_gb']:.2f} GB)"
            + (f", peak GPU {result['peak_gpu_gb']:.2f} GB" if result["peak_gpu_gb"] is not None else "")
            + f", cmmd={result['cmmd']!r}")


@pytest.mark.parametrize("method", ["blocked", "naive"])
def test_cmmd_memory_at_5000(device, figures, method):
    result = run_python(MEMORY_SCRIPT, N, DIM, device, method, HERE)
    figures(_memory_line(result, N, device, method) + f"; one {N}^2 float64 matrix is {N**2 * 8 / 1e9:.2f} GB")


def test_cmmd_large_memory(device, figures):
    result = run_python(MEMORY_SCRIPT, LARGE_N, DIM, device, "blocked", HERE)
    matrix_gb = LARGE_N**2 * 8 / 1e9
    figures(_memory_line(result, LARGE_N, device, "blocked") + f" (limit {LARGE_PEAK_LIMIT_GB} GB); the full "
            f"formula would hold {matrix_gb:.1f} GB per {LARGE_N}^2 float64 kernel matrix, >= {2 * matrix_gb:.1f} GB "
            f"with its temporary")
    peak = result["peak_gpu_gb"] if device.type == "cuda" else result["peak_rss_gb"]
    assert peak < LARGE_PEAK_LIMIT_GB
