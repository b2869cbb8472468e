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

from dataclasses import dataclass, field
from time import perf_counter

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..training_log import TrainingLog

# Where D's output says "real" (the loss defines it): the sign of a logit (ns, minimax, hinge: stylegan2-ada's
# Loss/signs) or 0.5 between LSGAN's targets 0 and 1. A WGAN critic's score has no such point (only differences of
# scores mean something): its accuracy is not logged; the Wasserstein estimate is.
REAL_THRESHOLDS = {"ns": 0.0, "minimax": 0.0, "hinge": 0.0, "lsgan": 0.5}
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
    """Decides which steps are logged, and writes their lines (the last layers' singular values, the rates and the
    speed added to what the step's probe measured)."""

    def __init__(self, log: TrainingLog, every: int, loss: str, packing: int = 1) -> None:
        self.log, self.every, self.loss, self.packing = log, every, loss, packing
        self._vectors: dict[str, torch.Tensor] = {}
        self._clock = perf_counter()
        self._steps = 0

    def probe(self, step: int) -> StepProbe | None:
        """A probe for the training step that ends at `step`, when that step is logged: the first step (a run can
        break at once: a learning rate of 1 saturates D in one step) and every `every`-th."""
        return StepProbe(self.loss) if self.every and (step == 1 or step % self.every == 0) else None

    def count_step(self) -> None:
        """A training step ended (the speed counts training steps only: see `pause`)."""
        self._steps += 1

    def pause(self, seconds: float) -> None:
        """Leave `seconds` (a checkpoint written and scored) out of the speed."""
        self._clock += seconds

    def write(self, step: int, probe: StepProbe, networks: dict[str, nn.Module], rates: dict[str, float],
              extra: dict | None = None) -> dict:
        """Append step's line: the probe's values, the singular values of `networks`' last layers ({"d": ..., "g":
        ...}), the learning rates ({"lr_d": ..., "lr_g": ...}) and the seconds per step since the last line."""
        now = perf_counter()
        values = {**(extra or {}), **probe.values}
        for name, network in networks.items():
            values[f"sigma_{name}"] = self._top_singular_value(name, network)
        values.update(rates, seconds_per_step=(now - self._clock) / max(self._steps, 1), loss=self.loss)
        if self.packing > 1:
            values["packing"] = self.packing
        self._clock, self._steps = now, 0
        return self.log.log(step, **values)

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
    """The weight of the last registered linear or convolutional layer (the output layer of ganeval's networks),
    as the forward pass uses it: a spectral-normalised weight divided by its current estimate, read without the
    power-iteration update a forward pass in training mode would make."""
    layers = [module for module in network.modules() if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    if not layers:
        return None
    layer = layers[-1]
    if not parametrize.is_parametrized(layer, "weight"):
        return layer.weight
    modes = [module.training for module in layer.parametrizations.weight]
    layer.parametrizations.weight.eval()  # spectral_norm updates its vectors only in training mode
    try:
        return layer.weight
    finally:
        for module, mode in zip(layer.parametrizations.weight, modes):
            module.train(mode)


def gradient_norm(network: nn.Module) -> torch.Tensor:
    """The L2 norm of all of `network`'s gradients taken together (0 when it has none yet)."""
    norms = [parameter.grad.detach().float().norm() for parameter in network.parameters() if parameter.grad is not None]
    return torch.stack(norms).norm() if norms else torch.zeros(())
