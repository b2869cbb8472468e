"""Checkpoints as a sample source: read a ganeval checkpoint, rebuild its generator, generate seeded samples.

A checkpoint is a dict with `format` ("ganeval-checkpoint"), `version`, `step`, `config` (the plain-dict training
config the networks are rebuilt from) and the state dicts of the networks and optimisers; it is read with
torch.load(weights_only=True), so no pickled code ever runs, and anything else (a truncated file, another format, a
newer version, a pickled object) is a one-line InputError. ganeval.train writes checkpoints; this module only reads
them and never imports ganeval.train: evaluation needs no training code. Of the stored config it reads only what
generation needs (GENERATION_KEYS), so a checkpoint is scored by what its generator computes.

A class-conditional checkpoint (model cdcgan: its model_options carry num_classes, its config's `labels` says what
a label is, LABEL_CONVENTIONS) is sampled with a label per sample: sample i's label is a function of (seed, i) alone
(ganeval.data.generator.labels_at), uniform over the classes by default, drawn from the reference's label histogram
(`label_weights`) or one class (`label_class`: `ganeval sample --class K`); `CheckpointSource.labels` tells them. An
unconditional checkpoint's samples are what they were before conditional models existed, bit for bit.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ..config import LATENT_KINDS
from ..errors import InputError, UnknownNameError
from ..nets.build import build_generator, latent_dim, num_classes
from ..nets.conditional import LABEL_CONVENTIONS
from ..nets.dcgan import to_uint8
from ..progress import bar
from ..runs import Checkpoint, RunDir
from .generator import GENERATION_BATCH, LabelSpec, labels_at
from .samples import Samples

CHECKPOINT_FORMAT = "ganeval-checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("step", "config", "generator")
GENERATION_KEYS = ("name", "data", "model", "model_options", "eval_samples")  # what generation reads of the config
# and, where present, `labels` (checkpoints from before conditional models lack it: they have none)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint with torch.load(weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, foreign file or a pickle with objects: several exception types
        reason = "holds objects other than tensors and plain values" if "weights_only" in str(exc) else "truncated or not a torch file"
        raise InputError(f"{path}: not a readable checkpoint ({reason})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a ganeval checkpoint (no format '{CHECKPOINT_FORMAT}')")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise InputError(
            f"{path}: checkpoint format version {payload.get('version')} is not supported by this ganeval "
            f"(reads version {CHECKPOINT_VERSION})"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise InputError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return payload


class ModelSpec(Protocol):
    """What generation needs to know of a generator: its model kind and options (a GenerationConfig or a
    training config)."""

    @property
    def model(self) -> str: ...

    @property
    def model_options(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class GenerationConfig:
    """The part of a checkpoint's training config that generation reads (see generation_config)."""

    name: str
    data: str  # the source spec the run trained on: the natural reference
    model: str
    model_options: Mapping[str, Any]
    eval_samples: int  # the run's default number of samples to score
    labels: str = "none"  # what the generator's labels are (LABEL_CONVENTIONS): none, or the data's class index


