"""The PacGAN / VEEGAN networks for 2D mixtures (Lin et al. 2018, fjxmlzn/PacGAN).

G: z in R^2 ~ N(0, I) -> 4 hidden layers of 400 units with BatchNorm and ReLU -> linear R^2.
D: 3 maxout layers of 200 units with 5 pieces -> linear score; with packing degree m it reads m samples
   concatenated (2m inputs), which is what lets PacGAN see and penalise mode collapse.
Weights are initialised N(0, 0.02^2), as in the paper's code.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from ..errors import InputError

# Sizes refused before any layer is built, so that a typo (a width of 4_000_000) is one line at once, not an
# allocation failure, an integer overflow inside torch or a machine swapping minutes later. 1e9 parameters are
# 4 GB of float32 weights per network, 16 GB with their gradients and Adam moments: a thousand times the reference
# architectures (about 1e6 each), so no network these models are meant for comes near it.
MAX_PARAMETERS = 1_000_000_000
# Every layer is a few Python modules; plain stacks without residual connections this deep do not train anyway.
MAX_LAYERS = 1000


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

    def __post_init__(self) -> None:
        # The last line of defence: ganeval.train.config checks the same with the config keys' names.
        for item in fields(self):
            check_size_field("MLP", item.name, getattr(self, item.name))
        for name in ("generator_layers", "discriminator_layers"):
            if getattr(self, name) > MAX_LAYERS:
                raise InputError(f"MLP {name} = {getattr(self, name)}: must be an integer in [1, {MAX_LAYERS}]")
        check_parameter_counts("MLP", mlp_parameter_counts(asdict(self)))

    def to_dict(self) -> dict:
        return asdict(self)


def check_size_field(model: str, name: str, value: object) -> None:
    """Sizes and counts are integers >= 1 (a TOML `true` is no width, though Python counts it as 1)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{model} {name} = {value!r}: must be an integer >= 1")


def check_parameter_counts(model: str, counts: Mapping[str, int]) -> None:
    """Refuse a network above MAX_PARAMETERS before any of its layers is allocated."""
    for network, count in counts.items():
        if count > MAX_PARAMETERS:
            raise InputError(f"{model} {network}: {count:,} parameters, more than the {MAX_PARAMETERS:,} a network "
                             "may have")


def mlp_parameter_counts(options: Mapping[str, int]) -> dict[str, int]:
    """The parameters of the generator and the discriminator that MLPConfig(**options) describes (all fields
    given), counted from the sizes alone: computable for any width, however large, without building anything."""
    width, depth = options["generator_width"], options["generator_layers"]
    # Each hidden layer: a linear layer (weights and bias) and BatchNorm's scale and shift; then the output layer.
    generator = (options["latent_dim"] + 3) * width + (depth - 1) * (width + 3) * width
    generator += (width + 1) * options["data_dim"]
    width, depth, pieces = options["discriminator_width"], options["discriminator_layers"], options["maxout_pieces"]
    inputs = options["data_dim"] * options["packing"]
    # Each maxout layer: `pieces` linear units per output; then the linear score.
    discriminator = (inputs + 1) * width * pieces + (depth - 1) * (width + 1) * width * pieces + width + 1
    return {"generator": generator, "discriminator": discriminator}


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
        self.packing, self.data_dim = config.packing, config.data_dim
        layers: list[nn.Module] = []
        width_in = config.data_dim * config.packing
        for _ in range(config.discriminator_layers):
            layers.append(Maxout(width_in, config.discriminator_width, config.maxout_pieces))
            width_in = config.discriminator_width
        layers.append(nn.Linear(width_in, 1))
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        if samples.dim() != 2 or samples.shape[1] != self.data_dim:
            # Points from a file are known only once loaded; torch's own message would be a matrix-shape mismatch.
            raise InputError(f"MLP discriminator: samples of shape {tuple(samples.shape)}, but it scores "
                             f"{self.data_dim}-dimensional points (data_dim = {self.data_dim})")
        return self.net(pack(samples, self.packing)).squeeze(1)


def pack(samples: torch.Tensor, packing: int) -> torch.Tensor:
    """Concatenate consecutive groups of `packing` samples: (N, ...) -> (N / packing, packing * prod(...))."""
    if samples.shape[0] % packing:
        raise InputError(f"batch of {samples.shape[0]} samples is not divisible by the packing degree {packing}")
    return samples.reshape(samples.shape[0] // packing, -1)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """N(0, std^2) weights and zero biases for every linear and convolution layer (BatchNorm keeps its defaults)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
