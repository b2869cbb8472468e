"""is: the Inception Score exp(E KL(p(y|x) || p(y))) over splits of the generated samples' logits (Salimans et al.
2016), as torch-fidelity computes it."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..registry import Metric, MetricKey, MetricResult, option, register_metric


@dataclass(frozen=True)
class Options:
    splits: int = option(10, "Inception Score splits (default 10)")


def compute(context, weights=None) -> MetricResult:
    from ..inception_score import inception_score, inception_score_replicates

    if context.logits is None:  # IS chosen by default, and the extractor gave no logits
        return MetricResult({})
    logits, splits, seed = context.logits.raw(), context.options.splits, context.seed
    mean, std = inception_score(logits, splits=splits, seed=seed)
    replicates = {}
    if weights is not None:
        replicates["is_mean"] = inception_score_replicates(logits, weights, splits=splits, seed=seed)
    return MetricResult({"is_mean": mean, "is_std": std}, None, replicates)


INCEPTION_SCORE = register_metric(Metric(
    "is",
    (MetricKey("is_mean", higher_is_better=True, interval="basic", bounds=(1.0, math.inf)), MetricKey("is_std")),
    compute,
    options=Options,
    layers=("logits",),
    rows="none",
    default=True,
))
