"""KID: parity with torch-fidelity 0.4.0 (same subsets for the same seed), bad input."""
from __future__ import annotations

import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from ganeval.errors import InputError
from ganeval.metrics import kid

from .conftest import gaussian_pair


def fidelity_kid(real, fake, subsets, subset_size, seed=2020):
    # torch-fidelity's input1 is the generated set
    out = kid_features_to_metric(
        torch.from_numpy(fake).float(),
        torch.from_numpy(real).float(),
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        rng_seed=seed,
        verbose=False,
    )
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


@pytest.mark.parametrize("num, dim", [(2000, 64), (3000, 2048)])
def test_full_sets_match_torch_fidelity(rng, num, dim):
    real, fake = gaussian_pair(rng, num, dim)
    expected, _ = fidelity_kid(real, fake, subsets=1, subset_size=num)
    mean, std = kid(real, fake, subsets=1, subset_size=num)
    assert mean == pytest.approx(expected, rel=1e-4)
    assert std == 0


def test_defaults_draw_the_same_subsets_as_torch_fidelity(rng):
    real, fake = gaussian_pair(rng, 2500, 128)
    expected_mean, expected_std = fidelity_kid(real, fake, subsets=100, subset_size=1000)
    mean, std = kid(real, fake)
    assert abs(mean - expected_mean) <= expected_std  # the acceptance bound ...
    assert mean == pytest.approx(expected_mean, rel=1e-4)  # ... and in fact the same subsets
    assert std == pytest.approx(expected_std, rel=1e-3)


def test_identical_distributions_near_zero_and_seeded(rng):
    real, _ = gaussian_pair(rng, 1200, 16)
    same = rng.standard_normal((1200, 16))
    mean, std = kid(real, same, subsets=20, subset_size=500, seed=3)
    assert abs(mean) < 3 * std + 1e-3
    assert kid(real, same, subsets=20, subset_size=500, seed=3) == (mean, std)


def test_subset_larger_than_samples_is_rejected(rng):
    real, fake = gaussian_pair(rng, 100, 4)
    with pytest.raises(InputError, match="subset size 1000 must be between 2 and the number of samples"):
        kid(real, fake)
