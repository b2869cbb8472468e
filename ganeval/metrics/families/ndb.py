"""ndb: the number of statistically different bins (Richardson & Weiss 2018): K-means bins of the reference, a
two-proportion z-test per bin, and the Jensen-Shannon divergence of the two bin histograms."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import InputError
from ..registry import NON_NEGATIVE, SHARE, Metric, MetricKey, MetricResult, option, register_metric


@dataclass(frozen=True)
class Options:
    bins: int = option(100, "K-means bins of NDB (default 100)")
    alpha: float = option(0.05, "significance level of NDB's per-bin test (default 0.05)")


def compute(context, weights=None) -> MetricResult:
    from ..modes import kmeans, ndb

    real, bins, alpha = context.reference, context.options.bins, context.options.alpha
    centres = context.derive("ndb_centres", bins, lambda rows: kmeans(rows, bins, seed=0),
                             f"ndb K-means: {bins} bins over {len(real.rows)} reference rows", phase="ndb_kmeans")
    result = ndb(real.rows.to(context.device), context.features.raw(), k=bins, alpha=alpha, centres=centres,
                 weights=weights)
    diagnostics = {"bins": bins, "alpha": alpha, "bin_proportions": result["bin_proportions"],
                   "reference_proportions": result["reference_proportions"]}
    values = {key: result[key] for key in ("ndb", "ndb_fraction", "ndb_js")}
    return MetricResult(values, diagnostics, result.get("replicates", {}))


def check(options: Options, num_input: int, num_reference: int) -> None:
    if not 2 <= options.bins <= num_reference:
        raise InputError(f"ndb: {options.bins} bins need at least as many reference samples (have {num_reference})")


NDB = register_metric(Metric(
    "ndb",
    (MetricKey("ndb", higher_is_better=False, interval="centred", bounds=NON_NEGATIVE, plotted=False),
     MetricKey("ndb_fraction", higher_is_better=False, interval="centred", bounds=SHARE),
     MetricKey("ndb_js", higher_is_better=False, interval="basic", bounds=(0.0, math.log(2)), plotted=False)),
    compute,
    options=Options,
    check=check,
    status=lambda context: f"ndb: {context.num_samples} samples into {context.options.bins} bins",
))
