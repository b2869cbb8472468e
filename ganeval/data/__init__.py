"""Sample sources by spec string.

  fashion-mnist:train|test          Fashion-MNIST, uint8 1x28x28, with class labels
  stacked-fashion-mnist:train|test  three Fashion-MNIST images stacked as RGB, labels = class triples (1,000 modes)
  cifar10:train|test                CIFAR-10 through torchvision (needs --download or an existing copy)
  ring8, grid25                     the VEEGAN/PacGAN 2D Gaussian mixtures
  PATH                              a .npy/.npz array, a folder of images (PNG, JPEG, BMP, WebP, TIFF, PGM, PPM), or a .zip of images
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from . import fashion_mnist, stacked
from .files import load_path
from .mixtures import MIXTURES, Mixture
from .samples import AtMost, Samples

DEFAULT_MIXTURE_SAMPLES = 2500  # the VEEGAN/PacGAN evaluation size
DATASET_SPECS = (
    "fashion-mnist:train", "fashion-mnist:test", "stacked-fashion-mnist:train", "stacked-fashion-mnist:test",
    "cifar10:train", "cifar10:test",
)
KNOWN_SPECS = DATASET_SPECS + tuple(MIXTURES)


def load_source(
    spec: str | os.PathLike,
    *,
    num_samples: int | AtMost | None = None,
    seed: int = 0,
    data_root: str | os.PathLike | None = None,
    download: bool = False,
    max_image_pixels: int | None = None,
    workers: int | None = None,
) -> Samples:
    """Resolve a source spec (see the module docstring) to Samples; `num_samples` takes a seeded subset (of a folder
    or zip, only the chosen images are decoded; AtMost(n): n, or all where fewer). Images above `max_image_pixels`
    (default ganeval.data.files.MAX_IMAGE_PIXELS, 8192 x 8192) are refused before decoding. A folder's or zip's images
    decode in `workers` processes (None: min(4, the cores); 0: in this one)."""
    text = str(spec)
    if isinstance(num_samples, int) and num_samples < 2:
        raise InputError(f"--num-samples {num_samples}: needs at least 2 samples")
    if isinstance(num_samples, AtMost) and (text in MIXTURES or text.startswith("stacked-fashion-mnist:")):
        # generated sources: their default draw, then the capped subset of it
        whole = load_source(spec, seed=seed, data_root=data_root, download=download)
        return whole.subset(num_samples, seed)
    if text in MIXTURES:
        mixture = MIXTURES[text]()
        points = mixture.sample(DEFAULT_MIXTURE_SAMPLES if num_samples is None else num_samples, seed=seed)
        return Samples(points, text, mixture=mixture)
    if text.startswith("stacked-fashion-mnist:"):
        images, labels = stacked.load(_split(text), num_samples, seed, data_root, download)
        return Samples(images, text, labels)
    if text.startswith("fashion-mnist:"):
        images, labels = fashion_mnist.load(_split(text), data_root, download)
        return Samples(images, text, labels).subset(num_samples, seed)
    if text.startswith("cifar10:"):
        return _cifar10(text, data_root, download).subset(num_samples, seed)
    if Path(text).exists() or Path(text).suffix or "/" in text or os.sep in text:  # looks like a path
        return load_path(Path(text), num_samples=num_samples, seed=seed, max_image_pixels=max_image_pixels,
                         workers=workers)
    raise InputError(f"'{text}' is neither a file, a folder nor a known source; known: {', '.join(KNOWN_SPECS)}")


def _split(spec: str) -> str:
    split = spec.split(":", 1)[1]
    if split not in ("train", "test"):
        raise InputError(f"'{spec}': unknown split '{split}'; use train or test")
    return split


def _cifar10(spec: str, data_root, download: bool) -> Samples:
    import torch
    from torchvision.datasets import CIFAR10

    root = fashion_mnist.download_root(data_root)
    train = _split(spec) == "train"
    try:
        dataset = CIFAR10(str(root), train=train, download=download)
    except Exception as exc:  # torchvision: RuntimeError when missing, URLError when offline
        raise InputError(f"{spec}: not found under {root} and not downloadable here ({type(exc).__name__}); "
                         f"pass --download online or --data-root to an existing copy") from exc
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
    return Samples(images, spec, torch.tensor(dataset.targets))


__all__ = ["KNOWN_SPECS", "MIXTURES", "AtMost", "Mixture", "Samples", "load_source"]
