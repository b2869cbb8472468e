"""cas: Classification Accuracy Score (Ravuri & Vinyals, NeurIPS 2019): the test accuracy of a classifier trained on
the generated images with the classes they were asked for, tested on the reference's real images and labels
(ganeval.metrics.cas); higher is better. The classifier is the shipped evaluator's architecture trained with its
recipe (6 epochs, batch 128, AdamW with a one-cycle learning rate up to 3e-3, flips and shifts), seeded by --seed;
--cas-epochs and --cas-batch-size change the budget, which the diagnostics record. Give the real test split as the
reference (fashion-mnist:test): the ceiling beside it, `real_data_ceiling`, is the shipped classifier's accuracy
there (92.9%), the same architecture trained on the 60,000 real training images.

Needs the class each generated sample was asked for, the reference's images with their labels (not cached
statistics), images the architecture takes (28x28 grey, or 3 x 28x28 Stacked Fashion-MNIST) and at least 10
generated samples of each class the reference holds. Its cost is the training: 6 epochs over N samples, about
a minute per 10,000 samples on 2 CPU cores.

No bootstrap interval: each replicate would retrain the classifier; compare seeds (--seed) for its spread.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import SHARE, Metric, MetricKey, MetricResult, option, register_metric
from .ifid import generated_labels


@dataclass(frozen=True)
class Options:  # the defaults are the shipped recipe's (ganeval.nets.classifier_training.ClassifierTraining)
    epochs: int = option(6, "cas: epochs of training on the generated samples (default 6, the shipped "
                            "evaluator's recipe)", metavar="N")
    batch_size: int = option(128, "cas: training batch size (default 128, the shipped recipe's)", metavar="N")


def compute(context, weights=None) -> MetricResult:
    from ..cas import CEILING_NOTE, classification_accuracy_score, real_data_ceiling

    labels = generated_labels(context, "cas")
    reference = context.reference_images
    if reference is None or reference.labels is None:
        name = context.reference.name
        raise InputError(f"cas: reference {name} has no labelled images; give the labelled real test split "
                         f"(e.g. fashion-mnist:test)")
    if context.images is None:
        raise InputError("cas: the generated images were not kept (a streamed evaluation); score them with "
                         "`ganeval score`")
    options = context.options
    result = classification_accuracy_score(context.images, labels, reference.data, reference.labels,
                                           epochs=options.epochs, batch_size=options.batch_size, seed=context.seed,
                                           device=context.device)
    diagnostics = {"per_class": {str(label): value for label, value in result.per_class.items()},
                   "epochs": result.settings.epochs, "batch_size": result.settings.batch_size,
                   "num_train": result.num_train, "num_test": len(reference),
                   "real_data_ceiling": real_data_ceiling(), "real_data_ceiling_note": CEILING_NOTE}
    if result.channel_accuracy is not None:
        diagnostics["channel_accuracy"] = result.channel_accuracy
    return MetricResult({"cas": result.accuracy}, diagnostics)


def check(options: Options, num_input: int, num_reference: int) -> None:
    from ..cas import check_budget

    check_budget(options.epochs, options.batch_size)


CAS = register_metric(Metric(
    "cas",
    (MetricKey("cas", higher_is_better=True, bounds=SHARE),),
    compute,
    options=Options,
    rows="none",
    check=check,
    labels=True,
    images=True,
    status=lambda context: (f"cas: training on {context.num_samples} generated samples for {context.options.epochs} "
                            f"epochs, testing on the reference's images"),
))
