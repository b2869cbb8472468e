"""Class-conditional metrics: what a conditional generator is judged on beside its pooled scores (FID on pooled
samples hides a generator that ignores its labels).

- Intra-class FID (Miyato & Koyama, ICLR 2018, "cGANs with projection discriminator"): the mean over classes of the
  FID between the generated and the reference samples of that class (StudioGAN reports it as IFID).
- Label accuracy: the share of generated samples that a classifier assigns to the class they were generated for
  (the classification-accuracy view of AC-GAN's Odena et al. 2017, with the evaluator as the classifier).
- Class-conditional precision and recall: Kynkaanniemi's k-NN precision and recall within each class.

Each takes the generated rows with the class each was asked for, and the reference rows with their labels.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from ..errors import InputError
from .fid import fid_details
from .prdc import prdc

MIN_PER_CLASS = 10  # a class's FID rests on the covariance of its samples: fewer than this is refused


def classes_of(real_labels: torch.Tensor, fake_labels: torch.Tensor, name: str) -> list[int]:
    """The classes to judge: every class the reference holds; a generated class the reference lacks is refused."""
    present = sorted(int(value) for value in torch.unique(real_labels))
    missing = sorted(set(int(value) for value in torch.unique(fake_labels)) - set(present))
    if missing:
        raise InputError(f"{name}: the samples were generated for classes {missing} that the reference holds no "
                         f"sample of; give a reference with every class (its labels, e.g. fashion-mnist:test)")
    return present


def per_class(real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor, fake_labels: torch.Tensor,
              value: Callable[[torch.Tensor, torch.Tensor], object], minimum: int, name: str) -> dict[int, object]:
    """value(real rows of class c, generated rows of class c) for every class of the reference, each side holding
    at least `minimum` rows of it (else one InputError line naming the class and the floor)."""
    results = {}
    real_labels, fake_labels = real_labels.to(real.device), fake_labels.to(fake.device)
    for label in classes_of(real_labels, fake_labels, name):
        counts = int((real_labels == label).sum()), int((fake_labels == label).sum())
        if min(counts) < minimum:
            raise InputError(f"{name}: class {label} has {counts[0]} reference and {counts[1]} generated samples; "
                             f"each side needs at least {minimum} per class (draw more samples, or labels 'data')")
        results[label] = value(real[real_labels == label], fake[fake_labels == label])
    return results


def intra_fid(real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor, fake_labels: torch.Tensor,
              minimum: int = MIN_PER_CLASS) -> tuple[float, dict[int, float]]:
    """(the mean over classes of the per-class FID, the FID of each class)."""
    with warnings.catch_warnings():  # a class has fewer samples than dimensions as a rule: said once, by the family
        warnings.simplefilter("ignore")
        fids = per_class(real, real_labels, fake, fake_labels, lambda a, b: fid_details(a, b).value, minimum, "ifid")
    return sum(fids.values()) / len(fids), fids


def label_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[int, float]]:
    """(per-sample correctness as float64, the accuracy of each asked class): argmax of the classifier's logits
    against the class each sample was generated for."""
    labels = labels.to(logits.device).long()
    if int(labels.max()) >= logits.shape[1] or int(labels.min()) < 0:
        raise InputError(f"label_accuracy: labels run to {int(labels.max())}, but the extractor's classifier has "
                         f"{logits.shape[1]} classes; score with a classifier of the generator's label set "
                         f"(fmnist-classifier for Fashion-MNIST)")
    correct = (logits.argmax(dim=1) == labels).double()
    by_class = {int(label): float(correct[labels == label].mean()) for label in torch.unique(labels)}
    return correct, by_class


def class_precision_recall(real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor,
                           fake_labels: torch.Tensor, k: int) -> dict[int, dict[str, float]]:
    """Precision and recall (k-NN balls, as prdc computes them) within each class of the reference."""
    def both(real_rows: torch.Tensor, fake_rows: torch.Tensor) -> dict[str, float]:
        values = prdc(real_rows, fake_rows, k)
        return {"precision": values["precision"], "recall": values["recall"]}

    return per_class(real, real_labels, fake, fake_labels, both, k + 1, "class_pr")
