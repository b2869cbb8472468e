"""Typed training configs read from TOML; unknown keys are an error naming the valid ones, and every value is
checked against its rule (FIELD_RULES, MODEL_OPTION_RULES) when the config is built, before a run folder exists.

The named configs are models/configs/*.toml, shipped inside the package as ganeval.models.configs.
"""
from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

from ..data import DATASET_SPECS, KNOWN_SPECS, MIXTURES
from ..errors import GanevalError, InputError
from ..metrics.registry import computed_families, parse_metrics
from ..models import shipped_path
from ..nets.build import CONDITIONAL_MODELS, MODELS
from ..nets.conditional import CONDITIONINGS, LABEL_CONVENTIONS, ConditionalDCGANConfig, conditional_parameter_counts
from ..nets.dcgan import CHANNELS, IMAGE_SIZES, NORMS, DCGANConfig, dcgan_parameter_counts
from ..nets.mlp import MAX_LAYERS, MAX_PARAMETERS, MLPConfig, mlp_parameter_counts
from .losses import LOSS_NAMES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_DIR = shipped_path("configs")  # its parent holds the other shipped files (demo-gate.toml)
PRECISIONS = ("float32", "bfloat16")
MAX_STEPS = 9_999_999  # checkpoint names carry 7 digits (step-0002000.pt) so that they sort in step order
# TOML integers are 64-bit: a larger seed could not be written to the run's config.toml (nor seed torch's generators).
MAX_SEED = 2**63 - 1
# A mixture's training set is drawn and held in memory (float64 points: about 0.5 GB while drawing 10 million).
MAX_TRAIN_SIZE = 10_000_000


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs; saved resolved in runs/NAME/config.toml and inside every checkpoint.

    Every value is checked against FIELD_RULES (and the model's MODEL_OPTION_RULES) when the config is built.

    >>> from_dict({"name": "x", "data": "ring8", "model": "mlp", "lr_g": -1})
    Traceback (most recent call last):
    ganeval.errors.InputError: config: lr_g = -1: must be a number > 0
    """

    name: str
    data: str  # a source spec: ring8, grid25, fashion-mnist:train, stacked-fashion-mnist:train, cifar10:train
    model: str = "dcgan"  # mlp (2D mixtures), dcgan (images) or cdcgan (class-conditional images)
    model_options: dict = field(default_factory=dict)  # MLPConfig / DCGANConfig / ConditionalDCGANConfig fields
    labels: str = "none"  # what the generator's labels are: none, or class (see nets.conditional.LABEL_CONVENTIONS)
    loss: str = "ns"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 64
    d_steps: int = 1  # discriminator steps per generator step
    gp_weight: float = 10.0  # WGAN-GP only
    gp_every: int = 1  # WGAN-GP: the penalty on every n-th discriminator step, weighted n x (lazy regularisation)
    aux_weight: float = 1.0  # AC-GAN only: the weight of the class cross-entropy in D's and G's losses (the paper's 1)
    # AC-GAN only: D's class loss also on the generated batch (the paper's L_C), or on real images only (StudioGAN's
    # ACGAN), which keeps D's class head a classifier of real images that G must satisfy.
    aux_generated: bool = True
    packing: int = 1  # PacGAN degree m
    reuse_fake_batch: bool = False  # the generator step scores the last discriminator step's generated batch again
    precision: str = "float32"  # bfloat16: the training step's network passes under autocast (weights stay float32)
    ema: float = 0.0  # decay of the generator's exponential moving average (0: none)
    lr_decay: float = 0.0  # the last fraction of the steps over which both learning rates fall linearly to 0
    steps: int = 1000
    max_minutes: float = 0.0  # a time budget: stop (with a last checkpoint) once training has run this long (0: none)
    checkpoint_every: int = 500
    eval_every: int = 1  # score every n-th checkpoint and the last one while training (0: never)
    log_every: int = 20  # append the training signals to training.jsonl every n steps (0: never)
    eval_samples: int = 2000  # generated samples per score, against all of `data`
    eval_metrics: str = "fid,is,kid,prdc"
    train_size: int = 100_000  # samples drawn once from a mixture as its training set (PacGAN: 100,000)
    seed: int = 0

    def __post_init__(self) -> None:
        # Built by from_dict, the values are checked already; this covers TrainConfig(...) called directly.
        checked_values(asdict(self), f"config {self.name}")

    def to_dict(self) -> dict:
        values = asdict(self)
        values["betas"] = list(self.betas)
        return values

    def to_toml(self) -> str:
        """The resolved config as TOML (flat keys, model options as a table)."""
        lines = []
        for key, value in self.to_dict().items():
            if key != "model_options":
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("\n[model_options]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in self.model_options.items()]
        return "\n".join(lines) + "\n"


class Rule(NamedTuple):
    """What one config value must be: `accepts(value)` decides, `expected` says it after "must be"."""

    expected: str
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda value: value  # to the field's type once accepted (ints to float, ...)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML true would pass as 1 otherwise


def _is_number(value: Any) -> bool:
    # TOML reads 1e400 as inf and accepts nan: neither is a usable rate, weight or duration.
    return (_is_integer(value) or isinstance(value, float)) and math.isfinite(value)


def _integer(low: int, high: int | None = None) -> Rule:
    expected = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    return Rule(expected, lambda value: _is_integer(value) and low <= value and (high is None or value <= high))


def _number(low: float, *, above: bool = False, high: float | None = None, below: bool = False) -> Rule:
    """A finite number >= low (> low with `above`), and <= high (< high with `below`) when high is given."""
    if high is None:
        expected = f"a number {'>' if above else '>='} {low:g}"
    else:
        expected = f"a number in {'(' if above else '['}{low:g}, {high:g}{')' if below else ']'}"

    def accepts(value: Any) -> bool:
        if not _is_number(value):
            return False
        return (value > low if above else value >= low) and (high is None or (value < high if below else value <= high))

    return Rule(expected, accepts, float)


def _choice(options: tuple, why: str = "") -> Rule:
    """One of `options`; `why` (shown in parentheses) says what they stand for."""
    kind = _is_integer if all(_is_integer(option) for option in options) else (lambda value: isinstance(value, str))
    expected = f"one of {', '.join(map(str, options))}" + (f" ({why})" if why else "")
    return Rule(expected, lambda value: kind(value) and value in options)


def _is_text(value: Any) -> bool:
    # Control characters would break the one-line messages and the TOML written beside every run.
    return isinstance(value, str) and value != "" and all(ord(char) >= 32 and char != "\x7f" for char in value)


def _is_run_name(value: Any) -> bool:
    # The name is the default run folder, runs/NAME: it must stay one folder inside runs/.
    return _is_text(value) and value not in (".", "..") and "/" not in value and "\\" not in value


def _is_data_spec(value: Any) -> bool:
    """A known source spec, or text that ganeval.data.load_source takes for a path (checked when training starts)."""
    if not _is_text(value):
        return False
    if value in KNOWN_SPECS or Path(value).suffix or "/" in value or os.sep in value:
        return True
    try:
        return Path(value).exists()
    except OSError:  # a name too long for the file system
        return False


def _is_metric_list(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(parse_metrics(value))
    except GanevalError:
        return False


_BETA = _number(0, high=1, below=True)

# One rule per TrainConfig field (a test keeps the two in step). Step 0 is the untrained generator's checkpoint,
# so a run needs steps >= 1; checkpoint_every is a modulus; batches of 1 break the generators' BatchNorm.
FIELD_RULES: dict[str, Rule] = {
    "name": Rule("a non-empty name without /, \\ or control characters (the run folder runs/NAME)", _is_run_name),
    "data": Rule(f"a source spec ({', '.join(KNOWN_SPECS)}) or a file or folder path", _is_data_spec),
    "model": _choice(MODELS),
    "model_options": Rule("a table of model options", lambda value: isinstance(value, dict), dict),
    "labels": _choice(tuple(LABEL_CONVENTIONS), "none: unconditional; class: the training data's class index"),
    "loss": _choice(LOSS_NAMES),
    "lr_g": _number(0, above=True),
    "lr_d": _number(0, above=True),
    "betas": Rule("a list of two numbers in [0, 1)",
                  lambda value: isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_BETA.accepts, value)),
                  lambda value: tuple(float(beta) for beta in value)),
    "batch_size": _integer(2),
    "d_steps": _integer(1),
    "gp_weight": _number(0),
    "gp_every": _integer(1),
    "aux_weight": _number(0),
    "aux_generated": Rule("true or false", lambda value: isinstance(value, bool)),
    "packing": _integer(1),
    "reuse_fake_batch": Rule("true or false", lambda value: isinstance(value, bool)),
    "precision": _choice(PRECISIONS),
    "ema": _number(0, high=1, below=True),
    "lr_decay": _number(0, high=1),
    "steps": _integer(1, MAX_STEPS),
    "max_minutes": _number(0),
    "checkpoint_every": _integer(1),
    "eval_every": _integer(0),
    "log_every": _integer(0),
    "eval_samples": _integer(2),
    "eval_metrics": Rule(f"a comma-separated list of metrics from {', '.join(sorted(computed_families()))}",
                         _is_metric_list),
    "train_size": _integer(2, MAX_TRAIN_SIZE),
    "seed": _integer(0, MAX_SEED),  # numpy's generators (the mixtures' samples) refuse negative seeds
}

_WIDTH, _LAYERS = _integer(1), _integer(1, MAX_LAYERS)
# The options of each model's networks (the nets' config fields but `packing`, which the top-level key sets). Widths
# have no bound of their own: the networks' parameter counts do (MAX_PARAMETERS, see _check_network_sizes).
MODEL_OPTION_RULES: dict[str, dict[str, Rule]] = {
    "mlp": {"latent_dim": _WIDTH, "data_dim": _WIDTH, "generator_width": _WIDTH, "generator_layers": _LAYERS,
            "discriminator_width": _WIDTH, "discriminator_layers": _LAYERS, "maxout_pieces": _WIDTH},
    "dcgan": {"image_size": _choice(IMAGE_SIZES, "the DCGAN's 28x28 and 32x32 architectures"),
              "channels": _choice(CHANNELS, "grey or RGB"), "latent_dim": _WIDTH,
              "generator_width": _WIDTH, "discriminator_width": _WIDTH, "discriminator_norm": _choice(NORMS)},
}
MODEL_OPTION_RULES["cdcgan"] = {
    **MODEL_OPTION_RULES["dcgan"], "num_classes": _integer(2),
    "conditioning": _choice(CONDITIONINGS, "the projection discriminator or the AC-GAN's auxiliary classifier")}
# The options that size each network, for the message about one too large (packing sizes the discriminators too).
SIZING_OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "mlp": {"generator": ("latent_dim", "generator_width", "generator_layers", "data_dim"),
            "discriminator": ("data_dim", "discriminator_width", "discriminator_layers", "maxout_pieces")},
    "dcgan": {"generator": ("latent_dim", "generator_width", "image_size", "channels"),
              "discriminator": ("discriminator_width", "image_size", "channels", "discriminator_norm")},
    "cdcgan": {"generator": ("latent_dim", "generator_width", "image_size", "channels", "num_classes"),
               "discriminator": ("discriminator_width", "image_size", "channels", "discriminator_norm",
                                 "num_classes", "conditioning")},
}
PARAMETER_COUNTS = {"mlp": mlp_parameter_counts, "dcgan": dcgan_parameter_counts,
                    "cdcgan": conditional_parameter_counts}
MODEL_DEFAULTS = {"mlp": MLPConfig(), "dcgan": DCGANConfig(), "cdcgan": ConditionalDCGANConfig()}
IMAGE_MODELS = ("dcgan", "cdcgan")
# The image shape (channels, size) of each known image source, which the DCGAN's options must match.
IMAGE_SOURCE_SHAPES = {"fashion-mnist": (1, 28), "stacked-fashion-mnist": (3, 28), "cifar10": (3, 32)}
# The classes of each known image source's labels (LABEL_CONVENTIONS' "class"), which a conditional model's must match.
IMAGE_SOURCE_CLASSES = {"fashion-mnist": 10, "stacked-fashion-mnist": 1000, "cifar10": 10}


def checked_values(values: dict, source: str = "config", overridden: frozenset[str] = frozenset()) -> dict:
    """`values` with the defaults of the missing fields, checked against FIELD_RULES and MODEL_OPTION_RULES and
    converted to the fields' types.

    Each failure is one InputError naming the key, the value and what it must be, after `source` (or `--set`
    for the keys in `overridden`): "grid25-gan.toml: lr_g = -1: must be a number > 0", "--set lr_g = -1: ..."."""
    values = {**_field_defaults(), **values}
    checked = {key: _checked(key, value, FIELD_RULES[key], source, overridden) for key, value in values.items()}
    checked["model_options"] = _checked_options(checked["model"], checked["model_options"], source, overridden)
    _check_combinations(checked, source)
    _check_data_fits_model(checked, source)
    _check_labels(checked, source)
    _check_batch_fits_data(checked, source)
    _check_network_sizes(checked, source)  # last: the image size and channels are the data's by now
    return checked


def _field_defaults() -> dict:
    return {item.name: item.default if item.default is not MISSING else item.default_factory()
            for item in fields(TrainConfig) if item.default is not MISSING or item.default_factory is not MISSING}


def _checked(key: str, value: Any, rule: Rule, source: str, overridden: frozenset[str]) -> Any:
    if not rule.accepts(value):
        where = "--set " if key in overridden else f"{source}: "
        raise InputError(f"{where}{key} = {_shown(value)}: must be {rule.expected}")
    return rule.convert(value)


def _checked_options(model: str, options: dict, source: str, overridden: frozenset[str]) -> dict:
    rules = MODEL_OPTION_RULES[model]
    unknown = sorted(set(options) - set(rules))
    if unknown:
        # An empty or odd name (--set model_options.=3) is quoted, or the message would show a gap.
        names = ", ".join(key if key.isidentifier() else _shown(key) for key in unknown)
        raise InputError(f"{source}: unknown model_options {names} for model {model}; "
                         f"valid: {', '.join(sorted(rules))}")
    if "model_options" in overridden:  # --set model_options={...} sets every option in the table
        overridden = overridden | {f"model_options.{key}" for key in options}
    return {key: _checked(f"model_options.{key}", value, rules[key], source, overridden)
            for key, value in options.items()}


def _check_combinations(values: dict, source: str) -> None:
    if values["batch_size"] % values["packing"]:
        raise InputError(f"{source}: batch_size {values['batch_size']} is not divisible by packing {values['packing']}")
    if values["max_minutes"] > 0 and values["lr_decay"] > 0:
        # The decay is a function of the step and `steps`, which a time budget may stop short of.
        raise InputError(f"{source}: lr_decay follows `steps` and cannot be combined with max_minutes "
                         "(set max_minutes = 0 to use it)")


def _check_data_fits_model(values: dict, source: str) -> None:
    """A known source's kind and shape against the model's (a path's are known once training loads it)."""
    model, data = values["model"], values["data"]
    if data in MIXTURES and model != "mlp" or data in DATASET_SPECS and model not in IMAGE_MODELS:
        kind, fit = ("2D points", "mlp") if data in MIXTURES else ("images", "dcgan")
        raise InputError(f"{source}: model {_shown(model)} cannot train on data {_shown(data)} ({kind}); "
                         f"use model = {_shown(fit)}")
    options = {**asdict(MODEL_DEFAULTS[model]), **values["model_options"]}
    if data in MIXTURES and options["data_dim"] != 2:
        raise InputError(f"{source}: model_options.data_dim = {options['data_dim']}: data {_shown(data)} is 2D points; "
                         "use 2")
    shape = IMAGE_SOURCE_SHAPES[data.split(":", 1)[0]] if data in DATASET_SPECS else None
    if shape and shape != (options["channels"], options["image_size"]):
        raise InputError(f"{source}: data {_shown(data)} holds {shape[0]}x{shape[1]}x{shape[1]} images; use "
                         f"model_options.channels = {shape[0]} and model_options.image_size = {shape[1]} "
                         f"(not {options['channels']} and {options['image_size']})")


def _check_labels(values: dict, source: str) -> None:
    """A class-conditional model trains on labelled data with labels = "class", one image per discriminator input
    and no gradient penalty; the other models take no labels. A known source's classes must be num_classes (a
    path's labels, if any, are known once training loads it)."""
    model, labels = values["model"], values["labels"]
    if model not in CONDITIONAL_MODELS:
        if labels != "none":
            raise InputError(f"{source}: labels = {_shown(labels)}: model {_shown(model)} is unconditional; use "
                             f'labels = "none" (or model = "cdcgan" to train on the classes)')
        return
    if labels == "none":
        raise InputError(f'{source}: labels = "none": model {_shown(model)} is class-conditional; use labels = '
                         f'"class" ({LABEL_CONVENTIONS["class"]})')
    if values["packing"] != 1:
        raise InputError(f"{source}: packing = {values['packing']}: model {_shown(model)}'s discriminators score one "
                         "image and its label at a time; use packing = 1")
    if values["loss"] == "wgan-gp":
        raise InputError(f'{source}: loss = "wgan-gp" cannot train model {_shown(model)}: the penalty\'s '
                         "interpolates of a real and a generated image have no one label; use ns, hinge, lsgan or "
                         "minimax")
    classes = {**asdict(MODEL_DEFAULTS[model]), **values["model_options"]}["num_classes"]
    known = IMAGE_SOURCE_CLASSES.get(values["data"].split(":", 1)[0]) if values["data"] in DATASET_SPECS else None
    if known is not None and known != classes:
        raise InputError(f"{source}: data {_shown(values['data'])} has {known} classes; use "
                         f"model_options.num_classes = {known} (not {classes})")


def _check_batch_fits_data(values: dict, source: str) -> None:
    """A mixture's training set is `train_size` points: a larger batch would repeat points in every batch (the
    size of a file's or data set's samples is known once training loads them)."""
    if values["data"] in MIXTURES and values["batch_size"] > values["train_size"]:
        raise InputError(f"{source}: batch_size = {values['batch_size']}: larger than train_size = "
                         f"{values['train_size']}, the points drawn from {_shown(values['data'])} to train on; "
                         "use batch_size <= train_size")


def _check_network_sizes(values: dict, source: str) -> None:
    """Refuse networks above MAX_PARAMETERS from their sizes alone, before anything is built or allocated."""
    model = values["model"]
    options = {**asdict(MODEL_DEFAULTS[model]), **values["model_options"], "packing": values["packing"]}
    for network, count in PARAMETER_COUNTS[model](options).items():
        if count > MAX_PARAMETERS:
            raise InputError(f"{source}: {_sizing_settings(model, network, options)}: the {network} would have "
                             f"{count:,} parameters; at most {MAX_PARAMETERS:,} per network")


def _sizing_settings(model: str, network: str, options: dict) -> str:
    """The settings that make `network` large: its sizing options that differ from the model's defaults (and
    packing, which widens the discriminator's input), else all its sizing options."""
    defaults = asdict(MODEL_DEFAULTS[model])
    keys = SIZING_OPTIONS[model][network]
    named = [f"model_options.{key} = {_shown(options[key])}" for key in keys if options[key] != defaults[key]]
    if network == "discriminator" and options["packing"] > 1:
        named.append(f"packing = {options['packing']}")
    return ", ".join(named or [f"model_options.{key} = {_shown(options[key])}" for key in keys])


def _shown(value: Any, limit: int = 60) -> str:
    """A value as TOML would write it, on one line and cut short: the user finds what they typed."""
    if isinstance(value, str):
        text = json.dumps(value)  # escapes newlines and control characters
    elif isinstance(value, (bool, int, float, list, tuple)):
        text = _toml_value(value)
    else:
        text = repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_dict(values: dict, source: str = "config", overridden: frozenset[str] = frozenset()) -> TrainConfig:
    """Build a TrainConfig, refusing unknown keys with the list of valid ones and values that break a rule.

    `source` starts every message (a config path, "checkpoint config"); keys in `overridden` came from --set."""
    if not isinstance(values, dict):
        raise InputError(f"{source}: not a table of config keys")
    valid = [item.name for item in fields(TrainConfig)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    missing = [key for key in ("name", "data") if key not in values]
    if missing:
        raise InputError(f"{source}: missing required key(s) {', '.join(missing)}")
    return TrainConfig(**checked_values(values, source, overridden))


def config_names() -> list[str]:
    """The names of the shipped configs (models/configs/NAME.toml), sorted."""
    return sorted(config.stem for config in CONFIG_DIR.glob("*.toml"))


def load_config(name_or_path: str, overrides: list[str] | None = None) -> TrainConfig:
    """Read a config by path or by name from models/configs/, then apply `key=value` overrides (TOML values)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(config_names()) or f"(none: {CONFIG_DIR} holds no .toml files; reinstall ganeval)"
        raise InputError(f"config '{name_or_path}' not found; give a .toml path or one of: {known}")
    try:
        values = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    values.setdefault("name", path.stem)
    overridden = []
    for override in overrides or []:
        key, _, text = override.partition("=")
        key = key.strip()
        if not _ or not key:
            raise InputError(f"--set '{override}': expected key=value")
        try:
            parsed = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            parsed = text  # a bare string such as --set data=grid25
        if key.startswith("model_options."):
            options = values.setdefault("model_options", {})
            if not isinstance(options, dict):
                raise InputError(f"{path}: model_options = {_shown(options)}: must be a table of model options")
            options[key.split(".", 1)[1]] = parsed
        else:
            values[key] = parsed
        overridden.append(key)
    return from_dict(values, str(path), frozenset(overridden))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return repr(value)
