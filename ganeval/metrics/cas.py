"""Classification Accuracy Score (Ravuri & Vinyals, NeurIPS 2019, "Classification Accuracy Score for Conditional
Generative Models"): train a classifier on generated samples only, each with the class it was generated for, and
report its top-1 accuracy on real test images. A generator whose samples do not look like their class, or cover
only part of it, trains a worse classifier; one that ignores its labels trains one at chance (1/10).

The classifier is the shipped evaluator's architecture (models/fmnist-classifier: FashionClassifier with its card's
config) trained with its recipe (ganeval.nets.classifier_training: AdamW, one-cycle learning rate, flips and
shifts), so the score sits beside that classifier's own test accuracy, the ceiling of real training data. With the
recipe's seed (0) and the 60,000 fashion-mnist:train images in order, this replays the shipped training exactly.

Stacked Fashion-MNIST (N x 3 x 28 x 28, labels the class triples 100a + 10b + c): the architecture reads one grey
channel, so it is trained on every channel with its own class, and a test image counts as right when all three of
its channels are (the accuracy over the 1,000 triples; `channel_accuracy` is the per-channel one).

>>> from ganeval.data import load_source
>>> train = load_source("fashion-mnist:train", num_samples=2000)
>>> test = load_source("fashion-mnist:test", num_samples=500)
>>> result = classification_accuracy_score(train.data, train.labels, test.data, test.labels, epochs=1)
>>> result.accuracy > 0.3  # chance is 0.1; the recipe's 6 epochs on 60,000 reach 0.93
True
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import lru_cache

import torch

from ..errors import InputError
from ..features.classifier import SHIPPED_WEIGHTS
from ..nets.classifier import ClassifierConfig, FashionClassifier
from ..nets.classifier_training import ClassifierTraining, fit_classifier, predict
from .classes import classes_of

MIN_PER_CLASS = 10  # generated samples (stacked: channels) per class of the reference: fewer cannot teach it
IMAGE_SHAPES = ("uint8 28x28 grey images (N x 1 x 28 x 28) or Stacked Fashion-MNIST (N x 3 x 28 x 28, a class per "
                "channel)")
CEILING_NOTE = ("the shipped fmnist-classifier's test accuracy: the same architecture and recipe trained on the "
                "60,000 real fashion-mnist:train images, tested on fashion-mnist:test "
                "(models/fmnist-classifier/card.json)")


@dataclass(frozen=True)
class CasResult:
    """`accuracy` on the test images (stacked: all three channels right), the accuracy on each test class (stacked:
    each channel class), the per-channel accuracy (stacked only, else None) and the training budget spent."""

    accuracy: float
    per_class: dict[int, float]
    channel_accuracy: float | None
    num_train: int
    settings: ClassifierTraining


@lru_cache(maxsize=1)
def shipped_card() -> dict:
    """The shipped evaluator's model card (card.json beside its weights): its config and its test accuracy."""
    return json.loads((SHIPPED_WEIGHTS.parent / "card.json").read_text())


def real_data_ceiling() -> float:
    """The shipped classifier's test accuracy (0.9291): what the architecture reaches trained on real images."""
    return float(shipped_card()["test_accuracy"])


def classification_accuracy_score(images: torch.Tensor, labels: torch.Tensor, test_images: torch.Tensor,
                                  test_labels: torch.Tensor, *, epochs: int | None = None,
                                  batch_size: int | None = None, seed: int = 0,
                                  device: torch.device = torch.device("cpu")) -> CasResult:
    """Train the evaluator's architecture on `images` (uint8, generated) with `labels` (the class each was asked
    for) for `epochs` (default: the shipped recipe's) in batches of `batch_size` (likewise), seeded by `seed`, and
    test it on `test_images` with `test_labels`. The global random state is left as it was."""
    num_train = len(images)
    train_x, train_y = channel_images(images, labels, "generated")
    test_x, test_y = channel_images(test_images, test_labels, "reference")
    check_classes(train_y, test_y)
    recipe = ClassifierTraining()
    settings = dataclasses.replace(recipe, epochs=recipe.epochs if epochs is None else epochs,
                                   batch_size=recipe.batch_size if batch_size is None else batch_size, seed=seed)
    check_budget(settings.epochs, settings.batch_size)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # the weights' initialisation and dropout, as train_classifier draws them
        generator = torch.Generator().manual_seed(seed)  # the batch order and the augmentation
        model = FashionClassifier(ClassifierConfig.from_dict(shipped_card()["config"])).to(device)
        fit_classifier(model, train_x, train_y, settings, generator, device=device, progress=False)
    correct = (predict(model, test_x, device=device) == test_y).reshape(len(test_images), -1)
    per_class = {int(label): float(correct.reshape(-1)[test_y == label].double().mean())
                 for label in torch.unique(test_y)}
    channel_accuracy = float(correct.double().mean()) if correct.shape[1] > 1 else None
    return CasResult(float(correct.all(dim=1).double().mean()), per_class, channel_accuracy, num_train, settings)


def channel_images(images: torch.Tensor | None, labels: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(grey images N*C x 1 x 28 x 28 on the CPU, the class of each): stacked images split into their channels,
    each with its digit of the class triple; one InputError line for another shape or a class out of range."""
    if (images is None or images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3)
            or tuple(images.shape[2:]) != (28, 28)):
        shape = "none" if images is None else f"{images.dtype} {tuple(images.shape)}"
        raise InputError(f"cas: the {side} images are {shape}; the evaluator's architecture takes {IMAGE_SHAPES}")
    labels, channels = labels.long().cpu(), images.shape[1]
    if len(labels) != len(images):
        raise InputError(f"cas: {len(labels)} {side} labels for {len(images)} images")
    if channels == 3 and labels.dim() == 1:  # the triple's index 100a + 10b + c
        check_range(labels, 10 ** 3, side, "class triples")
        labels = torch.stack([labels // 100, labels // 10 % 10, labels % 10], dim=1)
    if labels.dim() != 1 + (channels == 3) or (channels == 3 and labels.shape[1] != 3):
        raise InputError(f"cas: the {side} labels have shape {tuple(labels.shape)}; give one class per image "
                         f"(a class triple per stacked image)")
    check_range(labels, ClassifierConfig().classes, side, "classes")
    return images.cpu().reshape(-1, 1, 28, 28), labels.reshape(-1)


def check_budget(epochs: object, batch_size: object) -> None:
    """The training budget's one-line refusals: whole numbers of at least 1."""
    for flag, value in (("--cas-epochs", epochs), ("--cas-batch-size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"cas: {flag} {value} must be a whole number >= 1")


def check_range(labels: torch.Tensor, count: int, side: str, what: str) -> None:
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= count):
        raise InputError(f"cas: the {side} labels run from {int(labels.min())} to {int(labels.max())}; the evaluator's "
                         f"architecture takes {what} 0..{count - 1}")


def check_classes(train_labels: torch.Tensor, test_labels: torch.Tensor) -> None:
    """Every generated class is one the reference holds, and each of the reference's classes has MIN_PER_CLASS
    generated samples to learn it from (one InputError line naming the first class short of them)."""
    counts = torch.bincount(train_labels, minlength=ClassifierConfig().classes)
    for label in classes_of(test_labels, train_labels, "cas"):
        if counts[label] < MIN_PER_CLASS:
            raise InputError(f"cas: class {label} has {int(counts[label])} generated samples; training needs at least "
                             f"{MIN_PER_CLASS} of each class the reference holds (draw more samples, or labels "
                             f"uniform)")
