"""The GAN losses at known discriminator scores, and WGAN-GP's gradient penalty of linear critics."""
from __future__ import annotations

import math

import pytest
import torch

from ganeval.errors import UnknownNameError
from ganeval.train.losses import (
    LOSS_NAMES,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)


def test_loss_values_at_known_scores():
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert discriminator_loss("ns", real, fake) == pytest.approx(softplus(-2) + softplus(-1))
    assert generator_loss("ns", fake) == pytest.approx(softplus(1))
    assert generator_loss("minimax", fake) == pytest.approx(-softplus(-1))
    assert discriminator_loss("lsgan", real, fake) == pytest.approx(0.5 * 1 + 0.5 * 1)
    assert generator_loss("lsgan", fake) == pytest.approx(0.5 * 4)
    assert discriminator_loss("hinge", real, fake) == pytest.approx(0 + 0)
    assert discriminator_loss("hinge", torch.tensor([0.5]), torch.tensor([0.5])) == pytest.approx(0.5 + 1.5)
    assert discriminator_loss("wgan-gp", real, fake) == pytest.approx(-3)
    assert generator_loss("wgan-gp", fake) == pytest.approx(1)
    assert set(LOSS_NAMES) == {"ns", "minimax", "lsgan", "hinge", "wgan-gp"}
    with pytest.raises(UnknownNameError, match="unknown loss 'bce'; choose from hinge, lsgan, minimax, ns, wgan-gp"):
        generator_loss("bce", fake)


def test_gradient_penalty_of_linear_critics():
    real, fake = torch.randn(8, 3), torch.randn(8, 3)
    unit = lambda x: x @ torch.tensor([0.6, 0.8, 0.0])  # noqa: E731  gradient norm exactly 1
    assert float(gradient_penalty(unit, real, fake)) == pytest.approx(0, abs=1e-12)
    double = lambda x: 2 * unit(x)  # noqa: E731  gradient norm 2 -> penalty (2 - 1)^2
    assert float(gradient_penalty(double, real, fake)) == pytest.approx(1)
    packed = lambda x: unit(x.reshape(-1, 2, 3)[:, 0]) + unit(x.reshape(-1, 2, 3)[:, 1])  # noqa: E731  norm sqrt 2
    assert float(gradient_penalty(packed, real, fake, packing=2)) == pytest.approx((math.sqrt(2) - 1) ** 2)
