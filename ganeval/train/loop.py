"""The GAN training loop: alternating discriminator and generator steps, checkpoints, resume.

Read top to bottom: build (networks, optimisers, data) -> for each step: d_steps discriminator updates on a real and
a generated batch, then one generator update against the fixed discriminator (on a fresh generated batch, or the
last one with `reuse_fake_batch`), the EMA update, and a checkpoint every `checkpoint_every` steps. All randomness
comes from one CPU torch.Generator whose state is saved in each checkpoint, so a resumed run continues exactly where
the interrupted one stopped. SIGINT and SIGTERM stop the run after the step under way, with a checkpoint of the
finished steps (see ganeval.train.stop_signals). Seeded generation from a generator or a checkpoint is
ganeval.data.checkpoint's (evaluation uses it without importing training); the run folder's layout is
ganeval.runs.RunDir's.
"""
from __future__ import annotations

import copy
import signal
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic, perf_counter

import torch
from torch import nn
from tqdm import tqdm

from ..atomic import write_text_atomically
from ..data import load_source
from ..data.checkpoint import CheckpointInfo, CheckpointSource, generate, load_checkpoint
from ..data.checkpoint import generator_from_checkpoint as rebuild_generator
from ..distributed import World, world
from ..errors import InputError
from ..nets.build import build_discriminator, build_generator, latent_dim, network_config
from ..nets.dcgan import from_uint8
from ..progress import is_shown
from ..runs import Checkpoint, RunDir, checkpoint_name
from .checkpoint import save_checkpoint
from .config import TrainConfig, from_dict
from .losses import discriminator_loss, generator_loss, gradient_penalty
from .pictures import PICTURE_SEED, picture_samples, save_sample_picture
from .run_folder import check_resumed_config, clear_old_run, prepare_run_folder
from .stop_signals import stop_requests


@dataclass
class Trainer:
    """The state of a run: networks, optimisers, training data, step and random stream."""

    config: TrainConfig
    generator: nn.Module
    discriminator: nn.Module
    ema: nn.Module | None
    optimiser_g: torch.optim.Optimizer
    optimiser_d: torch.optim.Optimizer
    data: torch.Tensor  # uint8 images (N,C,H,W) or float points (N,2), on the device
    random: torch.Generator  # CPU stream for batches and latents
    device: torch.device
    world: World = field(default_factory=World)  # torchrun: the processes that share each batch
    step: int = 0
    seconds: float = 0.0  # wall time spent in train() so far, across resumes: the clock of `max_minutes`
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped train() (which then raised TrainingInterrupted)
    in_step: bool = False  # a training step has begun changing the state and not finished: it is no step's

    @property
    def latent_dim(self) -> int:
        return latent_dim(self.config.model, self.config.model_options)

    @property
    def ended_by_time_budget(self) -> bool:
        """Whether `max_minutes` ended the run before `steps` (train() stops only at `steps`, the budget or Ctrl-C)."""
        return not self.interrupted and self.step < self.config.steps

    @property
    def stop_reason(self) -> str | None:
        """Why the run stopped before `config.steps`, in words; None when it reached them."""
        if self.step >= self.config.steps:
            return None
        return "interrupted" if self.interrupted else f"the {self.config.max_minutes:g}-minute time budget ran out"

    def steps_reached(self) -> str:
        """The step reached, for messages about the run: 'step 1500', or 'step 521 (of 1500: the 14.5-minute time
        budget ran out)' when it stopped early."""
        reason = self.stop_reason
        return f"step {self.step}" + (f" (of {self.config.steps}: {reason})" if reason else "")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during train(), after the checkpoint of the finished steps; `trainer` says where the run
    stopped, `exit_code` is the shell's for the signal (128 + its number: 130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, trainer: Trainer, signum: int | None = None):
        super().__init__(trainer.steps_reached())
        self.trainer = trainer
        self.exit_code = 128 + (signum or signal.SIGINT)