def generation_config(checkpoint: dict, source: str = "checkpoint") -> GenerationConfig:
    """The GENERATION_KEYS of a loaded checkpoint's stored config, checked; `source` names the file in messages."""
    values = checkpoint.get("config")
    if not isinstance(values, dict):
        raise InputError(f"{source}: holds no training config (not a ganeval checkpoint?)")
    where = f"{source}: checkpoint config"
    missing = [key for key in GENERATION_KEYS if key not in values]
    if missing:
        raise InputError(f"{where}: missing key(s) {', '.join(missing)}")
    for key in ("name", "data"):
        if not isinstance(values[key], str) or not values[key]:
            raise InputError(f"{where}: {key} = {values[key]!r}: must be a non-empty string")
    count = values["eval_samples"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 2:
        raise InputError(f"{where}: eval_samples = {count!r}: must be an integer >= 2")
    labels = values.get("labels", "none")
    if labels not in LABEL_CONVENTIONS:
        raise InputError(f"{where}: labels = {labels!r}: must be one of {', '.join(LABEL_CONVENTIONS)}")
    config = GenerationConfig(values["name"], values["data"], values["model"], values["model_options"], count, labels)
    latent_dim(config.model, config.model_options, where)  # model and options, checked before any network is built
    if (num_classes(config.model, config.model_options, where) is None) != (labels == "none"):
        raise InputError(f"{where}: labels = {labels!r} does not fit model {config.model!r} (a class-conditional "
                         f"model has labels \"class\", the others \"none\")")
    return config


def generator_from_checkpoint(checkpoint: dict, ema: bool = False, device: torch.device = torch.device("cpu"),
                              source: str = "checkpoint") -> tuple[nn.Module, GenerationConfig]:
    """(generator in eval mode, its GenerationConfig) rebuilt from a loaded checkpoint's own config; `ema` takes
    the EMA weights; `source` names the file in messages."""
    config = generation_config(checkpoint, source)
    generator = build_generator(config.model, config.model_options, f"{source}: checkpoint config")
    if ema and checkpoint.get("ema") is None:
        raise InputError(f"--ema: {source} has no EMA weights (its config has ema = 0)")
    try:
        generator.load_state_dict(checkpoint["ema"] if ema else checkpoint["generator"])
    except (KeyError, RuntimeError, TypeError, AttributeError) as exc:  # missing, or shaped for another network
        raise InputError(f"{source}: its generator weights do not fit its config ({type(exc).__name__})") from exc
    return generator.to(device).eval(), config


@dataclass(frozen=True)
class ClassLabels:
    """The labels a class-conditional generator is asked for, sample i's a function of (seed, i) alone: uniform over
    `num_classes` (the default), drawn from `weights` (a histogram over the classes: the reference's), all `only`
    (one class), or with `per_row` = r class (i // r) % num_classes (a picture's row of r samples per class)."""

    num_classes: int
    weights: tuple[float, ...] | None = None
    only: int | None = None
    per_row: int = 0

    def at(self, indices: range, seed: int) -> torch.Tensor:
        """The int64 labels of the sample indices `indices` (ganeval.data.generator.labels_at's streams)."""
        if self.only is not None:
            return torch.full((len(indices),), self.only, dtype=torch.int64)
        if self.per_row:
            return torch.arange(indices.start, indices.stop, dtype=torch.int64) // self.per_row % self.num_classes
        spec = (LabelSpec("uniform", self.num_classes) if self.weights is None
                else LabelSpec("data", self.num_classes, weights=self.weights))
        return labels_at(indices, spec, seed)

    def describe(self) -> str:
        """The labels as a record names them: 'uniform over 10', 'class 3', 'reference histogram over 10'."""
        if self.only is not None:
            return f"class {self.only}"
        kind = "a row each" if self.per_row else "uniform" if self.weights is None else "reference histogram"
        return f"{kind} over {self.num_classes}"


@torch.no_grad()
def generate(generator: nn.Module, config: ModelSpec, num_samples: int, seed: int, *,
             batch_size: int = GENERATION_BATCH, latents: str = "normal", rows: range | None = None,
             labels: ClassLabels | None = None) -> torch.Tensor:
    """`num_samples` samples from a seeded latent stream: uint8 images or float points, independent of batch size;
    with `rows` (a block starting at a multiple of `batch_size`), only those, computed in the same batches. The
    generator runs where its weights are; the samples come back on the CPU.

    `latents='sobol'` draws the latents from a scrambled Sobol sequence through the inverse normal CDF (quasi-Monte
    Carlo, as Chong & Forsyth recommend for FID-infinity: the samples cover the latent space more evenly, which
    lowers the variance of the score). A class-conditional generator (`config` names num_classes) gets each
    sample's label from `labels` (default: uniform over its classes), a function of (seed, index) alone."""
    codes = latent_codes(num_samples, latent_dim(config.model, config.model_options), seed, latents)
    rows = range(num_samples) if rows is None else rows
    codes = codes[rows.start:rows.stop]
    classes = num_classes(config.model, config.model_options)
    if classes is None and labels is not None:
        raise InputError(f"model {config.model} is unconditional: it takes no labels ({labels.describe()} asked)")
    asked = None if classes is None else (labels or ClassLabels(classes)).at(rows, seed)
    device = next(iter(generator.parameters()), torch.empty(0)).device

    def call(latent_chunk: torch.Tensor, label_chunk: torch.Tensor | None) -> torch.Tensor:
        if label_chunk is None:
            return generator(latent_chunk.to(device)).cpu()
        return generator(latent_chunk.to(device), label_chunk.to(device)).cpu()

    outputs = []
    with bar(len(codes), "generate", unit="sample") as shown:
        for start in range(0, len(codes), batch_size):
            stop = start + batch_size
            outputs.append(call(codes[start:stop], None if asked is None else asked[start:stop]))
            shown.update(len(outputs[-1]))
    if not outputs:  # an empty block: the shape of one sample, none of them
        one_label = None if asked is None else torch.zeros(1, dtype=torch.int64)
        outputs = [call(latent_codes(1, codes.shape[1], 0), one_label)[:0]]
    samples = torch.cat(outputs)
    return samples.double() if config.model == "mlp" else to_uint8(samples)


def latent_codes(num_samples: int, dim: int, seed: int, kind: str = "normal") -> torch.Tensor:
    """num_samples x dim standard normal latents: pseudo-random ('normal') or scrambled Sobol ('sobol')."""
    if kind == "normal":
        return torch.randn(num_samples, dim, generator=torch.Generator().manual_seed(seed))
    if kind != "sobol":
        raise UnknownNameError("latents", kind, LATENT_KINDS)
    if dim > torch.quasirandom.SobolEngine.MAXDIM:
        raise InputError(f"--latents sobol supports up to {torch.quasirandom.SobolEngine.MAXDIM} latent dimensions, not {dim}")
    uniform = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed).draw(num_samples, dtype=torch.float64)
    tiny = torch.finfo(torch.float32).eps  # keeps the inverse CDF finite at the sequence's 0
    return torch.special.ndtri(uniform.clamp(tiny, 1 - tiny)).float()


