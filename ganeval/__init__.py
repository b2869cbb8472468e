"""ganeval: evaluation and metrics for generative adversarial networks.

>>> import ganeval
>>> record = ganeval.score("ring8", "ring8", "fid", progress=False, use_cache=False)
>>> record["fid"] < 0.01
True

`ganeval.score` is the keyword form of ganeval.pipeline.score(source, reference, ScoreConfig(...)); it loads torch
on first use, so the command line starts fast (compare and load_records need pandas only; they are imported here
because the name `ganeval.compare` is also the module's).
"""
from __future__ import annotations

import importlib

from .errors import GanevalError

__version__ = "0.1.0"  # before the imports below: modules they load read it

from .compare import compare  # noqa: E402
from .config import ScoreConfig  # noqa: E402
from .tables import load_records  # noqa: E402

_LAZY = {"score": ("pipeline", "score_keywords"), "Evaluator": ("evaluator", "Evaluator"),
         "TrainingLog": ("training_log", "TrainingLog")}

__all__ = ["Evaluator", "GanevalError", "ScoreConfig", "TrainingLog", "__version__", "compare", "load_records",
           "score"]


def __getattr__(name: str):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