def create_trainer(config: TrainConfig, device: torch.device, data_root: str | None = None) -> Trainer:
    """Fresh networks (seeded), optimisers and the training data on `device`."""
    torch.manual_seed(config.seed)
    source = f"config {config.name}"
    generator = build_generator(config.model, config.model_options, source).to(device)
    discriminator = build_discriminator(config.model, config.model_options, config.packing, source).to(device)
    samples = load_source(config.data, num_samples=config.train_size if config.model == "mlp" else None,
                          seed=config.seed, data_root=data_root)
    if (samples.kind == "vectors") != (config.model == "mlp"):
        raise InputError(f"config {config.name}: model {config.model} cannot train on {samples.kind} from {config.data}")
    check_data_fits(config, samples.data)
    return Trainer(
        config=config,
        generator=generator,
        discriminator=discriminator,
        ema=copy.deepcopy(generator).eval().requires_grad_(False) if config.ema > 0 else None,
        optimiser_g=torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas),
        optimiser_d=torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas),
        data=samples.data.to(device),
        random=torch.Generator().manual_seed(config.seed),
        device=device,
    )


def check_data_fits(config: TrainConfig, data: torch.Tensor) -> None:
    """The data's shape must be what the networks take, and a batch no larger than the data: checked before the
    first checkpoint is written, so a mismatched folder or array file is one line and no half-started run."""
    options = network_config(config.model, config.model_options, config.packing, f"config {config.name}")
    if config.model == "dcgan":
        wanted = (options.channels, options.image_size, options.image_size)
        if tuple(data.shape[1:]) != wanted:
            held = "x".join(map(str, data.shape[1:]))
            raise InputError(f"config {config.name}: data {config.data} holds {held} images but the DCGAN takes "
                             f"{'x'.join(map(str, wanted))}; set model_options.channels and model_options.image_size "
                             f"(1 or 3 channels, 28 or 32 pixels)")
    elif data.shape[1] != options.data_dim:
        raise InputError(f"config {config.name}: data {config.data} holds {data.shape[1]}-dim points; set "
                         f"model_options.data_dim = {data.shape[1]}")
    if len(data) < config.batch_size:
        raise InputError(f"config {config.name}: batch_size = {config.batch_size}: larger than the {len(data)} "
                         f"samples of {config.data}")


def learning_rate_scale(config: TrainConfig, step: int) -> float:
    """1 until the last `lr_decay` fraction of the steps, then falling linearly towards 0 at `steps`.

    >>> learning_rate_scale(from_dict({"name": "x", "data": "ring8", "model": "mlp", "steps": 100, "lr_decay": 0.5}), 75)
    0.5
    """
    decay_steps = config.lr_decay * config.steps
    if decay_steps <= 0:
        return 1.0
    return min(1.0, (config.steps - step) / decay_steps)


