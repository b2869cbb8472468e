"""DCGAN (Radford et al. 2016) for 28x28 images (1 or 3 channels) and 32x32 RGB, with a spectral-norm option.

28x28 generator (REFERENCES.md, "a plain DCGAN on Fashion-MNIST"): z -> 7x7x256 -> 14x14x128 -> 28x28xC, BatchNorm
and ReLU, tanh output. 32x32 generator: z -> 4x4x512 -> 8x8 -> 16x16 -> 32x32x3. Discriminators mirror them with
strided convolutions and LeakyReLU(0.2), BatchNorm, spectral normalisation or neither, and a linear score.
Images are in [-1, 1] inside the networks; `to_uint8` maps generator output to the uint8 samples ganeval scores.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import InputError
from .mlp import check_parameter_counts, check_size_field, init_normal, pack

IMAGE_SIZES = (28, 32)  # the two architectures below
CHANNELS = (1, 3)  # grey or RGB
NORMS = ("batch", "spectral", "none")


@dataclass(frozen=True)
class DCGANConfig:
    """Image size (28 or 32), channels, latent size, widths and the discriminator's options.

    Widths are base channel counts: the 28x28 generator has 4w and 2w channels, the discriminator 2w and 4w."""

    image_size: int = 28
    channels: int = 1
    latent_dim: int = 64
    generator_width: int = 64
    discriminator_width: int = 64
    discriminator_norm: str = "batch"  # batch, spectral (SNGAN) or none (WGAN-GP: BatchNorm breaks the penalty)
    packing: int = 1

    def __post_init__(self) -> None:
        # The last line of defence: ganeval.train.config checks the same with the config keys' names.
        if self.discriminator_norm not in NORMS:
            raise InputError(f"DCGAN discriminator_norm = {self.discriminator_norm!r}: must be batch, spectral or none")
        for item in fields(self):
            if not isinstance(item.default, str):  # the integer fields are sizes and counts; text ones are names
                check_size_field("DCGAN", item.name, getattr(self, item.name))
        if self.image_size not in IMAGE_SIZES:
            raise InputError(f"DCGAN image_size = {self.image_size}: must be 28 or 32 (its 28x28 and 32x32 "
                             "architectures; other sizes need another network)")
        if self.channels not in CHANNELS:
            raise InputError(f"DCGAN channels = {self.channels}: must be 1 (grey) or 3 (RGB)")
        check_parameter_counts("DCGAN", self.parameter_counts())

    def parameter_counts(self) -> dict[str, int]:
        """The networks' parameters, counted from the sizes alone (see dcgan_parameter_counts)."""
        return dcgan_parameter_counts(asdict(self))

    def to_dict(self) -> dict:
        return asdict(self)


def dcgan_parameter_counts(options: Mapping[str, Any]) -> dict[str, int]:
    """The parameters of the generator and the discriminator that DCGANConfig(**options) describes (all fields
    given, image_size 28 or 32), counted from the sizes alone: computable for any width without building anything."""
    width, channels, large = options["generator_width"], options["channels"], options["image_size"] == 32
    start = (128 if large else 196) * width  # 8w x 4 x 4 or 4w x 7 x 7
    # The projection (no bias) and its BatchNorm, the 4x4 up-convolutions (no bias) with their BatchNorm, the output.
    generator = (options["latent_dim"] + 2) * start + 8 * width * width * 16 + 4 * width
    generator += 2 * width * channels * 16 + channels
    if large:
        generator += 32 * width * width * 16 + 8 * width
    width, inputs = options["discriminator_width"], channels * options["packing"]
    norm = 2 if options["discriminator_norm"] == "batch" else 0  # BatchNorm's scale and shift per channel
    discriminator = (16 * inputs + 1) * 2 * width + (16 * 2 * width + 1 + norm) * 4 * width
    if large:
        discriminator += (16 * 4 * width + 1 + norm) * 8 * width + 8 * width * 4 * 4 + 1
    else:
        discriminator += 4 * width * 7 * 7 + 1
    return {"generator": generator, "discriminator": discriminator}


def _up(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(True)]


class DCGANGenerator(nn.Module):
    def __init__(self, config: DCGANConfig = DCGANConfig()):
        super().__init__()
        self.config = config
        width = config.generator_width
        if config.image_size == 28:
            self.start_shape = (4 * width, 7, 7)
            body = _up(4 * width, 2 * width) + [nn.ConvTranspose2d(2 * width, config.channels, 4, 2, 1)]
        else:
            self.start_shape = (8 * width, 4, 4)
            body = _up(8 * width, 4 * width) + _up(4 * width, 2 * width) + [nn.ConvTranspose2d(2 * width, config.channels, 4, 2, 1)]
        start = self.start_shape[0] * self.start_shape[1] * self.start_shape[2]
        self.project = nn.Sequential(nn.Linear(config.latent_dim, start, bias=False), nn.BatchNorm1d(start), nn.ReLU(True))
        self.body = nn.Sequential(*body, nn.Tanh())
        init_normal(self)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(latents).view(-1, *self.start_shape))


class DCGANDiscriminator(nn.Module):
    """Scores images in [-1, 1]; with packing m it stacks m images along the channels."""

    def __init__(self, config: DCGANConfig = DCGANConfig()):
        super().__init__()
        self.packing, self.image_shape = config.packing, (config.channels, config.image_size, config.image_size)
        width = config.discriminator_width
        norm = spectral_norm if config.discriminator_norm == "spectral" else (lambda layer: layer)
        batch_norm = nn.BatchNorm2d if config.discriminator_norm == "batch" else (lambda channels: nn.Identity())
        in_channels = config.channels * config.packing
        layers: list[nn.Module] = [norm(nn.Conv2d(in_channels, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        layers += [norm(nn.Conv2d(2 * width, 4 * width, 4, 2, 1)), batch_norm(4 * width), nn.LeakyReLU(0.2, True)]
        size = config.image_size // 4
        if config.image_size == 32:
            layers += [norm(nn.Conv2d(4 * width, 8 * width, 4, 2, 1)), batch_norm(8 * width), nn.LeakyReLU(0.2, True)]
            width, size = 2 * width, size // 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.score = norm(nn.Linear(4 * width * size * size, 1))
        init_normal(self)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The flattened output of the last convolution block: what the linear score reads."""
        if images.dim() != 4 or tuple(images.shape[1:]) != self.image_shape:
            # Images from a folder or file are known only once loaded; torch's own message would be a shape mismatch.
            shown = "x".join(map(str, images.shape[1:]))
            raise InputError(f"DCGAN discriminator: images of shape {shown}, but it scores "
                             f"{'x'.join(map(str, self.image_shape))} images (channels x image_size x image_size)")
        packed = pack(images, self.packing).view(-1, images.shape[1] * self.packing, *images.shape[2:])
        return self.body(packed)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)
        # The score stays float32 under bfloat16 autocast (mixed-precision training): the losses compare it with
        # targets such as LSGAN's 0 and 1, which bfloat16's 8-bit mantissa would blur; the layer costs next to nothing.
        with torch.autocast(features.device.type, enabled=False):
            return self.score(features.float()).squeeze(1)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> uint8 images in [0, 255] (rounded, clamped)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def from_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float images in [-1, 1], the discriminator's input range."""
    return images.float() / 127.5 - 1
