"""Parsed command-line arguments as configs: the ScoreConfig that `score`, `ref build` and `ref export` ask for, the
inverse of the flags ganeval.cli builds from the config dataclasses.

It imports neither torch nor the commands: ganeval.cli builds the parser from the names here, ganeval.commands turns
the parsed arguments into configs with them.
"""
from __future__ import annotations

import argparse
from typing import Any

from .config import BootstrapOptions, DataConfig, ExtractorConfig, GeneratorOptions, ScoreConfig, flag_fields
from .errors import InputError
from .metrics.registry import METRIC_FAMILIES, Metric, parse_metrics
from .presets import PRESETS, apply_preset

# Listed here rather than read from the extractor registry, which imports torch; tests/test_cli_usage.py keeps them
# in step.
EXTRACTOR_NAMES = ("clip-vit-l-14-336", "dinov2-vit-b-14", "dinov2-vit-l-14", "dinov2-vit-s-14", "fmnist-classifier",
                   "identity", "inception-v3-compat", "vgg16", "torchscript:PATH")


def option_dest(family: str, field_name: str) -> str:
    """Where family option `field_name` lands in the parsed args: kid's subset_size -> kid_subset_size."""
    return f"{family}_{field_name}".replace("-", "_")


def score_config(args: argparse.Namespace) -> ScoreConfig:
    """The ScoreConfig that the parsed args of `score`, `ref build` or `ref export` ask for: the inverse of the
    flags built from it. A field the command has no flag for (ref build has no --reference-samples) keeps
    ScoreConfig's default."""
    metrics, ci = getattr(args, "metrics", None), getattr(args, "ci", None)
    config = ScoreConfig(
        metrics=None if metrics is None else tuple(parse_metrics(metrics)),
        metric_options=metric_options(args),
        extractor=extractor_config(args),
        ci=None if ci is None else BootstrapOptions(ci, args.ci_replicates),
        data=DataConfig(**_flag_values(args, DataConfig)),
        use_cache=not getattr(args, "no_cache", False),
        progress=False if args.quiet else None,  # None: bars when stderr is a terminal
        **_flag_values(args, ScoreConfig),
    )
    return apply_preset(config, getattr(args, "preset", None))


def generator_options(args: argparse.Namespace) -> GeneratorOptions:
    """The GeneratorOptions of `score`'s generator flags (their defaults where the command has none)."""
    return GeneratorOptions(**_flag_values(args, GeneratorOptions))


def generator_arguments(args: argparse.Namespace) -> dict[str, str]:
    """--generator-arg KEY=VALUE, repeated, as a python: factory's keyword arguments."""
    arguments: dict[str, str] = {}
    for given in getattr(args, "generator_arg", None) or ():
        key, separator, value = given.partition("=")
        if not separator or not key.isidentifier():
            raise InputError(f"--generator-arg {given}: give KEY=VALUE, KEY a Python name (e.g. checkpoint=G.pt)")
        if key in arguments:
            raise InputError(f"--generator-arg {key} is given twice")
        arguments[key] = value
    return arguments


def _flag_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The parsed values of `cls`'s flag fields, by field name; a field this command has no flag for is left out."""
    return {item.name: getattr(args, item.name) for item in flag_fields(cls) if hasattr(args, item.name)}


def metric_options(args: argparse.Namespace) -> dict[str, Any]:
    """Every registered family's options, from its --FAMILY-FIELD flags (their defaults where the command has none)."""
    return {name: _family_options(args, family) for name, family in METRIC_FAMILIES.items()}


def _family_options(args: argparse.Namespace, family: Metric) -> Any:
    """`family`'s options dataclass: the flags this command has, the dataclass defaults for the rest."""
    given = {item.name: getattr(args, option_dest(family.name, item.name)) for item in family.option_fields()
             if hasattr(args, option_dest(family.name, item.name))}
    return family.options(**given)


def extractor_config(args: argparse.Namespace) -> ExtractorConfig:
    """--extractor with its options by extractor name (a score refuses options of an extractor it does not use).
    --trust-extractor trusts the file that --extractor torchscript:PATH names, never one that 'auto' picks, so
    elsewhere it is an error. Under --preset, 'auto' means the preset's extractor."""
    names = ExtractorConfig(args.extractor).names
    preset = getattr(args, "preset", None)
    if names == ("auto",) and preset is not None:
        names = (PRESETS[preset].extractor,)
    options: dict[str, dict] = {}
    if args.inception_weights:
        options["inception-v3-compat"] = {"weights": args.inception_weights}
    for given in args.weights or ():
        name, path = _weights_target(given, names)
        if "weights" in options.get(name, {}):
            raise InputError(f"--weights {given}: {name} already has a weights file ({options[name]['weights']})")
        options.setdefault(name, {})["weights"] = path
    if args.resize not in (None, "tf1"):  # tf1 is the default: asked or not, the same feature space
        options.setdefault("inception-v3-compat", {})["resize"] = args.resize
    if args.trust_extractor:
        scripts = [name for name in names if name.startswith("torchscript:")]
        if not scripts:
            raise InputError(f"--trust-extractor trusts the file named by --extractor torchscript:PATH, but the "
                             f"extractor is {args.extractor}; name the TorchScript file there")
        for name in scripts:
            options.setdefault(name, {})["trust"] = True
    return ExtractorConfig(args.extractor, options)


def _weights_target(given: str, names: tuple[str, ...]) -> tuple[str, str]:
    """(extractor, path) of one --weights value: 'NAME=PATH', or a PATH for the one extractor named."""
    name, separator, path = given.partition("=")
    if separator and name in EXTRACTOR_NAMES:
        return name, path
    if len(names) != 1 or names[0] == "auto":
        asked = "auto picks the extractor from the data" if names == ("auto",) else f"{len(names)} extractors are named"
        raise InputError(f"--weights {given}: {asked}; say whose weights they are: --weights EXTRACTOR=PATH, or name "
                         f"one with --extractor")
    return names[0], given
