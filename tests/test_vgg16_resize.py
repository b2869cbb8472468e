"""vgg16 against torch-fidelity's FeatureExtractorVGG16, and Inception's resize modes against clean-fid's resizer.

No pretrained weights can be downloaded here: VGG16 gets a randomly initialised torchvision state dict (random VGG
features are far from degenerate, which the tests assert), Inception the calibrated random weights of
tests/test_inception.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cleanfid.resize import make_resizer
from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

import ganeval.features.vgg16  # noqa: F401  (registers the extractor)
from ganeval import features
from ganeval.errors import InputError, WeightsNotFoundError
from ganeval.features.resize import as_rgb_uint8, clean_resize
from ganeval.features.vgg16 import WEIGHTS_FILE, official_shapes
from ganeval.features.weights import file_sha256

from .test_inception import image_sets, inception_weights  # noqa: F401  (the calibrated Inception fixture)


def gradient_and_noise(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    """A smooth gradient and a uniform-noise image, uint8 2 x channels x height x width."""
    rng = np.random.default_rng(seed)
    columns, rows = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    planes = [255 * columns, 255 * rows, 255 * (1 - columns * rows)][:channels]
    gradient = np.rint(np.stack(planes)).astype(np.uint8)
    noise = rng.integers(0, 256, (channels, height, width), dtype=np.uint8)
    return np.stack([gradient, noise])


def small_images() -> torch.Tensor:
    """Four gradients and four noise images, uint8 8 x 3 x 32 x 32."""
    real, fake = image_sets()
    return torch.from_numpy(np.concatenate([real[:4], fake[:4]]))


# (height, width, channels): grey digits, CIFAR, small and large squares, a landscape photo (downscaled).
SIZES = [(28, 28, 1), (32, 32, 3), (64, 64, 3), (256, 256, 3), (384, 512, 3)]


@pytest.mark.parametrize("height,width,channels", SIZES)
def test_clean_resize_matches_clean_fid(height, width, channels):
    images = as_rgb_uint8(torch.from_numpy(gradient_and_noise(height, width, channels, seed=height)), "test")
    ours = clean_resize(images, (299, 299)).permute(0, 2, 3, 1).numpy()
    resizer = make_resizer("PIL", False, "bicubic", (299, 299))
    theirs = np.stack([resizer(image) for image in images.permute(0, 2, 3, 1).numpy()])  # HWC uint8, as clean-fid
    assert ours.shape == theirs.shape == (2, 299, 299, 3) and ours.dtype == theirs.dtype == np.float32
    # the issue asks for one grey level; torch's antialiased bicubic is PIL's kernel, so it agrees to ~0.005
    assert np.abs(ours - theirs).max() <= 0.01


def test_tf1_resize_is_the_identity_at_299():
    images = torch.rand(2, 3, 299, 299) * 255
    resized = interpolate_bilinear_2d_like_tensorflow1x(images, size=(299, 299), align_corners=False)
    assert torch.equal(resized, images), "the clean and torch modes feed 299 px floats through it"


def test_tf1_is_the_default_bit_for_bit(inception_weights):
    default = features.create("inception-v3-compat", device="cpu", weights=inception_weights)
    tf1 = features.create("inception-v3-compat", device="cpu", weights=inception_weights, resize="tf1")
    images = small_images()
    ours, theirs = tf1(images), default(images)
    for layer in ("pool", "logits"):
        assert torch.equal(ours[layer], theirs[layer])
    assert tf1.preprocessing == default.preprocessing == "tf1-bilinear-299,(x-128)/128"
    assert tf1.variant is None and tf1.label == "inception-v3-compat"


def test_resize_modes_are_distinct_feature_spaces(inception_weights):
    extractors = {mode: features.create("inception-v3-compat", device="cpu", weights=inception_weights, resize=mode)
                  for mode in ("tf1", "clean", "torch")}
    assert extractors["clean"].label == "inception-v3-compat[resize=clean]"
    assert extractors["torch"].label == "inception-v3-compat[resize=torch]"
    assert len({extractor.preprocessing for extractor in extractors.values()}) == 3
    pools = {mode: extractor(small_images())["pool"] for mode, extractor in extractors.items()}
    for mode, pool in pools.items():
        assert pool.std(0).mean() > 1e-3, f"{mode}: degenerate features would make this test vacuous"
    for first, second in (("tf1", "clean"), ("tf1", "torch"), ("clean", "torch")):
        assert (pools[first] - pools[second]).abs().max() > 1e-3 * pools[first].abs().max(), (first, second)
    # At 299 px every resize is the identity: the float path runs the very network of the tf1 path.
    native = torch.from_numpy(gradient_and_noise(299, 299, 3, seed=1))
    expected = extractors["tf1"](native)
    for mode in ("clean", "torch"):
        outputs = extractors[mode](native)
        for layer in ("pool", "logits"):
            torch.testing.assert_close(outputs[layer], expected[layer], rtol=1e-5, atol=1e-6)


def test_unknown_resize_mode_is_one_line():
    with pytest.raises(InputError) as error:
        features.create("inception-v3-compat", device="cpu", resize="lanczos")
    assert "tf1, clean, torch" in str(error.value) and "\n" not in str(error.value)


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
