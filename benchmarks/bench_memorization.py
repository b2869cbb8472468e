"""The memorization kernels (issue 33): memory at the scale of ImageNet-sized training sets, and AuthPct and C_T
against transcriptions of the reference code (layer6ai-labs/dgm-eval), same run.

1. 60,000 training x 10,000 generated rows at d = 2,048 (float32), in a fresh subprocess: the nearest-training
   search every memorization family reads (3 neighbours: copies, authpct, the neighbours grid) and MiFID's cosine
   distances in both directions; peak RSS < 3 GB (VmHWM, see _common.py). FLD is not run at this size (its fit
   makes 50 passes over these distances: about an hour on 2 cores); its distance cache is capped at 1.5 GiB
   (ganeval.metrics.fld.CACHE_BYTES) so that it stays within the same bound.
2. AuthPct at 10,000 training x 5,000 generated, d = 256: ganeval's blocked kernel against dgm-eval's computation
   (`dgm_eval/metrics/authpct.py`: full torch.cdist matrices, float32), values equal and the speed ratio.
3. C_T at the same size (3 cells, PCA to 64): ganeval against dgm-eval's `dgm_eval/metrics/ct.py` (sklearn PCA,
   KMeans(n_init=10), NearestNeighbors per cell, scipy's Mann-Whitney U), the speed ratio; values agree within the
   difference of the two k-means runs (the cells are not the same cells: sklearn seeds its own).
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from _common import env_int, run_python

from ganeval.metrics.authpct import authpct
from ganeval.metrics.ct import ct

LARGE_TRAIN, LARGE_GENERATED, LARGE_DIM = env_int("GANEVAL_BENCH_MEMO_TRAIN", 60_000), 10_000, 2048
PEAK_LIMIT_GB = 3.0
TRAIN, GENERATED, DIM = 10_000, 5_000, 256
SECONDS: dict[str, float] = {}

LARGE_SCRIPT = """
import json, sys, time
import torch
from ganeval.metrics.training_set import search
from ganeval.metrics.mifid import nearest_cosine_distances_both

train_rows, generated_rows, dim = map(int, sys.argv[1:4])
generator = torch.Generator().manual_seed(2026)
train = torch.randn(train_rows, dim, generator=generator)  # float32: 0.49 GB
generated = torch.cat([train[:1000], torch.randn(generated_rows - 1000, dim, generator=generator)])
start = time.perf_counter()
squared, indices = search(generated, train, 3, torch.device("cpu"))
search_seconds = time.perf_counter() - start
start = time.perf_counter()
per_train, per_generated = nearest_cosine_distances_both(train, generated)
cosine_seconds = time.perf_counter() - start
copies = int((squared[:, 0].sqrt() / squared[:, 1].sqrt() < 1 / 3).sum())
print(json.dumps({"search_seconds": search_seconds, "cosine_seconds": cosine_seconds, "copies": copies,
                  "exact_copies_found": bool((indices[:1000, 0] == torch.arange(1000)).all()),
                  "peak_rss_gb": peak_rss_gb(), "ru_maxrss_gb": ru_maxrss_gb()}))
