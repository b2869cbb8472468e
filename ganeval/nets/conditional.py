"""Class-conditional DCGANs: a generator with conditional BatchNorm and two discriminators, the projection
discriminator (Miyato & Koyama, ICLR 2018) and the AC-GAN's auxiliary classifier (Odena, Olah & Shlens, ICML 2017).

Generator: the 28x28 / 32x32 DCGAN generator of ganeval.nets.dcgan (z -> 7x7x4w -> 14x14x2w -> 28x28xC), with each
BatchNorm conditional (de Vries et al. 2017, as SNGAN's and the projection paper's generators): the batch statistics
are shared, the scale and shift are the sample's class's, looked up in a table of K rows. Chosen over a class
embedding concatenated to the latent because the class then reaches every layer, not only the first linear map (where
it is a few inputs among latent_dim that the network can learn to ignore); it costs 2 x channels x K parameters per
BatchNorm and no measurable time.

Discriminators, both on the DCGAN discriminator's body (its flattened last feature map phi(x), of 4w x 7 x 7 values):
  projection  D(x, y) = psi(phi(x)) + <embed(y), phi(x)>: the unconditional linear score plus the inner product of
              the class's embedding with the same features (Miyato & Koyama 2018, eq. 3). The embedding is spectrally
              normalised with the rest where discriminator_norm = "spectral", as their code does.
  acgan       D(x) = (psi(phi(x)), W phi(x) + b): the score and the logits of a K-way classifier head on the same
              features; the training loop adds the cross-entropy of those logits against the labels to D's loss on
              real and generated batches and to G's loss on generated ones (ganeval.train.losses.class_loss).
A forward pass takes labels (int64, one per image) beside the images: generator(latents, labels) and
discriminator(images, labels), the AC-GAN's returning (scores, class logits) and reading no labels.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import InputError
from .dcgan import DCGANConfig, DCGANDiscriminator, dcgan_parameter_counts
from .mlp import check_size_field, init_normal

CONDITIONINGS = ("projection", "acgan")  # the discriminator's: projection (Miyato & Koyama) or auxiliary classifier
# What a run's labels are (the training config's `labels`, kept in every checkpoint so that sampling knows what a
# label asks for): none (an unconditional model), or class: the class index 0..K-1 of the training data's labels
# (Fashion-MNIST's and CIFAR-10's 10 classes; for Stacked Fashion-MNIST the class triple (a, b, c) as the one index
# 100a + 10b + c, 1,000 classes, as the mode statistics count them).
LABEL_CONVENTIONS = {"none": "no labels (an unconditional model)",
                     "class": "the class index 0..K-1 of the training data's labels"}


@dataclass(frozen=True)
class ConditionalDCGANConfig(DCGANConfig):
    """DCGANConfig's sizes, the number of classes K (labels 0..K-1) and how the discriminator reads the class."""

    num_classes: int = 10
    conditioning: str = "projection"

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            raise InputError(f"cDCGAN conditioning = {self.conditioning!r}: must be projection or acgan")
        if self.packing != 1:  # a pack of m images would have m labels, which neither D reads
            raise InputError(f"cDCGAN packing = {self.packing}: class-conditional discriminators score one image "
                             "at a time (packing = 1)")
        check_size_field("cDCGAN", "num_classes", self.num_classes)
        if self.num_classes < 2:
            raise InputError(f"cDCGAN num_classes = {self.num_classes}: must be an integer >= 2")
        super().__post_init__()

    def parameter_counts(self) -> dict[str, int]:
        return conditional_parameter_counts(asdict(self))


