"""ifid: intra-class FID (Miyato & Koyama, ICLR 2018, "cGANs with projection discriminator"), the mean over the
reference's classes of the FID between the generated samples asked for that class and the reference samples of it
(ganeval.metrics.classes.intra_fid); each class's FID in the diagnostics. Lower is better.

Needs the class each generated sample was asked for (a conditional checkpoint's, a generator of your own with
--labels, or a labelled data set scored as input) and a reference with class labels (a labelled source, not a
cached ref:KEY or a mean/covariance file). Each class needs at least 10 samples on each side (MIN_PER_CLASS); a
class's FID is biased upward while it has fewer samples than feature dimensions (128 for fmnist-classifier, 2,048
for Inception), as pooled FID is: compare intra-FIDs at one sample count.

No bootstrap interval: it would refit one covariance per class per replicate; read the spread of the per-class FIDs.
"""
from __future__ import annotations

from ..registry import NON_NEGATIVE, Metric, MetricKey, MetricResult, register_metric


def compute(context, weights=None) -> MetricResult:
    from ..classes import MIN_PER_CLASS, intra_fid
    from ..fid import warn_if_few_samples

    real_labels, labels = reference_labels(context, "ifid"), generated_labels(context, "ifid")
    value, by_class = intra_fid(context.reference.rows, real_labels, context.features.raw(), labels)
    smallest = min(int((labels == label).sum()) for label in by_class)
    warn_if_few_samples(smallest, context.reference.dim, "ifid: the smallest generated class")
    return MetricResult({"ifid": value}, {"per_class": {str(label): fid for label, fid in by_class.items()},
                                          "min_per_class": MIN_PER_CLASS})


def generated_labels(context, name: str):
    """The class each generated sample was asked for, or the one-line refusal of a family that needs them."""
    from ...errors import InputError

    if context.labels is None:
        raise InputError(f"{name}: the samples carry no class labels; score a conditional checkpoint, a generator of "
                         f"your own with --labels uniform|data|FILE, or a labelled data set")
    return context.labels


def reference_labels(context, name: str):
    """The reference's class labels, or the one-line refusal."""
    from ...errors import InputError

    info = context.reference.info
    if info.labels is None or info.labels.dim() != 1 or len(info.labels) != len(context.reference.rows):
        raise InputError(f"{name}: reference {context.reference.name} has no class labels; give a labelled source "
                         f"(e.g. fashion-mnist:test), not cached statistics")
    return info.labels


IFID = register_metric(Metric(
    "ifid",
    (MetricKey("ifid", higher_is_better=False, bounds=NON_NEGATIVE),),
    compute,
    labels=True,
    status=lambda context: f"ifid: {context.num_samples} samples, per class",
))