"""


def test_memorization_kernels_large_memory(figures):
    result = run_python(LARGE_SCRIPT, LARGE_TRAIN, LARGE_GENERATED, LARGE_DIM)
    figures(f"{LARGE_TRAIN} x {LARGE_GENERATED}, d={LARGE_DIM}: nearest-training search {result['search_seconds']:.0f} s, "
            f"cosine both ways {result['cosine_seconds']:.0f} s, peak RSS {result['peak_rss_gb']:.2f} GB (limit "
            f"{PEAK_LIMIT_GB} GB); copies found {result['copies']} of 1000 planted")
    assert result["exact_copies_found"] and result["copies"] >= 1000
    assert result["peak_rss_gb"] < PEAK_LIMIT_GB


@pytest.fixture(scope="module")
def features() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, test, generated) float32; a tenth of the generated rows copy training rows."""
    generator = torch.Generator().manual_seed(7)
    train = torch.randn(TRAIN, DIM, generator=generator)
    test = torch.randn(GENERATED, DIM, generator=generator)
    fresh = torch.randn(GENERATED - GENERATED // 10, DIM, generator=generator)
    return train, test, torch.cat([train[: GENERATED // 10], fresh])


def dgm_eval_authpct(train: torch.Tensor, generated: torch.Tensor) -> float:
    """dgm-eval's compute_authpct, transcribed: full float32 cdist matrices, the training diagonal set to inf."""
    real = torch.cdist(train, train)
    real.fill_diagonal_(float("inf"))
    gen = torch.cdist(train, generated)
    real_min, (gen_min, gen_index) = real.min(dim=0).values, gen.min(dim=0)
    return float(100 * (real_min[gen_index] < gen_min).sum() / len(gen_min))


def dgm_eval_ct(train: np.ndarray, test: np.ndarray, generated: np.ndarray, cells: int = 3) -> float:
    """dgm-eval's C_T, transcribed: sklearn PCA to 64 and KMeans(n_init=10), a NearestNeighbors per cell, scipy's U
    with its continuity term, cells with a generated share above 20/m weighted by the test share."""
    from scipy.stats import mannwhitneyu
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    pca = PCA(n_components=64).fit(train)
    train, test, generated = pca.transform(train), pca.transform(test), pca.transform(generated)
    kmeans = KMeans(n_clusters=cells, n_init=10, random_state=0).fit(train)
    train_cells, test_cells, generated_cells = kmeans.labels_, kmeans.predict(test), kmeans.predict(generated)
    m, n, tau = len(generated), len(test), 20 / len(generated)
    scores, weights = [], []
    for cell in range(cells):
        p_n, q_m = test[test_cells == cell], generated[generated_cells == cell]
        if len(q_m) / m <= tau:
            continue
        nearest = NearestNeighbors(n_neighbors=1).fit(train[train_cells == cell])
        u = mannwhitneyu(nearest.kneighbors(q_m)[0], nearest.kneighbors(p_n)[0], alternative="less")[0].item()
        scores.append((u - (len(p_n) * len(q_m) / 2 - 0.5)) / np.sqrt(len(p_n) * len(q_m) * (len(p_n) + len(q_m) + 1) / 12))
        weights.append(len(p_n) / n)
    return float(np.dot(weights, scores) / np.sum(weights))


def _timed(name: str, call) -> float:
    start = time.perf_counter()
    value = call()
    SECONDS[name] = time.perf_counter() - start
    return value


def test_authpct_against_dgm_eval(features, figures):
    train, _, generated = features
    ours = _timed("authpct", lambda: authpct(train, generated))
    theirs = _timed("authpct dgm-eval", lambda: dgm_eval_authpct(train, generated))
    ratio = SECONDS["authpct dgm-eval"] / SECONDS["authpct"]
    figures(f"authpct {TRAIN} x {GENERATED}, d={DIM}: ganeval {ours:.2f} in {SECONDS['authpct']:.2f} s (training "
            f"radii included), dgm-eval {theirs:.2f} in {SECONDS['authpct dgm-eval']:.2f} s: {ratio:.2f}x")
    assert ours == pytest.approx(theirs, abs=100 / GENERATED)  # float32 cdist may flip one near-tie


def test_ct_against_dgm_eval(features, figures):
    train, test, generated = features
    ours, _ = _timed("ct", lambda: ct(train, test, generated))
    theirs = _timed("ct dgm-eval", lambda: dgm_eval_ct(train.numpy(), test.numpy(), generated.numpy()))
    ratio = SECONDS["ct dgm-eval"] / SECONDS["ct"]
    figures(f"ct {TRAIN} x {GENERATED} (+{GENERATED} test), d={DIM}: ganeval {ours:.2f} in {SECONDS['ct']:.2f} s, "
            f"dgm-eval {theirs:.2f} in {SECONDS['ct dgm-eval']:.2f} s: {ratio:.2f}x")
    assert ours < -3 and theirs < -3 and abs(ours - theirs) < 3  # both see the planted copies; cells differ
