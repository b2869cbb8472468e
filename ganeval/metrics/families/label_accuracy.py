"""label_accuracy: the share of generated samples that the extractor's classifier assigns to the class they were
generated for (ganeval.metrics.classes.label_accuracy), per class in the diagnostics; higher is better. A generator
that ignores its labels scores about 1/K (1/10 on Fashion-MNIST) however good its pooled FID. Reads the class
logits, so the extractor must classify into the generator's label set (fmnist-classifier for Fashion-MNIST).

Interval 'percentile': a mean over the generated samples of a per-sample indicator.
"""
from __future__ import annotations

from ..registry import SHARE, Metric, MetricKey, MetricResult, register_metric
from .ifid import generated_labels


def compute(context, weights=None) -> MetricResult:
    from ..classes import label_accuracy

    correct, by_class = label_accuracy(context.logits.raw(), generated_labels(context, "label_accuracy"))
    replicates = {} if weights is None else {"label_accuracy": weights.to(correct) @ correct / len(correct)}
    return MetricResult({"label_accuracy": float(correct.mean())},
                        {"per_class": {str(label): value for label, value in by_class.items()}}, replicates)


LABEL_ACCURACY = register_metric(Metric(
    "label_accuracy",
    (MetricKey("label_accuracy", higher_is_better=True, interval="percentile", bounds=SHARE),),
    compute,
    layers=("logits",),
    rows="none",
    labels=True,
    status=lambda context: f"label_accuracy: {context.num_samples} samples",
))
