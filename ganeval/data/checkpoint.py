"""Checkpoints as a sample source: read a ganeval checkpoint, rebuild its generator, generate seeded samples.

A checkpoint is a dict with `format` ("ganeval-checkpoint"), `version`, `step`, `config` (the plain-dict training
config the networks are rebuilt from) and the state dicts of the networks and optimisers; it is read with
torch.load(weights_only=True), so no pickled code ever runs, and anything else (a truncated file, another format, a
newer version, a pickled object) is a one-line InputError. ganeval.train writes checkpoints; this module only reads
them and never imports ganeval.train: evaluation needs no training code. Of the stored config it reads only what
generation needs (GENERATION_KEYS), so a checkpoint is scored by what its generator computes.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ..config import LATENT_KINDS
from ..errors import InputError, UnknownNameError
from ..nets.build import build_generator, latent_dim
from ..nets.dcgan import to_uint8
from ..progress import bar
from ..runs import Checkpoint, RunDir
from .samples import Samples

CHECKPOINT_FORMAT = "ganeval-checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("step", "config", "generator")
GENERATION_KEYS = ("name", "data", "model", "model_options", "eval_samples")  # what generation reads of the config


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
    config = GenerationConfig(values["name"], values["data"], values["model"], values["model_options"], count)
    latent_dim(config.model, config.model_options, where)  # model and options, checked before any network is built
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


GENERATION_BATCH = 500  # latents per generator call (a shard of a distributed score is whole batches of these)


@torch.no_grad()
def generate(generator: nn.Module, config: ModelSpec, num_samples: int, seed: int, *,
             batch_size: int = GENERATION_BATCH, device: torch.device = torch.device("cpu"), latents: str = "normal",
             rows: range | None = None) -> torch.Tensor:
    """`num_samples` samples from a seeded latent stream: uint8 images or float points, independent of batch size;
    with `rows` (a block starting at a multiple of `batch_size`), only those, computed in the same batches.

    `latents='sobol'` draws the latents from a scrambled Sobol sequence through the inverse normal CDF (quasi-Monte
    Carlo, as Chong & Forsyth recommend for FID-infinity: the samples cover the latent space more evenly, which
    lowers the variance of the score)."""
    codes = latent_codes(num_samples, latent_dim(config.model, config.model_options), seed, latents)
    if rows is not None:
        codes = codes[rows.start:rows.stop]
    outputs = []
    with bar(len(codes), "generate", unit="sample") as shown:
        for chunk in codes.split(batch_size) if len(codes) else ():
            outputs.append(generator(chunk.to(device)).cpu())
            shown.update(len(chunk))
    samples = torch.cat(outputs) if outputs else generator(latent_codes(1, codes.shape[1], 0).to(device)).cpu()[:0]
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

    def to_json(self) -> dict:
        """The provenance as plain JSON values (a human study's key keeps it): run, checkpoint, step, ema, run_dir
        (absolute, so that the study can be scored from any folder, or None), and latents when not 'normal'."""
        info = {"run": self.run, "checkpoint": self.checkpoint, "step": self.step, "ema": self.ema,
                "run_dir": str(self.run_dir.path.resolve()) if self.run_dir else None}
        if self.latents != "normal":
            info["latents"] = self.latents
        return info


class CheckpointSource:
    """A checkpoint file as a sample source: loaded once, its generator rebuilt, samples drawn on demand.

    `ema` takes the EMA weights, `latents` is one of LATENT_KINDS, `device` is where the generator runs (samples
    come back on the CPU). `check_config(values, name)`, when given, is called with the stored config dict before
    the generator is rebuilt and may raise to refuse it: training passes its full config checks this way.

    >>> CheckpointSource("/nonexistent/step-0000000.pt")
    Traceback (most recent call last):
    ganeval.errors.InputError: /nonexistent/step-0000000.pt: no such checkpoint file
    """

    def __init__(self, path: str | os.PathLike, *, ema: bool = False, latents: str = "normal",
                 device: torch.device = torch.device("cpu"),
                 check_config: Callable[[dict, str], object] | None = None):
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
        self.info = self._info(_stored_step(checkpoint, str(self.path)), ema, latents)

    def _info(self, step: int, ema: bool, latents: str) -> CheckpointInfo:
        run = Checkpoint(self.path).run
        return CheckpointInfo(run=run.name if run else self.config.name, checkpoint=self.path.name, step=step,
                              ema=ema, latents=latents, run_dir=run, eval_samples=self.config.eval_samples,
                              data=self.config.data)

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
        return generate(self.generator, self.config, count, seed, device=self.device, latents=self.info.latents,
                        rows=rows)


def _stored_step(checkpoint: dict, source: str) -> int:
    step = checkpoint["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise InputError(f"{source}: checkpoint step = {step!r}: must be an integer >= 0")
    return step


def is_checkpoint(spec: object) -> bool:
    """Whether a sample spec names a checkpoint file (a path ending in .pt), rather than data or a run folder."""
    return isinstance(spec, (str, os.PathLike)) and str(os.fspath(spec)).endswith(".pt")
