"""Bootstrap intervals and FID/IS-infinity: every replicate equals its metric on the resampled samples (brute force),
the intervals cover a known Frechet distance, --ci extracts nothing twice, and the extrapolation beats small-N FID."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganeval import score
from ganeval.config import BootstrapOptions
from ganeval.errors import InputError
from ganeval.evaluate import key_interval
from ganeval.metrics.bootstrap import resampling_weights
from ganeval.metrics.fid import fid_from_stats, frechet_distance, frechet_replicates
from ganeval.metrics.inception_score import inception_score, inception_score_replicates
from ganeval.metrics.infinity import fid_infinity, is_infinity, subset_sizes
from ganeval.metrics.kid import kid, kid_replicates, mmd2_unbiased
from ganeval.metrics.modes import label_modes, mixture_modes, ndb
from ganeval.metrics.prdc import prdc, prdc_replicates


def _gaussian(rows: int, dim: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    scales = torch.linspace(0.5, 1.5, dim, dtype=torch.float64)
    return torch.randn(rows, dim, generator=generator, dtype=torch.float64) * scales + shift


def _exact_reference(dim: int, shift: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """N(0, I) moments and the closed-form Frechet distance to _gaussian's N(shift, diag(s^2))."""
    scales = torch.linspace(0.5, 1.5, dim, dtype=torch.float64)
    true = float(dim * shift**2 + ((1 - scales) ** 2).sum())
    return torch.zeros(dim, dtype=torch.float64), torch.eye(dim, dtype=torch.float64), true


