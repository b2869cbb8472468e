"""Kernel Inception Distance, Binkowski et al. 2018; matches torch-fidelity 0.4.0 metric_kid.py (same subsets per seed).

Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets drawn
without replacement. Computed in float64 (torch-fidelity computes in the features' float32). Three ways to the same
values, the cheapest taken (_plan):
- every subset is the whole of both sets (m = N_r = N_f, e.g. 1,000 of 1,000): the subsets are permutations of one
  set and MMD^2 does not depend on the order, so one computation; std 0.
- shared sums (kid_sums.py): the kernel blocks once, each subset's sums from them, when that costs fewer
  multiply-adds, (N_r^2 / 2 + N_f^2 / 2 + N_r N_f)(d + subsets), than the subsets' own matrices, subsets x 3 m^2 d:
  about while N^2 < 1.5 subsets m^2 (N = 10,000 against 100 subsets of 1,000: 4.3e11 against 6.1e11 at d = 2,048).
- per subset: each subset's three m x m kernel matrices, as torch-fidelity.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..arrays import ArrayLike, as_matrix, check_same_dim, pick_device
from ..config import DEFAULT_SEED
from . import kid_sums


def kid(
    real: ArrayLike,
    fake: ArrayLike,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = DEFAULT_SEED,
    *,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    """KID (mean, std over subsets) between two feature matrices. Can be slightly negative for close distributions.

    >>> import torch
    >>> x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    >>> abs(kid(x, x + 10, subsets=5, subset_size=50)[0]) > 1
    True
    """
    mean, std, _ = kid_with_replicates(real, fake, None, subsets, subset_size, seed, device=device)
    return mean, std


def kid_replicates(
    real: ArrayLike,
    fake: ArrayLike,
    weights: torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = DEFAULT_SEED,
) -> torch.Tensor:
    """The KID mean of each bootstrap replicate (rows of `weights`: how often each generated sample is drawn).

    The subsets are those of kid() for the same seed; in each, a replicate weights the generated rows: the
    generated-generated term is the weighted mean of k_ij over pairs of distinct samples (sum_{i != j} w_i w_j k_ij
    over S^2 - sum w_i^2, S = sum w; pairs of copies of one sample would add k_ii and bias the replicates upward),
    the cross term sum_j w_j k_ij over S m. All weights 1 gives kid()'s mean.
    """
    return kid_with_replicates(real, fake, weights, subsets, subset_size, seed)[2]


def kid_with_replicates(
    real: ArrayLike,
    fake: ArrayLike,
    weights: torch.Tensor | None,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = DEFAULT_SEED,
    *,
    device: torch.device | str | None = None,
) -> tuple[float, float, torch.Tensor | None]:
    """kid()'s (mean, std) and kid_replicates()' values (None without `weights`) from one pass over the subsets:
    each subset's kernel matrices serve the estimate and every replicate."""
    device = pick_device(real, fake, device=device)
    real = as_matrix(real, "real features", device=device)
    fake = as_matrix(fake, "fake features", device=device)
    check_same_dim(real, fake)
    if subsets < 1:
        raise InputError(f"kid: subsets={subsets} must be at least 1")
    if not 2 <= subset_size <= min(len(real), len(fake)):
        raise InputError(
            f"kid: subset size {subset_size} must be between 2 and the number of samples "
            f"(real {len(real)}, fake {len(fake)}); lower --kid-subset-size or use more samples"
        )
    if weights is not None:
        weights = weights.to(device=device, dtype=torch.float64)
    path = _plan(len(real), len(fake), real.shape[1], subsets, subset_size, 0 if weights is None else len(weights))
    if path == "whole":
        kernels = _kernels(real, fake)
        return float(_mmd2(*kernels)), 0.0, None if weights is None else _weighted_mmd2(*kernels, weights)
    compute = _shared_values if path == "shared" else _subset_values
    values, replicates = compute(real, fake, subsets, subset_size, seed, weights)
    return float(values.mean()), float(values.std(unbiased=False)), replicates


def _plan(num_real: int, num_fake: int, dim: int, subsets: int, subset_size: int, replicates: int) -> str:
    """'whole', 'shared' or 'per_subset': the path with the fewest multiply-adds (module docstring)."""
    if subset_size == num_real == num_fake:
        return "whole"
    if replicates and num_fake > subset_size:
        return "per_subset"  # each subset's replicates weight its own generated pairs: no sum to share
    shared = kid_sums.shared_cost(num_real, num_fake, dim, subsets, subsets + replicates)
    return "shared" if shared < kid_sums.per_subset_cost(subset_size, dim, subsets, replicates) else "per_subset"


