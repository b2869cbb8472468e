"""AuthPct, the authenticity share of Alaa et al. 2022 ("How faithful is your synthetic data?", ICML); matches
layer6ai-labs/dgm-eval `dgm_eval/metrics/authpct.py` (taken there from marcojira/fls `metrics/AuthPct.py`).

For a generated sample g with nearest training row t* (d1 = |g - t*|) and d2 = |t* - its nearest other training
row| (the row itself excluded by index, as dgm-eval's infinite diagonal does, so a duplicate of t* gives d2 = 0),
g is authentic when d2 < d1, strictly: an exact copy (d1 = 0) never is. AuthPct = 100 x the share of authentic
samples. The training set scored against itself gives 0; fresh draws from the training distribution score well
above 50 in high dimensions (see ganeval.metrics.families.authpct). Distances are compared squared and exact
(ganeval.metrics.knn), where dgm-eval compares float32 cdist values, so only comparisons within float32 rounding
of a tie can differ.
"""
from __future__ import annotations

import torch

from ..arrays import ArrayLike, as_matrix, check_same_dim, pick_device
from ..errors import InputError
from .prdc import knn_radii
from .training_set import search


def authentic(distances: torch.Tensor, nearest: torch.Tensor, train_radii: torch.Tensor) -> torch.Tensor:
    """Per generated sample, whether it is authentic: its nearest training row's own 1-NN radius is below its
    distance to that row.

    `distances`: squared distance of each generated sample to its nearest training row, `nearest`: that row's
    index, `train_radii`: every training row's squared distance to its nearest other row (knn_radii(train, 1)).
    """
    return train_radii.to(distances.device, torch.float64)[nearest.to(distances.device)] < distances.double()


def authpct(train: ArrayLike, generated: ArrayLike, *, device: torch.device | str | None = None) -> float:
    """AuthPct of generated feature rows against the training rows, in percent (0..100).

    >>> import torch
    >>> train = torch.randn(100, 8, generator=torch.Generator().manual_seed(0))
    >>> authpct(train, train)  # every sample is a copy of a training row
    0.0
    """
    device = pick_device(train, generated, device=device)
    train = as_matrix(train, "training features", device=device, dtype=None)
    generated = as_matrix(generated, "generated features", device=device, dtype=None, min_rows=1)
    check_same_dim(train, generated, ("training", "generated"))
    distances, nearest = search(generated, train, 1, device)
    return percent(authentic(distances[:, 0], nearest[:, 0], training_radii(train)))


def training_radii(train: torch.Tensor) -> torch.Tensor:
    """Each training row's squared distance to its nearest other training row (exact, float64).

    The candidates are found with float32 products and settled on exact float64 distances (knn.py), so the
    values are those of float64 products, at twice their speed on CPUs."""
    if len(train) < 2:
        raise InputError(f"authpct: the training set needs at least 2 rows (a row's nearest other row), "
                         f"got {len(train)}")
    return knn_radii(train, 1, dtype=torch.float32)


def percent(flags: torch.Tensor) -> float:
    """100 x the share of True flags."""
    return float(100.0 * flags.double().mean())


def authpct_replicates(flags: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """AuthPct in each bootstrap replicate: the authentic share weighted by how often each generated sample is
    drawn (rows of `weights`), in percent."""
    weights = weights.to(device=flags.device, dtype=torch.float64)
    return 100.0 * (weights @ flags.double()) / weights.sum(dim=1)
