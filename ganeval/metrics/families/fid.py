"""fid: the Frechet distance between Gaussians fitted to both sides' features (Heusel et al. 2017), as
torch-fidelity computes it; bootstrap replicates from weighted moments (ganeval.metrics.fid.frechet_replicates)."""
from __future__ import annotations

from ..registry import NON_NEGATIVE, Metric, MetricKey, MetricResult, register_metric


def compute(context, weights=None) -> MetricResult:
    from ..fid import frechet_distance, frechet_replicates, reference_factor, warn_if_few_samples

    real, features = context.reference, context.features
    if real.num_samples is not None:
        warn_if_few_samples(real.num_samples, real.dim, "reference")
    warn_if_few_samples(features.num_samples, real.dim, "input")
    factor = reference_factor(real.rows, real.mean)
    result = frechet_distance(
        real.mean, real.covariance, features.mean().to(real.mean.device), features.covariance(), factor1=factor,
        fake_features=features.raw() if features.keep_raw else None, device=features.device,
        keep_eigenbasis=weights is not None,
    ).with_counts(real.num_samples, features.num_samples)
    diagnostics, replicates = result.diagnostics(), {}
    if weights is not None:
        replicates["fid"], diagnostics["bootstrap_method"] = frechet_replicates(
            real.mean, real.covariance, features.raw(), weights, factor1=factor, sigma2=features.covariance(),
            method=context.fid_method, eigenbasis=result.eigenbasis,
        )
    return MetricResult({"fid": result.value}, diagnostics, replicates)


FID = register_metric(Metric(
    "fid",
    (MetricKey("fid", higher_is_better=False, interval="basic", bounds=NON_NEGATIVE),),
    compute,
    rows="none",
    default=True,
    status=lambda context: f"fid: d={context.reference.dim}, N={context.num_samples}",
))
