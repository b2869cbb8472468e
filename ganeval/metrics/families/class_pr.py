"""class_pr: class-conditional precision and recall (Kynkaanniemi et al. 2019's k-NN balls, as prdc computes them,
within each class: the generated samples asked for class c against the reference samples of class c), averaged over
the reference's classes (`class_precision`, `class_recall`), each class's in the diagnostics. Higher is better. A
generator whose samples are realistic but of the wrong class keeps its pooled precision and loses these.

No bootstrap interval: the per-class k-NN radii of the generated side would change with every resample.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import SHARE, Metric, MetricKey, MetricResult, option, register_metric
from .ifid import generated_labels, reference_labels


@dataclass(frozen=True)
class Options:
    k: int = option(5, "neighbourhood size within each class (default 5, as prdc)")


def compute(context, weights=None) -> MetricResult:
    from ..classes import class_precision_recall

    real_labels, labels = reference_labels(context, "class_pr"), generated_labels(context, "class_pr")
    by_class = class_precision_recall(context.reference.rows, real_labels, context.features.raw(), labels,
                                      context.options.k)
    values = {f"class_{key}": sum(result[key] for result in by_class.values()) / len(by_class)
              for key in ("precision", "recall")}
    return MetricResult(values, {"k": context.options.k,
                                 "per_class": {str(label): result for label, result in by_class.items()}})


def check(options: Options, num_input: int, num_reference: int) -> None:
    if options.k < 1:
        raise InputError(f"class_pr: --class-pr-k {options.k} must be at least 1")


CLASS_PR = register_metric(Metric(
    "class_pr",
    (MetricKey("class_precision", higher_is_better=True, bounds=SHARE),
     MetricKey("class_recall", higher_is_better=True, bounds=SHARE)),
    compute,
    options=Options,
    check=check,
    labels=True,
    status=lambda context: f"class_pr: k={context.options.k}, per class",
))
