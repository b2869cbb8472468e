"""Blocked squared Euclidean distances and k-th nearest-neighbour radii, memory bounded by the block size, not N^2.

Distances are compared squared (the square root is monotone). The bulk is formed as |x|^2 + |y|^2 - 2 x.y (one
matrix product per block, like sklearn's euclidean_distances), whose rounding depends on the block a pair falls in.
So that ties (duplicated rows, a pair that is both a radius and a cross distance) do not depend on the blocking,
every comparison within the product's rounding bound of its threshold is decided on `exact_squared_distances`:
one fixed function of the two rows alone, symmetric, zero for identical rows, and the radii are its values too.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

from ..device import tf32

DEFAULT_BLOCK = 4096  # rows per block: a 4096 x 4096 float64 distance block is 128 MiB
PRECAST_LIMIT_BYTES = 512 * 2**20  # cast a whole set to the compute dtype once when it fits in this
SPARE_NEIGHBOURS = 2  # kept beyond the k+1 nearest, so a radius is settled without a second pass
EXACT_CHUNK_ELEMENTS = 2**22  # float64 elements per chunk of exact_squared_distances (32 MiB)


class BlockedRows:
    """A feature matrix served in row blocks of the compute dtype, with its squared norms precomputed.

    `rounding[i]` bounds row i's share of the error of a computed squared distance: |computed - exact| <=
    rounding[i] + rounding[j]. A dot product of d terms errs by at most about d eps |x||y| <= d eps (|x|^2 + |y|^2)/2
    (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), each squared norm by d eps |x|^2, and the
    additions, the cast to `dtype` and the exact side by a few eps more. Valid for IEEE matrix products: squared_distances turns TF32 off around them.
    """

    def __init__(self, features: torch.Tensor, dtype: torch.dtype, block: int):
        self.original = features  # the exact side reads these, so a float32 compute dtype does not change ties
        if features.dtype != dtype and features.numel() * torch.finfo(dtype).bits // 8 <= PRECAST_LIMIT_BYTES:
            features = features.to(dtype)  # small enough: avoid re-casting every block
        self.features, self.dtype, self.block = features, dtype, block
        self.squared_norms = torch.cat([(rows * rows).sum(1) for rows in self.blocks()])
        width = features.shape[1] if features.dim() == 2 else 0
        self.rounding = (width + 16) * torch.finfo(dtype).eps * self.squared_norms.double()

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def slices(self) -> list[slice]:
        return [slice(start, min(start + self.block, len(self))) for start in range(0, len(self), self.block)]

    def blocks(self) -> Iterator[torch.Tensor]:
        for rows in self.slices():
            yield self.features[rows].to(self.dtype)

    def rows(self, rows: slice | torch.Tensor) -> torch.Tensor:
        return self.features[rows].to(self.dtype)


def squared_distances(first: BlockedRows, rows: slice | torch.Tensor, second: BlockedRows, cols: slice) -> torch.Tensor:
    """|x_i - y_j|^2 for the given row blocks, clamped at zero against rounding (within the `rounding` bound)."""
    with tf32(False):  # IEEE float32: TF32's 10-bit mantissa would break the `rounding` bound that settles ties
        block = torch.addmm(first.squared_norms[rows, None], first.rows(rows), second.rows(cols).T, alpha=-2)
    return block.add_(second.squared_norms[None, cols]).clamp_min_(0)


def exact_squared_distances(first: torch.Tensor, first_index: torch.Tensor, second: torch.Tensor,
                            second_index: torch.Tensor) -> torch.Tensor:
    """|first[p] - second[q]|^2 in float64 for the pairs (p, q) = (first_index[n], second_index[n]).

    Elementwise operations only, summed by halving a zero-padded power-of-two width: the value is one function of
    the two rows, whatever the batch, the device or the thread count; (a - b)^2 == (b - a)^2 makes it symmetric
    and identical rows give exactly zero, as sklearn's diagonal does.
    """
    result = torch.empty(len(first_index), dtype=torch.float64, device=first.device)
    width = first.shape[1]
    padded = 1 << max(width - 1, 0).bit_length()
    chunk = max(1, EXACT_CHUNK_ELEMENTS // padded)
    for start in range(0, len(first_index), chunk):
        pairs = slice(start, start + chunk)
        terms = torch.zeros((len(first_index[pairs]), padded), dtype=torch.float64, device=first.device)
        torch.sub(first[first_index[pairs]].double(), second[second_index[pairs]].double(), out=terms[:, :width])
        terms.mul_(terms)
        while terms.shape[1] > 1:
            half = terms.shape[1] // 2
            terms = terms[:, :half] + terms[:, half:]
        result[pairs] = terms[:, 0]
    return result


def within_radii(distances: torch.Tensor, first: BlockedRows, rows: slice, second: BlockedRows, cols: slice,
                 radii: torch.Tensor, radii_of_rows: bool) -> torch.Tensor:
    """distances < radius, as the exact squared distances compare, for a block from squared_distances(first, rows,
    second, cols); `radii` (float64, from kth_neighbour_squared_distances) belong to the block's rows or columns.

    A comparison is certain outside +-(rounding bound) of the radius; the few inside it are recomputed exactly.
    """
    if radii_of_rows:
        radii, shape = radii[rows], (-1, 1)
        slack = first.rounding[rows] + second.rounding[cols].max()
    else:
        radii, shape = radii[cols], (1, -1)
        slack = second.rounding[cols] + first.rounding[rows].max()
    inside = distances < _round_down(radii - slack, distances.dtype).view(shape)
    unsure = (distances <= _round_up(radii + slack, distances.dtype).view(shape)).logical_xor_(inside)
    if unsure.any():
        pair_rows, pair_cols = unsure.nonzero(as_tuple=True)
        exact = exact_squared_distances(first.original, pair_rows + rows.start, second.original, pair_cols + cols.start)
        inside[pair_rows, pair_cols] = exact < radii[pair_rows if radii_of_rows else pair_cols]
    return inside


def kth_neighbour_squared_distances(points: BlockedRows, k: int) -> torch.Tensor:
    """Exact squared distance (float64) from each row to its k-th nearest other row (self excluded, duplicates count).

    Visits each unordered pair of blocks once and takes neighbours from the block and from its transpose, which
    halves the products of a full N x N pass while keeping only (N, k+1+SPARE_NEIGHBOURS) running neighbours in
    memory. The kept neighbours near the k-th are then recomputed exactly (see _settle).
    """
    keep = min(k + 1 + SPARE_NEIGHBOURS, len(points))
    device = points.features.device
    nearest = torch.full((len(points), keep), float("inf"), dtype=points.dtype, device=device)
    neighbours = torch.zeros((len(points), keep), dtype=torch.int64, device=device)
    slices = points.slices()
    for i, rows in enumerate(slices):
        for cols in slices[i:]:
            block = squared_distances(points, rows, points, cols)
            if rows == cols:
                block.fill_diagonal_(0)  # the self-distance is exactly zero, as sklearn sets it
            values, columns = block.topk(min(keep, block.shape[1]), dim=1, largest=False)
            nearest[rows], neighbours[rows] = _smallest(nearest[rows], neighbours[rows], values, columns + cols.start,
                                                        keep)
            if rows != cols:
                values, columns = block.topk(min(keep, block.shape[0]), dim=0, largest=False)
                nearest[cols], neighbours[cols] = _smallest(nearest[cols], neighbours[cols], values.T,
                                                            columns.T + rows.start, keep)
    return _settle(points, k, nearest.double(), neighbours)


def _settle(points: BlockedRows, k: int, nearest: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """The exact k-th neighbour distances from the computed nearest ones (sorted, with their column indices).

    With |computed - exact| <= slack per row, the exact k-th distance r lies within slack of the computed one, g:
    pairs computed below g - 2 slack are exactly below r, pairs above g + 2 slack exactly above, and r is the
    (k+1-below)-th smallest exact distance of the pairs in between. Rows whose band reaches past the kept
    neighbours (many near-ties) get one more pass over all columns (_settle_by_pass).
    """
    rows = torch.arange(len(points), device=nearest.device)
    slack = 2 * (points.rounding + points.rounding.max())
    lower, upper = nearest[:, k] - slack, nearest[:, k] + slack
    below = nearest < lower[:, None]
    unsure = (nearest <= upper[:, None]) & ~below
    pair_rows, pair_cols = unsure.nonzero(as_tuple=True)
    exact = torch.full_like(nearest, float("inf")).masked_fill_(below, float("-inf"))
    exact[pair_rows, pair_cols] = exact_squared_distances(points.original, pair_rows, points.original,
                                                          neighbours[pair_rows, pair_cols])
    radii = exact.sort(dim=1).values[:, k]
    if nearest.shape[1] < len(points):
        incomplete = rows[nearest[:, -1] <= upper]
        if len(incomplete):
            radii[incomplete] = _settle_by_pass(points, k, incomplete, lower[incomplete], upper[incomplete])
    return radii


def _settle_by_pass(points: BlockedRows, k: int, rows: torch.Tensor, lower: torch.Tensor,
                    upper: torch.Tensor) -> torch.Tensor:
    """_settle for the given rows from every column: count the pairs below the band, keep the k+1 smallest exact
    distances inside it."""
    radii = torch.empty(len(rows), dtype=torch.float64, device=lower.device)
    for start in range(0, len(rows), points.block):
        part = slice(start, start + points.block)
        chunk, low, high = rows[part], lower[part], upper[part]
        below = torch.zeros(len(chunk), dtype=torch.int64, device=low.device)
        smallest = torch.full((len(chunk), k + 1), float("inf"), dtype=torch.float64, device=low.device)
        for cols in points.slices():
            block = squared_distances(points, chunk, points, cols)
            block_low = _round_down(low, block.dtype)[:, None]
            below += (block < block_low).sum(dim=1)
            unsure = (block <= _round_up(high, block.dtype)[:, None]) & (block >= block_low)
            pair_rows, pair_cols = unsure.nonzero(as_tuple=True)
            exact = torch.full(block.shape, float("inf"), dtype=torch.float64, device=low.device)
            exact[pair_rows, pair_cols] = exact_squared_distances(points.original, chunk[pair_rows], points.original,
                                                                  pair_cols + cols.start)
            count = min(k + 1, exact.shape[1])
            smallest = torch.cat([smallest, exact.topk(count, dim=1, largest=False).values], dim=1)
            smallest = smallest.topk(k + 1, dim=1, largest=False, sorted=True).values
        # below <= k when the bound holds (the k-th neighbour is never below its own lower bound); clamp regardless
        radii[part] = smallest.gather(1, (k - below).clamp(0, k)[:, None]).squeeze(1)
    return radii


def _smallest(values: torch.Tensor, indices: torch.Tensor, new_values: torch.Tensor, new_indices: torch.Tensor,
              count: int) -> tuple[torch.Tensor, torch.Tensor]:
    best, order = torch.cat([values, new_values], dim=1).topk(count, dim=1, largest=False, sorted=True)
    return best, torch.cat([indices, new_indices], dim=1).gather(1, order)


def _round_down(bounds: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float64 bounds cast to `dtype` without rounding up past them (so a certain comparison stays certain)."""
    cast = bounds.to(dtype)
    if dtype == torch.float64:
        return cast
    return torch.where(cast.double() > bounds, cast.nextafter(cast.new_tensor(-torch.inf)), cast)


