"""The unit every source yields: uint8 images (N x C x H x W) or float vectors (N x d), with a name for messages."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import InputError
from ..metrics._inputs import check_finite


@dataclass(frozen=True)
class Samples:
    """A set of samples held in memory. `kind` is 'images' (uint8 NCHW) or 'vectors' (floating N x d); `labels`
    (N, or N x 3 class triples for stacked images) where the source knows them."""

    data: torch.Tensor
    name: str
    labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.data.dtype == torch.uint8 and self.data.dim() == 4:
            if self.data.shape[1] not in (1, 3):
                raise InputError(f"{self.name}: images must have 1 or 3 channels, got {self.data.shape[1]}")
        elif self.data.is_floating_point() and self.data.dim() == 2:
            check_finite(self.data, self.name)
        else:
            raise InputError(
                f"{self.name}: expected uint8 images (N,C,H,W) or a float matrix (N,d), "
                f"got {self.data.dtype} with shape {tuple(self.data.shape)}"
            )
        if len(self.data) < 2:
            raise InputError(f"{self.name}: needs at least 2 samples, got {len(self.data)}")
        if self.labels is not None and len(self.labels) != len(self.data):
            raise InputError(f"{self.name}: {len(self.labels)} labels for {len(self.data)} samples")

    @property
    def kind(self) -> str:
        return "images" if self.data.dtype == torch.uint8 else "vectors"

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def subset(self, num_samples: int | None, seed: int) -> Samples:
        """A seeded random subset of `num_samples` rows in their original order (all rows when None or equal)."""
        if num_samples is None or num_samples == len(self):
            return self
        if not 2 <= num_samples <= len(self):
            raise InputError(f"{self.name}: --num-samples {num_samples} must be between 2 and the {len(self)} available")
        generator = torch.Generator().manual_seed(seed)
        rows = torch.randperm(len(self), generator=generator)[:num_samples].sort().values
        return Samples(self.data[rows], self.name, None if self.labels is None else self.labels[rows])

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        if batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {batch_size}")
        yield from self.data.split(batch_size)
