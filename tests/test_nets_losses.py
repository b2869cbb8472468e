"""Reference GAN architectures and losses (issue 4's building blocks): shapes, packing, sizes and loss values."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganeval.errors import UnknownNameError
from ganeval.nets.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator, from_uint8, to_uint8
from ganeval.nets.mlp import MaxoutDiscriminator, MLPConfig, MLPGenerator, pack
from ganeval.train.losses import LOSS_NAMES, discriminator_loss, generator_loss, gradient_penalty


def test_pacgan_mlps_have_the_paper_shapes():
    config = MLPConfig(packing=3)
    generator, discriminator = MLPGenerator(config), MaxoutDiscriminator(config)
    linears = [layer for layer in generator.modules() if isinstance(layer, nn.Linear)]
    assert [layer.out_features for layer in linears] == [400, 400, 400, 400, 2]
    assert sum(isinstance(layer, nn.BatchNorm1d) for layer in generator.modules()) == 4
    assert discriminator.net[0].linear.in_features == 6 and discriminator.net[0].linear.out_features == 200 * 5
    points = generator(torch.randn(99, 2))
    assert points.shape == (99, 2) and discriminator(points).shape == (33,)
    assert abs(float(linears[0].weight.std()) - 0.02) < 0.005  # N(0, 0.02^2) initialisation


def test_packing_concatenates_consecutive_samples():
    samples = torch.arange(12.0).view(6, 2)
    assert pack(samples, 2).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(ValueError, match="not divisible by the packing degree 4"):
        pack(samples, 4)


@pytest.mark.parametrize(
    "config", [DCGANConfig(), DCGANConfig(channels=3, packing=2), DCGANConfig(image_size=32, channels=3, discriminator_norm="spectral")]
)
def test_dcgan_shapes(config):
    generator, discriminator = DCGANGenerator(config), DCGANDiscriminator(config)
    images = generator(torch.randn(4, config.latent_dim))
    assert images.shape == (4, config.channels, config.image_size, config.image_size)
    assert float(images.abs().max()) <= 1
    assert discriminator(images).shape == (4 // config.packing,)
    has_spectral_norm = any("parametrizations" in name for name, _ in discriminator.named_modules())
    assert has_spectral_norm == (config.discriminator_norm == "spectral")


def test_uint8_round_trip():
    images = torch.randint(0, 256, (3, 1, 4, 4), dtype=torch.uint8)
    assert torch.equal(to_uint8(from_uint8(images)), images)


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
