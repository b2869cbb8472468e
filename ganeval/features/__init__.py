"""Feature extractors and streaming statistics.

>>> from ganeval import features
>>> "identity" in features.names()
True
"""
from . import classifier, clip, dinov2, identity, inception, torchscript, vgg16  # noqa: F401  (registers the extractors)
from .registry import FeatureExtractor, create, names, register
from .stats import FeatureStats

__all__ = ["FeatureExtractor", "FeatureStats", "create", "names", "register"]
