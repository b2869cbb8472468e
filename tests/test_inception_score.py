"""Inception Score: parity with torch-fidelity's isc_features_to_metric, bounds, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric

from ganeval.errors import InputError
from ganeval.metrics import inception_score


@pytest.mark.parametrize("num, classes", [(2000, 1008), (5000, 10)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_matches_torch_fidelity(rng, num, classes, shuffle):
    logits = torch.from_numpy(rng.standard_normal((num, classes)) * 3).float()
    expected = isc_features_to_metric(logits, splits=10, shuffle=shuffle, rng_seed=7)
    mean, std = inception_score(logits, splits=10, shuffle=shuffle, seed=7)
    assert mean == pytest.approx(expected["inception_score_mean"], rel=1e-6)
    assert std == pytest.approx(expected["inception_score_std"], rel=1e-6)


def test_bounds_one_and_number_of_classes():
    confident_and_diverse = torch.eye(10).repeat(20, 1) * 100
    assert inception_score(confident_and_diverse, splits=2, shuffle=False)[0] == pytest.approx(10, rel=1e-6)
    all_one_class = torch.zeros(200, 10)
    all_one_class[:, 3] = 100
    assert inception_score(all_one_class, splits=2)[0] == pytest.approx(1, abs=1e-9)
    random = torch.randn(500, 10, generator=torch.Generator().manual_seed(0)) * 5
    assert 1 <= inception_score(random)[0] <= 10


def test_same_seed_same_numbers_and_seed_changes_splits(rng):
    logits = rng.standard_normal((1000, 20)) * 2
    assert inception_score(logits, seed=1) == inception_score(logits, seed=1)
    assert inception_score(logits, seed=1)[1] != inception_score(logits, seed=2)[1]


def test_bad_input():
    with pytest.raises(InputError, match="splits=20"):
        inception_score(np.zeros((10, 5)), splits=20)
    with pytest.raises(InputError, match="NaN or Inf"):
        inception_score(np.full((10, 5), np.inf))
