"""Stacked Fashion-MNIST: the Stacked MNIST protocol (VEEGAN, PacGAN) applied to Fashion-MNIST.

Each sample stacks three independently drawn 28x28 images as the R, G and B channels; its mode is the triple of
classes, so there are 1,000 modes. A fixed seed gives the same set.
"""
from __future__ import annotations

import torch

from . import fashion_mnist

DEFAULT_SIZE = {"train": 60000, "test": 26000}  # 26,000: the VEEGAN/PacGAN evaluation size


def stacked(
    images: torch.Tensor, labels: torch.Tensor, num_samples: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 N x 3 x H x W, int64 N x 3 class triples) from grey images (M x 1 x H x W) and their labels."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(images), (num_samples, 3), generator=generator)
    return images[picks, 0], labels[picks]


def load(split: str, num_samples: int | None = None, seed: int = 0, data_root=None, download: bool = False):
    """Stacked images of a Fashion-MNIST split (default size: 60,000 for train, 26,000 for test)."""
    images, labels = fashion_mnist.load(split, data_root, download)
    return stacked(images, labels, DEFAULT_SIZE[split] if num_samples is None else num_samples, seed)


def triple_index(triples: torch.Tensor) -> torch.Tensor:
    """Class triples (N x 3, each 0..9) -> mode index 0..999."""
    return triples[:, 0] * 100 + triples[:, 1] * 10 + triples[:, 2]
