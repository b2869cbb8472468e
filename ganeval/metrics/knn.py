"""Blocked Euclidean distances and k-th nearest-neighbour radii with memory bounded by the block size, not N^2."""
from __future__ import annotations

from collections.abc import Iterator

import torch

DEFAULT_BLOCK = 4096  # rows per block: a 4096 x 4096 float64 distance block is 128 MiB


def distance_block(first: torch.Tensor, second: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Euclidean distances between the rows of two blocks, computed as sklearn does (|x|^2 + |y|^2 - 2 x.y)."""
    first, second = first.to(dtype), second.to(dtype)
    squared = (first * first).sum(1)[:, None] + (second * second).sum(1)[None, :] - 2 * first @ second.T
    return squared.clamp_min_(0).sqrt_()


def blocks(num_rows: int, block: int) -> Iterator[slice]:
    """Consecutive row slices of at most `block` rows."""
    for start in range(0, num_rows, block):
        yield slice(start, min(start + block, num_rows))


def kth_neighbour_distances(
    features: torch.Tensor, k: int, *, dtype: torch.dtype = torch.float64, block: int = DEFAULT_BLOCK
) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (self excluded, duplicates count).

    Visits each unordered pair of blocks once and uses the block and its transpose, which halves the work of a full
    N x N pass while keeping only (N, k+1) running neighbours in memory.
    """
    num = features.shape[0]
    nearest = torch.full((num, k + 1), float("inf"), dtype=dtype, device=features.device)
    slices = list(blocks(num, block))
    for i, rows in enumerate(slices):
        for cols in slices[i:]:
            distances = distance_block(features[rows], features[cols], dtype)
            if rows == cols:
                distances.fill_diagonal_(0)  # the self-distance is exactly zero, as sklearn sets it
            nearest[rows] = _merge_smallest(nearest[rows], distances, k + 1)
            if rows != cols:
                nearest[cols] = _merge_smallest(nearest[cols], distances.T, k + 1)
    return nearest[:, k]  # column 0 is the point itself


def _merge_smallest(current: torch.Tensor, candidates: torch.Tensor, count: int) -> torch.Tensor:
    return torch.cat([current, candidates], dim=1).topk(count, dim=1, largest=False, sorted=True).values
