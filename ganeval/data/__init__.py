"""Sample sources by spec string: a 2D mixture name, a .npy/.npz array file, or a folder of images."""
from __future__ import annotations

from .files import load_path
from .mixtures import MIXTURES, Mixture
from .samples import Samples

DEFAULT_MIXTURE_SAMPLES = 2500  # the VEEGAN/PacGAN evaluation size


def load_source(spec: str, *, num_samples: int | None = None, seed: int = 0) -> Samples:
    """Resolve a source spec to Samples: 'ring8', 'grid25', a .npy/.npz file or a folder of PNG/JPEG images."""
    if spec in MIXTURES:
        points = MIXTURES[spec]().sample(num_samples or DEFAULT_MIXTURE_SAMPLES, seed=seed)
        return Samples(points, spec)
    return load_path(spec).subset(num_samples, seed)


__all__ = ["MIXTURES", "Mixture", "Samples", "load_source"]