def conditional_parameter_counts(options: Mapping[str, Any]) -> dict[str, int]:
    """The parameters of the networks ConditionalDCGANConfig(**options) describes (all fields given), from the
    sizes alone: the DCGAN's, with each of the generator's BatchNorm affine pairs repeated per class, and the
    discriminator's class embedding (projection) or class head (acgan) over its score's input features."""
    counts = dcgan_parameter_counts(options)
    width, classes, large = options["generator_width"], options["num_classes"], options["image_size"] == 32
    start = (128 if large else 196) * width
    affine = 2 * (start + 2 * width + (4 * width if large else 0))  # the DCGAN generator's BatchNorm scales, shifts
    width = options["discriminator_width"]
    features = 128 * width if large else 196 * width  # 8w x 4 x 4 or 4w x 7 x 7
    head = classes * features if options["conditioning"] == "projection" else (features + 1) * classes
    return {"generator": counts["generator"] + (classes - 1) * affine, "discriminator": counts["discriminator"] + head}


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine transform, followed by the class's scale (initially 1) and shift (0)."""

    def __init__(self, features: int, num_classes: int, dims: int = 2):
        super().__init__()
        self.norm = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(features, affine=False)
        self.scale = nn.Embedding(num_classes, features)
        self.shift = nn.Embedding(num_classes, features)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        shape = (len(labels), -1) + (1,) * (inputs.dim() - 2)
        return self.norm(inputs) * self.scale(labels).view(shape) + self.shift(labels).view(shape)


class ConditionalDCGANGenerator(nn.Module):
    """generator(latents, labels) -> images in [-1, 1]: the DCGAN generator with class-conditional BatchNorm."""

    def __init__(self, config: ConditionalDCGANConfig = ConditionalDCGANConfig()):
        super().__init__()
        self.config = config
        width, classes = config.generator_width, config.num_classes
        self.start_shape = (8 * width, 4, 4) if config.image_size == 32 else (4 * width, 7, 7)
        start = self.start_shape[0] * self.start_shape[1] * self.start_shape[2]
        self.project = nn.Linear(config.latent_dim, start, bias=False)
        self.project_norm = ConditionalBatchNorm(start, classes, dims=1)
        channels = [self.start_shape[0], 4 * width, 2 * width] if config.image_size == 32 else [4 * width, 2 * width]
        self.up = nn.ModuleList(nn.ConvTranspose2d(inputs, outputs, 4, 2, 1, bias=False)
                                for inputs, outputs in zip(channels, channels[1:]))
        self.up_norms = nn.ModuleList(ConditionalBatchNorm(outputs, classes) for outputs in channels[1:])
        self.output = nn.ConvTranspose2d(2 * width, config.channels, 4, 2, 1)
        init_normal(self)

    def forward(self, latents: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.project_norm(self.project(latents), labels)).view(-1, *self.start_shape)
        for layer, norm in zip(self.up, self.up_norms):
            hidden = torch.relu(norm(layer(hidden), labels))
        return torch.tanh(self.output(hidden))


class ProjectionDiscriminator(DCGANDiscriminator):
    """discriminator(images, labels) -> scores: the DCGAN score plus <embed(label), features> (Miyato & Koyama)."""

    def __init__(self, config: ConditionalDCGANConfig = ConditionalDCGANConfig()):
        super().__init__(config)
        embed = nn.Embedding(config.num_classes, self.score.in_features)
        nn.init.normal_(embed.weight, 0.0, 0.02)  # as the other layers (init_normal)
        self.embed = spectral_norm(embed) if config.discriminator_norm == "spectral" else embed

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        features = self.features(images)
        # In float32 under bfloat16 autocast, as the unconditional score is (see DCGANDiscriminator.forward).
        with torch.autocast(features.device.type, enabled=False):
            features = features.float()
            return self.score(features).squeeze(1) + (self.embed(labels) * features).sum(dim=1)


class ACGANDiscriminator(DCGANDiscriminator):
    """discriminator(images, labels=None) -> (scores, class logits K wide): the AC-GAN's two heads on one body."""

    def __init__(self, config: ConditionalDCGANConfig = ConditionalDCGANConfig()):
        super().__init__(config)
        head = nn.Linear(self.score.in_features, config.num_classes)
        init_normal(head)
        self.classify = spectral_norm(head) if config.discriminator_norm == "spectral" else head

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(images)
        with torch.autocast(features.device.type, enabled=False):
            features = features.float()
            return self.score(features).squeeze(1), self.classify(features)
