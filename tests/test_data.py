"""Sample sources: Fashion-MNIST IDX reader, stacked images, spec strings, and clear errors for bad files."""
from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest
import torch

from ganeval.data import KNOWN_SPECS, load_source
from ganeval.data import fashion_mnist
from ganeval.data.stacked import stacked, triple_index
from ganeval.errors import InputError

from .conftest import needs_fmnist


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.fixture
def tiny_fmnist(tmp_path, monkeypatch):
    """A fake Fashion-MNIST folder with the right file names and sizes (the reader checks them)."""
    rng = np.random.default_rng(0)
    for split, (images_name, labels_name, count) in fashion_mnist.SPLITS.items():
        # test images uncompressed: the reader takes either form
        suffix = ".gz" if split == "train" else ""
        write_idx(tmp_path / f"{images_name}{suffix}", rng.integers(0, 256, (count, 28, 28)), compress=bool(suffix))
        write_idx(tmp_path / f"{labels_name}.gz", rng.integers(0, 10, count))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", tmp_path / "nowhere")
    monkeypatch.delenv(fashion_mnist.DATA_ENV, raising=False)
    return tmp_path


def test_reads_idx_from_data_root_and_environment(tiny_fmnist, monkeypatch):
    images, labels = fashion_mnist.load("test", data_root=tiny_fmnist)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10000,) and int(labels.max()) <= 9
    monkeypatch.setenv(fashion_mnist.DATA_ENV, str(tiny_fmnist))
    samples = load_source("fashion-mnist:train", num_samples=100, seed=1)
    assert samples.data.shape == (100, 1, 28, 28) and samples.labels.shape == (100,)
    assert torch.equal(samples.data, load_source("fashion-mnist:train", num_samples=100, seed=1).data)


def test_missing_data_says_where_it_looked_and_how_to_fix(tiny_fmnist):
    with pytest.raises(InputError) as error:
        fashion_mnist.load("test", data_root=tiny_fmnist / "empty")
    message = str(error.value)
    assert "not found" in message and "dataset-fashion-mnist" in message and "--data-root" in message and "--download" in message


def test_truncated_and_corrupt_idx_files_are_rejected(tiny_fmnist):
    path = tiny_fmnist / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte.gz: unreadable IDX file"):
        fashion_mnist.load("test", data_root=tiny_fmnist)
    write_idx(path, np.zeros(10), compress=True)
    with pytest.raises(InputError, match="expected 10000"):
        fashion_mnist.load("test", data_root=tiny_fmnist)
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x27\x10" + b"\x00" * 5))
    with pytest.raises(InputError, match="IDX header says"):
        fashion_mnist.load("test", data_root=tiny_fmnist)
    path.write_bytes(gzip.compress(b"hello world, not idx"))
    with pytest.raises(InputError, match="not an IDX file"):
        fashion_mnist.load("test", data_root=tiny_fmnist)


def test_stacked_images_are_seeded_triples():
    images = torch.arange(10, dtype=torch.uint8).repeat_interleave(4).reshape(10, 1, 2, 2) * 20
    labels = torch.arange(10)
    first, triples = stacked(images, labels, 500, seed=3)
    assert first.shape == (500, 3, 2, 2)
    assert torch.equal(first[:, :, 0, 0] // 20, triples.to(torch.uint8))  # each channel is the image of its class
    assert torch.equal(first, stacked(images, labels, 500, seed=3)[0])
    assert not torch.equal(first, stacked(images, labels, 500, seed=4)[0])
    assert len(triple_index(triples).unique()) > 300


def test_unknown_spec_lists_the_known_ones():
    with pytest.raises(InputError) as error:
        load_source("mnist:train")
    assert "mnist:train" in str(error.value) and all(spec in str(error.value) for spec in KNOWN_SPECS)
    with pytest.raises(InputError, match="unknown split 'val'"):
        load_source("fashion-mnist:val")


@needs_fmnist
def test_real_fashion_mnist_has_the_published_sizes():
    train, test = load_source("fashion-mnist:train"), load_source("fashion-mnist:test")
    assert len(train) == 60000 and len(test) == 10000
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    stacked_test = load_source("stacked-fashion-mnist:test")
    assert stacked_test.data.shape == (26000, 3, 28, 28) and stacked_test.labels.shape == (26000, 3)


def test_cifar10_offline_without_a_copy_says_how_to_get_it(tmp_path):
    with pytest.raises(InputError) as error:
        load_source("cifar10:test", data_root=tmp_path)
    assert "cifar10:test: not found under" in str(error.value) and "--download" in str(error.value)


@pytest.mark.parametrize(("shape", "message"), [
    ((5, 28, 28, 2), r"array of shape \(5, 28, 28, 2\): 2 channels as \(N,H,W,C\); images need 1 \(grey\) or 3 \(RGB\)"),
    ((5, 4, 28, 28), r"array of shape \(5, 4, 28, 28\): 4 channels as \(N,C,H,W\)"),
])
def test_image_arrays_name_their_real_channel_count(tmp_path, shape, message):
    np.save(tmp_path / "images.npy", np.zeros(shape, np.uint8))
    with pytest.raises(InputError, match=message):
        load_source(tmp_path / "images.npy")


def test_float_image_arrays_in_0_1_are_told_how_to_become_uint8(tmp_path):
    np.save(tmp_path / "images.npy", np.full((5, 3, 8, 8), 0.5, np.float32))
    with pytest.raises(InputError, match=r"store images as uint8 in \[0, 255\]; these values lie in \[0, 1\]"):
        load_source(tmp_path / "images.npy")


def test_a_0_1_side_against_a_0_255_side_is_warned_naming_both_ranges():
    from ganeval.data.samples import Samples, ValueRangeWarning, warn_if_scales_differ

    unit = Samples(torch.linspace(0, 1, 40).reshape(10, 4), "fake.npy")
    byte = Samples(torch.linspace(0, 255, 40).reshape(10, 4), "real.npy")
    with pytest.warns(ValueRangeWarning, match=r"fake.npy holds values in \[0, 1\] \(the \[0, 1\] scale\) but real.npy "
                                               r"holds values in \[0, 255\] \(the \[0, 255\] scale\)"):
        warn_if_scales_differ(unit, byte)
    with pytest.warns(ValueRangeWarning, match=r"\[-1, 1\] scale"):
        warn_if_scales_differ(byte, Samples(torch.linspace(-1, 1, 40).reshape(10, 4), "tanh.npy"))
    features = Samples(torch.randn(10, 4, generator=torch.Generator().manual_seed(0)) * 3, "features.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for pair in ((unit, unit), (byte, byte), (unit, features), (features, byte)):
            warn_if_scales_differ(*pair)
