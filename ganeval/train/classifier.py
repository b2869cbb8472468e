"""Train the Fashion-MNIST evaluator network (`ganeval train-classifier`) and save it with a model card."""
from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path

import torch

from .. import __version__
from ..atomic import write_atomically, write_error, write_text_atomically
from ..data import fashion_mnist
from ..features.classifier import WEIGHTS_FORMAT, WEIGHTS_VERSION
from ..nets.classifier import ClassifierConfig, FashionClassifier
from ..nets.classifier_training import ClassifierTraining, augment, fit_classifier, predict

__all__ = ["ClassifierTraining", "accuracy", "augment", "save_classifier", "train_classifier"]


def train_classifier(
    settings: ClassifierTraining = ClassifierTraining(),
    config: ClassifierConfig = ClassifierConfig(),
    *,
    device: torch.device = torch.device("cpu"),
    data_root: str | None = None,
    progress: bool | None = None,
) -> tuple[FashionClassifier, dict]:
    """Train on fashion-mnist:train; returns the network (in eval mode) and a summary with its test accuracy."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    images, labels = fashion_mnist.load("train", data_root)
    model = FashionClassifier(config).to(device)
    started = time.perf_counter()
    fit_classifier(model, images, labels, settings, generator, device=device, progress=progress)
    summary = {
        "train_seconds": round(time.perf_counter() - started, 1),
        "test_accuracy": accuracy(model, "test", device=device, data_root=data_root),
        "settings": settings.__dict__,
    }
    return model, summary


@torch.no_grad()
def accuracy(model: FashionClassifier, split: str = "test", *, device=torch.device("cpu"), data_root=None) -> float:
    """Top-1 accuracy of `model` on a Fashion-MNIST split."""
    images, labels = fashion_mnist.load(split, data_root)
    return int((predict(model, images, device=device) == labels).sum()) / len(labels)


def save_classifier(model: FashionClassifier, summary: dict, folder: Path) -> Path:
    """Write weights.pt (tensors and plain values only), card.json and README.md (the model card) atomically."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) from exc
    payload = {
        "format": WEIGHTS_FORMAT,
        "version": WEIGHTS_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
    }
    weights = folder / "weights.pt"
    write_atomically(weights, lambda handle: torch.save(payload, handle))
    card = {
        "name": "fmnist-classifier",
        "architecture": model.describe(),
        "config": model.config.to_dict(),
        "training_command": f"ganeval train-classifier --epochs {summary['settings']['epochs']} --seed {summary['settings']['seed']} --out {folder}",
        **summary,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "weights_bytes": weights.stat().st_size,
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "trained_on": f"{platform.machine()}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}, ganeval {__version__}",
    }
    write_text_atomically(folder / "card.json", json.dumps(card, indent=2) + "\n")
    return weights
