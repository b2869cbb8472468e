"""The PacGAN / VEEGAN networks for 2D mixtures (Lin et al. 2018, fjxmlzn/PacGAN).

G: z in R^2 ~ N(0, I) -> 4 hidden layers of 400 units with BatchNorm and ReLU -> linear R^2.
D: 3 maxout layers of 200 units with 5 pieces -> linear score; with packing degree m it reads m samples
   concatenated (2m inputs), which is what lets PacGAN see and penalise mode collapse.
Weights are initialised N(0, 0.02^2), as in the paper's code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MLPConfig:
    """Sizes of the 2D generator and discriminator (the defaults are PacGAN's)."""

    latent_dim: int = 2
    data_dim: int = 2
    generator_width: int = 400
    generator_layers: int = 4
    discriminator_width: int = 200
    discriminator_layers: int = 3
    maxout_pieces: int = 5
    packing: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


class Maxout(nn.Module):
    """A linear layer with `pieces` outputs per unit, keeping the largest."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.linear(inputs).view(-1, self.out_features, self.pieces).amax(dim=2)


class MLPGenerator(nn.Module):
    def __init__(self, config: MLPConfig = MLPConfig()):
        super().__init__()
        layers: list[nn.Module] = []
        width_in = config.latent_dim
        for _ in range(config.generator_layers):
            layers += [nn.Linear(width_in, config.generator_width), nn.BatchNorm1d(config.generator_width), nn.ReLU()]
            width_in = config.generator_width
        layers.append(nn.Linear(width_in, config.data_dim))
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.net(latents)


class MaxoutDiscriminator(nn.Module):
    """Scores packs of `packing` samples: input (N, data_dim) with N divisible by the packing degree."""

    def __init__(self, config: MLPConfig = MLPConfig()):
        super().__init__()
        self.packing = config.packing
        layers: list[nn.Module] = []
        width_in = config.data_dim * config.packing
        for _ in range(config.discriminator_layers):
            layers.append(Maxout(width_in, config.discriminator_width, config.maxout_pieces))
            width_in = config.discriminator_width
        layers.append(nn.Linear(width_in, 1))
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        return self.net(pack(samples, self.packing)).squeeze(1)


def pack(samples: torch.Tensor, packing: int) -> torch.Tensor:
    """Concatenate consecutive groups of `packing` samples: (N, ...) -> (N / packing, packing * prod(...))."""
    if samples.shape[0] % packing:
        raise ValueError(f"batch of {samples.shape[0]} samples is not divisible by the packing degree {packing}")
    return samples.reshape(samples.shape[0] // packing, -1)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """N(0, std^2) weights and zero biases for every linear and convolution layer (BatchNorm keeps its defaults)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
