"""Realism score and outlier-robust precision (ganeval.metrics.realism, the `realism` family)."""
import json

import numpy as np
import pytest
import torch

from ganeval.errors import InputError
from ganeval.features.stats import FeatureStats
from ganeval.metrics.bootstrap import resampling_weights
from ganeval.metrics.context import MetricContext
from ganeval.metrics.knn import exact_squared_distances
from ganeval.metrics.families.realism import Options, check, compute
from ganeval.metrics.prdc import knn_radii, prdc
from ganeval.metrics.realism import lower_median, prune_radii, realism_scores, realism_summary
from ganeval.reference.stats import ReferenceStats


def reference_realism(real: np.ndarray, fake: np.ndarray, k: int = 3, eps: float = 0.0):
    """kynkaat/improved-precision-and-recall-metric precision_recall.py, ManifoldEstimator (lines 28, 102, 105-106,
    131, 134) with clamp_to_percentile=50 as experiments.py:146 builds it, in one block. Returns (in manifold, the
    code's realism score); the code's score is the square of the paper's R, with eps = 1e-5 there."""
    def pairwise(u, v):  # batch_pairwise_distances: squared
        return np.maximum((u * u).sum(1)[:, None] - 2 * u @ v.T + (v * v).sum(1)[None, :], 0.0)

    radii = np.partition(pairwise(real, real), np.arange(k + 1), axis=1)[:, k]
    radii[radii > np.percentile(radii, 50)] = 0
    distances = pairwise(fake, real)
    return np.any(distances <= radii[None, :], axis=1), np.max(radii[None, :] / (distances + eps), axis=1)


