"""The GAN training loop: alternating discriminator and generator steps, the training signals, checkpoints.

Read top to bottom: for each step, d_steps discriminator updates on a real and a generated batch, then one generator
update against the fixed discriminator (on a fresh generated batch, or the last one with `reuse_fake_batch`) and the
EMA update; every `log_every` steps a line of training signals (ganeval.train.signals), every `checkpoint_every`
steps a checkpoint. The run mechanics around it (the folder, resume, the time budget, the bar, signals that stop the
run) are ganeval.train.session's; the training state and its checkpoints are ganeval.train.trainer's. All randomness
comes from one CPU torch.Generator whose state is saved in each checkpoint, so a resumed run continues exactly where
the interrupted one stopped.

A class-conditional model (cdcgan) reads the real images' labels beside them and asks its generated batches for
labels uniform over its classes, drawn from the same stream after the latents (an unconditional run draws exactly
what it drew before); with the AC-GAN discriminator the class cross-entropy joins both losses (losses.class_loss).
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import torch
from torch import nn

from ..data.checkpoint import CheckpointInfo, CheckpointSource
from ..data.checkpoint import generator_from_checkpoint as rebuild_generator
from ..distributed import World
from ..errors import InputError
from ..nets.dcgan import from_uint8
from ..runs import RunDir
from ..training_log import TrainingLog
from .config import TrainConfig, from_dict
from .losses import class_loss, discriminator_loss, generator_loss, interpolate_gradient_norms, penalty_of
from .session import open_run, session
from .signals import StepProbe, TrainingSignals
from .trainer import Trainer, TrainingInterrupted, create_trainer, standing_statistics, update_ema

__all__ = ["Trainer", "TrainingInterrupted", "checkpoint_config", "checkpoint_samples", "create_trainer",
           "generator_from_checkpoint", "learning_rate_scale", "standing_statistics", "train", "training_step",
           "update_ema"]


def learning_rate_scale(config: TrainConfig, step: int) -> float:
    """1 until the last `lr_decay` fraction of the steps, then falling linearly towards 0 at `steps`.

    >>> learning_rate_scale(from_dict({"name": "x", "data": "ring8", "model": "mlp", "steps": 100, "lr_decay": 0.5}), 75)
    0.5
    """
    decay_steps = config.lr_decay * config.steps
    if decay_steps <= 0:
        return 1.0
    return min(1.0, (config.steps - step) / decay_steps)


def training_step(trainer: Trainer, probe: StepProbe | None = None) -> dict[str, float]:
    """One generator step preceded by `d_steps` discriminator steps; returns the last losses. A `probe` (on a logged
    step) reads the discriminator's scores and both gradients before the optimiser steps, changing nothing."""
    config = trainer.config
    trainer.in_step = True
    scale = learning_rate_scale(config, trainer.step)
    for optimiser, rate in ((trainer.optimiser_g, config.lr_g), (trainer.optimiser_d, config.lr_d)):
        for group in optimiser.param_groups:
            group["lr"] = rate * scale  # a function of the step alone: resumed runs follow the same schedule
    trainer.generator.train()
    trainer.discriminator.train()
    # Discriminator: real batch against a generated batch, the generator fixed. With reuse_fake_batch the last
    # generated batch keeps its graph and the generator step scores it again (as PyTorch's DCGAN example does),
    # which saves a generator forward pass per step.
    first, last = trainer.step * config.d_steps, (trainer.step + 1) * config.d_steps - 1
    for d_step in range(first, last + 1):
        real, real_labels = _real_batch(trainer)
        with torch.set_grad_enabled(config.reuse_fake_batch and d_step == last), _precision(trainer):
            fake, fake_labels = _generated_batch(trainer)
        with _precision(trainer):
            (real_scores, real_logits), (fake_scores, fake_logits) = (
                _discriminate(trainer, real, real_labels), _discriminate(trainer, fake.detach(), fake_labels))
        scores = real_scores, fake_scores
        d_loss = discriminator_loss(config.loss, *(score.float() for score in scores))
        if real_logits is not None:  # AC-GAN: D also learns to tell the class of real and of generated images
            class_losses = class_loss(real_logits, real_labels)
            if config.aux_generated:
                class_losses = class_losses + class_loss(fake_logits, fake_labels)
            d_loss = d_loss + config.aux_weight * class_losses
        if config.loss == "wgan-gp" and d_step % config.gp_every == 0:
            # Lazy regularisation (Karras et al. 2020): every gp_every-th step, weighted gp_every times.
            with _precision(trainer):
                norms = interpolate_gradient_norms(trainer.discriminator, real, fake, trainer.random, config.packing)
            d_loss = d_loss + config.gp_every * config.gp_weight * penalty_of(norms.float())
            trainer.interpolate_gradient_norm = norms.detach().float().mean()  # a signal read on the logged steps
        trainer.optimiser_d.zero_grad(set_to_none=True)
        d_loss.backward()
        _average_gradients(trainer.discriminator, trainer.world)
        if probe is not None and d_step == last:
            probe.discriminator_step(trainer.discriminator, *scores)
        trainer.optimiser_d.step()
    # Generator: fool the updated, now fixed discriminator. Its weights need no gradients here; skipping them saves
    # the weight-gradient half of the discriminator's backward pass.
    if not config.reuse_fake_batch:
        with _precision(trainer):
            fake, fake_labels = _generated_batch(trainer)
    trainer.discriminator.requires_grad_(False)
    try:
        with _precision(trainer):
            fake_scores, fake_logits = _discriminate(trainer, fake, fake_labels)
        g_loss = generator_loss(config.loss, fake_scores.float())
        if fake_logits is not None:  # AC-GAN: G makes images that D classifies as the class they were asked for
            g_loss = g_loss + config.aux_weight * class_loss(fake_logits, fake_labels)
        trainer.optimiser_g.zero_grad(set_to_none=True)
        g_loss.backward()
    finally:
        trainer.discriminator.requires_grad_(True)
    _average_gradients(trainer.generator, trainer.world)
    if probe is not None:
        probe.generator_step(trainer.generator)
    trainer.optimiser_g.step()
    if trainer.ema is not None:
        update_ema(trainer.ema, trainer.generator, config.ema)
    trainer.step += 1
    trainer.in_step = False
    return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach())}


