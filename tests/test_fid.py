"""FID: parity with torch-fidelity 0.4.0 and the scipy sqrtm formula, invariants, the low-rank path, bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from ganeval.errors import FewSamplesWarning, InputError
from ganeval.metrics import covariance_factor, fid, fid_details, fid_from_stats

from .conftest import gaussian_pair


def fidelity_fid(real: np.ndarray, fake: np.ndarray) -> float:
    stats = [fid_features_to_statistics(torch.from_numpy(features)) for features in (real, fake)]
    return fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]


def sqrtm_fid(mu1, sigma1, mu2, sigma2) -> float:
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    assert np.abs(covmean.imag).max() < 1e-6 * np.abs(covmean.real).max(), "sqrtm result is not real here"
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real))


@pytest.mark.parametrize("num, dim", [(2000, 64), (3000, 512), (5000, 2048)])
def test_matches_torch_fidelity(rng, num, dim):
    real, fake = gaussian_pair(rng, num, dim)
    expected = fidelity_fid(real, fake)
    mu1, mu2 = real.mean(0), fake.mean(0)
    sigma1, sigma2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    assert fid_from_stats(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)
    assert fid(real, fake) == pytest.approx(expected, rel=1e-6)
    if dim <= 512:  # sqrtm takes minutes at d = 2048
        assert fid_from_stats(mu1, sigma1, mu2, sigma2) == pytest.approx(sqrtm_fid(mu1, sigma1, mu2, sigma2), rel=1e-6)


def test_cached_factor_gives_the_same_value(rng):
    real, fake = gaussian_pair(rng, 1500, 128)
    mu1, sigma1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, sigma2 = fake.mean(0), np.cov(fake, rowvar=False)
    factor = covariance_factor(sigma1)
    assert factor.method == "cholesky"
    assert fid_from_stats(mu1, sigma1, mu2, sigma2, factor1=factor) == pytest.approx(
        fid_from_stats(mu1, sigma1, mu2, sigma2), rel=1e-12
    )


def test_same_features_give_zero_and_order_does_not_matter(rng):
    real, fake = gaussian_pair(rng, 1000, 32)
    trace = np.trace(np.cov(real, rowvar=False))
    assert abs(fid(real, real)) <= 1e-9 * trace
    assert fid(real, fake) == pytest.approx(fid(fake, real), rel=1e-9)


def test_known_closed_form_for_shifted_identity_gaussians():
    # Two Gaussians with equal covariance differ only in the mean term.
    assert fid_from_stats(np.zeros(3), np.eye(3), np.full(3, 2.0), np.eye(3)) == pytest.approx(12.0)
    # Isotropic covariances a^2 I and b^2 I: trace term d (a - b)^2.
    assert fid_from_stats(np.zeros(4), 4 * np.eye(4), np.zeros(4), np.eye(4)) == pytest.approx(4.0)


def test_fewer_samples_than_dimensions_is_finite_real_and_warns(rng):
    real, fake = gaussian_pair(rng, 500, 2048)
    with pytest.warns(FewSamplesWarning, match=r"500 samples for 2048 feature dimensions"):
        details = fid_details(real, fake)
    assert np.isfinite(details.value) and isinstance(details.value, float)
    assert details.factor_method == "samples"
    assert details.rank <= 499
    # The low-rank path equals the dense symmetric computation on the same (rank-deficient) statistics.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewSamplesWarning)
        dense = fid_from_stats(real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False))
    assert details.value == pytest.approx(dense, rel=1e-6)
    assert details.value == pytest.approx(fidelity_fid(real, fake), rel=1e-5)


def test_torch_and_numpy_inputs_agree(rng):
    real, fake = gaussian_pair(rng, 800, 16)
    assert fid(torch.from_numpy(real), torch.from_numpy(fake)) == pytest.approx(fid(real, fake), rel=1e-12)
    assert fid(real.astype(np.float32), fake.astype(np.float32)) == pytest.approx(fid(real, fake), rel=1e-5)


def test_diagnostics_report_samples_dimension_and_rank(rng):
    real, fake = gaussian_pair(rng, 400, 8)
    details = fid_details(real, fake)
    assert (details.num_real, details.num_fake, details.dim, details.rank) == (400, 400, 8, 8)
    assert details.negative_eigenvalue_mass < 1e-12
    assert details.mean_term + details.trace_term == pytest.approx(details.value)


@pytest.mark.parametrize(
    "real, fake, message",
    [
        (np.zeros((10, 3)), np.zeros((10, 4)), "feature dimensions differ"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN or Inf"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2 samples"),
        (np.zeros(10), np.zeros((10, 3)), "2-D matrix"),
    ],
)
def test_bad_input_is_a_clear_error(real, fake, message):
    with pytest.raises(InputError, match=message):
        fid(real, fake)


def test_bad_statistics_are_clear_errors():
    with pytest.raises(InputError, match="square covariance"):
        fid_from_stats(np.zeros(3), np.zeros((3, 2)), np.zeros(3), np.eye(3))
    with pytest.raises(InputError, match="sigma1: contains"):
        fid_from_stats(np.zeros(2), np.array([[np.inf, 0], [0, 1]]), np.zeros(2), np.eye(2))
