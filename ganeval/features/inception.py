"""`inception-v3-compat`: torch-fidelity's TF1-compatible Inception-v3, the network behind published FIDs.

The architecture is torch-fidelity's own module; ganeval finds and loads the weights itself, with
torch.load(weights_only=True) (torch-fidelity unpickles a local weights file with weights_only=False).
Layers: 'pool' = the 2048-d pool3 features (FID, KID, PRDC), 'logits' = the 1008 unbiased logits (IS), as
torch-fidelity uses them.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import torch

from ..errors import InputError
from .registry import FeatureExtractor, register
from .weights import WeightsFile, file_sha256, load_tensors, resolve

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS = WeightsFile(
    "inception-v3-compat", WEIGHTS_FILE, env="GANEVAL_INCEPTION_WEIGHTS",
    url=f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}",
    flag="--inception-weights", hash_prefix="6726825d",
)
WEIGHTS_ENV = WEIGHTS.env
LAYERS = {"pool": "2048", "logits": "logits_unbiased"}  # ganeval name -> torch-fidelity feature name


def hub_weights_path() -> Path:
    """Where torch.hub (and so torch-fidelity) caches the weights: $TORCH_HOME/hub/checkpoints/<file>."""
    return WEIGHTS.hub_path


def resolve_weights(weights: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Find the weights: an explicit path, then $GANEVAL_INCEPTION_WEIGHTS, then the torch hub cache, then download."""
    return resolve(WEIGHTS, weights, download)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a weights file safely (tensors only); anything else is a one-line error."""
    return load_tensors(path)


@register("inception-v3-compat")
def create_inception(
    device: torch.device, weights: str | os.PathLike | None = None, download: bool = True
) -> FeatureExtractor:
    """torch-fidelity's Inception with weights found by resolve_weights(); grey images are replicated to RGB."""
    path = resolve_weights(weights, download)
    network = build_network(load_state_dict(path)).to(device)

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        if batch.dtype != torch.uint8 or batch.dim() != 4 or batch.shape[1] not in (1, 3):
            raise InputError(
                f"inception-v3-compat takes uint8 images N x 1|3 x H x W, got {batch.dtype} {tuple(batch.shape)}"
            )
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        pool, logits = network(batch)
        return {"pool": pool, "logits": logits}

    return FeatureExtractor(
        "inception-v3-compat",
        forward,
        device,
        feature_layer="pool",
        logits_layer="logits",
        weights_sha256=file_sha256(path),
        preprocessing="tf1-bilinear-299,(x-128)/128",
        options={"weights": str(path)},
    )


def build_network(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    """torch-fidelity's FeatureExtractorInceptionV3 holding `state_dict`, returning (pool, logits_unbiased)."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity_inception

    # Its constructor insists on loading weights itself (by URL, or a path it unpickles unsafely); hand it the
    # dict we already loaded with weights_only=True instead.
    with _replaced(fidelity_inception, "load_state_dict_from_url", lambda *args, **kwargs: state_dict):
        try:
            return fidelity_inception.FeatureExtractorInceptionV3("inception-v3-compat", list(LAYERS.values()))
        except RuntimeError as exc:  # load_state_dict: missing or unexpected keys, wrong shapes
            raise InputError(f"Inception weights do not fit torch-fidelity's Inception-v3: {str(exc).splitlines()[0]}") from exc


@contextmanager
def _replaced(module, attribute: str, value):
    original = getattr(module, attribute)
    setattr(module, attribute, value)
    try:
        yield
    finally:
        setattr(module, attribute, original)

