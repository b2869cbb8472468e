"""The training signals the loop writes to training.jsonl every `log_every` steps (ganeval.training_log.SIGNALS).

What practitioners watch, measured on the logged step's own tensors: the losses, the discriminator's mean outputs
and accuracy on the real and generated batches (stylegan2-ada's Loss/scores and Loss/signs), the gradient norms
before the optimiser step (ganhacks: norms above 100 are trouble), the largest singular value of each network's last
layer (BigGAN's collapse shows as G's exploding, Brock et al. 2019, section 4.2), the learning rates and the speed;
for WGAN-GP the critic's Wasserstein estimate and its gradient norm at the interpolates (near 1 when the penalty
holds, Gulrajani et al. 2017). Measuring never draws from the run's random stream and changes no network state, so
a run trains the same whatever `log_every` is (tests/test_training_signals.py checks it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..training_log import TrainingLog

if TYPE_CHECKING:
    from .trainer import Trainer

# Where D's output says "real" (the loss defines it): the sign of a logit (ns, minimax, hinge: stylegan2-ada's
# Loss/signs) or 0.5 between LSGAN's targets 0 and 1. A WGAN critic's score has no such point (only differences of
# scores mean something): its accuracy is not logged; the Wasserstein estimate is.
REAL_THRESHOLDS = {"ns": 0.0, "minimax": 0.0, "hinge": 0.0, "lsgan": 0.5}
# A loss beyond this (or not finite) is a broken step: the BCE and hinge losses reach it only with D's outputs past
# +-50, LSGAN's past +-11 (its targets are 0 and 1); ganeval.diagnose calls such outputs divergence.
SATURATED_LOSS = 50.0
POWER_ITERATIONS = 5  # per logged step, warm-started from the last vector (as spectral normalisation does)
FIRST_POWER_ITERATIONS = 50  # from a random vector


@dataclass
class StepProbe:
    """What one logged training step measured; training_step fills it as the step goes."""

    loss: str
    values: dict = field(default_factory=dict)

    def discriminator_step(self, network: nn.Module, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> None:
        """After the step's last discriminator backward pass, before the optimiser step."""
        real, fake = real_scores.detach().float(), fake_scores.detach().float()
        self.values.update(d_real=real.mean(), d_fake=fake.mean(), grad_norm_d=gradient_norm(network))
        threshold = REAL_THRESHOLDS.get(self.loss)
        if threshold is None:
            self.values["wasserstein"] = real.mean() - fake.mean()
        else:
            accuracy_real, accuracy_fake = (real > threshold).float().mean(), (fake <= threshold).float().mean()
            self.values.update(d_accuracy_real=accuracy_real, d_accuracy_fake=accuracy_fake,
                               d_accuracy=(accuracy_real + accuracy_fake) / 2)

    def generator_step(self, network: nn.Module) -> None:
        """After the generator's backward pass, before the optimiser step."""
        self.values["grad_norm_g"] = gradient_norm(network)


