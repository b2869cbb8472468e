"""Functional metrics on feature matrices (torch tensors on any device, or numpy arrays), returning Python floats.

>>> import torch
>>> from ganeval.metrics import fid
>>> x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
>>> round(fid(x, x + 1), 1)
8.0
"""
from .fid import CovarianceFactor, FrechetResult, covariance_factor, fid, fid_details, fid_from_stats, frechet_distance
from .inception_score import inception_score
from .kid import kid
from .prdc import prdc
from .registry import METRIC_FAMILIES, METRIC_KEYS, parse_metrics

__all__ = [
    "CovarianceFactor",
    "FrechetResult",
    "METRIC_FAMILIES",
    "METRIC_KEYS",
    "covariance_factor",
    "fid",
    "fid_details",
    "fid_from_stats",
    "frechet_distance",
    "inception_score",
    "kid",
    "parse_metrics",
    "prdc",
]
