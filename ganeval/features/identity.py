"""The `identity` extractor: the samples themselves are the features (2D points, feature matrices, flat pixels)."""
from __future__ import annotations

import torch

from .registry import FeatureExtractor, register


@register("identity")
def create_identity(device: torch.device) -> FeatureExtractor:
    """Rows as they are; images are flattened to pixel vectors in [0, 255]."""

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = batch.reshape(batch.shape[0], -1)
        return {"features": flat if flat.is_floating_point() else flat.to(torch.float32)}

    return FeatureExtractor("identity", forward, device, feature_layer="features")