def _round_up(bounds: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    cast = bounds.to(dtype)
    if dtype == torch.float64:
        return cast
    return torch.where(cast.double() < bounds, cast.nextafter(cast.new_tensor(torch.inf)), cast)


def nearest_neighbours(queries: BlockedRows, points: BlockedRows, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The `count` nearest rows of `points` to each row of `queries`: (squared distances, float64, exact; indices),
    both (len(queries), count), nearest first.

    One pass over query x point blocks keeping (count + SPARE_NEIGHBOURS) running candidates per query, so memory is
    the candidates plus one block (a 10,000 x 60,000 search at d = 2,048 never holds a 10,000 x 60,000 matrix). The
    candidates' distances are then recomputed exactly (exact_squared_distances) and re-sorted: an exact copy of a
    point is at distance 0, and the kept candidates are ordered by one function of the two rows. Which rows are kept
    is decided on the computed products, with SPARE_NEIGHBOURS to spare: among more near-ties than that (within the
    products' rounding), the rows kept may depend on the blocking, their distances do not (unlike
    kth_neighbour_squared_distances, no rounding band is settled here: a copy ratio or a nearest distance does not
    turn on which of several equidistant rows is named).
    """
    if not 1 <= count <= len(points):
        raise ValueError(f"nearest_neighbours: count={count} must be between 1 and the number of points ({len(points)})")
    keep = min(count + SPARE_NEIGHBOURS, len(points))
    device = queries.features.device
    nearest = torch.full((len(queries), keep), float("inf"), dtype=queries.dtype, device=device)
    neighbours = torch.zeros((len(queries), keep), dtype=torch.int64, device=device)
    for rows in queries.slices():
        for cols in points.slices():
            block = squared_distances(queries, rows, points, cols)
            values, columns = block.topk(min(keep, block.shape[1]), dim=1, largest=False)
            nearest[rows], neighbours[rows] = _smallest(nearest[rows], neighbours[rows], values, columns + cols.start,
                                                        keep)
    query_index = torch.arange(len(queries), device=device).repeat_interleave(keep)
    exact = exact_squared_distances(queries.original, query_index, points.original.to(device),
                                    neighbours.flatten()).view(len(queries), keep)
    exact, order = exact.sort(dim=1, stable=True)
    return exact[:, :count], neighbours.gather(1, order)[:, :count]