def gaussian(rows: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_parity_with_reference_code():
    real, fake = gaussian(301, 16, 0), gaussian(257, 16, 1)
    inside, squared = reference_realism(real.numpy(), fake.numpy())
    result = realism_scores(real, fake, 3, block=64)
    np.testing.assert_allclose(result.scores.numpy(), np.sqrt(squared), rtol=1e-9, atol=0)
    assert np.array_equal(result.inside.numpy(), inside)
    values, _ = realism_summary(result)
    assert values["robust_precision"] == inside.mean()
    assert values["realism_above_1"] == (np.sqrt(squared) >= 1).mean()
    assert 0 < values["robust_precision"] < 1
    threshold, kept = prune_radii(knn_radii(real, 3))
    assert result.kept == int(kept.sum()) == 151  # odd count: the median ball itself is kept


def test_median_matches_numpy_percentile():
    radii = gaussian(40, 1, 2).squeeze(1).abs()
    radii[7] = radii[8]  # a tie
    threshold, kept = prune_radii(radii)
    assert threshold == np.percentile(radii.numpy(), 50)
    assert torch.equal(kept, radii <= threshold) and int(kept.sum()) == 20


def test_outliers_fool_prdc_precision_but_not_robust_precision():
    blob = gaussian(300, 8, 3)
    outliers = 20 * torch.eye(8, dtype=torch.float64)[:6]  # far apart: their 3-NN balls reach the blob, radius ~17
    real = torch.cat([blob, outliers])
    offsets = 3 * (2 * torch.rand(200, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64) - 1)
    fake = outliers[torch.arange(200) % 6] + offsets  # uniform noise around the outliers, none near the blob
    assert prdc(real, fake, k=3)["precision"] > 0.9
    values, _ = realism_summary(realism_scores(real, fake, 3))
    assert values["robust_precision"] < 0.1 and values["realism_above_1"] < 0.1


def test_clean_gaussian_costs_robust_precision():
    """The figure in ganeval/metrics/realism.py's docstring: pruning also drops the tails' legitimate balls."""
    real, fake = gaussian(1000, 8, 11), gaussian(1000, 8, 12)
    precision = prdc(real, fake, k=3)["precision"]
    values, _ = realism_summary(realism_scores(real, fake, 3))
    assert precision > 0.85 and 0.45 < values["robust_precision"] < 0.55


def test_reference_against_itself():
    real = gaussian(200, 8, 5)
    result = realism_scores(real, real, 3)
    _, kept = prune_radii(knn_radii(real, 3))
    assert int(kept.sum()) == 100
    # A copy of a kept row sits at distance 0 from its own ball: R = +inf, inside. A copy of a pruned row is inside
    # exactly when some kept ball holds it, and never infinite (its distance to every kept row is positive).
    assert result.scores[kept].isinf().all() and result.inside[kept].all()
    assert result.scores[~kept].isfinite().all()
    # Distances as the radii were computed (one exact function of the two rows): the k-th neighbour of a kept row
    # lies exactly on its ball's boundary, R = 1, counted by realism_above_1 but not by robust_precision's `<`.
    pairs = torch.cartesian_prod(torch.arange(200), torch.arange(200))
    distances = exact_squared_distances(real, pairs[:, 0], real, pairs[:, 1]).view(200, 200)
    radii = knn_radii(real, 3)
    expected = ((distances < radii[None, :]) & kept[None, :]).any(dim=1)
    assert torch.equal(result.inside, expected) and torch.equal(result.inside, result.scores > 1)
    on_boundary = int((result.scores == 1).sum())
    values, _ = realism_summary(result)
    assert values["robust_precision"] == float(expected.double().mean()) >= 0.5
    assert on_boundary > 0
    assert values["realism_above_1"] == pytest.approx(values["robust_precision"] + on_boundary / 200, abs=1e-15)
    # Half the scores are +inf: the lower median is the largest finite one (the mean would be inf).
    assert values["realism"] == float(result.scores[~kept].max())


def test_blocked_equals_unblocked():
    real, fake = gaussian(150, 12, 6), gaussian(90, 12, 7)
    fake[:5] = real[:5]  # copies: +inf for kept rows, ties decided exactly
    whole = realism_scores(real, fake, 3)
    blocked = realism_scores(real, fake, 3, block=7)
    assert torch.equal(whole.scores, blocked.scores) and torch.equal(whole.inside, blocked.inside)
    single = realism_scores(real.float(), fake.float(), 3, dtype=torch.float32, block=16)
    assert torch.equal(whole.inside, single.inside)
    torch.testing.assert_close(single.scores, realism_scores(real.float(), fake.float(), 3).scores, rtol=1e-12, atol=0)


def test_weighted_lower_median_equals_repeated_samples():
    values = gaussian(31, 1, 8).squeeze(1)
    values[3] = float("inf")
    weights = resampling_weights(31, 12, seed=0)
    medians = lower_median(values, weights)
    for row, median in zip(weights, medians):
        repeated = np.sort(np.repeat(values.numpy(), row.long().numpy()))
        assert median == repeated[(len(repeated) - 1) // 2]
    assert float(lower_median(values)) == np.sort(values.numpy())[15]


def _context(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> MetricContext:
    features = FeatureStats(keep_raw=True)
    features.update(fake)
    reference = ReferenceStats("test", real.mean(0), torch.cov(real.T), len(real), rows=real)
    return MetricContext(reference=reference, features=features, logits=None, options=Options(k=k), seed=0,
                         derive=lambda kind, parameter, compute_fn, status, phase=None: compute_fn(real))


def test_family_values_replicates_and_diagnostics():
    real, fake = gaussian(120, 6, 9), gaussian(80, 6, 10)
    fake[0] = real[0]
    context = _context(real, fake)
    weights = resampling_weights(80, 25, seed=1)
    result = compute(context, weights)
    assert set(result.values) == set(result.replicates) == {"realism", "realism_above_1", "robust_precision"}
    assert all(replicate.shape == (25,) for replicate in result.replicates.values())
    json.dumps(result.diagnostics, allow_nan=False)
    assert result.diagnostics["k"] == 3 and result.diagnostics["kept_balls"] == 60
    assert set(result.diagnostics["realism_quantiles"]) == {"5%", "50%", "95%"}
    assert result.values == compute(context).values
    ones = compute(context, torch.ones(2, 80, dtype=torch.float64))  # the full sample, twice
    for key, value in ones.values.items():
        assert ones.replicates[key].tolist() == [pytest.approx(value, rel=1e-15)] * 2


def test_check_refuses_k():
    check(Options(k=3), 10, 4)
    for k, reference in ((0, 10), (10, 10)):
        with pytest.raises(InputError, match="--realism-k"):
            check(Options(k=k), 10, reference)
