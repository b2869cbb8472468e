"""Streaming statistics: merged partial states equal one pass, batch-size independence, precision, safe round trip."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganeval.errors import InputError
from ganeval.features import FeatureStats


def stream(features: torch.Tensor, batch_size: int, keep_raw: bool = False) -> FeatureStats:
    stats = FeatureStats(keep_raw=keep_raw)
    for batch in features.split(batch_size):
        stats.update(batch)
    return stats


@pytest.fixture
def features(rng) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal((500, 12)) @ rng.standard_normal((12, 12)) + 3.0)


def test_one_pass_equals_numpy(features):
    stats = stream(features, 64)
    assert torch.allclose(stats.mean(), features.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.covariance().numpy(), np.cov(features.numpy(), rowvar=False), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_batch_size_does_not_change_the_statistics(features, batch_size):
    reference = stream(features, len(features))
    stats = stream(features, batch_size)
    assert torch.allclose(stats.mean(), reference.mean(), rtol=1e-10, atol=1e-12)
    assert torch.allclose(stats.covariance(), reference.covariance(), rtol=1e-10, atol=1e-12)


def test_merged_partial_states_equal_one_pass(features):
    parts = [stream(chunk, 16, keep_raw=True) for chunk in features.split(123)]
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    reference = stream(features, 500)
    assert merged.num_samples == 500
    assert torch.allclose(merged.mean(), reference.mean(), rtol=1e-10, atol=1e-12)
    assert torch.allclose(merged.covariance(), reference.covariance(), rtol=1e-10, atol=1e-12)
    assert torch.equal(merged.raw(), features)


def test_large_common_offset_keeps_precision(rng):
    # Features with an offset of 1e6 and unit spread: naive sum(x x^T) - N mu mu^T would lose every digit.
    small = rng.standard_normal((2000, 4))
    stats = stream(torch.from_numpy(small + 1e6), 100)
    np.testing.assert_allclose(stats.covariance().numpy(), np.cov(small, rowvar=False), rtol=1e-6, atol=1e-8)


def test_state_dict_loads_with_weights_only(tmp_path, features):
    stats = stream(features, 50)
    torch.save(stats.state_dict(), tmp_path / "stats.pt")
    loaded = FeatureStats.from_state_dict(torch.load(tmp_path / "stats.pt", weights_only=True))
    assert torch.equal(loaded.covariance(), stats.covariance())


def test_raw_features_only_when_kept(features):
    with pytest.raises(InputError, match="raw features were not kept"):
        stream(features, 50).raw()


def test_bad_batches_are_rejected():
    stats = FeatureStats()
    stats.update(torch.zeros(3, 4))
    with pytest.raises(InputError, match="differ between batches: 4 then 5"):
        stats.update(torch.zeros(3, 5))
    with pytest.raises(InputError, match="NaN or Inf"):
        stats.update(torch.full((3, 4), float("nan")))
