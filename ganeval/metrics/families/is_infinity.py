"""is_inf: the Inception Score extrapolated to N = infinity (Chong & Forsyth 2020) from nested subsets."""
from __future__ import annotations

import math

from ...errors import InputError
from ..registry import Metric, MetricKey, MetricResult, register_metric


def compute(context, weights=None) -> MetricResult:
    from ..infinity import is_infinity

    if context.logits is None:
        raise InputError("metric 'is_inf' needs class logits, which this extractor does not produce")
    extrapolation = is_infinity(context.logits.raw(), seed=context.seed)
    return MetricResult({"is_inf": extrapolation.value}, extrapolation.diagnostics())


IS_INFINITY = register_metric(Metric(
    "is_inf",
    (MetricKey("is_inf", higher_is_better=True, bounds=(1.0, math.inf), plotted=False),),
    compute,
    layers=("logits",),
    rows="none",
))
