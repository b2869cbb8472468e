"""ct: the data-copying test statistic C_T of Meehan, Chaudhuri & Dasgupta (AISTATS 2020), as layer6ai-labs/dgm-eval
`dgm_eval/metrics/ct.py` computes it (from casey-meehan/data-copying; see ganeval.metrics.ct): in each k-means
cell of the training set, the Mann-Whitney Z of the generated samples' distances to the training set against the
held-out reference's (the test split: P_n), averaged over the cells with enough generated samples, weighted by
the test split's share.

No direction: C_T is a test statistic, about 0 (N(0, 1)) when the generator neither copies nor underfits, far below
0 when it copies training rows (about -3 already means copying at the 0.1% level) and above 0 when it underfits, so
tables do not rank it and gates do not compare it: read it against 0. No bootstrap interval: it is already
standardised, its null distribution N(0, 1), and resampling the generated samples would resample the U statistic's
own input (duplicated samples make ties the null variance does not allow for).

The reference must be a split held out from the training set (--train REF), or C_T measures nothing. Cells that
lack test or training rows are reported in the diagnostics and left out, never an error.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import Metric, MetricKey, MetricResult, option, register_metric


@dataclass(frozen=True)
class Options:
    cells: int = option(3, "k-means cells of the training set for C_T (default 3, as dgm-eval)")
    pca_dims: int = option(64, "principal components the features are projected to for C_T's cells and distances, "
                               "when wider (default 64, as dgm-eval)")
    tau: float | None = option(None, "share of the generated samples a cell needs (strictly more) to count in C_T "
                                     "(default 20/m for m generated samples, as dgm-eval)", metavar="SHARE")


def compute(context, weights=None) -> MetricResult:
    from ..ct import ct
    from ..training_set import require_train

    train, options = require_train(context, "ct"), context.options
    if len(train.stats.rows) < options.cells:
        raise InputError(f"ct: the training set (--train) has {len(train.stats.rows)} rows, fewer than its "
                         f"{options.cells} cells; lower --ct-cells")
    value, diagnostics = ct(train.stats.rows.to(context.device), context.reference.rows, context.features.raw(),
                            cells=options.cells, pca_dims=options.pca_dims, tau=options.tau, seed=context.seed,
                            moments=(train.stats.mean, train.stats.covariance))
    return MetricResult({"ct": value}, diagnostics)


def check(options: Options, num_input: int, num_reference: int) -> None:
    if options.cells < 1:
        raise InputError(f"ct: --ct-cells {options.cells} must be at least 1")
    if options.pca_dims < 1:
        raise InputError(f"ct: --ct-pca-dims {options.pca_dims} must be at least 1")
    if options.tau is not None and not 0 <= options.tau < 1:
        raise InputError(f"ct: --ct-tau {options.tau} must be a share in [0, 1)")
    if options.tau is None and num_input <= 20:
        raise InputError(f"ct: needs more than 20 generated samples (a cell counts with more than 20 of them, "
                         f"as dgm-eval's tau = 20/m), got {num_input}")


CT = register_metric(Metric(
    "ct",
    (MetricKey("ct"),),
    compute,
    options=Options,
    check=check,
    train=True,
    held_out=True,  # C_T's P_n: the test split, not the training set
    status=lambda context: f"ct: {context.options.cells} cells, {context.num_samples} samples against the training "
                           f"set and {len(context.reference.rows)} held-out rows",
))
