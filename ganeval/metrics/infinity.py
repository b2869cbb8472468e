"""FID-infinity and IS-infinity (Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to
find them"; REFERENCES.md).

FID computed from N samples is biased upward by roughly b / N (1,000 samples can read 10x the 50,000-sample
value), and IS downward, so scores from different N do not compare. Fitting FID_N = a + b / N over 15 sample counts
from N/10 to N (the paper: 5,000 to 50,000) and reporting the intercept a estimates the score at N = infinity. The
subsets here are nested prefixes of one seeded permutation of the generated features (the paper draws each subset
anew): the sums of every prefix come from one pass, and nesting makes the points of the fit share their noise,
which steadies the slope.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..arrays import ArrayLike, as_matrix
from .fid import CovarianceFactor, covariance_factor, frechet_distance
from .inception_score import inception_score

DEFAULT_POINTS = 15
SMALLEST_FRACTION = 0.1  # the paper's 5,000 of 50,000
MIN_SAMPLES = 150  # the smallest subset then holds 15 samples


@dataclass(frozen=True)
class Extrapolation:
    """The intercept (the score at N = infinity), the slope b of the fit and the points it was fitted to."""

    value: float
    slope: float
    sizes: list[int]
    scores: list[float]

    def diagnostics(self) -> dict:
        return {"slope": self.slope, "sizes": self.sizes, "scores": self.scores}


def subset_sizes(num_samples: int, points: int = DEFAULT_POINTS) -> list[int]:
    """`points` sample counts evenly spaced from num_samples / 10 to num_samples.

    >>> subset_sizes(50_000)[:3], subset_sizes(50_000)[-1]
    ([5000, 8214, 11429], 50000)
    """
    if num_samples < MIN_SAMPLES or points < 3:
        raise InputError(f"FID/IS-infinity fit {points} sample counts from N/10 to N; {num_samples} samples are too few "
                         f"(use at least {MIN_SAMPLES}; the paper uses 50,000)")
    return sorted({int(round(size)) for size in np.linspace(num_samples * SMALLEST_FRACTION, num_samples, points)})


def fid_infinity(mu1: ArrayLike, sigma1: ArrayLike, fake_features: ArrayLike, *, seed: int,
                 factor1: CovarianceFactor | None = None, points: int = DEFAULT_POINTS) -> Extrapolation:
    """FID at N = infinity of the generated features against the reference mean and covariance."""
    features = as_matrix(fake_features, "fake features")
    sizes = subset_sizes(len(features), points)
    if factor1 is None:  # factor the reference covariance once, not at each of the 15 sizes
        factor1 = covariance_factor(torch.as_tensor(sigma1, dtype=torch.float64, device=features.device))
    order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed)).to(features.device)
    centred = features[order] - features.mean(0)  # prefix sums of centred rows keep the covariance accurate
    total, products, start, scores = torch.zeros_like(centred[0]), centred.new_zeros(centred.shape[1], centred.shape[1]), 0, []
    for size in sizes:
        block = centred[start:size]
        total, products, start = total + block.sum(0), products + block.T @ block, size
        shift = total / size
        covariance = (products - size * torch.outer(shift, shift)) / (size - 1)
        result = frechet_distance(mu1, sigma1, features.mean(0) + shift, covariance, factor1=factor1,
                                  device=features.device)
        scores.append(result.value)
    return _extrapolate(sizes, scores)


def is_infinity(logits: ArrayLike, *, seed: int, points: int = DEFAULT_POINTS) -> Extrapolation:
    """Inception Score at N = infinity: IS of one split over nested subsets, extrapolated in 1 / N."""
    logits = as_matrix(logits, "logits")
    sizes = subset_sizes(len(logits), points)
    order = torch.randperm(len(logits), generator=torch.Generator().manual_seed(seed)).to(logits.device)
    shuffled = logits[order]
    scores = [inception_score(shuffled[:size], splits=1, shuffle=False)[0] for size in sizes]
    return _extrapolate(sizes, scores)


def _extrapolate(sizes: list[int], scores: list[float]) -> Extrapolation:
    """Least-squares fit of score = a + b / N; a is the score at N = infinity."""
    slope, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), np.asarray(scores), 1)
    return Extrapolation(float(intercept), float(slope), list(sizes), [float(score) for score in scores])
