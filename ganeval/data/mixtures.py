"""2D Gaussian mixtures of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018, fjxmlzn/PacGAN)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Mixture:
    """Equally weighted isotropic Gaussians with the given means (K x 2) and one standard deviation."""

    name: str
    means: torch.Tensor
    std: float

    def sample(self, num_samples: int, seed: int = 0) -> torch.Tensor:
        """`num_samples` float64 points, deterministic for a seed."""
        generator = torch.Generator().manual_seed(seed)
        modes = torch.randint(len(self.means), (num_samples,), generator=generator)
        noise = torch.randn(num_samples, 2, generator=generator, dtype=torch.float64)
        return self.means[modes] + self.std * noise


def ring8() -> Mixture:
    """8 modes on the unit circle, std 0.01."""
    angles = torch.arange(8, dtype=torch.float64) * 2 * math.pi / 8
    return Mixture("ring8", torch.stack([angles.cos(), angles.sin()], dim=1), 0.01)


def grid25() -> Mixture:
    """25 modes at (-4 + 2i, -4 + 2j), i, j in 0..4, std 0.05."""
    axis = torch.arange(-4, 5, 2, dtype=torch.float64)
    return Mixture("grid25", torch.cartesian_prod(axis, axis), 0.05)


MIXTURES = {"ring8": ring8, "grid25": grid25}
