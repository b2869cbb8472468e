"""Blocked squared Euclidean distances and k-th nearest-neighbour radii, memory bounded by the block size, not N^2.

Distances are compared squared (the square root is monotone), formed as |x|^2 + |y|^2 - 2 x.y like sklearn's
euclidean_distances, with each set's squared norms computed once.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

DEFAULT_BLOCK = 4096  # rows per block: a 4096 x 4096 float64 distance block is 128 MiB
PRECAST_LIMIT_BYTES = 512 * 2**20  # cast a whole set to the compute dtype once when it fits in this


class BlockedRows:
    """A feature matrix served in row blocks of the compute dtype, with its squared norms precomputed."""

    def __init__(self, features: torch.Tensor, dtype: torch.dtype, block: int):
        if features.dtype != dtype and features.numel() * torch.finfo(dtype).bits // 8 <= PRECAST_LIMIT_BYTES:
            features = features.to(dtype)  # small enough: avoid re-casting every block
        self.features, self.dtype, self.block = features, dtype, block
        self.squared_norms = torch.cat([(rows * rows).sum(1) for rows in self.blocks()])

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def slices(self) -> list[slice]:
        return [slice(start, min(start + self.block, len(self))) for start in range(0, len(self), self.block)]

    def blocks(self) -> Iterator[torch.Tensor]:
        for rows in self.slices():
            yield self.features[rows].to(self.dtype)

    def rows(self, rows: slice) -> torch.Tensor:
        return self.features[rows].to(self.dtype)


def squared_distances(first: BlockedRows, rows: slice, second: BlockedRows, cols: slice) -> torch.Tensor:
    """|x_i - y_j|^2 for the given row blocks, clamped at zero against rounding."""
    block = torch.addmm(first.squared_norms[rows, None], first.rows(rows), second.rows(cols).T, alpha=-2)
    return block.add_(second.squared_norms[None, cols]).clamp_min_(0)


def kth_neighbour_squared_distances(points: BlockedRows, k: int) -> torch.Tensor:
    """Squared distance from each row to its k-th nearest other row (self excluded, duplicates count).

    Visits each unordered pair of blocks once and takes neighbours from the block and from its transpose, which
    halves the products of a full N x N pass while keeping only (N, k+1) running neighbours in memory.
    """
    nearest = torch.full((len(points), k + 1), float("inf"), dtype=points.dtype, device=points.features.device)
    slices = points.slices()
    for i, rows in enumerate(slices):
        for cols in slices[i:]:
            block = squared_distances(points, rows, points, cols)
            if rows == cols:
                block.fill_diagonal_(0)  # the self-distance is exactly zero, as sklearn sets it
            count = min(k + 1, block.shape[1])
            nearest[rows] = _smallest(nearest[rows], block.topk(count, dim=1, largest=False).values, k + 1)
            if rows != cols:
                from_transpose = block.topk(min(k + 1, block.shape[0]), dim=0, largest=False).values.T
                nearest[cols] = _smallest(nearest[cols], from_transpose, k + 1)
    return nearest[:, k]  # column 0 is the point itself


def _smallest(current: torch.Tensor, candidates: torch.Tensor, count: int) -> torch.Tensor:
    return torch.cat([current, candidates], dim=1).topk(count, dim=1, largest=False, sorted=True).values
