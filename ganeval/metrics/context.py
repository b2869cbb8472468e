"""MetricContext: what a metric family's compute() reads (both sides' features, its options, the seed)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: this module stays importable without torch
    import torch

    from ..data.samples import Samples
    from ..features.stats import FeatureStats
    from ..reference.stats import ReferenceStats

# derive(kind, parameter, compute, status, phase=None): a statistic of the reference rows (kind: a field of
# ganeval.features.cache.DerivedStatistics), computed once per reference and parameter on the input's device and
# kept by the reference store; `status` and `phase` name it while it is computed, e.g.
# derive("knn_radii", 5, lambda rows: knn_radii(rows, 5), "reference k-NN radii: k=5 over 60000 rows")
Derive = Callable[..., "torch.Tensor"]


@dataclass(frozen=True)
class TrainSide:
    """What the generator was trained on (`--train REF`), for the memorization families: its features (`stats`,
    rows always kept), `derive` for statistics of its rows (cached in its entry, like the reference's: its k-NN
    radii), and its images flattened to float32 pixel rows on the [0, 255] scale (`pixels`, None unless a family
    reads pixel space)."""

    stats: ReferenceStats
    derive: Derive
    pixels: torch.Tensor | None = None


@dataclass(frozen=True)
class Extras:
    """What a score holds beyond both sides' features, for the families that read it: the training set (`train`,
    --train), the generated images as float32 pixel rows (`pixels`) and the class each generated sample was asked
    for (`labels`, a conditional generator's); the images themselves of both sides, where a family trains on them
    (`images`, `reference_images`)."""

    train: TrainSide | None = None
    pixels: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    images: torch.Tensor | None = None  # the generated images (uint8 N x C x H x W), for families with images=True
    reference_images: Samples | None = None  # the reference's images and labels, likewise


@dataclass(frozen=True)
class MetricContext:
    """The inputs of one family's compute(context, weights): `features` of the generated side (streaming moments,
    rows where kept), its `logits` where extracted, the `reference` statistics, this family's `options`, the score's
    `seed`, the FID bootstrap method, and `derive` for statistics of the reference rows worth computing once
    (PRDC's k-NN radii, NDB's K-means centres). `replicates` is the number of bootstrap resamples (0: none).
    `train`, `pixels` and `memo` serve the memorization families (see ganeval.metrics.training_set); `labels`
    the class-conditional ones (see ganeval.metrics.classes)."""

    reference: ReferenceStats
    features: FeatureStats
    logits: FeatureStats | None
    options: Any
    seed: int
    derive: Derive
    fid_method: str = "auto"
    replicates: int = 0
    train: TrainSide | None = None  # --train: the memorization families' training set
    pixels: torch.Tensor | None = None  # the generated images as float32 pixel rows (families with pixels=True)
    memo: dict = field(default_factory=dict)  # shared by the families of one score: the nearest training rows
    labels: torch.Tensor | None = None  # the class each generated sample was asked for (a conditional generator's)
    images: torch.Tensor | None = None  # the generated images (families with images=True)
    reference_images: Samples | None = None  # the reference's images and labels (families with images=True)

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def num_samples(self) -> int:
        return self.features.num_samples