class TrainingSignals:
    """Decides which steps are logged and writes their lines: the probe's values, the last layers' singular values,
    the learning rates and the speed. A step whose losses are non-finite or beyond SATURATED_LOSS, when no line
    was due, gets a line of its own the first time (the losses are read every step anyway, for the progress bar), so
    a run that breaks between two logged steps is caught at the step it broke."""

    def __init__(self, log: TrainingLog, every: int, loss: str, packing: int = 1) -> None:
        self.log, self.every, self.loss, self.packing = log, every, loss, packing
        self._vectors: dict[str, torch.Tensor] = {}
        self._clock = perf_counter()
        self._steps = 0
        self._alarmed = False

    def probe(self, step: int) -> StepProbe | None:
        """A probe for the training step that ends at `step`, when that step is logged: the first step (a run can
        break at once: a learning rate of 1 saturates D within steps) and every `every`-th."""
        return StepProbe(self.loss) if self.every and (step == 1 or step % self.every == 0) else None

    def record(self, trainer: Trainer, probe: StepProbe | None, losses: dict[str, float]) -> dict | None:
        """After each training step: its line when it was probed, or when its losses first look broken; returns the
        line written, if any."""
        self._steps += 1
        if probe is None and (not self.every or self._alarmed or not _broken(losses, self.loss)):
            return None
        self._alarmed = self._alarmed or _broken(losses, self.loss)
        return self._write(trainer, probe or StepProbe(self.loss), losses)

    def pause(self, seconds: float) -> None:
        """Leave `seconds` (a checkpoint written and scored) out of the speed."""
        self._clock += seconds

    def _write(self, trainer: Trainer, probe: StepProbe, losses: dict[str, float]) -> dict:
        now = perf_counter()
        values = {**losses, **probe.values}
        if trainer.interpolate_gradient_norm is not None:
            values["gp_grad_norm"] = trainer.interpolate_gradient_norm
        for name, network in (("d", trainer.discriminator), ("g", trainer.generator)):
            values[f"sigma_{name}"] = self._top_singular_value(name, network)
        values.update(lr_d=trainer.optimiser_d.param_groups[0]["lr"], lr_g=trainer.optimiser_g.param_groups[0]["lr"],
                      seconds_per_step=(now - self._clock) / max(self._steps, 1), loss=self.loss)
        if self.packing > 1:
            values["packing"] = self.packing
        self._clock, self._steps = now, 0
        return self.log.log(trainer.step, **values)

    @torch.no_grad()
    def _top_singular_value(self, name: str, network: nn.Module) -> float | None:
        weight = last_layer_weight(network)
        if weight is None:
            return None
        matrix = weight.detach().float().reshape(weight.shape[0], -1)
        vector = self._vectors.get(name)
        iterations = POWER_ITERATIONS
        if vector is None or vector.shape[0] != matrix.shape[1]:
            start = torch.Generator().manual_seed(0)  # its own stream: the run's is never touched
            vector, iterations = torch.randn(matrix.shape[1], generator=start).to(matrix.device), FIRST_POWER_ITERATIONS
        sigma, self._vectors[name] = top_singular_value(matrix, vector, iterations)
        return sigma


def _broken(losses: dict[str, float], loss: str) -> bool:
    """Whether a step's losses say the training broke: non-finite, or saturated (not for a WGAN critic's unscaled
    losses)."""
    values = list(losses.values())
    if not all(math.isfinite(value) for value in values):
        return True
    return loss in REAL_THRESHOLDS and any(abs(value) > SATURATED_LOSS for value in values)


def top_singular_value(matrix: torch.Tensor, vector: torch.Tensor, iterations: int) -> tuple[float, torch.Tensor]:
    """(sigma_max of `matrix` by power iteration on matrix^T matrix from `vector`, the right singular vector).

    >>> sigma, _ = top_singular_value(torch.diag(torch.tensor([3.0, 1.0])), torch.ones(2), 30)
    >>> round(sigma, 4)
    3.0
    """
    for _ in range(iterations):
        vector = matrix.T @ (matrix @ vector)
        vector = vector / vector.norm().clamp_min(1e-12)
    return float((matrix @ vector).norm()), vector


def last_layer_weight(network: nn.Module) -> torch.Tensor | None:
    """The weight of the last registered linear or convolutional layer (the output layer of ganeval's networks; a
    discriminator's `score` layer where it has one, as the AC-GAN's has a class head beside it), output channels
    first (as spectral normalisation takes a transposed convolution's), as the forward pass uses it: a
    spectral-normalised weight divided by its current estimate."""
    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
    layers = [module for module in network.modules() if isinstance(module, kinds)]
    if isinstance(getattr(network, "score", None), kinds):
        layers.append(network.score)
    if not layers:
        return None
    weight = _weight_in_use(layers[-1])
    return weight.transpose(0, 1) if isinstance(layers[-1], nn.ConvTranspose2d) else weight


def _weight_in_use(layer: nn.Module) -> torch.Tensor:
    """layer.weight, read without the power-iteration update that spectral_norm makes in training mode."""
    if not parametrize.is_parametrized(layer, "weight"):
        return layer.weight
    modules = list(layer.parametrizations.weight.modules())
    modes = [module.training for module in modules]
    layer.parametrizations.weight.eval()
    try:
        return layer.weight
    finally:
        for module, mode in zip(modules, modes):
            module.training = mode


def gradient_norm(network: nn.Module) -> torch.Tensor:
    """The L2 norm of all of `network`'s gradients taken together (0 when it has none yet)."""
    norms = [parameter.grad.detach().float().norm() for parameter in network.parameters() if parameter.grad is not None]
    return torch.stack(norms).norm() if norms else torch.zeros(())