def training_step(trainer: Trainer) -> dict[str, float]:
    """One generator step preceded by `d_steps` discriminator steps; returns the last losses."""
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
        real = _real_batch(trainer)
        with torch.set_grad_enabled(config.reuse_fake_batch and d_step == last), _precision(trainer):
            fake = trainer.generator(_latents(trainer, config.batch_size))
        with _precision(trainer):
            scores = trainer.discriminator(real), trainer.discriminator(fake.detach())
        d_loss = discriminator_loss(config.loss, *(score.float() for score in scores))
        if config.loss == "wgan-gp" and d_step % config.gp_every == 0:
            # Lazy regularisation (Karras et al. 2020): every gp_every-th step, weighted gp_every times.
            with _precision(trainer):
                penalty = gradient_penalty(trainer.discriminator, real, fake, trainer.random, config.packing)
            d_loss = d_loss + config.gp_every * config.gp_weight * penalty.float()
        trainer.optimiser_d.zero_grad(set_to_none=True)
        d_loss.backward()
        _average_gradients(trainer.discriminator, trainer.world)
        trainer.optimiser_d.step()
    # Generator: fool the updated, now fixed discriminator. Its weights need no gradients here; skipping them saves
    # the weight-gradient half of the discriminator's backward pass.
    if not config.reuse_fake_batch:
        with _precision(trainer):
            fake = trainer.generator(_latents(trainer, config.batch_size))
    trainer.discriminator.requires_grad_(False)
    try:
        with _precision(trainer):
            fake_scores = trainer.discriminator(fake)
        g_loss = generator_loss(config.loss, fake_scores.float())
        trainer.optimiser_g.zero_grad(set_to_none=True)
        g_loss.backward()
    finally:
        trainer.discriminator.requires_grad_(True)
    _average_gradients(trainer.generator, trainer.world)
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
    leave out the time spent writing and scoring checkpoints. A hook with a `missing(path, step, last)` method (as
    CheckpointScorer has) also runs on the checkpoint a resumed run starts from when that says its record is
    missing, as a kill between the checkpoint and its score leaves it; a missing picture is drawn again.
    """
    resume, changing = _resume_options(resume)
    run, processes = RunDir(out), _training_world(config)
    replaced = prepare_run_folder(run, resume=resume, overwrite=overwrite) if processes.is_main else None
    processes.broadcast(None)  # the others look at the folder once rank 0 has checked it
    saved = run.checkpoints(allow_none=True) if resume else []
    start = load_checkpoint(saved[-1].path, map_location=device) if saved else None
    if start is not None:
        check_resumed_config(run, config, start["config"], changing)  # before loading data, which may take long
    trainer = create_trainer(config, device, data_root)
    trainer.world = processes
    if start is not None:
        restore(trainer, start)
    if processes.is_main:
        clear_old_run(run, replaced)  # only now: a new run that cannot start (data, networks) leaves the old one
        run.path.mkdir(parents=True, exist_ok=True)
        write_text_atomically(run.config_file, config.to_toml())
    show = is_shown(progress) and processes.is_main
    clock_zero = monotonic() - trainer.seconds

    def out_of_time() -> bool:
        trainer.seconds = monotonic() - clock_zero
        return processes.broadcast(0 < config.max_minutes * 60 <= trainer.seconds)  # rank 0's clock decides for all

    with stop_requests() as requested, tqdm(total=config.steps, initial=trainer.step, desc=config.name, unit="step",
                                            disable=not show) as bar:
        status: dict[str, str] = {}

        def checkpoint(last: bool) -> None:
            with _left_out_of_rate(bar):
                path = run.checkpoint(checkpoint_name(trainer.step)).path
                if processes.is_main:
                    write_checkpoint(trainer, run)
                processes.broadcast(None)  # written before any rank scores it (the scorer is sharded like a score)
                record = on_checkpoint(path, trainer.step, last) if on_checkpoint else None
            status.update(_score_summary(record))

        try:
            stop = start is not None and out_of_time()  # a resumed run may have spent its budget; a new one takes a step
            if start is None:  # the untrained generator: the baseline of every metric curve
                checkpoint(last=False)
            else:
                with _left_out_of_rate(bar):
                    status.update(_score_summary(complete_checkpoint(trainer, saved[-1], on_checkpoint,
                                                                     last=stop or trainer.step >= config.steps)))
            # a signal is read where rank 0 reads it, so that every rank stops after the same step
            while trainer.step < config.steps and not stop and processes.broadcast(requested.signum) is None:
                losses = training_step(trainer)
                stop = out_of_time()
                last = stop or trainer.step == config.steps
                if last or trainer.step % config.checkpoint_every == 0:
                    checkpoint(last)
                bar.update(1)
                bar.set_postfix(d=f"{losses['d_loss']:.3f}", g=f"{losses['g_loss']:.3f}", **status)
            signum = processes.broadcast(requested.signum)
            if signum is not None and trainer.step < config.steps and not stop:
                if processes.is_main and not run.checkpoint(checkpoint_name(trainer.step)).path.is_file():
                    write_checkpoint(trainer, run)  # unscored: the signal asked to stop, and soon
                trainer.interrupted = True
                raise TrainingInterrupted(trainer, signum)
        except TrainingInterrupted:
            raise
        except KeyboardInterrupt as interrupt:  # a second signal, or Ctrl-C where no handler could be installed
            keep_finished_steps(trainer, run)
            trainer.interrupted = True
            raise TrainingInterrupted(trainer, requested.signum) from interrupt
    return trainer


def _training_world(config: TrainConfig) -> World:
    """The processes that train together: a torchrun job's (the image GANs only), or this one."""
    processes = world()
    if not processes.distributed:
        return processes
    if config.model == "mlp":
        raise InputError(f"config {config.name}: the PacGAN 2D networks train in one process (they take seconds); "
                         f"launch it without torchrun")
    if config.batch_size % processes.size:
        raise InputError(f"config {config.name}: batch_size = {config.batch_size} must divide among the "
                         f"{processes.size} processes (each takes batch_size / {processes.size})")
    return processes


