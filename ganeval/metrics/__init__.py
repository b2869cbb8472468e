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
import sys
import types

from . import families  # noqa: F401 (registers the built-in families)
from .registry import METRIC_FAMILIES, metric_keys, parse_metrics

_KERNELS = {
    "CovarianceFactor": "fid", "FrechetResult": "fid", "covariance_factor": "fid", "fid": "fid",
    "fid_details": "fid", "fid_from_stats": "fid", "frechet_distance": "fid",
    "inception_score": "inception_score", "kid": "kid", "prdc": "prdc",
}

__all__ = sorted([*_KERNELS, "METRIC_FAMILIES", "metric_keys", "parse_metrics"])


def __getattr__(name: str):
    if name in _KERNELS:
        value = getattr(importlib.import_module(f".{_KERNELS[name]}", __name__), name)
        globals()[name] = value  # a module attribute from now on; __getattr__ is not asked again
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _MetricsPackage(types.ModuleType):
    """Keeps `ganeval.metrics.fid` the function. Importing the submodule ganeval.metrics.fid (as evaluate.py does)
    makes the import system set the package's attribute `fid` to that module; an eager package rebound it to the
    function right after, a lazy one must do so here."""

    def __setattr__(self, name: str, value) -> None:
        if name in _KERNELS and isinstance(value, types.ModuleType) and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _MetricsPackage
