"""Precision, recall, density and coverage, Naeem et al. 2020; matches clovaai/generative-evaluation-prdc (PyPI `prdc`).

real X (N), fake Y (M), r_k(X_i) = distance to the k-th nearest other real sample:
  precision = share of fake samples inside at least one real ball   |Y_j - X_i| < r_k(X_i)
  recall    = share of real samples inside at least one fake ball   |X_i - Y_j| < r_k(Y_j)
  density   = mean over fake samples of the number of real balls containing it, divided by k
  coverage  = share of real balls that contain at least one fake sample
With k = 3, precision and recall are the improved precision and recall of Kynkaanniemi et al. 2019 (torch-fidelity
`prc` uses <= where this uses <, which differs only on exact ties). Unlike `prdc`, which holds three full distance
matrices (50,000^2 does not fit in 24 GB), distances are computed in blocks, so memory stays bounded; the radii and
the comparisons near them use one exact distance per pair of rows (knn.py), so exact ties do not depend on the block.
"""
from __future__ import annotations

import torch

from ..errors import InputError
from ..arrays import ArrayLike, as_matrix, check_same_dim, pick_device
from .knn import DEFAULT_BLOCK, BlockedRows, kth_neighbour_squared_distances, squared_distances, within_radii


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

    `dtype=torch.float32` computes the distance products in float32, about 1.5x faster; either way a comparison
    within the products' rounding bound of its radius is settled on exact float64 distances, so ties (duplicates,
    a set scored against itself) come out as in `prdc` whatever the dtype and block. `real_radii` takes the
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
    return _prdc_pass(real, fake, k, dtype, block, real_radii, witnesses=0)[0]


def prdc_replicates(
    real: ArrayLike,
    fake: ArrayLike,
    weights: torch.Tensor,
    k: int = 5,
    *,
    dtype: torch.dtype = torch.float64,
    block: int = DEFAULT_BLOCK,
    device: torch.device | str | None = None,
    real_radii: torch.Tensor | None = None,
) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """prdc() and the value of each metric in each bootstrap replicate (rows of `weights`: how often each generated
    sample is drawn), from one pass over the distances.

    Precision and density are weighted means over the generated samples. Coverage keeps, for each real ball, up to
    WITNESSES generated samples inside it and counts the ball covered in a replicate that draws any of them; recall
    likewise keeps the generated balls around each real sample. The generated samples' k-NN radii stay those of
    the full sample (a resample's duplicates would shrink them to zero), so recall's interval is conditional on them.
    """
    device = pick_device(real, fake, device=device)
    real = as_matrix(real, "real features", device=device, dtype=None)
    fake = as_matrix(fake, "fake features", device=device, dtype=None)
    check_same_dim(real, fake)
    values, per_sample = _prdc_pass(real, fake, k, dtype, block, real_radii, witnesses=WITNESSES)
    weights = weights.to(device=device, dtype=torch.float64)
    counts = per_sample["real_balls_containing"].double()
    replicates = {
        "precision": weights @ (counts > 0).double() / len(fake),
        "recall": _share_drawn(per_sample["fake_balls_around_real"], weights),
        "density": weights @ counts / (len(fake) * k),
        "coverage": _share_drawn(per_sample["fake_in_real_ball"], weights),
    }
    return values, replicates


WITNESSES = 16  # a ball with more samples inside is missed by a replicate only if it draws none of 16: e^-16


