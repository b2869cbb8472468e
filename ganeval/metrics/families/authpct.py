"""authpct: the authenticity share of Alaa et al. 2022 ("How faithful is your synthetic data?", ICML), in percent,
as layer6ai-labs/dgm-eval `dgm_eval/metrics/authpct.py` computes it (see ganeval.metrics.authpct).

A generated sample is authentic when it lies farther from its nearest training row t* than t* lies from its own
nearest other training row. 0: every sample copies a training row; higher is better. Fresh draws from the training
distribution do not score 100, and score more in more dimensions: standard Gaussian rows, 2,000 fresh against
4,000 training, gave 39 at d = 2, 69 at d = 16, 85 at d = 64 and 90 at d = 1,024; compare models on one extractor
and training set. Reads the training set (--train REF): each generated sample's nearest training row comes from
the search the memorization families share; the training rows' 1-NN radii are computed once and cached with the
training set's entry.

Interval 'percentile': AuthPct is a mean of per-sample indicators over the generated samples, so a replicate is
the indicators' mean weighted by how often each sample is drawn (the training rows and their radii held fixed).
"""
from __future__ import annotations

from ...errors import InputError
from ..registry import Metric, MetricKey, MetricResult, register_metric

PERCENT = (0.0, 100.0)


def compute(context, weights=None) -> MetricResult:
    from ..authpct import authentic, authpct_replicates, percent, training_radii
    from ..training_set import nearest_training, require_train

    train = require_train(context, "authpct")
    rows = len(train.stats.rows)
    if rows < 2:
        raise InputError(f"authpct: the training set (--train) needs at least 2 rows, got {rows}")
    distances, nearest = nearest_training(context, "authpct", 1)
    radii = train.derive("knn_radii", 1, training_radii, f"authpct: training 1-NN radii over {rows} rows",
                         phase="train_knn_radii")
    flags = authentic(distances[:, 0], nearest[:, 0], radii)
    diagnostics = {"inauthentic": int((~flags).sum()),
                   "note": "inauthentic: nearer its nearest training row than that row's own nearest training row"}
    replicates = {} if weights is None else {"authpct": authpct_replicates(flags, weights)}
    return MetricResult({"authpct": percent(flags)}, diagnostics, replicates)


AUTHPCT = register_metric(Metric(
    "authpct",
    (MetricKey("authpct", higher_is_better=True, interval="percentile", bounds=PERCENT),),
    compute,
    rows="input",  # the generated rows; the training rows are always kept, the reference is not read
    train=True,
    status=lambda context: f"authpct: {context.num_samples} samples against the training set",
))
