"""The unit every source yields: uint8 images (N x C x H x W) or float vectors (N x d), with a name for messages."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import InputError, ValueRangeWarning, warn_at_caller
from ..arrays import check_finite
from .mixtures import Mixture
from .stacked import triple_index

# Value ranges that say how samples were scaled: within [-1, 1] (images scaled to [0, 1] or [-1, 1]), or within
# [0, 255] and well above 1 (the uint8 scale; a float image is seldom that dark, features seldom that bounded).
UNIT_RANGE, BYTE_RANGE, BYTE_SCALE_ABOVE = (-1.0, 1.0), (0.0, 255.0), 32.0


@dataclass(frozen=True)
class SourceInfo:
    """What a set of samples says about itself, for the mode statistics: its mode labels (class indices, or the
    class triples of stacked images as indices 0..999) and how many modes they index, and the Gaussian mixture it
    was drawn from (ring8, grid25)."""

    labels: torch.Tensor | None = None
    num_label_modes: int = 0
    mixture: Mixture | None = None


@dataclass(frozen=True)
class Samples:
    """A set of samples held in memory. `kind` is 'images' (uint8 NCHW) or 'vectors' (floating N x d); `labels`
    (N, or N x 3 class triples for stacked images) where the source knows them; `mixture` the Gaussian mixture
    the points were drawn from (ring8, grid25)."""

    data: torch.Tensor
    name: str
    labels: torch.Tensor | None = None
    mixture: Mixture | None = None

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

    @property
    def info(self) -> SourceInfo:
        labels = self.labels
        if labels is None:
            return SourceInfo(mixture=self.mixture)
        if labels.dim() == 2:  # class triples of stacked images: one mode per triple
            return SourceInfo(triple_index(labels), 10 ** labels.shape[1], self.mixture)
        return SourceInfo(labels, int(labels.max()) + 1, self.mixture)

    def subset(self, num_samples: int | AtMost | None, seed: int) -> Samples:
        """A seeded random subset of `num_samples` rows in their original order (all rows when None or equal)."""
        rows = subset_rows(len(self), num_samples, seed, self.name)
        if rows is None:
            return self
        return Samples(self.data[rows], self.name, None if self.labels is None else self.labels[rows], self.mixture)

    def batches(self, batch_size: int, rows: range | None = None) -> Iterator[torch.Tensor]:
        """Batches of `batch_size` rows, of all rows or of the contiguous `rows` (a distributed score's shard)."""
        if batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {batch_size}")
        data = self.data if rows is None else self.data[rows.start:rows.stop]
        if len(data):  # an empty shard has no batches (split would give one empty batch)
            yield from data.split(batch_size)


@dataclass(frozen=True)
class AtMost:
    """A subset size that is a cap, as stylegan's max_real: `count` samples, or all of them where fewer (a preset's
    reference). Wherever a count is taken, AtMost(n) of a larger source takes the subset that n does."""

    count: int


def subset_rows(count: int, num_samples: int | AtMost | None, seed: int, name: str) -> torch.Tensor | None:
    """The rows a seeded subset of `num_samples` of `count` keeps, sorted; None for all of them. Sources that decode
    lazily choose their rows here first, so they keep exactly the rows Samples.subset would."""
    if isinstance(num_samples, AtMost):
        num_samples = min(num_samples.count, count)
    if num_samples is None or num_samples == count:
        return None
    if not 2 <= num_samples <= count:
        raise InputError(f"{name}: --num-samples {num_samples} must be between 2 and the {count} available")
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(count, generator=generator)[:num_samples].sort().values


def warn_if_scales_differ(fake: Samples, reference: Samples) -> None:
    """Warn (ValueRangeWarning, one line naming both ranges) when one side's values lie in [0, 1] (or [-1, 1]) and
    the other's on the [0, 255] scale: a float image array saved scaled against one saved unscaled."""
    sides = [(side.name, *_value_range(side)) for side in (fake, reference)]
    scales = [_scale(low, high) for _, low, high in sides]
    if None in scales or (scales[0] == "[0, 255]") == (scales[1] == "[0, 255]"):
        return
    described = " but ".join(f"{name} holds values in [{low:.3g}, {high:.3g}] (the {scale} scale)"
                             for (name, low, high), scale in zip(sides, scales))
    warn_at_caller(f"{described}; scale one side to match, or the scores measure the scaling", ValueRangeWarning)


def _value_range(samples: Samples) -> tuple[float, float]:
    return float(samples.data.min()), float(samples.data.max())


def _scale(low: float, high: float) -> str | None:
    """'[0, 1]', '[-1, 1]' or '[0, 255]' where the values fit one of these scales (and not another), else None."""
    if UNIT_RANGE[0] <= low and high <= UNIT_RANGE[1]:
        return "[0, 1]" if low >= 0 else "[-1, 1]"
    if BYTE_RANGE[0] <= low and BYTE_SCALE_ABOVE < high <= BYTE_RANGE[1]:
        return "[0, 255]"
    return None