def _prdc_pass(real, fake, k, dtype, block, real_radii, witnesses: int) -> tuple[dict[str, float], dict]:
    """The blocked pass behind prdc() and prdc_replicates(); keeps `witnesses` sample indices per real row."""
    if not 1 <= k < min(len(real), len(fake)):
        raise InputError(f"prdc: k={k} must be at least 1 and below the number of samples (real {len(real)}, fake {len(fake)})")
    device = real.device
    real_points, fake_points = BlockedRows(real, dtype, block), BlockedRows(fake, dtype, block)
    if real_radii is None:
        real_radii = kth_neighbour_squared_distances(real_points, k)  # squared: compared with squared distances
    elif real_radii.shape != (len(real),):
        raise InputError(f"prdc: real_radii has shape {tuple(real_radii.shape)}, expected ({len(real)},)")
    real_radii = real_radii.to(device=device, dtype=torch.float64)  # exact values: compared with exact distances
    fake_radii = kth_neighbour_squared_distances(fake_points, k)

    real_balls_containing = torch.zeros(len(fake), dtype=torch.int64, device=device)
    real_ball_covered = torch.zeros(len(real), dtype=torch.bool, device=device)
    real_in_fake_ball = torch.zeros(len(real), dtype=torch.bool, device=device)
    in_real_ball, around_real = _Witnesses(len(real), witnesses, device), _Witnesses(len(real), witnesses, device)
    for fake_rows in fake_points.slices():
        for real_rows in real_points.slices():
            distances = squared_distances(fake_points, fake_rows, real_points, real_rows)  # fake x real
            inside_real = within_radii(distances, fake_points, fake_rows, real_points, real_rows, real_radii, False)
            inside_fake = within_radii(distances, fake_points, fake_rows, real_points, real_rows, fake_radii, True)
            real_balls_containing[fake_rows] += inside_real.sum(dim=1, dtype=torch.int32)
            real_ball_covered[real_rows] |= inside_real.any(dim=0)
            real_in_fake_ball[real_rows] |= inside_fake.any(dim=0)
            in_real_ball.add(distances, inside_real, fake_rows, real_rows)
            around_real.add(distances, inside_fake, fake_rows, real_rows)

    values = {
        "precision": float((real_balls_containing > 0).double().mean()),
        "recall": float(real_in_fake_ball.double().mean()),
        "density": float((1.0 / k) * real_balls_containing.double().mean()),  # prdc's order of operations, to the ulp
        "coverage": float(real_ball_covered.double().mean()),
    }
    per_sample = {"real_balls_containing": real_balls_containing, "fake_in_real_ball": in_real_ball.indices,
                  "fake_balls_around_real": around_real.indices}
    return values, per_sample


class _Witnesses:
    """Per real row, the indices of up to `count` generated samples satisfying a relation (nearest first; -1 pads)."""

    def __init__(self, rows: int, count: int, device: torch.device):
        self.count = count
        self.distances = torch.full((rows, count), float("inf"), dtype=torch.float64, device=device)
        self.indices = torch.full((rows, count), -1, dtype=torch.int64, device=device)

    def add(self, distances: torch.Tensor, related: torch.Tensor, fake_rows: slice, real_rows: slice) -> None:
        if self.count == 0:
            return
        candidates = distances.double().masked_fill(~related, float("inf")).T  # real x fake
        take = min(self.count, candidates.shape[1])
        values, columns = candidates.topk(take, dim=1, largest=False)
        columns = torch.where(torch.isfinite(values), columns + fake_rows.start, -1)
        merged = torch.cat([self.distances[real_rows], values], dim=1)
        merged_indices = torch.cat([self.indices[real_rows], columns], dim=1)
        best, order = merged.topk(self.count, dim=1, largest=False)
        self.distances[real_rows], self.indices[real_rows] = best, merged_indices.gather(1, order)


def _share_drawn(witnesses: torch.Tensor, weights: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """Per replicate, the share of real rows with at least one of their witnesses drawn (weight > 0)."""
    drawn = torch.cat([weights > 0, torch.zeros(len(weights), 1, dtype=torch.bool, device=weights.device)], dim=1)
    columns = torch.where(witnesses >= 0, witnesses, weights.shape[1])  # padding points at the never-drawn column
    shares = [drawn[start:start + chunk][:, columns].any(dim=2).double().mean(dim=1)
              for start in range(0, len(weights), chunk)]
    return torch.cat(shares)


def knn_radii(
    features: ArrayLike, k: int = 5, *, dtype: torch.dtype = torch.float64, block: int = DEFAULT_BLOCK
) -> torch.Tensor:
    """Exact squared distance (float64) from each row to its k-th nearest other row: the `real_radii` of prdc()."""
    features = as_matrix(features, "features", dtype=None)
    if not 1 <= k < len(features):
        raise InputError(f"prdc: k={k} must be at least 1 and below the number of samples ({len(features)})")
    return kth_neighbour_squared_distances(BlockedRows(features, dtype, block), k)
