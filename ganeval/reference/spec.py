"""A --reference argument, parsed once into what it is: samples to extract, a cached entry, or a moments file.

  a source spec (dataset, folder, array file) or Samples   SamplesReference: extracted with the score's extractor
  ref:KEY or a cached .pt file                               CachedReference: built by `ganeval ref build`
  an .npz holding `mu` and `sigma`                           MomentsReference: pytorch-fid / torch-fidelity
                                                             statistics (FID only), read here, once
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..data import Samples
from ..errors import InputError


@dataclass(frozen=True)
class SamplesReference:
    """Reference samples, to extract (and cache by content): a source spec, or Samples in memory."""

    source: str | Samples

    @property
    def name(self) -> str:
        return self.source.name if isinstance(self.source, Samples) else self.source


@dataclass(frozen=True)
class CachedReference:
    """A cache entry written by `ganeval ref build`: `ref:KEY` or the path of its .pt file."""

    spec: str

    @property
    def name(self) -> str:
        return self.spec


@dataclass(frozen=True)
class MomentsReference:
    """A pytorch-fid style statistics file, already read: mean (d,), covariance (d, d) and N when it says."""

    path: str
    mean: torch.Tensor
    covariance: torch.Tensor
    num_samples: int | None

    @property
    def name(self) -> str:
        return self.path


ReferenceSpec = Union[SamplesReference, CachedReference, MomentsReference]


def parse_reference(reference: str | Path | Samples) -> ReferenceSpec:
    """What `reference` is (see the module docstring); an .npz is opened here, and only here.

    >>> parse_reference("ref:0123abcd")
    CachedReference(spec='ref:0123abcd')
    >>> parse_reference("fashion-mnist:train")
    SamplesReference(source='fashion-mnist:train')
    """
    if isinstance(reference, Samples):
        return SamplesReference(reference)
    text = str(reference)
    if is_cached_spec(text):
        return CachedReference(text)
    if text.endswith(".npz") and Path(text).is_file():
        moments = read_moments(text)
        if moments is not None:
            return moments
    return SamplesReference(text)


def is_cached_spec(text: str) -> bool:
    """`ref:KEY` or a cache entry's .pt file."""
    return text.startswith("ref:") or text.endswith(".pt")


def read_moments(path: str) -> MomentsReference | None:
    """A pytorch-fid / torch-fidelity style .npz: `mu` (d,), `sigma` (d, d), optionally `num_samples` or `n`; None
    when the file holds no `mu` and `sigma` (an array of samples: the samples loader reads it)."""
    try:
        with np.load(path, allow_pickle=False) as loaded:
            if not {"mu", "sigma"} <= set(loaded.keys()):
                return None
            mean, covariance = torch.from_numpy(loaded["mu"]).double(), torch.from_numpy(loaded["sigma"]).double()
            count = next((int(loaded[key]) for key in ("num_samples", "n") if key in loaded), None)
    except (OSError, EOFError, zipfile.BadZipFile):
        return None  # not a statistics file: the samples loader reports what is wrong with it
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: mu, sigma (and n) must be numeric arrays ({type(exc).__name__})") from exc
    if mean.dim() != 1 or covariance.shape != (len(mean), len(mean)):
        raise InputError(f"{path}: mu must be (d,) and sigma (d, d), got {tuple(mean.shape)} and {tuple(covariance.shape)}")
    return MomentsReference(path, mean, covariance, count)
