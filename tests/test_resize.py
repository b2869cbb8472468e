"""Inception's resize modes (tf1, clean, torch) against clean-fid's resizer and torch-fidelity's TF1 interpolation, on
the calibrated random Inception weights of tests/test_inception.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from cleanfid.resize import make_resizer
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from ganeval import features
from ganeval.errors import InputError
from ganeval.features.resize import as_rgb_uint8, clean_resize

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
