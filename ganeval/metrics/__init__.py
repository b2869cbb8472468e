"""Functional metrics on feature matrices (torch tensors on any device, or numpy arrays), returning Python floats.

>>> import torch
>>> from ganeval.metrics import fid
>>> x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
>>> round(fid(x, x + 1), 1)
8.0

The kernels are imported on first use, so the registry (names, keys, directions) loads without torch.
"""
from __future__ import annotations

import importlib

from .registry import METRIC_FAMILIES, METRIC_KEYS, parse_metrics

_KERNELS = {
    "CovarianceFactor": "fid", "FrechetResult": "fid", "covariance_factor": "fid", "fid": "fid",
    "fid_details": "fid", "fid_from_stats": "fid", "frechet_distance": "fid",
    "inception_score": "inception_score", "kid": "kid", "prdc": "prdc",
}

__all__ = sorted([*_KERNELS, "METRIC_FAMILIES", "METRIC_KEYS", "parse_metrics"])


def __getattr__(name: str):
    if name in _KERNELS:
        value = getattr(importlib.import_module(f".{_KERNELS[name]}", __name__), name)
        globals()[name] = value  # a module attribute from now on; __getattr__ is not asked again
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
