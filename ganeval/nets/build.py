"""Networks from a model kind and its options: the one place that turns ("mlp" | "dcgan" | "cdcgan", {option: value})
into modules.

Training builds both networks from its config, and generation rebuilds a checkpoint's generator from the plain
dict the checkpoint stores; both come here, so the two never disagree about what a config's options describe.
The options are the fields of MLPConfig / DCGANConfig / ConditionalDCGANConfig but `packing` (the discriminator's,
given on its own). They are checked here too, as a checkpoint's stored options did not necessarily pass through a
config file's checks.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from torch import nn

from ..errors import InputError
from .conditional import ACGANDiscriminator, ConditionalDCGANConfig, ConditionalDCGANGenerator, ProjectionDiscriminator
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from .mlp import MaxoutDiscriminator, MLPConfig, MLPGenerator

# mlp: 2D mixtures; dcgan: images; cdcgan: class-conditional images (generator(latents, labels), see nets.conditional)
MODELS = ("mlp", "dcgan", "cdcgan")
CONDITIONAL_MODELS = ("cdcgan",)
_NET_CONFIGS: dict[str, type[MLPConfig] | type[DCGANConfig]] = {
    "mlp": MLPConfig, "dcgan": DCGANConfig, "cdcgan": ConditionalDCGANConfig}


def network_config(model: str, options: Mapping[str, Any], packing: int = 1,
                   source: str = "config") -> MLPConfig | DCGANConfig:
    """The networks' config for `model` with `options`; an unknown model, option or value is an InputError that
    starts with `source` (a config's or a checkpoint's name).

    >>> network_config("mlp", {"latent_dim": 4}).latent_dim
    4
    """
    if model not in _NET_CONFIGS:
        raise InputError(f"{source}: model = {model!r}: must be one of {', '.join(MODELS)}")
    if not isinstance(options, Mapping):
        raise InputError(f"{source}: model_options = {options!r}: must be a table of model options")
    kind = _NET_CONFIGS[model]
    defaults = {item.name: item.default for item in fields(kind) if item.name != "packing"}
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise InputError(f"{source}: unknown model_options {', '.join(unknown)}; valid: {', '.join(sorted(defaults))}")
    for key, value in options.items():
        _check_option(key, value, type(defaults[key]), source)
    try:
        return kind(**options, packing=packing)
    except ValueError as exc:  # the nets' own rules: image sizes, channels, norms
        raise InputError(f"{source}: model_options: {exc}") from exc


def _check_option(key: str, value: Any, kind: type, source: str) -> None:
    """Integer options are sizes and counts (>= 1); text options are names the net config checks itself."""
    if kind is int:
        # bool is an int to Python, and a TOML `true` would otherwise build a one-unit layer
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{source}: model_options.{key} = {value!r}: must be an integer >= 1")
    elif not isinstance(value, kind):
        raise InputError(f"{source}: model_options.{key} = {value!r}: must be a {kind.__name__}")


def build_generator(model: str, options: Mapping[str, Any], source: str = "config") -> nn.Module:
    """The generator of `model` with `options` (freshly initialised: load weights into it to rebuild one)."""
    config = network_config(model, options, source=source)
    if model == "cdcgan":
        return ConditionalDCGANGenerator(config)
    return MLPGenerator(config) if model == "mlp" else DCGANGenerator(config)


def build_discriminator(model: str, options: Mapping[str, Any], packing: int = 1, source: str = "config") -> nn.Module:
    """The discriminator of `model` with `options`, reading packs of `packing` samples (PacGAN)."""
    config = network_config(model, options, packing, source)
    if model == "cdcgan":
        return ProjectionDiscriminator(config) if config.conditioning == "projection" else ACGANDiscriminator(config)
    return MaxoutDiscriminator(config) if model == "mlp" else DCGANDiscriminator(config)


def latent_dim(model: str, options: Mapping[str, Any], source: str = "config") -> int:
    """The size of the generator's latent codes: the option's value, else the model's default."""
    return network_config(model, options, source=source).latent_dim


def num_classes(model: str, options: Mapping[str, Any], source: str = "config") -> int | None:
    """The number of classes a class-conditional model's generator takes (labels 0..K-1); None for the others.

    >>> num_classes("cdcgan", {"num_classes": 4}), num_classes("dcgan", {})
    (4, None)
    """
    config = network_config(model, options, source=source)
    return config.num_classes if isinstance(config, ConditionalDCGANConfig) else None


def conditioning(model: str, options: Mapping[str, Any], source: str = "config") -> str | None:
    """How a class-conditional model's discriminator reads the class (projection or acgan); None for the others."""
    config = network_config(model, options, source=source)
    return config.conditioning if isinstance(config, ConditionalDCGANConfig) else None
