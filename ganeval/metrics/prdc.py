"""Precision, recall, density and coverage, Naeem et al. 2020; matches clovaai/generative-evaluation-prdc (PyPI `prdc`).

real X (N), fake Y (M), r_k(X_i) = distance to the k-th nearest other real sample:
  precision = share of fake samples inside at least one real ball   |Y_j - X_i| < r_k(X_i)
  recall    = share of real samples inside at least one fake ball   |X_i - Y_j| < r_k(Y_j)
  density   = mean over fake samples of the number of real balls containing it, divided by k
  coverage  = share of real balls that contain at least one fake sample
With k = 3, precision and recall are the improved precision and recall of Kynkaanniemi et al. 2019 (torch-fidelity
`prc` uses <= where this uses <, which differs only on exact ties). Unlike `prdc`, which holds three full distance
matrices (50,000^2 does not fit in 24 GB), distances are computed in blocks, so memory stays bounded.
"""
from __future__ import annotations

import torch

from ..errors import InputError
from ._inputs import ArrayLike, as_matrix, check_same_dim, pick_device
from .knn import DEFAULT_BLOCK, BlockedRows, kth_neighbour_squared_distances, squared_distances


def prdc(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = 5,
    *,
    dtype: torch.dtype = torch.float64,
    block: int = DEFAULT_BLOCK,
    device: torch.device | str | None = None,
    real_radii: torch.Tensor | None = None,
) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features against real ones.

    `dtype=torch.float32` roughly doubles the speed at the cost of rare flips on near-ties. `real_radii` takes the
    reference's squared k-NN radii from `knn_radii(real, k)`, computed once for a fixed reference (the largest
    part of the work when the reference is big).

    >>> import torch
    >>> x = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    >>> prdc(x, x)['coverage']
    1.0
    """
    device = pick_device(real, fake, device=device)
    # Keep the caller's dtype in memory; each block is cast to `dtype` as it is used.
    real = as_matrix(real, "real features", device=device, dtype=None)
    fake = as_matrix(fake, "fake features", device=device, dtype=None)
    check_same_dim(real, fake)
    if not 1 <= k < min(len(real), len(fake)):
        raise InputError(f"prdc: k={k} must be at least 1 and below the number of samples (real {len(real)}, fake {len(fake)})")

    real_points, fake_points = BlockedRows(real, dtype, block), BlockedRows(fake, dtype, block)
    if real_radii is None:
        real_radii = kth_neighbour_squared_distances(real_points, k)  # squared: compared with squared distances
    elif real_radii.shape != (len(real),):
        raise InputError(f"prdc: real_radii has shape {tuple(real_radii.shape)}, expected ({len(real)},)")
    real_radii = real_radii.to(device=device, dtype=dtype)
    fake_radii = kth_neighbour_squared_distances(fake_points, k)

    real_balls_containing = torch.zeros(len(fake), dtype=torch.int64, device=device)
    real_ball_covered = torch.zeros(len(real), dtype=torch.bool, device=device)
    real_in_fake_ball = torch.zeros(len(real), dtype=torch.bool, device=device)
    for fake_rows in fake_points.slices():
        for real_rows in real_points.slices():
            distances = squared_distances(fake_points, fake_rows, real_points, real_rows)  # fake x real
            inside_real = distances < real_radii[None, real_rows]
            real_balls_containing[fake_rows] += inside_real.sum(dim=1, dtype=torch.int32)
            real_ball_covered[real_rows] |= inside_real.any(dim=0)
            real_in_fake_ball[real_rows] |= (distances < fake_radii[fake_rows, None]).any(dim=0)

    return {
        "precision": float((real_balls_containing > 0).double().mean()),
        "recall": float(real_in_fake_ball.double().mean()),
        "density": float(real_balls_containing.double().mean() / k),
        "coverage": float(real_ball_covered.double().mean()),
    }


def knn_radii(
    features: ArrayLike, k: int = 5, *, dtype: torch.dtype = torch.float64, block: int = DEFAULT_BLOCK
) -> torch.Tensor:
    """Squared distance from each row to its k-th nearest other row: the `real_radii` of prdc()."""
    features = as_matrix(features, "features", dtype=None)
    if not 1 <= k < len(features):
        raise InputError(f"prdc: k={k} must be at least 1 and below the number of samples ({len(features)})")
    return kth_neighbour_squared_distances(BlockedRows(features, dtype, block), k)
