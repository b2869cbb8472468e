"""Train the Fashion-MNIST evaluator network (`ganeval train-classifier`) and save it with a model card."""
from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import __version__
from ..atomic import write_atomically, write_error, write_text_atomically
from ..data import fashion_mnist
from ..features.classifier import WEIGHTS_FORMAT, WEIGHTS_VERSION
from ..nets.classifier import ClassifierConfig, FashionClassifier
from ..progress import is_shown


@dataclass(frozen=True)
class ClassifierTraining:
    """Optimisation settings; the defaults produced the shipped weights."""

    epochs: int = 6
    batch_size: int = 128
    max_lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips per image and a random shift of up to 2 pixels per batch (clothes are symmetric)."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None].to(images.device), images.flip(3), images)
    dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=generator))
    padded = F.pad(images, (2, 2, 2, 2))
    return padded[:, :, 2 + dy: 30 + dy, 2 + dx: 30 + dx]


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
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.max_lr, weight_decay=settings.weight_decay)
    steps_per_epoch = -(-len(images) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.max_lr, total_steps=settings.epochs * steps_per_epoch)
    show = is_shown(progress)
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        bar = tqdm(order.split(settings.batch_size), desc=f"epoch {epoch + 1}/{settings.epochs}", disable=not show, leave=False)
        for rows in bar:
            batch = augment(images[rows], generator).to(device)
            loss = F.cross_entropy(model(batch)["logits"], labels[rows].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
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
    model.eval()
    correct = 0
    for batch, targets in zip(images.split(1000), labels.split(1000)):
        correct += int((model(batch.to(device))["logits"].argmax(1).cpu() == targets).sum())
    return correct / len(labels)


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
