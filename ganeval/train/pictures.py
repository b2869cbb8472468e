"""A picture of a generator's samples per checkpoint: runs/NAME/samples/step-XXXXXXX.png.

Images: an 8 x 8 grid from fixed latents, so the pictures of successive checkpoints show the same 64 latents; a
class-conditional generator's (up to MAX_CLASS_ROWS classes) has a row per class, 8 samples of each.
2D mixtures: 2,500 points over the mode centres (the VEEGAN/PacGAN evaluation size).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..data.checkpoint import ClassLabels
from ..data.mixtures import MIXTURES
from ..nets.build import num_classes
from ..plots import save_image_grid, save_scatter
from ..runs import RunDir
from .config import TrainConfig

PICTURE_SEED = 0  # the same latents at every checkpoint
MAX_CLASS_ROWS = 16  # more classes (Stacked Fashion-MNIST's 1,000) are drawn as any generator's 8 x 8 grid
PICTURE_COLUMNS = 8


def picture_samples(config: TrainConfig) -> int:
    """How many samples a picture shows: 8 columns of images (8 rows, or a row per class) or 2,500 points."""
    return 2500 if config.model == "mlp" else PICTURE_COLUMNS * picture_rows(config)


def picture_rows(config: TrainConfig) -> int:
    """The picture's rows: one per class of a class-conditional generator with few classes, else 8."""
    classes = num_classes(config.model, config.model_options)
    return classes if classes is not None and classes <= MAX_CLASS_ROWS else 8


def picture_labels(config: TrainConfig) -> ClassLabels | None:
    """The labels a picture asks a class-conditional generator for: sample i of class i // 8 (a row per class)
    where the classes fit as rows; None (the default labels, or none) otherwise."""
    classes = num_classes(config.model, config.model_options)
    fits = classes is not None and classes <= MAX_CLASS_ROWS
    return ClassLabels(classes, per_row=PICTURE_COLUMNS) if fits else None


def save_sample_picture(samples: torch.Tensor, config: TrainConfig, path: Path, step: int) -> Path:
    """Write generated samples (uint8 images or 2D points) as a grid or a scatter over the mixture's modes.

    A scatter is titled by its run's folder (runs/NAME/samples/step-X.png -> NAME): two seeds of one config share
    the config's name, and the report shows each run's picture under its folder's name.
    """
    if config.model == "mlp":
        means = MIXTURES[config.data]().means if config.data in MIXTURES else None
        return save_scatter(samples, path, means, title=f"{picture_run_name(path, config)}, step {step}")
    return save_image_grid(samples, path, columns=PICTURE_COLUMNS)


def picture_run_name(path: Path, config: TrainConfig) -> str:
    """The run folder of a picture in runs/NAME/samples/; the config's name for a picture written elsewhere."""
    run = RunDir.of_picture(path)
    return run.name if run is not None and run.name else config.name
