"""Class-conditional metrics (issue 34): intra-class FID, label accuracy and class-conditional precision/recall, on
real Fashion-MNIST through fmnist-classifier and on a generator that ignores its labels."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ganeval
from ganeval.data import Samples, load_source
from ganeval.features import create
from ganeval.features.extract import extract_shared
from ganeval.metrics import fid


@pytest.fixture(scope="module")
def real():
    """(test, train): 2,000 labelled test images as the 'generated' side, 3,000 labelled training images as the
    reference."""
    return (load_source("fashion-mnist:test", num_samples=2000, seed=4),
            load_source("fashion-mnist:train", num_samples=3000, seed=4))


def _features(samples: Samples):
    return extract_shared(samples, create("fmnist-classifier", device="cpu"), keep_rows=True, logits="required",
                          batch_size=256, progress=False)


def test_real_test_images_against_the_training_split(real):
    test, train = real
    # --exact: the features by hand below come from a freshly built extractor (the exact path), compared at 1e-9
    record = ganeval.score(test, train, "ifid,label_accuracy,class_pr", extractor="fmnist-classifier", exact=True,
                           progress=False, use_cache=False)
    ours, theirs = _features(test), _features(train)
    by_hand = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label in range(10):
            by_hand.append(fid(theirs.embedding.raw()[train.labels == label], ours.embedding.raw()[test.labels == label]))
    assert record["ifid"] == pytest.approx(sum(by_hand) / 10, rel=1e-9)
    assert record["ifid"] < 5  # the same distribution: per-class FIDs hold only their small-sample bias
    per_class = record["diagnostics"]["ifid"]["per_class"]
    assert [per_class[str(label)] for label in range(10)] == pytest.approx(by_hand, rel=1e-9)
    accuracy = float((ours.logits.raw().argmax(1) == test.labels).double().mean())
    assert record["label_accuracy"] == accuracy and 0.9 < accuracy < 0.95  # the shipped classifier's 92.9%
    assert record["class_precision"] > 0.8 and record["class_recall"] > 0.8


def test_a_generator_that_ignores_its_labels_has_chance_label_accuracy_and_a_fine_pooled_fid(real):
    test, train = real
    pool = test.data.float() / 127.5 - 1  # real images of every class, in the generator's output range

    def ignores_labels(latents, labels):  # draws an image by its latent, whatever class it was asked for
        return pool[(latents[:, 0].abs() * 1e6).long() % len(pool)]

    record = ganeval.score(ignores_labels, train, "fid,label_accuracy,ifid", latent_dim=4, labels="uniform",
                           num_classes=10, num_samples=1000, extractor="fmnist-classifier", progress=False,
                           use_cache=False)
    assert abs(record["label_accuracy"] - 0.1) < 0.04
    assert record["fid"] < 3 and record["ifid"] > 10 * record["fid"]


def test_a_generator_that_always_draws_class_0_is_right_only_when_asked_for_it(real):
    """The issue's test double: class 0 (T-shirts) whatever the label. Its label accuracy is about 1/10 (the samples
    asked for class 0, less the classifier's errors on them), and the diagnostics name which class it gets right."""
    test, train = real
    shirts = test.data[test.labels == 0].float() / 127.5 - 1

    def draws_class_0(latents, labels):
        return shirts[(latents[:, 0].abs() * 1e6).long() % len(shirts)]

    record = ganeval.score(draws_class_0, train, "label_accuracy", latent_dim=4, labels="uniform", num_classes=10,
                           num_samples=1000, extractor="fmnist-classifier", progress=False, use_cache=False)
    assert abs(record["label_accuracy"] - 0.1) < 0.03
    per_class = record["diagnostics"]["label_accuracy"]["per_class"]
    assert per_class["0"] > 0.7 and max(per_class[str(label)] for label in range(1, 10)) < 0.15


def test_label_families_refuse_missing_or_foreign_labels_in_one_line(run_cli, real, tmp_path):
    test, train = real
    np.save(tmp_path / "unlabelled.npy", test.data[:200].numpy())
    cases = [
        (("score", tmp_path / "unlabelled.npy", "fashion-mnist:test", "--metrics", "label_accuracy"), "no class labels"),
        (("score", "fashion-mnist:test", tmp_path / "unlabelled.npy", "--metrics", "ifid", "--num-samples", "300"),
         "reference"),
    ]
    for args, message in cases:
        code, out, err = run_cli(*args, "--extractor", "fmnist-classifier", "--quiet")
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err


def test_labels_outside_the_classifier_and_classes_with_too_few_samples_are_refused(real):
    test, train = real
    with pytest.raises(ganeval.errors.InputError, match="12 classes|classifier has 10 classes"):
        ganeval.score(lambda latents, labels: test.data[: len(latents)].float() / 127.5 - 1, train, "label_accuracy",
                      latent_dim=2, labels="uniform", num_classes=12, num_samples=300, extractor="fmnist-classifier",
                      progress=False, use_cache=False)
    with pytest.raises(ganeval.errors.InputError, match="at least 10 per class"):
        ganeval.score(Samples(test.data[:50], "few", test.labels[:50]), train, "ifid", extractor="fmnist-classifier",
                      progress=False, use_cache=False)


def test_the_evaluator_passes_the_asked_labels(real):
    test, train = real
    pool, labels_of_pool = test.data.float() / 127.5 - 1, test.labels

    def obeys(latents, labels):  # the first image of the asked class: every sample is of its class
        first = torch.stack([(labels_of_pool == label).nonzero()[0, 0] for label in labels.tolist()])
        return pool[first]

    evaluator = ganeval.Evaluator(train, "label_accuracy", num_samples=200, latent_dim=2, labels="uniform",
                                  num_classes=10, extractor="fmnist-classifier", use_cache=False)
    record = evaluator.evaluate(obeys, step=0)
    assert record["label_accuracy"] > 0.8  # the classifier's verdict on ten images, one per class
