"""vgg16 against torch-fidelity's FeatureExtractorVGG16. No pretrained weights can be downloaded here: VGG16 gets a
randomly initialised torchvision state dict (random VGG features are far from degenerate, which the tests assert)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

import ganeval.features.vgg16  # noqa: F401  (registers the extractor)
from ganeval import features
from ganeval.errors import InputError, WeightsNotFoundError
from ganeval.features.vgg16 import WEIGHTS_FILE, official_shapes
from ganeval.features.weights import file_sha256

from .test_resize import small_images


@pytest.fixture(scope="session")
def vgg_weights(tmp_path_factory) -> tuple[str, str]:
    """A randomly initialised torchvision vgg16 state dict on disk (528 MB), and its SHA256."""
    import torchvision

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(torchvision.models.vgg16().state_dict(), path)
    return str(path), file_sha256(path)


def test_vgg16_matches_torch_fidelity(vgg_weights):
    path, sha256 = vgg_weights
    extractor = features.create("vgg16", device="cpu", weights=path)
    assert extractor.feature_layer == "fc2_relu" and extractor.logits_layer is None
    assert extractor.weights_sha256 == sha256 and extractor.options == {"weights": path}
    images = small_images()
    ours = extractor(images)
    # torch-fidelity unpickles the file it is given (weights_only=False): acceptable here, it is our own file.
    fc2, fc2_relu = FeatureExtractorVGG16("vgg16", ["fc2", "fc2_relu"], feature_extractor_weights_path=path)(images)
    assert ours["fc2_relu"].shape == (8, 4096)
    assert ours["fc2_relu"].std(0).mean() > 1e-3 and (ours["fc2_relu"] > 0).float().mean() > 0.1, "degenerate"
    torch.testing.assert_close(ours["fc2"], fc2, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours["fc2_relu"], fc2_relu, rtol=0, atol=1e-5)
    grey = images[:2, :1]
    torch.testing.assert_close(extractor(grey)["fc2"], extractor(grey.expand(-1, 3, -1, -1))["fc2"])
    with pytest.raises(InputError, match="vgg16 takes uint8"):
        extractor(images.float())


def test_vgg16_renamed_key_is_one_line(tmp_path):
    # Right shapes at a few bytes on disk: torch.save stores the one-element storage behind each stride-0 view.
    state = {name: torch.zeros(()).expand(shape) for name, shape in official_shapes().items()}
    state["classifier.3.w"] = state.pop("classifier.3.weight")
    path = tmp_path / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(InputError) as error:
        features.create("vgg16", device="cpu", weights=path)
    message = str(error.value)
    assert "\n" not in message and "classifier.3.weight" in message and "classifier.3.w" in message


def test_vgg16_missing_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("GANEVAL_VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as error:
        features.create("vgg16", device="cpu", download=False)
    assert WEIGHTS_FILE in str(error.value) and "GANEVAL_VGG16_WEIGHTS" in str(error.value)


def test_vgg16_score_records_weights_hash(vgg_weights, tmp_path, monkeypatch, run_cli):
    path, sha256 = vgg_weights
    monkeypatch.setenv("GANEVAL_VGG16_WEIGHTS", path)
    images = small_images().numpy()
    np.save(tmp_path / "fake.npy", images[::2])
    np.save(tmp_path / "real.npy", images[1::2])
    code, out, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--extractor", "vgg16",
                             "--metrics", "prdc", "--prdc-k", "2", "--device", "cpu", "--json", "--quiet")
    assert code == 0, err
    record = json.loads(out)
    assert record["extractor"] == "vgg16" and record["provenance"]["extractor_weights_sha256"] == sha256
    assert record["provenance"]["preprocessing"].startswith("tf1-bilinear-224")
    # the reference's cache card names the same weights, and the cache key depends on them
    code, out, err = run_cli("ref", "show", record["provenance"]["reference_key"])
    assert code == 0 and sha256 in out, err