def _precision(trainer: Trainer) -> torch.autocast:
    """Autocast for the training step's network passes: bfloat16 convolutions and products where the config asks.

    The weights, their gradients, the optimisers and the EMA stay float32 (mixed precision); the losses are taken in
    float32. Generation for checkpoints and scores always runs in float32."""
    return torch.autocast(trainer.device.type, dtype=torch.bfloat16, enabled=trainer.config.precision == "bfloat16")


def train(
    config: TrainConfig,
    out: Path,
    *,
    device: torch.device = torch.device("cpu"),
    resume: bool | Collection[str] = False,
    overwrite: bool = False,
    data_root: str | None = None,
    progress: bool | None = None,
    on_checkpoint: Callable[[Path, int, bool], dict | None] | None = None,
) -> Trainer:
    """Train to `config.steps` in run directory `out`; with `resume`, continue from its last checkpoint.

    A folder that already holds a run is an InputError unless `resume` continues it or `overwrite` removes its
    files first (see ganeval.train.run_folder), so two runs never mix their checkpoints and records; temporary
    files of writes a kill cut short are removed. A resumed run keeps its saved config: a config that differs in
    other keys than run_folder.RESUMABLE_KEYS is an InputError. `resume=True` lets any resumable key change; a
    collection of key names (the ones the user set, even none) resumes and lets only those change.
    SIGINT (Ctrl-C) or SIGTERM lets the step under way finish, writes the checkpoint of the finished steps (as a
    scheduled one, unscored) and raises TrainingInterrupted (a KeyboardInterrupt), whose `trainer` tells the step
    reached; a second signal raises at once, dropping a step cut short (the run then stands at its last checkpoint).
    With `config.max_minutes` the run also stops at the first step that ends after that much wall time in train()
    (checkpoints and scoring included, earlier sessions of a resumed run too), so `trainer.step < config.steps`
    tells that the time budget ended it. Writes out/config.toml, out/checkpoints/step-XXXXXXX.pt at step 0, every
    `checkpoint_every` steps and at the end, and a picture of the samples beside each (out/samples/step-XXXXXXX.png).
    `on_checkpoint(path, step, last)` runs after each checkpoint (the evaluation hook, see ganeval.train.scoring;
    `last` marks the run's final one); a record it returns shows in the progress bar, whose rate and estimate
    leave out the time spent writing and scoring checkpoints. The training signals go to out/training.jsonl
    (ganeval.train.signals) at step 1, every `config.log_every` steps and at the first step whose losses break; a
    resumed run first drops the lines of the steps it trains again. A hook with a `missing(path, step, last)` method (as
    CheckpointScorer has) also runs on the checkpoint a resumed run starts from when that says its record is
    missing, as a kill between the checkpoint and its score leaves it; a missing picture is drawn again.
    """
    run = RunDir(out)
    trainer, resumed_from = open_run(config, run, device=device, resume=resume, overwrite=overwrite,
                                     data_root=data_root)
    with session(trainer, run, on_checkpoint, progress) as mechanics:
        stop = mechanics.begin(resumed_from)
        signals = training_signals(trainer, run)
        while trainer.step < config.steps and not stop and not mechanics.stop_requested():
            probe = signals.probe(trainer.step + 1)
            losses = training_step(trainer, probe)
            signals.record(trainer, probe, losses)
            stop = mechanics.out_of_time()
            last = stop or trainer.step == config.steps
            if last or trainer.step % config.checkpoint_every == 0:
                signals.pause(mechanics.checkpoint(last))
            mechanics.show(losses)
        mechanics.finish(stop)
    return trainer


