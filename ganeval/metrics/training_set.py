"""What the memorization families share: the training set of a score, and each generated sample's nearest
training rows, searched once per score (authpct, copies and the neighbours grid read the same search; ct searches
within its cells, in their projected space, as its reference code does).

The searches are blocked (ganeval.metrics.knn.nearest_neighbours): 10,000 generated x 60,000 training rows at
d = 2,048 hold one block of distances at a time, never the full matrix.
"""
from __future__ import annotations

import torch

from ..errors import InputError
from .context import MetricContext, TrainSide
from .knn import DEFAULT_BLOCK, BlockedRows, nearest_neighbours

NEIGHBOURS = 3  # kept per generated sample: the copy ratio reads 2, the neighbours grid shows 3


def require_train(context: MetricContext, family: str) -> TrainSide:
    """The score's training set, or the one-line refusal of a family that needs one."""
    if context.train is None:
        raise InputError(f"metric '{family}' compares generated samples with the training set: give --train REF "
                         f"(what the generator was trained on, e.g. fashion-mnist:train)")
    return context.train


def nearest_training(context: MetricContext, family: str, count: int = NEIGHBOURS) -> tuple[torch.Tensor, torch.Tensor]:
    """(squared distances, indices) of each generated sample's `count` nearest training rows in the extractor's
    space, nearest first; searched once per score."""
    train = require_train(context, family)
    found = _memo(context, "features", lambda: search(context.features.raw(), train.stats.rows, NEIGHBOURS,
                                                      context.device))
    return found[0][:, :count], found[1][:, :count]


def nearest_training_pixels(context: MetricContext, family: str,
                            count: int = NEIGHBOURS) -> tuple[torch.Tensor, torch.Tensor] | None:
    """nearest_training in pixel space; None when the samples are not images (vectors have no pixels)."""
    train = require_train(context, family)
    if context.pixels is None or train.pixels is None:
        return None
    found = _memo(context, "pixels", lambda: search(context.pixels, train.pixels, NEIGHBOURS, context.device))
    return found[0][:, :count], found[1][:, :count]


def search(queries: torch.Tensor, points: torch.Tensor, count: int, device: torch.device,
           block: int = DEFAULT_BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """nearest_neighbours of float rows on `device`: candidates from float32 products (twice float64's speed on
    CPUs), whose distances are then recomputed exactly in float64, so the returned values do not depend on it."""
    count = min(count, len(points))
    return nearest_neighbours(BlockedRows(queries.to(device), torch.float32, block),
                              BlockedRows(points.to(device), torch.float32, block), count)


def _memo(context: MetricContext, kind: str, compute):
    if kind not in context.memo:
        context.memo[kind] = compute()
    return context.memo[kind]