def _shared_values(real: torch.Tensor, fake: torch.Tensor, subsets: int, subset_size: int, seed: int,
                   weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """_subset_values from shared kernel sums. With `weights`, every generated subset is the whole generated set
    (_plan), so each replicate's generated pairs are one sum, shared by all subsets."""
    real_members, fake_members = kid_sums.memberships(len(real), len(fake), subsets, subset_size, seed, real.device)
    fake_columns = fake_members if weights is None else torch.cat([fake_members, weights.T], 1)
    m = subset_size
    real_pairs = kid_sums.within_sums(real, real_members)
    fake_pairs = kid_sums.within_sums(fake, fake_columns)
    cross = kid_sums.cross_sums(real, fake, real_members)  # per generated row and subset: the sum over its real rows
    values = (real_pairs + fake_pairs[:subsets]) / (m * (m - 1)) - 2 * (cross * fake_members).sum(0) / (m * m)
    if weights is None:
        return values, None
    totals = weights.sum(1)
    within_fake = fake_pairs[subsets:] / (totals.square() - weights.square().sum(1)).clamp_min(1)
    replicates = (real_pairs / (m * (m - 1)) + within_fake[:, None]
                  - 2 * (weights @ cross) / (totals.clamp_min(1)[:, None] * m))
    return values, replicates.mean(1)


def _subset_values(real: torch.Tensor, fake: torch.Tensor, subsets: int, subset_size: int, seed: int,
                   weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """MMD^2 per subset (subsets,) and, when weighted, per replicate averaged over the subsets (replicates,)."""
    # The same numpy stream as torch-fidelity, whose input1 is the generated set: per subset, one choice of fake
    # rows, then one of real rows. So kid(real, fake, seed=s) matches torch-fidelity(input1=fake, input2=real).
    rng = np.random.RandomState(seed)
    values = torch.empty(subsets, dtype=torch.float64, device=real.device)  # on the device: no sync per subset
    replicates = None if weights is None else torch.zeros(len(weights), dtype=torch.float64, device=real.device)
    for index in range(subsets):
        fake_rows = torch.from_numpy(rng.choice(len(fake), subset_size, replace=False)).to(real.device)
        real_rows = torch.from_numpy(rng.choice(len(real), subset_size, replace=False)).to(real.device)
        kernels = _kernels(real[real_rows], fake[fake_rows])
        values[index] = _mmd2(*kernels)
        if weights is not None:
            replicates += _weighted_mmd2(*kernels, weights[:, fake_rows])
    return values, None if replicates is None else replicates / subsets


def _kernels(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The real-real, generated-generated and real-generated kernel matrices."""
    return polynomial_kernel(real, real), polynomial_kernel(fake, fake), polynomial_kernel(real, fake)


def _mmd2(k_real: torch.Tensor, k_fake: torch.Tensor, k_cross: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 of equally sized sets: within-set sums exclude the diagonal, the cross term keeps it."""
    m = k_real.shape[0]
    within = (k_real.sum() - k_real.diagonal().sum() + k_fake.sum() - k_fake.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_cross.sum() / (m * m)


def _weighted_mmd2(k_real: torch.Tensor, k_fake: torch.Tensor, k_cross: torch.Tensor,
                   weights: torch.Tensor) -> torch.Tensor:
    m = k_real.shape[0]
    cross = k_cross.sum(0)  # per generated row: sum over the real rows
    within_real = (k_real.sum() - k_real.diagonal().sum()) / (m * (m - 1))
    totals = weights.sum(1)
    squares = weights.square()
    pairs = ((weights @ k_fake) * weights).sum(1) - squares @ k_fake.diagonal()
    within_fake = pairs / (totals.square() - squares.sum(1)).clamp_min(1)
    return within_real + within_fake - 2 * (weights @ cross) / (totals.clamp_min(1) * m)


def polynomial_kernel(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x.y / d + 1)^3 for every pair of rows."""
    return (first @ second.T / first.shape[1] + 1) ** 3


def mmd2_unbiased(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Unbiased MMD^2 between two equally sized sets of features."""
    return float(_mmd2(*_kernels(real, fake)))
