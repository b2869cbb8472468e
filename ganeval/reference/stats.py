"""ReferenceStats: everything the metrics read from the reference side, frozen once loaded."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..data.samples import SourceInfo
from ..features import FeatureStats
from ..features.cache import ReferenceCard


@dataclass(frozen=True)
class ReferenceStats:
    """The reference's feature moments (and rows, for KID, PRDC, NDB, modes and the low-rank FID path), what its
    data says about itself (`info`: mode labels, mixture), its cache card and the statistics it was built from."""

    name: str
    mean: torch.Tensor
    covariance: torch.Tensor
    num_samples: int | None  # None for a mean/covariance file that does not say
    rows: torch.Tensor | None = None
    info: SourceInfo = field(default_factory=SourceInfo)
    card: ReferenceCard | None = None
    from_cache: bool = False
    stats: FeatureStats | None = field(default=None, repr=False)  # to write the cache entry and exports

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def key(self) -> str | None:
        """The cache key (None for a moments file)."""
        return self.card.key if self.card else None

    @classmethod
    def from_stats(cls, name: str, stats: FeatureStats, info: SourceInfo, card: ReferenceCard | None,
                   from_cache: bool = False) -> ReferenceStats:
        rows = stats.raw() if stats.keep_raw else None
        return cls(name, stats.mean(), stats.covariance(), stats.num_samples, rows, info, card, from_cache, stats)
