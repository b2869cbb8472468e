"""realism: per-sample realism scores (Kynkaanniemi et al., NeurIPS 2019, section 5; reference code
kynkaat/improved-precision-and-recall-metric `precision_recall.py` and `experiments.py`) of the generated rows
against the reference's median-pruned k-NN balls, summarised, and the outlier-robust precision of those balls.

Keys: `realism`, the lower median of the realism score R (a copy of a reference row scores +inf, so the mean would
be infinite or ruled by near copies; see ganeval.metrics.realism.realism_summary); `realism_above_1`, the share of
generated samples with R >= 1 (inside a kept ball, boundary included); `robust_precision`, the share strictly
inside a kept ball, the `<` of prdc precision (the two differ only on a boundary). prdc precision stays as the prdc
package computes it. The reference radii are the prdc family's cached `knn_radii` (shared with it when --prdc-k
equals --realism-k). Bootstrap replicates resample the generated samples (the reference and its balls stay fixed).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import NON_NEGATIVE, SHARE, Metric, MetricKey, MetricResult, option, register_metric

QUANTILE_LEVELS = (0.05, 0.5, 0.95)


@dataclass(frozen=True)
class Options:
    k: int = option(3, "neighbourhood size of the reference balls for the realism score (default 3, the paper's)")


def compute(context, weights=None) -> MetricResult:
    from ..prdc import knn_radii
    from ..realism import realism_quantiles, realism_scores, realism_summary

    real, k = context.reference.rows, context.options.k
    radii = context.derive("knn_radii", k, lambda rows: knn_radii(rows, k),
                           f"reference k-NN radii: k={k} over {len(real)} rows", phase="reference_knn_radii")
    result = realism_scores(real, context.features.raw(), k, real_radii=radii, device=context.device)
    values, replicates = realism_summary(result, weights)
    quantiles = realism_quantiles(result.scores, QUANTILE_LEVELS)
    diagnostics = {
        "k": k,
        "median_radius": result.threshold ** 0.5,
        "kept_balls": result.kept,
        "reference_balls": len(real),
        "copies": int(result.scores.isinf().sum()),  # generated rows identical to a kept reference row: R = +inf
        "realism_quantiles": {f"{level:.0%}": _json_number(value) for level, value in zip(QUANTILE_LEVELS, quantiles)},
    }
    return MetricResult(values, diagnostics, replicates)


def _json_number(value: float) -> float | str:
    return value if value != float("inf") else "inf"  # JSON has no inf (as vendi's order)


def check(options: Options, num_input: int, num_reference: int) -> None:
    if not 1 <= options.k < num_reference:
        raise InputError(f"realism: k={options.k} must be at least 1 and below the number of reference samples "
                         f"({num_reference}); set --realism-k")


REALISM = register_metric(Metric(
    "realism",
    (MetricKey("realism", higher_is_better=True, interval="percentile", bounds=NON_NEGATIVE),
     MetricKey("realism_above_1", higher_is_better=True, interval="percentile", bounds=SHARE),
     MetricKey("robust_precision", higher_is_better=True, interval="percentile", bounds=SHARE)),
    compute,
    options=Options,
    check=check,
    train=False,
    status=lambda context: (f"realism: k={context.options.k}, {context.num_samples} x {len(context.reference.rows)} "
                            "samples"),
))
