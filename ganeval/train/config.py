"""Typed training configs read from TOML; unknown keys are an error naming the valid ones.

The named configs are models/configs/*.toml, shipped inside the package as ganeval.models.configs.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import InputError
from ..models import shipped_path
from .losses import LOSS_NAMES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_DIR = shipped_path("configs")  # its parent holds the other shipped files (demo-gate.toml)
MODELS = ("mlp", "dcgan")
PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs; saved resolved in runs/NAME/config.toml and inside every checkpoint."""

    name: str
    data: str  # a source spec: ring8, grid25, fashion-mnist:train, stacked-fashion-mnist:train, cifar10:train
    model: str = "dcgan"  # mlp (2D mixtures) or dcgan (images)
    model_options: dict = field(default_factory=dict)  # MLPConfig / DCGANConfig fields
    loss: str = "ns"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 64
    d_steps: int = 1  # discriminator steps per generator step
    gp_weight: float = 10.0  # WGAN-GP only
    gp_every: int = 1  # WGAN-GP: the penalty on every n-th discriminator step, weighted n x (lazy regularisation)
    packing: int = 1  # PacGAN degree m
    reuse_fake_batch: bool = False  # the generator step scores the last discriminator step's generated batch again
    precision: str = "float32"  # bfloat16: the training step's network passes under autocast (weights stay float32)
    ema: float = 0.0  # decay of the generator's exponential moving average (0: none)
    lr_decay: float = 0.0  # the last fraction of the steps over which both learning rates fall linearly to 0
    steps: int = 1000
    max_minutes: float = 0.0  # a time budget: stop (with a last checkpoint) once training has run this long (0: none)
    checkpoint_every: int = 500
    eval_every: int = 1  # score every n-th checkpoint and the last one while training (0: never)
    eval_samples: int = 2000  # generated samples per score, against all of `data`
    eval_metrics: str = "fid,is,kid,prdc"
    train_size: int = 100_000  # samples drawn once from a mixture as its training set (PacGAN: 100,000)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InputError(f"config {self.name}: unknown model '{self.model}'; choose from {', '.join(MODELS)}")
        if self.loss not in LOSS_NAMES:
            raise InputError(f"config {self.name}: unknown loss '{self.loss}'; choose from {', '.join(LOSS_NAMES)}")
        for key in ("batch_size", "d_steps", "gp_every", "packing", "steps", "checkpoint_every"):
            if getattr(self, key) < 1:
                raise InputError(f"config {self.name}: {key} must be at least 1, got {getattr(self, key)}")
        if self.eval_every < 0:
            raise InputError(f"config {self.name}: eval_every must be 0 (never) or more, got {self.eval_every}")
        if self.batch_size % self.packing:
            raise InputError(f"config {self.name}: batch_size {self.batch_size} is not divisible by packing {self.packing}")
        if not 0 <= self.lr_decay <= 1:
            raise InputError(f"config {self.name}: lr_decay must be in [0, 1] (a fraction of the steps), got {self.lr_decay}")
        if not isinstance(self.reuse_fake_batch, bool):
            raise InputError(f"config {self.name}: reuse_fake_batch must be true or false, got {self.reuse_fake_batch!r}")
        if self.precision not in PRECISIONS:
            raise InputError(f"config {self.name}: unknown precision '{self.precision}'; choose from {', '.join(PRECISIONS)}")
        if self.max_minutes < 0:
            raise InputError(f"config {self.name}: max_minutes must be 0 (no time budget) or more, got {self.max_minutes}")
        if self.max_minutes > 0 and self.lr_decay > 0:
            # The decay is a function of the step and `steps`, which a time budget may stop short of.
            raise InputError(f"config {self.name}: lr_decay follows `steps` and cannot be combined with max_minutes "
                             "(set max_minutes = 0 to use it)")
        if not 0 <= self.ema < 1:
            raise InputError(f"config {self.name}: ema must be in [0, 1), got {self.ema}")

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


def from_dict(values: dict, source: str = "config") -> TrainConfig:
    """Build a TrainConfig, refusing unknown keys with the list of valid ones."""
    valid = [item.name for item in fields(TrainConfig)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    values = dict(values)
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    try:
        return TrainConfig(**values)
    except TypeError as exc:  # a required key is missing
        raise InputError(f"{source}: {exc}") from exc


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
    values.setdefault("name", path.stem)
    for override in overrides or []:
        key, _, text = override.partition("=")
        if not _ or not key:
            raise InputError(f"--set '{override}': expected key=value")
        try:
            parsed = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            parsed = text  # a bare string such as --set data=grid25
        if key.startswith("model_options."):
            values.setdefault("model_options", {})[key.split(".", 1)[1]] = parsed
        else:
            values[key] = parsed
    return from_dict(values, str(path))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return repr(value)
