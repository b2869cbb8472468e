"""The nearest-neighbour copy test: a generated sample is a copy when its nearest training sample is less than a
third as far as its second nearest (||g - NN1|| / ||g - NN2|| < 1/3), as sail-sg/DiffMemorize `mem_ratio.py`
calibrates it (Gu et al. 2023, "On memorization in diffusion models", after Yoon et al. 2023): an absolute distance
threshold depends on the space and the data's density, the ratio does not.

One departure: a sample at distance 0 from a training sample that is itself duplicated in the training set (both
nearest distances 0) has ratio 0/0; the reference code's NaN compares False and misses that exact copy, here the
ratio is 0.
"""
from __future__ import annotations

import torch

COPY_RATIO = 1 / 3  # DiffMemorize's threshold


def copy_ratios(nearest_squared: torch.Tensor) -> torch.Tensor:
    """||g - NN1|| / ||g - NN2|| per row of squared distances to the two nearest training samples (float64)."""
    first, second = nearest_squared[:, 0].double().sqrt(), nearest_squared[:, 1].double().sqrt()
    return torch.where(first == 0, torch.zeros_like(first), first / second)


def copy_share(ratios: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[float, torch.Tensor | None]:
    """The share of samples whose ratio is below COPY_RATIO, and its value per bootstrap replicate (rows of
    `weights`: how often each sample is drawn; None: no replicates)."""
    copies = (ratios < COPY_RATIO).double()
    replicates = None if weights is None else weights.to(copies) @ copies / len(copies)
    return float(copies.mean()), replicates


def most_copy_like(ratios: torch.Tensor, spaces: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                   count: int) -> list[dict]:
    """The `count` samples with the smallest `ratios`, smallest first, each with its nearest training samples in
    every space of `spaces` (name -> (ratios, squared distances, indices)): what the neighbours grid shows.

    >>> squared = torch.tensor([[0.0, 4.0], [1.0, 4.0]]); indices = torch.tensor([[7, 3], [3, 7]])
    >>> most_copy_like(copy_ratios(squared), {"features": (copy_ratios(squared), squared, indices)}, 1)[0]["sample"]
    0
    """
    order = torch.argsort(ratios, stable=True)[:count].tolist()
    return [{"sample": index, **{f"{name}": _neighbours_of(index, *found) for name, found in spaces.items()}}
            for index in order]


def _neighbours_of(index: int, ratios: torch.Tensor, squared: torch.Tensor, indices: torch.Tensor) -> dict:
    return {"ratio": float(ratios[index]), "neighbours": indices[index].tolist(),
            "distances": squared[index].double().sqrt().tolist()}