def _resume_options(resume: bool | Collection[str]) -> tuple[bool, frozenset[str] | None]:
    """train()'s `resume` as (whether to resume, the keys the resumed config may change; None: any resumable key).

    A collection always means resuming, an empty one too (nothing may change): its truth value does not count."""
    if isinstance(resume, bool):
        return resume, None
    if isinstance(resume, str):  # a str is a collection of characters: refuse rather than allow "s", "t", ...
        raise TypeError(f"train(resume={resume!r}): give True or a collection of config keys, not one string")
    return True, frozenset(resume)


def keep_finished_steps(trainer: Trainer, run: RunDir) -> None:
    """After a KeyboardInterrupt: write the checkpoint of the finished steps if the trainer holds them and it is not
    written yet; roll the trainer back to the last checkpoint if a step was cut short (its state is no step's)."""
    if trainer.in_step:
        written = run.checkpoints(allow_none=True)
        if written:
            restore(trainer, load_checkpoint(written[-1].path, map_location=trainer.device))
        trainer.in_step = False
    elif trainer.world.is_main and not run.checkpoint(checkpoint_name(trainer.step)).path.is_file():
        write_checkpoint(trainer, run)


def complete_checkpoint(trainer: Trainer, checkpoint: Checkpoint,
                        on_checkpoint: Callable[[Path, int, bool], dict | None] | None, last: bool) -> dict | None:
    """Draw the picture of the checkpoint a run resumes from, and score it, when a kill right after its rename left
    it without them; returns the new record, if any. The trainer holds that checkpoint's state, which drawing leaves
    as it is."""
    picture = checkpoint.run.picture(checkpoint)
    if trainer.world.is_main and not picture.is_file():
        draw_picture(trainer, picture)
    missing = getattr(on_checkpoint, "missing", None)
    if missing is not None and missing(checkpoint.path, trainer.step, last):
        return on_checkpoint(checkpoint.path, trainer.step, last)
    return None


@contextmanager
def _left_out_of_rate(bar: tqdm) -> Iterator[None]:
    """Time spent inside does not count in the bar's elapsed time, rate and estimate (scoring is not training).

    tqdm's own unpause() would also drop the steps since its last redraw; shifting both of its clocks by the time
    measured here leaves those in."""
    started = perf_counter()
    try:
        yield
    finally:
        if not bar.disable:
            spent = perf_counter() - started
            bar.start_t += spent
            bar.last_print_t += spent


def write_checkpoint(trainer: Trainer, run: RunDir) -> Path:
    """The run's checkpoint of the trainer's step (checkpoints/step-XXXXXXX.pt) and the picture of the scored
    generator's samples beside it (samples/step-XXXXXXX.png)."""
    checkpoint = run.checkpoint(checkpoint_name(trainer.step))
    if trainer.ema is not None:
        # The EMA copies the raw generator's BatchNorm statistics, which do not fit the averaged weights; measure the
        # EMA generator's own ("standing statistics", as BigGAN samples). The next EMA update overwrites them again,
        # so training, and resuming, are unaffected.
        standing_statistics(trainer.ema, trainer.latent_dim, trainer.device)
    save_checkpoint(checkpoint.path, checkpoint_contents(trainer))
    draw_picture(trainer, run.picture(checkpoint))
    return checkpoint.path


