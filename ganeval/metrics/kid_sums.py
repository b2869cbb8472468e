"""KID's subset sums from kernel blocks computed once, for when that costs less than each subset's own matrices.

A subset's unbiased MMD^2 needs three sums over its rows: k(x_i, x_j) over the pairs i != j of its real rows, the
same over its generated rows, and k(x_i, y_j) over its real x generated rows. With M the 0/1 membership matrix of a
set (N x subsets: M[i, s] = 1 when row i is in subset s; the subsets draw without replacement), the sum over all
pairs of subset s is M_s^T K M_s, the column sums of M * (K M). K is computed once, in blocks of rows (float64; a
block holds at most BLOCK_ENTRIES entries, so memory does not grow with N^2), the symmetric within-set matrices
over their upper block triangle only; each block is multiplied by the membership columns and dropped. Any other
weighting of a set's rows (a bootstrap replicate) is one more column of M.

Cost in multiply-adds: each kernel entry needed once (d each) and its product with every column,
(N_r^2 / 2 + N_f^2 / 2 + N_r N_f) (d + columns), against subsets x 3 m^2 d for the subsets' own m x m matrices.
The sums are taken in another order than the per-subset matrices', so the values agree to rounding (about 1e-15
relative to the kernel sums), not to the bit.
"""
from __future__ import annotations

import numpy as np
import torch

BLOCK_ENTRIES = 1 << 24  # kernel entries per block: 128 MB in float64


def shared_cost(num_real: int, num_fake: int, dim: int, subsets: int, fake_columns: int | None = None) -> float:
    """Multiply-adds of the shared sums (fake_columns: the generated side's membership columns, default subsets)."""
    fake_columns = subsets if fake_columns is None else fake_columns
    return (num_real**2 / 2 * (dim + subsets) + num_fake**2 / 2 * (dim + fake_columns)
            + num_real * num_fake * (dim + subsets))


def per_subset_cost(subset_size: int, dim: int, subsets: int, replicates: int = 0) -> float:
    """Multiply-adds of the subsets' own kernel matrices (three m x m x d products each, and the replicates' m x m)."""
    return subsets * subset_size**2 * (3 * dim + replicates)


def memberships(num_real: int, num_fake: int, subsets: int, subset_size: int, seed: int,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The real and generated 0/1 membership matrices (N x subsets), from the per-subset path's draws in its order."""
    rng = np.random.RandomState(seed)
    real, fake = np.zeros((num_real, subsets)), np.zeros((num_fake, subsets))
    for index in range(subsets):
        fake[rng.choice(num_fake, subset_size, replace=False), index] = 1
        real[rng.choice(num_real, subset_size, replace=False), index] = 1
    return torch.from_numpy(real).to(device), torch.from_numpy(fake).to(device)


def within_sums(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Per column c of `columns` (N x C): the sum over pairs of distinct rows of c_i c_j k(x_i, x_j)."""
    # Thin blocks: the triangle then wastes little (the square on the diagonal is computed whole), about 1 / 32.
    block = min(_block_rows(len(rows)), max(256, -(-len(rows) // 16)))
    totals = rows.new_zeros(columns.shape[1])
    diagonal = []
    for start in range(0, len(rows), block):
        stop = min(start + block, len(rows))
        kernel = _kernel_block(rows[start:stop], rows[start:])  # the blocks on and right of the diagonal
        square = kernel[:, : stop - start]
        diagonal.append(square.diagonal().clone())
        square.mul_(0.5)  # counted once below; the blocks right of it twice, for their mirror images left of it
        totals += ((kernel @ columns[start:]) * columns[start:stop]).sum(0)
    return 2 * totals - torch.cat(diagonal) @ columns.square()  # minus the pairs i == j


def cross_sums(real: torch.Tensor, fake: torch.Tensor, real_columns: torch.Tensor) -> torch.Tensor:
    """N_f x C: entry [j, c] is sum_i real_columns[i, c] k(x_i, y_j), per generated row j."""
    block = _block_rows(len(fake))
    totals = fake.new_zeros(len(fake), real_columns.shape[1])
    for start in range(0, len(real), block):
        totals.addmm_(_kernel_block(real[start:start + block], fake).T, real_columns[start:start + block])
    return totals


def _block_rows(columns: int) -> int:
    return max(1, BLOCK_ENTRIES // max(columns, 1))


def _kernel_block(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """kid.polynomial_kernel, in place on the one product: (x.y / d + 1)^3."""
    return (first @ second.T).div_(first.shape[1]).add_(1).pow_(3)