def training_signals(trainer: Trainer, run: RunDir) -> TrainingSignals:
    """What writes the run's training.jsonl: rank 0's every `log_every` steps, no other rank's."""
    config = trainer.config
    every = config.log_every if trainer.world.is_main else 0
    return TrainingSignals(TrainingLog(run), every, config.loss, config.packing)


def generator_from_checkpoint(checkpoint: dict, ema: bool = False, device: torch.device = torch.device("cpu"),
                              source: str = "checkpoint") -> tuple[nn.Module, TrainConfig]:
    """(generator in eval mode, its TrainConfig) rebuilt from a checkpoint's own config; `source` names the file
    in messages. Every config value is checked, as a config file's are (ganeval.data.checkpoint's version reads
    only what generation needs)."""
    config = checkpoint_config(checkpoint.get("config"), source)
    generator, _ = rebuild_generator(checkpoint, ema=ema, device=device, source=source)
    return generator, config


def checkpoint_config(values: object, source: str) -> TrainConfig:
    """A checkpoint's stored config as a TrainConfig, every value checked as a config file's are; `source` names
    the checkpoint file. Pass it as CheckpointSource(..., check_config=checkpoint_config) to refuse a checkpoint
    whose config training would refuse, though generation does not read the broken value."""
    if not isinstance(values, dict):
        raise InputError(f"{source}: holds no training config (not a ganeval checkpoint?)")
    return from_dict(values, f"{source}: checkpoint config")


def _real_batch(trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(a batch of training samples as the networks take them, their labels where the model is conditional)."""
    rows = _own_block(trainer, torch.randint(len(trainer.data), (trainer.config.batch_size,),
                                             generator=trainer.random)).to(trainer.device)
    batch = trainer.data[rows]
    labels = None if trainer.labels is None else trainer.labels[rows]
    return (batch.float() if trainer.config.model == "mlp" else from_uint8(batch)), labels


def _generated_batch(trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(a generated batch, the labels it was asked for: uniform over the classes, None when unconditional)."""
    latents = _latents(trainer, trainer.config.batch_size)
    if trainer.labels is None:
        return trainer.generator(latents), None
    labels = torch.randint(trainer.num_classes, (trainer.config.batch_size,), generator=trainer.random)
    labels = _own_block(trainer, labels).to(trainer.device)
    return trainer.generator(latents, labels), labels


def _discriminate(trainer: Trainer, images: torch.Tensor,
                  labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(D's scores of `images`, the AC-GAN discriminator's class logits or None); a conditional D reads the labels."""
    if labels is None:
        return trainer.discriminator(images), None
    output = trainer.discriminator(images, labels)
    return output if isinstance(output, tuple) else (output, None)


def _latents(trainer: Trainer, count: int) -> torch.Tensor:
    return _own_block(trainer, torch.randn(count, trainer.latent_dim, generator=trainer.random)).to(trainer.device)


def _own_block(trainer: Trainer, batch: torch.Tensor) -> torch.Tensor:
    """This process's block of a batch that every process drew alike from the shared random stream (so the stream,
    which checkpoints keep, does not depend on the number of processes)."""
    rows = trainer.world.shard(len(batch))
    return batch[rows.start:rows.stop] if trainer.world.distributed else batch


def _average_gradients(network: nn.Module, world: World) -> None:
    """The gradient of the whole batch's mean loss: the mean of the processes' gradients of their blocks' (what
    DistributedDataParallel computes; done by hand because the networks run several passes per step and switch
    requires_grad between them, which DDP's bucketed hooks do not allow)."""
    if not world.distributed:
        return
    for parameter in network.parameters():
        if parameter.grad is not None:
            torch.distributed.all_reduce(parameter.grad)
            parameter.grad /= world.size


def checkpoint_samples(path: str | Path, num_samples: int | None, seed: int, *, ema: bool = False,
                       device: torch.device = torch.device("cpu"),
                       latents: str = "normal") -> tuple[torch.Tensor, CheckpointInfo]:
    """Generate samples from a checkpoint file: (samples, where they came from). A CheckpointSource that also checks
    every value of the stored config, as `ganeval sample` always has."""
    source = CheckpointSource(path, ema=ema, latents=latents, device=device, check_config=checkpoint_config)
    return source.samples(num_samples, seed).data, source.info
