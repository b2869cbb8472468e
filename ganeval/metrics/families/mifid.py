"""mifid: the memorization-informed FID of Bai et al. 2021 ("On Training Sample Memorization: Lessons from
Benchmarking Generative Modeling with a Large-scale Competition", KDD), as torchmetrics' image/mifid.py
(MemorizationInformedFrechetInceptionDistance) computes it when its real images are the training set (`--train`).

mifid = FID(training, generated) / d', with d the mean over training rows of the minimum over generated rows of the
cosine distance 1 - |cos|, and d' = d when d < eps (--mifid-cosine-eps, default 0.1), else 1: FID itself unless the
generated set holds near-copies of training images (in direction), which divide it by a small d. Lower is better.
The FID is computed as the `fid` family computes it, with the training set in place of the reference. Kaggle's
scorer, which MiFID was made for, took the minimum the other way: per generated image over the training images.

No bootstrap interval: d' is a step function of d at eps, so the replicates jump between FID / d and FID, and
resampling the generated rows with replacement leaves out about a third of them, which raises every training row's
nearest-generated distance: the replicates' d sits above the estimate, not around it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import NON_NEGATIVE, Metric, MetricKey, MetricResult, option, register_metric

COSINE_EPS = 0.1  # torchmetrics' cosine_distance_eps default; kept here too so the CLI loads without torch


@dataclass(frozen=True)
class Options:
    cosine_eps: float = option(COSINE_EPS, "MiFID's memorisation threshold: the mean nearest cosine distance d "
                                           "divides the FID only below it (default 0.1, torchmetrics' and Kaggle's)")


def compute(context, weights=None) -> MetricResult:
    from ..fid import frechet_distance, reference_factor, warn_if_few_samples
    from ..mifid import memorization_informed_fid
    from ..training_set import require_train  # imports torch: not at load, so --help stays light

    train, features = require_train(context, "mifid").stats, context.features
    if train.num_samples is not None:
        warn_if_few_samples(train.num_samples, train.dim, "training set")
    warn_if_few_samples(features.num_samples, train.dim, "input")
    fid = frechet_distance(
        train.mean, train.covariance, features.mean().to(train.mean.device), features.covariance(),
        factor1=reference_factor(train.rows, train.mean), fake_features=features.raw(), device=features.device,
    ).with_counts(train.num_samples, features.num_samples)
    result = memorization_informed_fid(fid.value, train.rows, features.raw(), eps=context.options.cosine_eps,
                                       device=context.device)
    diagnostics = {**result.diagnostics(), "fid_against": "training set", "fid_details": fid.diagnostics(),
                   "direction": "d: minimum over generated rows per training row (torchmetrics); d_per_generated: "
                                "minimum over training rows per generated row (Kaggle's scorer)"}
    return MetricResult({"mifid": result.value}, diagnostics)


def check(options: Options, num_input: int, num_reference: int) -> None:
    if not 0 < options.cosine_eps <= 1:
        raise InputError(f"mifid: cosine eps {options.cosine_eps} must be in (0, 1]; set --mifid-cosine-eps")


MIFID = register_metric(Metric(
    "mifid",
    (MetricKey("mifid", higher_is_better=False, bounds=NON_NEGATIVE),),
    compute,
    options=Options,
    rows="input",  # the generated rows; the training rows are always kept, the reference is not read
    check=check,
    status=lambda context: (f"mifid: {context.num_samples} generated x "
                            f"{len(context.train.stats.rows) if context.train is not None else 0} training rows, "
                            f"eps={context.options.cosine_eps:g}"),
    train=True,
))
