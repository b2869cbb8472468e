"""cas, the Classification Accuracy Score (issue 34): a generator that draws its asked class trains a classifier far
above one that ignores its labels; seeded; the family equals its kernel; one-line refusals. Budgets are cut to one
epoch on about a thousand images (the recipe's 6 epochs on 60,000 are benchmarks/cas_real.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ganeval
from ganeval.data import load_source
from ganeval.errors import InputError
from ganeval.evaluate import MetricOptions
from ganeval.metrics.cas import MIN_PER_CLASS, channel_images, classification_accuracy_score
from ganeval.metrics.families.cas import Options
from ganeval.nets.classifier_training import ClassifierTraining

from .conftest import needs_fmnist

pytestmark = needs_fmnist
FAST = {"epochs": 1, "batch_size": 32}  # 1,200 images: 38 steps, enough to learn most classes


@pytest.fixture(scope="module")
def real():
    """(1,200 labelled training images: the 'generated' side, 500 labelled test images: the reference)."""
    return (load_source("fashion-mnist:train", num_samples=1200, seed=7),
            load_source("fashion-mnist:test", num_samples=500, seed=7))


def _score(samples, reference, **keywords):
    options = MetricOptions(cas_epochs=FAST["epochs"], cas_batch_size=FAST["batch_size"])
    return ganeval.score(samples, reference, "cas", options=options, extractor="fmnist-classifier", progress=False,
                         use_cache=False, **keywords)


def test_a_generator_that_draws_its_class_beats_one_that_ignores_its_labels(real):
    train, test = real
    pool = train.data.float() / 127.5 - 1  # real images, in the generator's output range
    by_class = [torch.nonzero(train.labels == label).flatten() for label in range(10)]

    def draws_its_class(latents, labels):  # a training image of the asked class, picked by the latent
        picks = (latents[:, 0].abs() * 1e6).long()
        return pool[torch.stack([by_class[label][pick % len(by_class[label])]
                                 for label, pick in zip(labels.tolist(), picks.tolist())])]

    def ignores_labels(latents, labels):  # any training image, whatever class was asked for
        return pool[(latents[:, 0].abs() * 1e6).long() % len(pool)]

    generator = {"latent_dim": 4, "labels": "uniform", "num_classes": 10, "num_samples": 1200}
    faithful, ignoring = (_score(function, test, **generator) for function in (draws_its_class, ignores_labels))
    assert faithful["cas"] > 0.6 and ignoring["cas"] < 0.2, (faithful["cas"], ignoring["cas"])
    diagnostics = faithful["diagnostics"]["cas"]
    assert diagnostics["epochs"] == 1 and diagnostics["batch_size"] == 32 and diagnostics["num_train"] == 1200
    assert set(diagnostics["per_class"]) == {str(label) for label in range(10)}
    assert diagnostics["real_data_ceiling"] == 0.9291 and "60,000" in diagnostics["real_data_ceiling_note"]
    assert "cas_ci_low" not in faithful  # no interval: a replicate would retrain the classifier


def test_the_family_equals_its_kernel_and_a_seed_gives_one_value(real):
    train, test = real
    record = _score(train, test, seed=11)  # labelled data scored as the generated side: its labels are the asked
    direct = [classification_accuracy_score(train.data, train.labels, test.data, test.labels, seed=11, **FAST)
              for _ in range(2)]
    assert record["cas"] == direct[0].accuracy == direct[1].accuracy
    assert record["diagnostics"]["cas"]["per_class"] == {str(k): v for k, v in direct[0].per_class.items()}
    state = torch.get_rng_state()
    classification_accuracy_score(train.data[:300], train.labels[:300], test.data, test.labels, seed=12, **FAST)
    assert torch.equal(torch.get_rng_state(), state)  # seeded inside: the caller's random stream is untouched


def test_the_recipe_is_the_shipped_one_and_seed_0_replays_train_classifier(real, monkeypatch):
    """On the same images in the same order with the recipe's seed, cas trains the very network that
    `ganeval train-classifier` trains: the shipped training, run on a cut of fashion-mnist:train."""
    import ganeval.train.classifier as shipped

    train, test = real
    assert (Options().epochs, Options().batch_size) == (ClassifierTraining().epochs, ClassifierTraining().batch_size)
    cut = {"train": (train.data[:600], train.labels[:600]), "test": (test.data, test.labels)}
    monkeypatch.setattr(shipped.fashion_mnist, "load", lambda split, data_root=None: cut[split])
    _, summary = shipped.train_classifier(ClassifierTraining(epochs=1, batch_size=32), progress=False)
    ours = classification_accuracy_score(*cut["train"], *cut["test"], seed=0, **FAST)
    assert ours.accuracy == summary["test_accuracy"]


def test_stacked_images_train_on_each_channel():
    stacked = load_source("stacked-fashion-mnist:train", num_samples=400, seed=3)
    reference = load_source("stacked-fashion-mnist:test", num_samples=200, seed=3)
    as_triples, labels = channel_images(stacked.data, stacked.labels, "generated")
    as_index = channel_images(stacked.data, stacked.labels @ torch.tensor([100, 10, 1]), "generated")
    assert as_triples.shape == (1200, 1, 28, 28) and torch.equal(labels, as_index[1])
    assert torch.equal(as_triples[4, 0], stacked.data[1, 1]) and labels[4] == stacked.labels[1, 1]
    result = classification_accuracy_score(stacked.data, stacked.labels, reference.data, reference.labels, **FAST)
    assert 0.1 < result.accuracy < result.channel_accuracy  # all three channels right is rarer than one


def test_refusals_are_one_line(real, run_cli, tmp_path):
    train, test = real
    np.save(tmp_path / "unlabelled.npy", test.data[:200].numpy())
    cases = [
        (("score", tmp_path / "unlabelled.npy", "fashion-mnist:test"), "no class labels"),
        (("score", "fashion-mnist:test", tmp_path / "unlabelled.npy", "--num-samples", "300"), "no labelled images"),
        (("score", "fashion-mnist:test", "fashion-mnist:train", "--cas-epochs", "0"), "--cas-epochs 0"),
    ]
    for args, message in cases:
        code, out, err = run_cli(*args, "--metrics", "cas", "--extractor", "fmnist-classifier", "--quiet")
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err
    few_images = torch.cat([train.data[:200][train.labels[:200] != 3], train.data[: MIN_PER_CLASS - 1]])
    few = torch.cat([train.labels[:200][train.labels[:200] != 3], torch.full((MIN_PER_CLASS - 1,), 3)])
    kernel_cases = [
        ((few_images, few), "class 3 has 9 generated samples; training needs at least 10"),
        ((torch.zeros(50, 1, 32, 32, dtype=torch.uint8), torch.zeros(50, dtype=torch.long)), "28x28 grey"),
        ((train.data[:50], train.labels[:50] + 10), "classes 0..9"),
    ]
    for (images, labels), message in kernel_cases:
        with pytest.raises(InputError, match=message) as raised:
            classification_accuracy_score(images, labels, test.data, test.labels, **FAST)
        assert "\n" not in str(raised.value)


def test_the_evaluator_refuses_cas_before_generating(real):
    """The Evaluator streams its samples and keeps none: cas is refused when it is built, not after N samples."""
    train, test = real
    with pytest.raises(InputError, match="keeps no images") as raised:
        ganeval.Evaluator(test, "fid,cas", num_samples=200, latent_dim=2, labels="uniform", num_classes=10,
                          extractor="fmnist-classifier", use_cache=False)
    assert "\n" not in str(raised.value) and str(raised.value).startswith("cas:")
