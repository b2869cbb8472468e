"""prdc: precision, recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020) from k-NN balls,
as the prdc package computes them; the reference radii are computed once per k and cached."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import NON_NEGATIVE, SHARE, Metric, MetricKey, MetricResult, option, register_metric


@dataclass(frozen=True)
class Options:
    k: int = option(5, "neighbourhood size for PRDC (default 5)")


def compute(context, weights=None) -> MetricResult:
    from ..prdc import knn_radii, prdc, prdc_replicates

    real, k, device = context.reference, context.options.k, context.device
    radii = context.derive("knn_radii", k, lambda rows: knn_radii(rows, k),
                           f"reference k-NN radii: k={k} over {len(real.rows)} rows", phase="reference_knn_radii")
    arguments = dict(k=k, real_radii=radii, device=device)
    if weights is None:
        return MetricResult(prdc(real.rows, context.features.raw(), **arguments), {"k": k})
    values, replicates = prdc_replicates(real.rows, context.features.raw(), weights, **arguments)
    return MetricResult(values, {"k": k}, replicates)


def check(options: Options, num_input: int, num_reference: int) -> None:
    if not 1 <= options.k < min(num_reference, num_input):
        raise InputError(f"prdc: k={options.k} must be at least 1 and below the number of samples "
                         f"(reference {num_reference}, input {num_input})")


PRDC = register_metric(Metric(
    "prdc",
    (MetricKey("precision", higher_is_better=True, interval="percentile", bounds=SHARE),
     MetricKey("recall", higher_is_better=True, interval="centred", bounds=SHARE),
     MetricKey("density", higher_is_better=True, interval="percentile", bounds=NON_NEGATIVE),
     MetricKey("coverage", higher_is_better=True, interval="centred", bounds=SHARE)),
    compute,
    options=Options,
    default=True,
    check=check,
    status=lambda context: f"prdc: k={context.options.k}, {context.num_samples} x {len(context.reference.rows)} samples",
))
