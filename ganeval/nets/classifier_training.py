"""The recipe that trained the shipped evaluator (models/fmnist-classifier), as a step any caller can run on its own
images: `ganeval train-classifier` runs it on fashion-mnist:train, the `cas` metric on generated images (Ravuri &
Vinyals 2019 train the evaluator's architecture on samples). One loop, so both train the same way."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..progress import is_shown
from .classifier import FashionClassifier


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


def fit_classifier(model: FashionClassifier, images: torch.Tensor, labels: torch.Tensor,
                   settings: ClassifierTraining, generator: torch.Generator, *,
                   device: torch.device = torch.device("cpu"), progress: bool | None = None) -> None:
    """Train `model` (already on `device`) on uint8 `images` (N x 1 x 28 x 28, on the CPU) with their `labels`:
    AdamW, a one-cycle learning rate up to settings.max_lr over settings.epochs, batches of settings.batch_size in
    an order drawn from `generator`, which also draws the augmentation. Leaves the model in eval mode."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.max_lr, weight_decay=settings.weight_decay)
    steps_per_epoch = -(-len(images) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.max_lr,
                                                   total_steps=settings.epochs * steps_per_epoch)
    show = is_shown(progress)
    for epoch in range(settings.epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        bar = tqdm(order.split(settings.batch_size), desc=f"epoch {epoch + 1}/{settings.epochs}", disable=not show,
                   leave=False)
        for rows in bar:
            batch = augment(images[rows], generator).to(device)
            loss = F.cross_entropy(model(batch)["logits"], labels[rows].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()


@torch.no_grad()
def predict(model: FashionClassifier, images: torch.Tensor, *, device: torch.device = torch.device("cpu"),
            batch_size: int = 1000) -> torch.Tensor:
    """The class `model` gives each image (argmax of its logits), on the CPU; the model is put in eval mode."""
    model.eval()
    return torch.cat([model(batch.to(device))["logits"].argmax(1).cpu() for batch in images.split(batch_size)])