def _resampled(rows: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The resample itself: each row repeated as often as the replicate drew it."""
    return rows[torch.repeat_interleave(torch.arange(len(rows)), counts.long())]


def test_weights_are_seeded_resamples():
    weights = resampling_weights(50, 7, seed=3)
    assert weights.shape == (7, 50) and torch.all(weights.sum(1) == 50)
    assert torch.equal(weights, resampling_weights(50, 7, seed=3))
    assert not torch.equal(weights, resampling_weights(50, 7, seed=4))


@pytest.mark.parametrize("rows, dim", [(300, 12), (40, 60)])  # more samples than dimensions, and fewer
def test_exact_fid_replicates_equal_fid_of_the_resamples(rows, dim):
    fake, reference = _gaussian(rows, dim, 0, shift=0.2), _gaussian(2000, dim, 1)
    mu1, sigma1 = reference.mean(0), torch.cov(reference.T)
    weights = resampling_weights(rows, 6, seed=2)
    values, method = frechet_replicates(mu1, sigma1, fake, weights, method="exact")
    assert method == "exact"
    for counts, value in zip(weights, values):
        resample = _resampled(fake, counts)
        # rel 1e-6: with N < d the brute force takes square roots of rounding-level eigenvalues of a singular product
        assert float(value) == pytest.approx(fid_from_stats(mu1, sigma1, resample.mean(0), torch.cov(resample.T)), rel=1e-6)
    plain, _ = frechet_replicates(mu1, sigma1, fake, torch.ones(1, rows, dtype=torch.float64), method="exact")
    assert float(plain[0]) == pytest.approx(fid_from_stats(mu1, sigma1, fake.mean(0), torch.cov(fake.T)), rel=1e-6)


def test_expansion_tracks_exact_replicates_when_rank_is_small_against_n():
    fake, reference = _gaussian(3000, 16, 0, shift=0.1), _gaussian(5000, 16, 1)
    mu1, sigma1 = reference.mean(0), torch.cov(reference.T)
    weights = resampling_weights(3000, 100, seed=5)
    exact, _ = frechet_replicates(mu1, sigma1, fake, weights, method="exact")
    expanded, _ = frechet_replicates(mu1, sigma1, fake, weights, method="expansion")
    assert float(expanded.mean()) == pytest.approx(float(exact.mean()), rel=0.01)
    assert float(expanded.std()) == pytest.approx(float(exact.std()), rel=0.1)
    with pytest.raises(InputError, match="exact, expansion or auto"):
        frechet_replicates(mu1, sigma1, fake, weights, method="jackknife")


def test_expansion_diagonal_equals_each_resample_in_the_eigenbasis():
    """The expansion's float32 changes reproduce, replicate by replicate, the float64 diagonal of each resample's
    covariance in the full sample's eigenbasis; only the constant second-order term separates the two."""
    fake, reference = _gaussian(3000, 64, 0, shift=0.1), _gaussian(5000, 64, 1)
    mu1, sigma1 = reference.mean(0), torch.cov(reference.T)
    plain = fid_from_stats(mu1, sigma1, fake.mean(0), torch.cov(fake.T))
    basis = frechet_distance(mu1, sigma1, fake.mean(0), torch.cov(fake.T), keep_eigenbasis=True).eigenbasis
    weights = torch.cat([torch.ones(1, 3000, dtype=torch.float64), resampling_weights(3000, 8, seed=4)])
    expanded, _ = frechet_replicates(mu1, sigma1, fake, weights, method="expansion", eigenbasis=basis)
    second_order = (plain - float(expanded[0])) / 2  # the replicate with every count one has the plain diagonal
    rotation = basis.factor @ basis.eigenvectors
    for counts, value in zip(weights[1:], expanded[1:]):
        resample = _resampled(fake, counts)
        sigma = torch.cov(resample.T)
        diagonal = (rotation.T @ sigma @ rotation).diagonal()
        brute = ((mu1 - resample.mean(0)).square().sum() + sigma1.trace() + sigma.trace()
                 - 2 * (diagonal.sqrt().sum() + second_order))
        assert float(value) == pytest.approx(float(brute), abs=1e-3 * float(expanded.std()))


def test_is_replicates_equal_is_of_the_resamples():
    logits = torch.randn(400, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    weights = resampling_weights(400, 4, seed=1)
    values = inception_score_replicates(logits, weights, splits=1)
    for counts, value in zip(weights, values):
        assert float(value) == pytest.approx(inception_score(_resampled(logits, counts), splits=1)[0], rel=1e-10)
    ones = torch.ones(1, 400, dtype=torch.float64)
    assert float(inception_score_replicates(logits, ones, splits=10)[0]) == pytest.approx(inception_score(logits)[0], rel=1e-10)


def test_kid_replicates_weight_pairs_of_distinct_samples():
    real, fake = _gaussian(300, 8, 0), _gaussian(200, 8, 1, shift=0.3)
    ones = torch.ones(1, 200, dtype=torch.float64)
    assert float(kid_replicates(real, fake, ones, 5, 50)[0]) == pytest.approx(kid(real, fake, 5, 50)[0], rel=1e-10)
    # weights 0/1 keep a subsample: the replicate is the unbiased MMD^2 on the kept rows (one subset of all rows)
    kept = torch.zeros(1, 200, dtype=torch.float64)
    kept[0, ::3] = 1
    value = kid_replicates(real[:200], fake, kept, subsets=1, subset_size=200, seed=7)
    rng = np.random.RandomState(7)  # kid's own stream: which rows form the one subset
    fake_rows = torch.from_numpy(rng.choice(200, 200, replace=False))
    real_rows = torch.from_numpy(rng.choice(200, 200, replace=False))
    chosen = fake_rows[kept[0, fake_rows] > 0]
    real_part = real[:200][real_rows]
    k = lambda a, b: (a @ b.T / 8 + 1) ** 3  # noqa: E731
    k_rr, k_ff, k_rf = k(real_part, real_part), k(fake[chosen], fake[chosen]), k(real_part, fake[chosen])
    m, n = len(real_part), len(chosen)
    expected = ((k_rr.sum() - k_rr.trace()) / (m * (m - 1)) + (k_ff.sum() - k_ff.trace()) / (n * (n - 1))
                - 2 * k_rf.mean())
    assert float(value[0]) == pytest.approx(float(expected), rel=1e-10)
    assert float(kid_replicates(real[:200], fake, torch.ones(1, 200, dtype=torch.float64), 1, 200, 7)[0]) == \
        pytest.approx(mmd2_unbiased(real_part, fake[fake_rows]), rel=1e-10)


def test_prdc_replicates_equal_the_metrics_of_the_resamples():
    real, fake = _gaussian(500, 5, 0), _gaussian(400, 5, 1, shift=0.2) * 1.1
    weights = resampling_weights(400, 3, seed=4)
    values, replicates = prdc_replicates(real, fake, weights, k=5, block=96)
    assert values == prdc(real, fake, k=5)
    real_radii = torch.cdist(real, real).topk(6, largest=False).values[:, 5] ** 2
    fake_radii = torch.cdist(fake, fake).topk(6, largest=False).values[:, 5] ** 2
    inside_real = torch.cdist(fake, real) ** 2 < real_radii[None]
    for index, counts in enumerate(weights):
        drawn = counts > 0
        multiset = torch.repeat_interleave(torch.arange(400), counts.long())
        expected = {
            "precision": inside_real[multiset].any(1).double().mean(),
            "density": inside_real[multiset].sum(1).double().mean() / 5,
            "coverage": inside_real[drawn].any(0).double().mean(),
            # recall keeps the full sample's generated radii (see prdc_replicates)
            "recall": (torch.cdist(fake[drawn], real) ** 2 < fake_radii[drawn, None]).any(0).double().mean(),
        }
        for key, value in expected.items():
            assert float(replicates[key][index]) == pytest.approx(float(value), abs=1e-12), key


def test_mode_and_ndb_replicates_equal_the_statistics_of_the_resamples():
    points = _gaussian(600, 2, 0) * 0.3 + torch.tensor([1.0, 0.0], dtype=torch.float64)
    means = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    weights = resampling_weights(600, 3, seed=2)
    result = mixture_modes(points, means, 0.2, weights=weights)
    labels = torch.randint(0, 10, (600,), generator=torch.Generator().manual_seed(1))
    labelled = label_modes(labels, 10, labels[:300], weights=weights)
    reference = _gaussian(800, 3, 5)
    samples = _gaussian(600, 3, 6, shift=0.1)
    binned = ndb(reference, samples, k=8, weights=weights)
    for index, counts in enumerate(weights):
        expected = mixture_modes(_resampled(points, counts), means, 0.2)
        assert {key: float(result["replicates"][key][index]) for key in ("modes", "high_quality", "reverse_kl")} == \
            pytest.approx({key: expected[key] for key in ("modes", "high_quality", "reverse_kl")})
        expected = label_modes(_resampled(labels, counts), 10, labels[:300])
        assert float(labelled["replicates"]["kl_reference"][index]) == pytest.approx(expected["kl_reference"])
        expected = ndb(reference, _resampled(samples, counts), k=8)
        assert float(binned["replicates"]["ndb_js"][index]) == pytest.approx(expected["ndb_js"])
        assert float(binned["replicates"]["ndb"][index]) == expected["ndb"]


def test_interval_kinds_and_bounds():
    replicates = torch.linspace(9, 13, 401, dtype=torch.float64)  # centre 11, 90% between 9.2 and 12.8
    assert key_interval("fid", 10.0, replicates, 0.9) == pytest.approx((7.2, 10.8))  # basic: reflected through 10
    assert key_interval("precision", 0.5, replicates / 20, 0.9) == pytest.approx((0.46, 0.64))  # percentile
    assert key_interval("coverage", 0.5, replicates / 20, 0.9) == pytest.approx((0.41, 0.59))  # centred on 0.5
    assert key_interval("fid", 1.0, replicates, 0.9)[0] == 0.0  # FID cannot be negative
    assert all(math.isnan(bound) for bound in key_interval("fid", 1.0, torch.full((5,), math.nan), 0.9))
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        BootstrapOptions(level=95)


def test_fid_interval_covers_the_true_distance():
    """Gaussian features with a closed-form Frechet distance against exact reference moments: the 90% interval
    covers it in at least 80% of 30 draws (benchmarks/bench_intervals.py runs 50 at larger N and d)."""
    dim, rows = 8, 1500
    mean, covariance, true = _exact_reference(dim, shift=0.1)
    covered = 0
    for trial in range(30):
        fake = _gaussian(rows, dim, 100 + trial, shift=0.1)
        estimate = fid_from_stats(mean, covariance, fake.mean(0), torch.cov(fake.T))
        replicates, _ = frechet_replicates(mean, covariance, fake, resampling_weights(rows, 200, seed=trial))
        low, high = key_interval("fid", estimate, replicates, 0.9)
        covered += low <= true <= high
    assert covered >= 24


def test_fid_infinity_beats_small_sample_fid():
    dim, rows = 32, 8000
    mean, covariance, true = _exact_reference(dim, shift=0.05)
    closer = 0
    for trial in range(10):
        fake = _gaussian(rows, dim, 200 + trial, shift=0.05)
        extrapolated = fid_infinity(mean, covariance, fake, seed=trial)
        small = fake[: rows // 10]
        small_fid = fid_from_stats(mean, covariance, small.mean(0), torch.cov(small.T))
        closer += abs(extrapolated.value - true) < abs(small_fid - true)
        assert extrapolated.sizes == subset_sizes(rows) and len(extrapolated.scores) == 15
    assert closer >= 8


def test_is_infinity_and_too_few_samples():
    logits = torch.randn(3000, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    result = is_infinity(logits, seed=0)
    assert result.value > 1 and result.scores[-1] == pytest.approx(inception_score(logits, splits=1)[0], rel=0.05)
    with pytest.raises(InputError, match="too few"):
        subset_sizes(20)


def test_score_with_ci_extracts_nothing_twice():
    from ganeval.features.registry import FeatureExtractor

    rows_seen = []

    def forward(batch):
        rows_seen.append(len(batch))
        return {"features": batch.reshape(len(batch), -1).to(torch.float64)}

    extractor = FeatureExtractor("counting", forward, torch.device("cpu"), feature_layer="features")
    options = dict(num_samples=600, reference_samples=600, seed=3, progress=False, use_cache=False, extractor=extractor)
    plain = score("ring8", "ring8", "fid,prdc,modes", **options)
    plain_calls = list(rows_seen)
    rows_seen.clear()
    record = score("ring8", "ring8", "fid,prdc,modes", ci=0.9, **options)
    assert rows_seen == plain_calls and sum(plain_calls) == 1200  # 600 reference rows and 600 generated, once each
    for key in ("fid", "precision", "recall", "density", "coverage", "modes", "high_quality", "reverse_kl"):
        assert record[key] == plain[key]
        assert record[f"{key}_ci_low"] <= record[f"{key}_ci_high"], key
    assert record["diagnostics"]["ci"]["level"] == 0.9 and record["diagnostics"]["ci"]["replicates"] == 200
    again = score("ring8", "ring8", "fid,prdc,modes", ci=0.9, **options)
    assert again["fid_ci_high"] == record["fid_ci_high"]
