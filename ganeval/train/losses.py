"""GAN losses: each maps discriminator scores to (discriminator loss, generator loss).

  ns       non-saturating BCE (Goodfellow et al. 2014): D: softplus(-r) + softplus(f); G: softplus(-f)
  minimax  the original saturating game: D as ns; G: -softplus(f) (minimises log(1 - D(G(z))))
  lsgan    least squares (Mao et al. 2017), targets 1 / 0: D: (r - 1)^2/2 + f^2/2; G: (f - 1)^2/2
  hinge    (Lim & Ye 2017; Miyato et al. 2018): D: relu(1 - r) + relu(1 + f); G: -f
  wgan-gp  (Gulrajani et al. 2017): D: f - r + lambda (|grad D(x_hat)| - 1)^2; G: -f
Scores are raw discriminator outputs (logits); all losses are means over the batch.

AC-GAN (Odena, Olah & Shlens 2017, eq. 2-3): beside the source log-likelihood L_S, the class log-likelihood
L_C = E log P(C = c | X_real) + E log P(C = c | X_fake); D maximises L_S + L_C and G maximises L_C - L_S. In the
losses above that is D: adversarial + w (CE(real) + CE(generated)) and G: adversarial + w CE(generated), where CE
is `class_loss`, the cross-entropy of the class head's logits against the labels (the real images' own, and the
ones the generated images were asked for), and w the config's aux_weight (1 in the paper). With aux_generated =
false, D's class loss is w CE(real) alone, as in StudioGAN's ACGAN: D's class head stays a classifier of real images.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..errors import UnknownNameError


def discriminator_loss(name: str, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss (without the gradient penalty, which needs the network: see gradient_penalty)."""
    return _get(name)[0](real_scores, fake_scores)


def generator_loss(name: str, fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator's loss on the scores of its samples."""
    return _get(name)[1](fake_scores)


def class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """AC-GAN's auxiliary loss: the mean cross-entropy of the class logits (N x K) against the labels (N), -L_C's
    share of one batch; ln K for a head that knows nothing (uniform logits).

    >>> round(float(class_loss(torch.zeros(4, 10), torch.arange(4))), 4)  # ln 10
    2.3026
    """
    return F.cross_entropy(logits.float(), labels)


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
    packing: int = 1,
) -> torch.Tensor:
    """WGAN-GP: mean over packs of (|grad_x D(x_hat)| - 1)^2 at random interpolates x_hat of real and fake."""
    return penalty_of(interpolate_gradient_norms(discriminator, real, fake, generator, packing))


def interpolate_gradient_norms(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
    packing: int = 1,
) -> torch.Tensor:
    """|grad_x D(x_hat)| per pack at random interpolates x_hat of real and fake, differentiable (for the penalty).

    With packing m the discriminator scores packs of m samples, so one mixing weight is drawn per pack and the norm
    is taken over the whole pack."""
    packs = real.shape[0] // packing
    weights = torch.rand(packs, generator=generator, device="cpu").to(real.device).repeat_interleave(packing)
    weights = weights.view(-1, *([1] * (real.dim() - 1)))
    mixed = (weights * real.detach() + (1 - weights) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed)
    (gradients,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return gradients.reshape(packs, -1).norm(dim=1)


def penalty_of(norms: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's two-sided penalty on the gradient norms at the interpolates: mean of (norm - 1)^2."""
    return ((norms - 1) ** 2).mean()


_LOSSES: dict[str, tuple[Callable, Callable]] = {
    "ns": (lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(), lambda f: F.softplus(-f).mean()),
    "minimax": (lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(), lambda f: -F.softplus(f).mean()),
    "lsgan": (lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(), lambda f: 0.5 * ((f - 1) ** 2).mean()),
    "hinge": (lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean()),
    "wgan-gp": (lambda r, f: f.mean() - r.mean(), lambda f: -f.mean()),
}
LOSS_NAMES = tuple(_LOSSES)

# (D loss, G loss) at the game's equilibrium, where D cannot tell real from generated and outputs the same score for
# both: the logit 0 (D(x) = 1/2) for the BCE losses, 1/2 between LSGAN's targets 0 and 1, 0 for hinge. Then
#   ns       D: 2 softplus(0) = 2 ln 2 = 1.386;  G: softplus(0) = ln 2 = 0.693 (Goodfellow et al. 2014, Thm 1: -log 4)
#   minimax  D as ns;  G: -softplus(0) = -ln 2
#   lsgan    D: (1/2)(1/2 - 1)^2 + (1/2)(1/2)^2 = 0.25;  G: (1/2)(1/2 - 1)^2 = 0.125 (Mao et al. 2017, with 1/2 scaling)
#   hinge    D: relu(1 - 0) + relu(1 + 0) = 2;  G: -0 = 0
# A WGAN critic's scores are defined up to a constant, so its losses have no reference value (its D loss, the negated
# Wasserstein estimate, tends to 0 from below as the distributions meet).
EQUILIBRIUM_LOSSES: dict[str, tuple[float, float]] = {
    "ns": (2 * math.log(2), math.log(2)),
    "minimax": (2 * math.log(2), -math.log(2)),
    "lsgan": (0.25, 0.125),
    "hinge": (2.0, 0.0),
}


def _get(name: str) -> tuple[Callable, Callable]:
    if name not in _LOSSES:
        raise UnknownNameError("loss", name, _LOSSES)
    return _LOSSES[name]