@dataclass(frozen=True)
class CheckpointInfo:
    """Where generated samples come from, as a score record tells it: the run, the checkpoint file and step, and
    how they were drawn; and the run's defaults for scoring them."""

    run: str  # the run folder's name (runs/NAME/checkpoints/step-X.pt), else the config's name
    checkpoint: str  # the file name, step-XXXXXXX.pt
    step: int
    ema: bool  # the EMA generator's weights, not the raw generator's
    latents: str  # one of LATENT_KINDS
    run_dir: RunDir | None  # the run the checkpoint sits in; None for a checkpoint stored elsewhere
    eval_samples: int  # the run's default number of samples to score
    data: str  # the source spec the run trained on
    labels: str | None = None  # a class-conditional checkpoint's asked labels ('uniform over 10', 'class 3'); None

    def to_json(self) -> dict:
        """The provenance as plain JSON values (a human study's key keeps it): run, checkpoint, step, ema, run_dir
        (absolute, so that the study can be scored from any folder, or None), latents when not 'normal' and the
        asked labels of a class-conditional checkpoint."""
        info = {"run": self.run, "checkpoint": self.checkpoint, "step": self.step, "ema": self.ema,
                "run_dir": str(self.run_dir.path.resolve()) if self.run_dir else None}
        if self.latents != "normal":
            info["latents"] = self.latents
        if self.labels is not None:
            info["labels"] = self.labels
        return info


