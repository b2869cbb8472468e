"""The shipped Fashion-MNIST evaluator: accuracy, the offline score of the issue, the stacked logits, safe loading
(its coverage of the Stacked Fashion-MNIST modes is tested in test_modes.py)."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from ganeval.errors import InputError
from ganeval.features import create
from ganeval.features.classifier import SHIPPED_WEIGHTS, load_classifier
from ganeval.train.classifier import accuracy

from .conftest import needs_fmnist


def test_shipped_weights_are_small_and_tensor_only():
    assert SHIPPED_WEIGHTS.stat().st_size <= 5 * 2**20
    payload = torch.load(SHIPPED_WEIGHTS, weights_only=True)
    assert payload["format"] == "ganeval-classifier"
    card = json.loads((SHIPPED_WEIGHTS.parent / "card.json").read_text())
    import hashlib

    assert card["weights_sha256"] == hashlib.sha256(SHIPPED_WEIGHTS.read_bytes()).hexdigest()


@needs_fmnist
def test_shipped_classifier_reaches_92_percent():
    assert accuracy(load_classifier(SHIPPED_WEIGHTS), "test") >= 0.92


@needs_fmnist
def test_offline_score_of_test_against_train(run_cli, tmp_path):
    code, out, err = run_cli(  # FID and IS are what it asserts (PRDC's k-NN radii of 60,000 rows took 40 s)
        "score", "fashion-mnist:test", "--reference", "fashion-mnist:train", "--metrics", "fid,is", "--json", "--quiet"
    )
    assert code == 0, err
    real = json.loads(out)
    assert real["extractor"] == "fmnist-classifier" and real["num_reference"] == 60000
    assert real["is_mean"] >= 8
    noise = np.random.default_rng(0).integers(0, 256, (10000, 1, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "noise.npy", noise)
    code, out, err = run_cli("score", tmp_path / "noise.npy", "--reference", "fashion-mnist:train", "--metrics", "fid", "--json", "--quiet")
    assert code == 0, err
    noise_record = json.loads(out)
    assert noise_record["provenance"]["reference_from_cache"]  # the train statistics were cached by the first score
    assert noise_record["fid"] >= 50 * real["fid"]


def test_auto_picks_the_classifier_for_28x28_images():
    from ganeval.data import Samples
    from ganeval.pipeline import resolve_extractor_name

    assert resolve_extractor_name("auto", Samples(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "x")) == "fmnist-classifier"
    assert resolve_extractor_name("auto", Samples(torch.zeros(2, 3, 28, 28, dtype=torch.uint8), "x")) == "fmnist-classifier"
    assert resolve_extractor_name("auto", Samples(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "x")) == "inception-v3-compat"
    assert resolve_extractor_name("auto", Samples(torch.zeros(2, 2), "x")) == "identity"


def test_stacked_logits_are_the_1000_triple_log_probabilities():
    extractor = create("fmnist-classifier", device="cpu")
    images = torch.randint(0, 256, (4, 3, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = extractor(images)
    assert out["pool"].shape == (4, 384) and out["logits"].shape == (4, 1000)
    assert torch.allclose(out["logits"].exp().sum(1), torch.ones(4), atol=1e-4)
    per_channel = [extractor(images[:, channel : channel + 1])["logits"].log_softmax(1) for channel in range(3)]
    expected = per_channel[0][:, 2] + per_channel[1][:, 5] + per_channel[2][:, 7]
    assert torch.allclose(out["logits"][:, 257], expected, atol=1e-4)


class _Exploit:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_bad_classifier_files_are_refused(tmp_path):
    (tmp_path / "truncated.pt").write_bytes(SHIPPED_WEIGHTS.read_bytes()[:1000])
    with pytest.raises(InputError, match="truncated.pt: not a readable ganeval classifier file"):
        load_classifier(tmp_path / "truncated.pt")
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"format": _Exploit()}, handle)
    with pytest.raises(InputError, match="not a readable ganeval classifier file"):
        load_classifier(tmp_path / "evil.pt")
    payload = torch.load(SHIPPED_WEIGHTS, weights_only=True)
    torch.save({**payload, "version": 99}, tmp_path / "future.pt")
    with pytest.raises(InputError, match="version 99 is not supported"):
        load_classifier(tmp_path / "future.pt")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a ganeval classifier file"):
        load_classifier(tmp_path / "other.pt")
