"""MetricContext: what a metric family's compute() reads (both sides' features, its options, the seed)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: this module stays importable without torch
    import torch

    from ..features.stats import FeatureStats
    from ..reference.stats import ReferenceStats

# derive(kind, parameter, compute, status, phase=None): a statistic of the reference rows (kind: a field of
# ganeval.features.cache.DerivedStatistics), computed once per reference and parameter on the input's device and
# kept by the reference store; `status` and `phase` name it while it is computed, e.g.
# derive("knn_radii", 5, lambda rows: knn_radii(rows, 5), "reference k-NN radii: k=5 over 60000 rows")
Derive = Callable[..., "torch.Tensor"]


@dataclass(frozen=True)
class MetricContext:
    """The inputs of one family's compute(context, weights): `features` of the generated side (streaming moments,
    rows where kept), its `logits` where extracted, the `reference` statistics, this family's `options`, the score's
    `seed`, the FID bootstrap method, and `derive` for statistics of the reference rows worth computing once
    (PRDC's k-NN radii, NDB's K-means centres). `replicates` is the number of bootstrap resamples (0: none)."""

    reference: ReferenceStats
    features: FeatureStats
    logits: FeatureStats | None
    options: Any
    seed: int
    derive: Derive
    fid_method: str = "auto"
    replicates: int = 0

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def num_samples(self) -> int:
        return self.features.num_samples
