"""The reference networks: the PacGAN MLPs and packing, DCGAN shapes, the uint8 round trip."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ganeval.nets.dcgan import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    from_uint8,
    to_uint8,
)
from ganeval.nets.mlp import MaxoutDiscriminator, MLPConfig, MLPGenerator, pack


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
