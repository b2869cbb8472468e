"""Precision/recall/density/coverage: parity with the prdc package and torch-fidelity's prc, blocking, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from torch_fidelity.metric_prc import calculate_precision_recall_full

from ganeval.errors import InputError
from ganeval.metrics import prdc

from .conftest import gaussian_pair


@pytest.mark.parametrize("num, dim", [(2000, 64), (3000, 512)])
def test_matches_prdc_package(rng, num, dim):
    real, fake = gaussian_pair(rng, num, dim)
    real, fake = real.astype(np.float32), fake[: num - 300].astype(np.float32)  # unequal sizes on purpose
    expected = compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    assert prdc(real, fake, k=5) == pytest.approx({key: float(value) for key, value in expected.items()}, abs=1e-12)


def test_small_blocks_give_the_same_numbers(rng):
    real, fake = gaussian_pair(rng, 700, 16)
    assert prdc(real, fake, k=4, block=64) == prdc(real, fake, k=4, block=4096)


def test_precision_recall_at_k3_match_torch_fidelity(rng):
    real, fake = gaussian_pair(rng, 2000, 64)
    precision, recall = calculate_precision_recall_full(
        torch.from_numpy(fake).float(), torch.from_numpy(real).float(), neighborhood=3
    )
    ours = prdc(real.astype(np.float32), fake.astype(np.float32), k=3)
    # torch-fidelity averages in float32: equal counts show up as equal to float32 precision
    assert ours["precision"] == pytest.approx(precision, abs=1e-7)
    assert ours["recall"] == pytest.approx(recall, abs=1e-7)


def test_naeem_readme_example():
    # prdc README: real and fake 10k samples each of N(0, I_1000), k=5 -> about P 0.48, R 0.47, D 1.06, C 0.97.
    # 2,000 per side keeps the test fast; the figures move a little with N, so the bounds are loose.
    generator = torch.Generator().manual_seed(0)
    real, fake = torch.randn(2000, 1000, generator=generator), torch.randn(2000, 1000, generator=generator)
    values = prdc(real, fake, k=5)
    assert 0.3 < values["precision"] < 0.7 and 0.3 < values["recall"] < 0.7
    assert 0.8 < values["density"] < 1.3 and values["coverage"] > 0.9


def test_collapse_keeps_precision_and_loses_recall(rng):
    real = rng.standard_normal((1000, 8))
    collapsed = real[:50][rng.integers(0, 50, 1000)] + 0.01 * rng.standard_normal((1000, 8))
    values = prdc(real, collapsed)
    assert values["precision"] > 0.9 and values["recall"] < 0.3 and values["coverage"] < 0.4


def test_bad_input(rng):
    with pytest.raises(InputError, match="k=10 must be at least 1 and below"):
        prdc(np.zeros((5, 2)), np.zeros((5, 2)), k=10)
    with pytest.raises(InputError, match="feature dimensions differ"):
        prdc(np.zeros((20, 2)), np.zeros((20, 3)))


def test_precomputed_reference_radii_give_the_same_numbers(rng):
    from ganeval.metrics.prdc import knn_radii

    real, fake = gaussian_pair(rng, 500, 8)
    assert prdc(real, fake, k=3, real_radii=knn_radii(real, 3)) == prdc(real, fake, k=3)
    with pytest.raises(InputError, match="real_radii has shape"):
        prdc(real, fake, k=3, real_radii=knn_radii(real[:100], 3))


def _duplicated_sets(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    if name == "self, 2000 x 32":
        real = rng.standard_normal((2000, 32)).astype(np.float32)
        return real, real
    if name == "self with repeats, 500 x 8":
        real = rng.standard_normal((500, 8)).astype(np.float32)
        real[100:120], real[200:210] = real[:20], real[:10]  # rows 0-9 thrice, 10-19 twice: fewer copies than k
        return real, real
    # a generator that copies half of the training rows and draws the rest
    real = rng.standard_normal((1000, 16)).astype(np.float32)
    fake = np.concatenate([real[rng.permutation(1000)[:500]], rng.standard_normal((500, 16)).astype(np.float32)])
    return real, fake


@pytest.mark.parametrize("name, block", [
    ("self, 2000 x 32", 100), ("self, 2000 x 32", 4096),  # block 7 is covered by the smaller sets (286^2 blocks: slow)
    ("self with repeats, 500 x 8", 7), ("self with repeats, 500 x 8", 100), ("self with repeats, 500 x 8", 4096),
    ("copies half, 1000 x 16", 7), ("copies half, 1000 x 16", 100), ("copies half, 1000 x 16", 4096),
])
def test_duplicates_match_prdc_package_at_any_block(name, block):
    # A radius and a cross distance of the same pair of rows tie exactly; rounding noise must not break the tie.
    real, fake = _duplicated_sets(name)
    expected = {key: float(value) for key, value in compute_prdc(real, fake, nearest_k=5).items()}
    assert prdc(real, fake, k=5, block=block) == expected
    if block == 100:  # the float32 products decide nothing near a tie either
        assert prdc(real, fake, k=5, block=block, dtype=torch.float32) == expected


def test_duplicate_radii_do_not_depend_on_the_block():
    from ganeval.metrics.prdc import knn_radii, prdc_replicates

    real, fake = _duplicated_sets("copies half, 1000 x 16")
    radii = knn_radii(real, 5)
    assert torch.equal(knn_radii(real, 5, block=7), radii) and torch.equal(knn_radii(real, 5, block=100), radii)
    # many copies of one row: its radius is an exact zero, found by the pass over all columns
    crowded = np.concatenate([np.repeat(real[:1], 12, axis=0), real[1:300]])
    assert torch.all(knn_radii(crowded, 5, block=64)[:12] == 0)
    values, _ = prdc_replicates(real, fake, torch.ones(3, len(fake)), k=5, block=100)
    assert values == prdc(real, fake, k=5, block=4096) == prdc(real, fake, k=5, real_radii=radii)


@pytest.mark.parametrize("block", [7, 64, 4096])
def test_quantised_features_match_prdc_package(block):
    # Values in {0, 1, 2}: most distances tie with other pairs' and many rows repeat more than k times (zero radii).
    rng = np.random.default_rng(5)
    real, fake = (rng.integers(0, 3, (num, 5)).astype(np.float32) for num in (400, 300))
    expected = {key: float(value) for key, value in compute_prdc(real, fake, nearest_k=5).items()}
    assert prdc(real, fake, k=5, block=block) == expected
    assert prdc(real, fake, k=5, block=block, dtype=torch.float32) == expected