def draw_picture(trainer: Trainer, path: Path) -> None:
    """The picture of the scored generator's samples (the EMA's, where the run keeps one) at the trainer's step."""
    shown = trainer.ema if trainer.ema is not None else trainer.generator
    # eval mode reads BatchNorm's running statistics and changes nothing: resumed runs stay exact
    samples = generate(shown.eval(), trainer.config, picture_samples(trainer.config), PICTURE_SEED, device=trainer.device)
    save_sample_picture(samples, trainer.config, path, trainer.step)


def _score_summary(record: dict | None) -> dict[str, str]:
    """The first metric of a record for the progress bar, e.g. {'fid': '12.3'}."""
    if not record:
        return {}
    for key in ("fid", "kid_mean", "precision", "is_mean"):
        if key in record:
            return {key.removesuffix("_mean"): f"{record[key]:.4g}"}
    return {}


def checkpoint_contents(trainer: Trainer) -> dict:
    """Tensors and plain values only: torch.load(weights_only=True) reads them back."""
    return {
        "step": trainer.step,
        "config": trainer.config.to_dict(),
        "generator": trainer.generator.state_dict(),
        "discriminator": trainer.discriminator.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
        "optimiser_g": trainer.optimiser_g.state_dict(),
        "optimiser_d": trainer.optimiser_d.state_dict(),
        "random_state": trainer.random.get_state(),
        "seconds": trainer.seconds,
    }


def restore(trainer: Trainer, checkpoint: dict) -> None:
    """Load a checkpoint's networks, optimisers, step and random stream into `trainer`."""
    try:
        trainer.generator.load_state_dict(checkpoint["generator"])
        trainer.discriminator.load_state_dict(checkpoint["discriminator"])
        if trainer.ema is not None and checkpoint.get("ema") is not None:
            trainer.ema.load_state_dict(checkpoint["ema"])
    except RuntimeError as exc:  # size mismatches: the config builds other networks than the checkpoint holds
        details = [line.strip() for line in str(exc).splitlines()[1:2]]
        raise InputError(f"step {checkpoint['step']}'s checkpoint holds networks of another shape than config "
                         f"{trainer.config.name} builds{': ' + details[0] if details else ''}") from exc
    trainer.optimiser_g.load_state_dict(checkpoint["optimiser_g"])
    trainer.optimiser_d.load_state_dict(checkpoint["optimiser_d"])
    trainer.random.set_state(checkpoint["random_state"])
    trainer.step = int(checkpoint["step"])
    trainer.seconds = float(checkpoint.get("seconds", 0.0))  # checkpoints from before the time budget: 0


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


def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model for parameters; buffers (BatchNorm statistics) are copied."""
    with torch.no_grad():
        for ema_parameter, parameter in zip(ema.parameters(), model.parameters()):
            ema_parameter.lerp_(parameter, 1 - decay)
        for ema_buffer, buffer in zip(ema.buffers(), model.buffers()):
            ema_buffer.copy_(buffer)


@torch.no_grad()
def standing_statistics(generator: nn.Module, latent_dim: int, device: torch.device, batches: int = 20,
                        batch_size: int = 256, seed: int = 0) -> None:
    """Replace the BatchNorm running statistics of `generator` by their average over `batches` seeded batches."""
    norms = [module for module in generator.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
    random = torch.Generator().manual_seed(seed)
    generator.train()
    for _ in range(batches):
        generator(torch.randn(batch_size, latent_dim, generator=random).to(device))
    generator.eval()
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum


def _real_batch(trainer: Trainer) -> torch.Tensor:
    rows = torch.randint(len(trainer.data), (trainer.config.batch_size,), generator=trainer.random)
    batch = trainer.data[_own_block(trainer, rows).to(trainer.device)]
    return batch.float() if trainer.config.model == "mlp" else from_uint8(batch)


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
