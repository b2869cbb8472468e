"""A run's training state and its persistence: the Trainer (networks, optimisers, data, step, random stream), how
it is built from a config, written to a checkpoint (with the picture beside it) and restored from one.

All randomness comes from one CPU torch.Generator whose state each checkpoint keeps, so a resumed run continues
exactly where the interrupted one stopped. Seeded generation from a checkpoint is ganeval.data.checkpoint's
(evaluation uses it without importing training); the run folder's layout is ganeval.runs.RunDir's.
"""
from __future__ import annotations

import copy
import signal
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..data import load_source
from ..data.checkpoint import generate
from ..distributed import World
from ..errors import InputError
from ..data.samples import Samples
from ..nets.build import build_discriminator, build_generator, conditioning, latent_dim, network_config, num_classes
from ..runs import RunDir, checkpoint_name
from .checkpoint import save_checkpoint
from .config import IMAGE_MODELS, TrainConfig
from .pictures import PICTURE_SEED, picture_labels, picture_samples, save_sample_picture


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
    random: torch.Generator  # CPU stream for batches, latents and the generated batches' labels
    device: torch.device
    labels: torch.Tensor | None = None  # a class-conditional model's: the class index of each row of `data` (int64)
    world: World = field(default_factory=World)  # torchrun: the processes that share each batch
    step: int = 0
    seconds: float = 0.0  # wall time spent in train() so far, across resumes: the clock of `max_minutes`
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped train() (which then raised TrainingInterrupted)
    in_step: bool = False  # a training step has begun changing the state and not finished: it is no step's
    interpolate_gradient_norm: torch.Tensor | None = None  # WGAN-GP: the last penalised step's, for the signals

    @property
    def latent_dim(self) -> int:
        return latent_dim(self.config.model, self.config.model_options)

    @property
    def num_classes(self) -> int | None:
        """The classes a class-conditional generator takes (labels 0..K-1); None for an unconditional one."""
        return num_classes(self.config.model, self.config.model_options)

    @property
    def conditioning(self) -> str | None:
        """How a class-conditional discriminator reads the class: projection or acgan; None when unconditional."""
        return conditioning(self.config.model, self.config.model_options)

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
    classes = num_classes(config.model, config.model_options, source)
    labels = None if classes is None else training_labels(config, samples, classes)
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
        labels=None if labels is None else labels.to(device),
    )


def training_labels(config: TrainConfig, samples: Samples, classes: int) -> torch.Tensor:
    """The class index of each training image (config.labels = "class"): the source's labels, or Stacked
    Fashion-MNIST's class triples as one index 100a + 10b + c (SourceInfo's mode labels). A source without labels,
    or with labels outside 0..classes-1, is one line naming the data and the model."""
    labels = samples.info.labels
    if labels is None:
        raise InputError(f"config {config.name}: data {config.data} has no labels, but model {config.model} is "
                         f"class-conditional; train it on labelled data (fashion-mnist:train, "
                         f"stacked-fashion-mnist:train, cifar10:train) or use model = \"dcgan\"")
    labels = labels.long()
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise InputError(f"config {config.name}: data {config.data} has labels {low}..{high}, but model {config.model} "
                         f"takes model_options.num_classes = {classes} (labels 0..{classes - 1})")
    return labels


def check_data_fits(config: TrainConfig, data: torch.Tensor) -> None:
    """The data's shape must be what the networks take, and a batch no larger than the data: checked before the
    first checkpoint is written, so a mismatched folder or array file is one line and no half-started run."""
    options = network_config(config.model, config.model_options, config.packing, f"config {config.name}")
    if config.model in IMAGE_MODELS:
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


def write_checkpoint(trainer: Trainer, run: RunDir) -> Path:
    """The run's checkpoint of the trainer's step (checkpoints/step-XXXXXXX.pt) and the picture of the scored
    generator's samples beside it (samples/step-XXXXXXX.png)."""
    checkpoint = run.checkpoint(checkpoint_name(trainer.step))
    if trainer.ema is not None:
        # The EMA copies the raw generator's BatchNorm statistics, which do not fit the averaged weights; measure the
        # EMA generator's own ("standing statistics", as BigGAN samples). The next EMA update overwrites them again,
        # so training, and resuming, are unaffected.
        standing_statistics(trainer.ema, trainer.latent_dim, trainer.device, num_classes=trainer.num_classes)
    save_checkpoint(checkpoint.path, checkpoint_contents(trainer))
    draw_picture(trainer, run.picture(checkpoint))
    return checkpoint.path


def draw_picture(trainer: Trainer, path: Path) -> None:
    """The picture of the scored generator's samples (the EMA's, where the run keeps one) at the trainer's step."""
    shown = trainer.ema if trainer.ema is not None else trainer.generator
    # eval mode reads BatchNorm's running statistics and changes nothing: resumed runs stay exact
    samples = generate(shown.eval(), trainer.config, picture_samples(trainer.config), PICTURE_SEED,
                       labels=picture_labels(trainer.config))
    save_sample_picture(samples, trainer.config, path, trainer.step)


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


def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model for parameters; buffers (BatchNorm statistics) are copied."""
    with torch.no_grad():
        for ema_parameter, parameter in zip(ema.parameters(), model.parameters()):
            ema_parameter.lerp_(parameter, 1 - decay)
        for ema_buffer, buffer in zip(ema.buffers(), model.buffers()):
            ema_buffer.copy_(buffer)


@torch.no_grad()
def standing_statistics(generator: nn.Module, latent_dim: int, device: torch.device, batches: int = 20,
                        batch_size: int = 256, seed: int = 0, num_classes: int | None = None) -> None:
    """Replace the BatchNorm running statistics of `generator` by their average over `batches` seeded batches (of
    labels uniform over `num_classes` too, for a class-conditional generator)."""
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
        latents = torch.randn(batch_size, latent_dim, generator=random).to(device)
        if num_classes is None:
            generator(latents)
        else:
            generator(latents, torch.randint(num_classes, (batch_size,), generator=random).to(device))
    generator.eval()
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum

