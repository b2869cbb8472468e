"""--train, the copies family, `ganeval neighbours` and the report's grid: the plumbing the memorization families
share, on small real data (Fashion-MNIST through fmnist-classifier) and a one-step checkpoint."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import ganeval
from ganeval.config import ExtractorConfig, ScoreConfig
from ganeval.data import Samples, load_source
from ganeval.metrics.families.fld import Options as FldOptions
from ganeval.pipeline import score
from ganeval.reference import ReferenceStore
from ganeval.metrics.copies import copy_ratios
from ganeval.metrics.knn import BlockedRows, nearest_neighbours

NUM_TRAIN = 400


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """(train.npy, test.npy, copies.npy): 400 training and 200 test images of Fashion-MNIST, and 60 training images
    copied exactly (the first 30) or with pixel noise of +-8 (the next 30)."""
    folder = tmp_path_factory.mktemp("fmnist")
    train = load_source("fashion-mnist:train", num_samples=NUM_TRAIN, seed=3).data
    test = load_source("fashion-mnist:test", num_samples=200, seed=3).data
    noise = torch.randint(-8, 9, train[30:60].shape, generator=torch.Generator().manual_seed(0))
    copies = torch.cat([train[:30], (train[30:60].int() + noise).clamp(0, 255).to(torch.uint8)])
    paths = []
    for name, data in (("train", train), ("test", test), ("copies", copies)):
        np.save(folder / f"{name}.npy", data.numpy())
        paths.append(folder / f"{name}.npy")
    return tuple(paths)


def test_nearest_neighbours_equal_a_full_search_and_an_exact_copy_is_at_zero():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(700, 12, generator=generator, dtype=torch.float64)
    queries = torch.cat([points[:4], torch.randn(90, 12, generator=generator, dtype=torch.float64)])
    squared, indices = nearest_neighbours(BlockedRows(queries, torch.float32, 32), BlockedRows(points, torch.float32, 50), 3)
    full = torch.cdist(queries, points) ** 2
    expected, expected_indices = full.topk(3, largest=False)
    assert torch.equal(indices, expected_indices)
    assert torch.allclose(squared, expected, rtol=1e-10, atol=1e-10)
    assert squared[:4, 0].eq(0).all() and indices[:4, 0].tolist() == [0, 1, 2, 3]


def test_copy_ratio_is_the_reference_rule_and_a_duplicated_training_image_still_counts():
    squared = torch.tensor([[1.0, 16.0], [1.0, 4.0], [0.0, 0.0], [9.0, 9.0]])
    ratios = copy_ratios(squared)
    assert ratios.tolist() == [0.25, 0.5, 0.0, 1.0]  # DiffMemorize: d1 / d2 < 1/3 is a copy (0/0: ours is 0)


def test_copies_finds_exact_and_noisy_copies_in_both_spaces(images):
    train, test, copies = images
    record = ganeval.score(str(copies), str(test), "copies", train=str(train), progress=False,
                           extractor="fmnist-classifier")
    # the exact half in the extractor's space (the classifier moves noisy images further than a third of the way
    # to their second neighbour); every one of them in pixel space
    assert record["copies"] >= 0.5 and record["copies_pixel"] > 0.9
    worst = record["diagnostics"]["copies"]["worst"]
    exact = [entry for entry in worst if entry["sample"] < 30]
    assert exact and all(entry["features"]["distances"][0] == 0 for entry in exact)
    assert all(entry["pixels"]["neighbours"][0] == entry["sample"] for entry in exact)  # copy i of training image i
    assert record["provenance"]["train"]["num_samples"] == NUM_TRAIN


def test_held_out_images_are_not_copies(images):
    train, test, _ = images
    record = ganeval.score(str(test), str(test), "copies", train=str(train), progress=False, ci=0.9,
                           extractor="fmnist-classifier")
    assert record["copies"] < 0.05 and record["copies_pixel"] < 0.05
    assert record["copies_ci_low"] <= record["copies"] <= record["copies_ci_high"]


def test_vectors_have_no_pixel_space():
    record = ganeval.score("ring8", "ring8", "copies", train="ring8", num_samples=300, reference_samples=300,
                           progress=False, use_cache=False)
    assert record["copies_pixel"] is None or math.isnan(record["copies_pixel"])
    assert "copies_pixel_note" in record["diagnostics"]["copies"]


def test_train_without_a_metric_that_reads_it_and_a_reference_that_is_the_training_set_are_refused(run_cli, images):
    train, test, copies = images
    code, _, err = run_cli("score", copies, test, "--metrics", "fid", "--train", train, "--extractor",
                           "fmnist-classifier", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "none of the metrics asked reads" in err
    code, _, err = run_cli("score", copies, train, "--metrics", "ct", "--train", train, "--extractor",
                           "fmnist-classifier", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "same samples" in err


@pytest.mark.parametrize("flags, message", [
    (("--ct-cells", "500"), "fewer than its 500 cells"),  # 400 training images
    (("--num-samples", "20"), "more than 20 generated samples"),
])
def test_ct_refuses_fewer_samples_than_it_needs_in_one_line(run_cli, images, flags, message):
    train, test, copies = images
    code, out, err = run_cli("score", copies, test, "--metrics", "ct", "--train", train, *flags, "--extractor",
                             "fmnist-classifier", "--quiet")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("flags, message", [
    ((), "give --train REF"),
    (("--train", "ring8"), "--train ring8: "),
    (("--train", "{stacked}"), "--train "),
])
def test_bad_training_sets_are_one_line(run_cli, images, tmp_path, flags, message):
    _, test, copies = images
    stacked = tmp_path / "wide.npy"
    np.save(stacked, np.zeros((20, 1, 32, 32), dtype=np.uint8))  # another image size than the input's 28 x 28
    flags = tuple(flag.replace("{stacked}", str(stacked)) for flag in flags)
    code, out, err = run_cli("score", copies, test, "--metrics", "copies", *flags, "--extractor", "fmnist-classifier",
                             "--quiet")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_a_training_set_cached_with_another_extractor_is_refused(run_cli, images, tmp_path):
    train, test, copies = images
    code, out, _ = run_cli("ref", "build", train, "--extractor", "identity", "--quiet")
    assert code == 0
    key = out.split()[1]  # "built: ref:KEY  (...)"
    code, _, err = run_cli("score", copies, test, "--metrics", "copies", "--train", key, "--extractor",
                           "fmnist-classifier", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "extractor" in err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, images):
    """A one-step fmnist-dcgan run (tiny networks) trained on train.npy."""
    from ganeval.train.config import load_config
    from ganeval.train.loop import train

    folder = tmp_path_factory.mktemp("run")
    config = load_config("fmnist-dcgan", ["steps=1", "batch_size=8", "eval_every=0", "max_minutes=0",
                                          f"data='{images[0]}'", "model_options.generator_width=4",
                                          "model_options.discriminator_width=4", "model_options.latent_dim=8"])
    train(config, folder / "run", progress=False)
    return folder / "run"


def test_a_checkpoint_trains_on_its_run_data_by_default_and_the_report_draws_its_grid(run_cli, tiny_run, images,
                                                                                    tmp_path):
    checkpoint = tiny_run / "checkpoints" / "step-0000001.pt"
    code, _, err = run_cli("score", checkpoint, images[1], "--metrics", "copies", "--num-samples", "64", "--extractor",
                           "fmnist-classifier", "--quiet")
    assert code == 0, err
    record = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["provenance"]["train"]["name"] == str(images[0])
    for _ in range(2):  # the run's other checkpoint (step 0), then nothing: the default --train is not a new ask
        code, _, err = run_cli("score", tiny_run, images[1], "--metrics", "copies", "--num-samples", "64",
                               "--extractor", "fmnist-classifier", "--quiet")
        assert code == 0, err
    assert "already scored" in err
    assert len((tiny_run / "metrics.jsonl").read_text().splitlines()) == 2
    code, _, err = run_cli("report", tiny_run, "--out", tmp_path / "report")
    assert code == 0, err
    assert (tmp_path / "report" / "neighbours-run.png").is_file()
    assert "neighbours-run.png" in (tmp_path / "report" / "index.html").read_text()


def test_neighbours_writes_the_grid_and_its_listing(run_cli, images, tmp_path):
    from PIL import Image

    train, _, copies = images
    code, out, err = run_cli("neighbours", copies, "--train", train, "--out", tmp_path / "grid", "--count", "4",
                             "--quiet")
    assert code == 0, err
    listing = json.loads((tmp_path / "grid" / "neighbours.json").read_text())
    assert len(listing["samples"]) == 4 and listing["samples"][0]["features"]["ratio"] == 0
    with Image.open(tmp_path / "grid" / "neighbours.png") as picture:
        assert picture.size[0] > 300 and picture.size[1] > 200
    assert "neighbours.png" in out


@pytest.mark.parametrize("flags, message", [
    (("--out", "{out}"), "--train REF"),
    (("--train", "ring8", "--out", "{out}"), "vectors"),
    (("--train", "{train}", "--out", "{out}", "--count", "0"), "--count 0"),
])
def test_neighbours_bad_input_is_one_line(run_cli, images, tmp_path, flags, message):
    train, _, copies = images
    flags = [flag.replace("{out}", str(tmp_path / "grid")).replace("{train}", str(train)) for flag in flags]
    code, out, err = run_cli("neighbours", copies, *flags, "--extractor", "fmnist-classifier", "--quiet")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "grid" / "neighbours.png").exists()


def test_the_evaluator_scores_copies_of_images_in_feature_space(images):
    train, test, _ = images
    pictures = torch.from_numpy(np.load(train))
    evaluator = ganeval.Evaluator(str(test), "copies", train=str(train), num_samples=48, latent_dim=2,
                                  extractor="fmnist-classifier", use_cache=False)
    record = evaluator.evaluate(lambda z: pictures[: len(z)].float() / 127.5 - 1, step=0)  # training images, as is
    assert record["copies"] == 1.0
    assert record["copies_pixel"] is None  # streamed: no pixels kept
    assert "Evaluator" in record["diagnostics"]["copies"]["copies_pixel_note"]


def test_the_evaluator_reads_the_training_set_in_a_loop():
    train = load_source("ring8", seed=1).data  # what --train ring8 reads under seed 1
    evaluator = ganeval.Evaluator("ring8", "copies,authpct", train="ring8", num_samples=300, reference_samples=300,
                                  latent_dim=2, use_cache=False, seed=1)
    copier = evaluator.evaluate(lambda z: train[: len(z)].clone(), step=0)  # each batch: training rows, as they are
    assert copier["provenance"]["train"]["name"] == "ring8"
    assert copier["copies"] == 1.0 and copier["authpct"] == 0.0


@pytest.fixture(scope="module")
def known_sets():
    """Fashion-MNIST sets whose answer is known, at a test's size: 3,000 training images, 500 held-out reference
    images (C_T's P_n), and 500 each of: training images (copier), the same with pixel noise of +-8 (near-copier),
    other test images (held-out) and uniform noise."""
    train = load_source("fashion-mnist:train", num_samples=3000, seed=11)
    test = load_source("fashion-mnist:test", num_samples=1000, seed=11).data
    noise = torch.randint(-8, 9, (500, 1, 28, 28), generator=torch.Generator().manual_seed(1))
    generated = {"copier": train.data[:500], "near-copier": (train.data[:500].int() + noise).clamp(0, 255).byte(),
                 "held-out": test[500:],
                 "noise": torch.randint(0, 256, (500, 1, 28, 28), dtype=torch.uint8,
                                        generator=torch.Generator().manual_seed(2))}
    return train, Samples(test[:500], "reference"), {name: Samples(data, name) for name, data in generated.items()}


def test_known_sets_get_the_known_answers(known_sets):
    """The issue's sanity lines at a test's size (benchmarks/memorization.py runs them at 5,000 against 60,000)."""
    train, reference, generated = known_sets
    config = ScoreConfig(metrics=("prdc", "realism", "copies", "authpct", "ct", "mifid", "fld"),
                         extractor=ExtractorConfig("fmnist-classifier"), train=train, progress=False, use_cache=False,
                         metric_options={"fld": FldOptions(epochs=10)})
    store = ReferenceStore(enabled=False)
    scores = {name: score(samples, reference, config, store) for name, samples in generated.items()}
    copier, near, held_out, noise = (scores[name] for name in ("copier", "near-copier", "held-out", "noise"))
    assert copier["authpct"] < 5 and copier["ct"] < -3 and copier["copies"] > 0.9
    assert near["ct"] < -3 and near["copies_pixel"] > 0.5
    assert abs(held_out["ct"]) < 3 and held_out["copies"] < 0.05 and held_out["authpct"] > 30
    assert noise["robust_precision"] < 0.1
    assert copier["fld"] > held_out["fld"] and copier["fld_gap"] < held_out["fld_gap"]
    mifid = {name: record["diagnostics"]["mifid"] for name, record in scores.items()}
    assert mifid["copier"]["d_per_generated"] < mifid["near-copier"]["d_per_generated"] < mifid["held-out"]["d_per_generated"]
    assert mifid["copier"]["d"] < mifid["held-out"]["d"]