class CheckpointSource:
    """A checkpoint file as a sample source: loaded once, its generator rebuilt, samples drawn on demand.

    `ema` takes the EMA weights, `latents` is one of LATENT_KINDS, `device` is where the generator runs (samples
    come back on the CPU). `check_config(values, name)`, when given, is called with the stored config dict before
    the generator is rebuilt and may raise to refuse it: training passes its full config checks this way.
    A class-conditional checkpoint's sample i asks for a label drawn from (seed, i): uniform over its num_classes,
    from `label_weights` (a histogram over the classes, such as the reference's label counts; ignored by an
    unconditional checkpoint, which has no labels to draw) or all `label_class`; `labels(count, seed)` tells them.

    >>> CheckpointSource("/nonexistent/step-0000000.pt")
    Traceback (most recent call last):
    ganeval.errors.InputError: /nonexistent/step-0000000.pt: no such checkpoint file
    """

    def __init__(self, path: str | os.PathLike, *, ema: bool = False, latents: str = "normal",
                 device: torch.device = torch.device("cpu"),
                 check_config: Callable[[dict, str], object] | None = None,
                 label_weights: Sequence[float] | torch.Tensor | None = None, label_class: int | None = None):
        if latents not in LATENT_KINDS:  # before the load, which may take a while
            raise UnknownNameError("latents", latents, LATENT_KINDS)
        self.name = str(path)
        self.path = Path(path)
        self.device = device
        checkpoint = load_checkpoint(self.path, map_location=device)
        if check_config is not None and isinstance(checkpoint.get("config"), dict):
            check_config(checkpoint["config"], str(self.path))
        # Only the generator is kept: the discriminator and optimiser states are no sample's business.
        self.generator, self.config = generator_from_checkpoint(checkpoint, ema=ema, device=device, source=str(self.path))
        self.num_classes = num_classes(self.config.model, self.config.model_options)
        self.class_labels = self._class_labels(label_weights, label_class)
        self.info = self._info(_stored_step(checkpoint, str(self.path)), ema, latents)

    def _class_labels(self, weights: Sequence[float] | torch.Tensor | None, only: int | None) -> ClassLabels | None:
        """The labels asked of a class-conditional generator (None for an unconditional one), checked."""
        classes = self.num_classes
        if only is not None and weights is not None:
            raise InputError(f"--class {only}: one class, or the reference's label histogram, not both")
        if classes is None:
            if only is not None:
                raise InputError(f"--class {only}: {self.path} is not class-conditional (model "
                                 f"{self.config.model}): it draws no classes")
            return None
        if only is not None:
            if not isinstance(only, int) or isinstance(only, bool) or not 0 <= only < classes:
                raise InputError(f"--class {only}: {self.path} generates {classes} classes, 0..{classes - 1}")
            return ClassLabels(classes, only=only)
        if weights is None:
            return ClassLabels(classes)
        values = [float(weight) for weight in (weights.tolist() if isinstance(weights, torch.Tensor) else weights)]
        if not values or len(values) > classes or not all(math.isfinite(value) and value >= 0 for value in values) \
                or sum(values) <= 0:
            raise InputError(f"label weights {_listed(values)}: {self.path} needs at most {classes} non-negative "
                             f"weights, one per class 0..{classes - 1}, not all 0 (the reference's label histogram)")
        return ClassLabels(classes, weights=tuple(values + [0.0] * (classes - len(values))))

    def _info(self, step: int, ema: bool, latents: str) -> CheckpointInfo:
        run = Checkpoint(self.path).run
        return CheckpointInfo(run=run.name if run else self.config.name, checkpoint=self.path.name, step=step,
                              ema=ema, latents=latents, run_dir=run, eval_samples=self.config.eval_samples,
                              data=self.config.data,
                              labels=self.class_labels.describe() if self.class_labels is not None else None)

    def labels(self, count: int, seed: int) -> torch.Tensor | None:
        """The int64 labels asked for samples 0..count-1 of the stream of `seed` (what `generate` passes the
        generator); None for an unconditional checkpoint."""
        return None if self.class_labels is None else self.class_labels.at(range(count), seed)

    def count(self, num_samples: int | None) -> int:
        """How many samples a score draws: `num_samples`, or the config's eval_samples for None."""
        count = self.info.eval_samples if num_samples is None else num_samples
        if count < 2:
            raise InputError(f"--num-samples {count}: needs at least 2 samples")
        return count

    def samples(self, num_samples: int | None, seed: int) -> Samples:
        """`num_samples` generated samples (None: the config's eval_samples) from the latent stream of `seed`."""
        return Samples(self.generate(self.count(num_samples), seed), self.name)

    def generate(self, count: int, seed: int, rows: range | None = None) -> torch.Tensor:
        """The samples `rows` (whole GENERATION_BATCHes; None: all) of `count` drawn from the stream of `seed`."""
        return generate(self.generator, self.config, count, seed, latents=self.info.latents, rows=rows,
                        labels=self.class_labels)


def _stored_step(checkpoint: dict, source: str) -> int:
    step = checkpoint["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise InputError(f"{source}: checkpoint step = {step!r}: must be an integer >= 0")
    return step


def _listed(values: list[float], limit: int = 12) -> str:
    shown = ", ".join(f"{value:g}" for value in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def is_checkpoint(spec: object) -> bool:
    """Whether a sample spec names a checkpoint file (a path ending in .pt), rather than data or a run folder."""
    return isinstance(spec, (str, os.PathLike)) and str(os.fspath(spec)).endswith(".pt")
