"""fid_inf: FID extrapolated to N = infinity (Chong & Forsyth 2020) from nested subsets of the generated rows."""
from __future__ import annotations

from ..registry import NON_NEGATIVE, Metric, MetricKey, MetricResult, register_metric


def compute(context, weights=None) -> MetricResult:
    from ..fid import reference_factor
    from ..infinity import fid_infinity

    real, device = context.reference, context.device
    extrapolation = fid_infinity(real.mean.to(device), real.covariance.to(device), context.features.raw(),
                                 seed=context.seed, factor1=reference_factor(real.rows, real.mean))
    return MetricResult({"fid_inf": extrapolation.value}, extrapolation.diagnostics())


FID_INFINITY = register_metric(Metric(
    "fid_inf",
    (MetricKey("fid_inf", higher_is_better=False, bounds=NON_NEGATIVE, plotted=False),),
    compute,
    rows="input",  # the generated rows; the reference's moments suffice
    status=lambda context: f"fid_inf: d={context.reference.dim}, N={context.num_samples}",
))
