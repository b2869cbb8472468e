"""`fmnist-classifier`: the Fashion-MNIST evaluator network that ships in models/fmnist-classifier/ (ganeval.models).

Layers: 'pool' (128-d penultimate features: FID, KID, PRDC) and 'logits' (10 classes: IS, class coverage). On
3-channel stacked images each channel is classified on its own: 'pool' concatenates the three 128-d vectors and
'logits' are the 1,000 log-probabilities of the class triples (the sum of the three channels' log-softmaxes), so
IS and mode counts run over the 1,000 stacked modes.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from ..errors import InputError, WeightsNotFoundError
from ..models import shipped_path
from ..nets.classifier import ClassifierConfig, FashionClassifier
from .registry import FeatureExtractor, register

WEIGHTS_ENV = "GANEVAL_FMNIST_CLASSIFIER"  # a weights file to use instead of the shipped one
SHIPPED_WEIGHTS = shipped_path("fmnist-classifier", "weights.pt")
WEIGHTS_FORMAT, WEIGHTS_VERSION = "ganeval-classifier", 1


def load_classifier(path: str | os.PathLike) -> FashionClassifier:
    """Rebuild the network from a weights file (tensors and plain values only: weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"fmnist-classifier weights file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated files, pickled objects and non-torch files raise various types
        raise InputError(f"{path}: not a readable ganeval classifier file ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != WEIGHTS_FORMAT:
        raise InputError(f"{path}: not a ganeval classifier file (no format '{WEIGHTS_FORMAT}')")
    if payload.get("version") != WEIGHTS_VERSION:
        raise InputError(f"{path}: classifier file version {payload.get('version')} is not supported (expected {WEIGHTS_VERSION})")
    try:
        model = FashionClassifier(ClassifierConfig.from_dict(payload["config"]))
        model.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: classifier weights do not fit the architecture ({str(exc).splitlines()[0]})") from exc
    return model.eval()


def resolve_weights(weights: str | os.PathLike | None = None) -> Path:
    """The weights file to load: `weights`, else $GANEVAL_FMNIST_CLASSIFIER, else the file shipped with ganeval.

    A missing file is a one-line error that names the file and where its path came from.
    """
    if weights:
        path, origin = Path(weights), "given as weights=PATH"
    elif os.environ.get(WEIGHTS_ENV):
        path, origin = Path(os.environ[WEIGHTS_ENV]), (f"named by ${WEIGHTS_ENV}, which replaces the shipped weights; "
                                                       "unset it to use those")
    else:
        path, origin = SHIPPED_WEIGHTS, ("shipped inside the ganeval package: reinstall ganeval, or set "
                                         f"${WEIGHTS_ENV} to a weights file from `ganeval train-classifier`")
    if not path.is_file():
        raise WeightsNotFoundError(f"fmnist-classifier weights not found: looked for {path} ({origin})")
    return path


@register("fmnist-classifier")
def create_fmnist_classifier(device: torch.device, weights: str | os.PathLike | None = None) -> FeatureExtractor:
    """The shipped evaluator (or `weights` / $GANEVAL_FMNIST_CLASSIFIER) for 28x28 grey or stacked images."""
    path = resolve_weights(weights)
    model = load_classifier(path).to(device)

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        if batch.dtype != torch.uint8 or batch.dim() != 4 or batch.shape[1] not in (1, 3) or batch.shape[2:] != (28, 28):
            raise InputError(f"fmnist-classifier takes uint8 images N x 1|3 x 28 x 28, got {batch.dtype} {tuple(batch.shape)}")
        channels = batch.shape[1]
        out = model(batch.reshape(-1, 1, 28, 28))
        if channels == 1:
            return out
        pool = out["pool"].reshape(len(batch), -1)
        log_probabilities = out["logits"].log_softmax(1).reshape(len(batch), 3, -1)
        triples = (log_probabilities[:, 0, :, None, None] + log_probabilities[:, 1, None, :, None]
                   + log_probabilities[:, 2, None, None, :])
        return {"pool": pool, "logits": triples.reshape(len(batch), -1), "channel_logits": out["logits"].reshape(len(batch), 3, -1)}

    return FeatureExtractor(
        "fmnist-classifier",
        forward,
        device,
        feature_layer="pool",
        logits_layer="logits",
        weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        preprocessing="x/255, standardised (0.2860, 0.3530), per channel",
        options={"weights": str(path)},
        modules=(model,),
    )
