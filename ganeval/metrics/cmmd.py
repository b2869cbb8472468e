"""CMMD, Jayasumana et al. 2024 ("Rethinking FID"); matches google-research/google-research cmmd/distance.py mmd(x, y).

k(a, b) = exp(-gamma |a - b|^2), gamma = 1 / (2 sigma^2), |a - b|^2 = |a|^2 + |b|^2 - 2 a.b; x the reference rows
(M), y the generated ones (N):
  CMMD = scale * (mean K_xx + mean K_yy - 2 mean K_xy), every mean over the full matrix, diagonal included.
That is the biased "minimum variance" V-statistic of Gretton et al. 2012 eq. 5 (not the unbiased U-statistic of
KID): scale * |mu_x - mu_y|^2 for the empirical mean embeddings in the kernel's feature space, so never negative
(up to rounding) and zero for a set against itself. distance.py keeps three full matrices (30,000^2 float64 is
7.2 GB each); here kernel blocks of BLOCK x BLOCK rows are summed in float64 on the device, each (k - 1) by expm1:
the constant 1s cancel exactly, so the sums carry the kernel's small spread (k ~ 0.98-1 for unit-norm embeddings)
at full precision. A bootstrap replicate (counts w of the generated rows, sum S) replaces mean K_yy by
w^T K_yy w / S^2 and mean K_xy by w . (K_yx 1) / (S M), batched over replicates in the same passes over the
blocks as the estimate; the reference term stays fixed.
"""
from __future__ import annotations

import torch

from ..errors import InputError
from ..arrays import ArrayLike, as_matrix, check_same_dim, pick_device
from .knn import DEFAULT_BLOCK, BlockedRows

SIGMA, SCALE = 10.0, 1000.0  # distance.py's _SIGMA and _SCALE
BLOCK = DEFAULT_BLOCK  # rows per block: a 4096 x 4096 float64 kernel block is 128 MiB


def cmmd(reference: ArrayLike, generated: ArrayLike, sigma: float = SIGMA, scale: float = SCALE, *,
         device: torch.device | str | None = None) -> float:
    """CMMD between two embedding matrices (rows: samples), as distance.py's mmd(reference, generated).

    >>> import torch
    >>> x = torch.nn.functional.normalize(torch.randn(300, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    >>> abs(cmmd(x, x)) < 1e-9, cmmd(x, x + 0.5) > 1
    (True, True)
    """
    return cmmd_with_replicates(reference, generated, None, sigma, scale, device=device)[0]


def cmmd_with_replicates(reference: ArrayLike, generated: ArrayLike, weights: torch.Tensor | None,
                         sigma: float = SIGMA, scale: float = SCALE, *, device: torch.device | str | None = None,
                         reference_term: torch.Tensor | None = None) -> tuple[float, torch.Tensor | None]:
    """cmmd() and, with `weights` (replicates x N counts of the generated rows), each replicate's CMMD (None
    without). `reference_term`: reference_mean_kernel(reference, sigma), for a reference scored more than once."""
    if not sigma > 0:
        raise InputError(f"cmmd: sigma={sigma} must be positive")
    device = pick_device(reference, generated, device=device)
    x = BlockedRows(as_matrix(reference, "reference features", device=device, dtype=None), torch.float64, BLOCK)
    y = BlockedRows(as_matrix(generated, "generated features", device=device, dtype=None), torch.float64, BLOCK)
    check_same_dim(x.features, y.features, ("reference", "generated"))
    gamma = 1.0 / (2.0 * sigma**2)
    if weights is not None:
        weights = weights.to(device=device, dtype=torch.float64)
    term_xx = _mean_excess(x, gamma) if reference_term is None else reference_term.to(device, torch.float64) - 1
    within, within_weighted = _within_sums(y, gamma, weights)
    cross = _cross_row_sums(y, x, gamma)  # per generated row: sum over the reference of (k - 1)
    n, m = len(y), len(x)
    value = scale * (term_xx + within / n**2 - 2 * cross.sum() / (n * m))
    if weights is None:
        return float(value), None
    totals = weights.sum(1)
    replicates = scale * (term_xx + within_weighted / totals**2 - 2 * (weights @ cross) / (totals * m))
    return float(value), replicates


def reference_mean_kernel(reference: ArrayLike, sigma: float = SIGMA) -> torch.Tensor:
    """mean K_xx over the full matrix (a 0-d float64 tensor): CMMD's reference term, fixed for a reference."""
    x = BlockedRows(as_matrix(reference, "reference features", dtype=None), torch.float64, BLOCK)
    return _mean_excess(x, 1.0 / (2.0 * sigma**2)) + 1


def _kernel_excess(first: BlockedRows, rows: slice, second: BlockedRows, cols: slice, gamma: float) -> torch.Tensor:
    """k - 1 = expm1(-gamma |a - b|^2) for a block of row pairs, |a - b|^2 = |a|^2 + |b|^2 - 2 a.b unclamped, as
    distance.py forms it (a rounding-level negative distance moves k by ~1e-18). Two passes over the block after
    the product, both in place: the norms' scaled sum, then expm1."""
    block = torch.addmm(first.squared_norms[rows, None], first.rows(rows), second.rows(cols).T, beta=-gamma,
                        alpha=2 * gamma)
    return block.sub_(second.squared_norms[None, cols], alpha=gamma).expm1_()


def _mean_excess(points: BlockedRows, gamma: float) -> torch.Tensor:
    return _within_sums(points, gamma, None)[0] / len(points) ** 2


def _within_sums(points: BlockedRows, gamma: float,
                 weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """sum_ij (k_ij - 1) over all ordered pairs and, with weights, sum_ij w_i w_j (k_ij - 1) per replicate.

    The matrix is symmetric: each block above the diagonal is computed once and counted twice."""
    total = torch.zeros((), dtype=torch.float64, device=points.features.device)
    weighted = None if weights is None else torch.zeros(len(weights), dtype=torch.float64, device=total.device)
    slices = points.slices()
    for i, rows in enumerate(slices):
        for cols in slices[i:]:
            twice = 1.0 if rows == cols else 2.0
            block_total, block_weighted = _block_sums(points, rows, cols, gamma, weights)
            total += twice * block_total
            if weights is not None:
                weighted += twice * block_weighted
    return total, weighted


def _block_sums(points: BlockedRows, rows: slice, cols: slice, gamma: float,
                weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One block's sum of (k - 1), and w_rows^T (K - 1) w_cols per replicate; the block is freed on return, before
    the next one is made."""
    block = _kernel_excess(points, rows, points, cols, gamma)
    weighted = None if weights is None else ((weights[:, rows] @ block) * weights[:, cols]).sum(1)
    return block.sum(), weighted


def _cross_row_sums(generated: BlockedRows, reference: BlockedRows, gamma: float) -> torch.Tensor:
    """sum over the reference rows of (k - 1), for each generated row (N,)."""
    sums = torch.zeros(len(generated), dtype=torch.float64, device=generated.features.device)
    for rows in generated.slices():
        for cols in reference.slices():
            sums[rows] += _kernel_excess(generated, rows, reference, cols, gamma).sum(1)
    return sums
