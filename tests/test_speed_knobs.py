"""The extractor speed knobs keep parity: channels_last gives the default's features up to float rounding, TF32 is
off during a forward unless asked for and the process's setting comes back, `--batch-size auto` doubles while a
forward fits, and features made under inference_mode behave as ordinary tensors."""
from __future__ import annotations

from unittest import mock

import pytest
import torch

from ganeval import device, features
from ganeval.features import classifier, inception, speed
from ganeval.features.registry import FeatureExtractor

# channels_last runs other oneDNN kernels, which sum in another order. Measured largest absolute differences (2 CPU
# threads): the classifier's 'pool' 1.2e-6 (values up to 4.3: 3e-7 of the largest); the random Inception's below
# 1.1e-4 (values up to 1.4: 8e-5 of the largest), through 94 convolutions, where the default's own float32 'pool'
# is 3.8e-4 from a float64 forward and channels_last's 3.5e-4: another rounding, no worse. Bounds: about 5x those.
CLASSIFIER_ATOL = 1e-5
INCEPTION_SHARE_OF_LARGEST = 5e-4


def _with_network(monkeypatch, module, builder: str) -> list[torch.nn.Module]:
    """Record the networks `module.builder` builds, so a test reaches them whether or not the factory passes them
    to the extractor as `modules`."""
    built, original = [], getattr(module, builder)

    def recording(*args, **kwargs):
        built.append(original(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(module, builder, recording)
    return built


def _channels_last_pair(monkeypatch, module, builder: str, name: str, **options) -> tuple[FeatureExtractor, FeatureExtractor]:
    built = _with_network(monkeypatch, module, builder)
    default, fast = (features.create(name, device="cpu", **options) for _ in range(2))
    fast.modules = fast.modules or (built[-1],)
    return default, speed.apply_channels_last(fast)


def test_channels_last_classifier_features_equal_the_default(monkeypatch):
    default, fast = _channels_last_pair(monkeypatch, classifier, "load_classifier", "fmnist-classifier")
    conv = next(module for module in fast.modules[0].modules() if isinstance(module, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and fast.memory_format is torch.channels_last
    images = torch.randint(0, 256, (64, 3, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    expected, got = default(images), fast(images)
    for layer in ("pool", "logits"):
        torch.testing.assert_close(got[layer], expected[layer], atol=CLASSIFIER_ATOL, rtol=0)


def _random_inception_weights(path) -> str:
    """A random torch-fidelity Inception, BatchNorm statistics calibrated on one batch (a fresh network's shrink
    activations into denormals: slow, and features too small to compare)."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity_inception

    torch.manual_seed(0)
    with mock.patch.object(fidelity_inception, "load_state_dict_from_url", lambda *args, **kwargs: {}), \
            mock.patch.object(fidelity_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None):
        network = fidelity_inception.FeatureExtractorInceptionV3("random", ["2048"])
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    with torch.no_grad():
        network.train()(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)))
    torch.save(network.state_dict(), path)
    return str(path)


def test_channels_last_inception_features_equal_the_default(monkeypatch, tmp_path):
    weights = _random_inception_weights(tmp_path / "inception.pth")
    default, fast = _channels_last_pair(monkeypatch, inception, "build_network", "inception-v3-compat",
                                        weights=weights, download=False)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    expected, got = default(images), fast(images)
    for layer in ("pool", "logits"):
        largest = expected[layer].abs().max().item()
        torch.testing.assert_close(got[layer], expected[layer], atol=INCEPTION_SHARE_OF_LARGEST * largest, rtol=0)


def test_channels_last_leaves_an_extractor_without_modules_unchanged():
    extractor = features.create("identity", device="cpu")
    assert speed.apply_channels_last(extractor) is extractor and extractor.memory_format is None


def test_channels_last_lays_out_image_batches_only():
    seen = []
    extractor = FeatureExtractor("probe", lambda batch: seen.append(batch) or {"features": batch.flatten(1).float()},
                                 torch.device("cpu"), "features", modules=(torch.nn.Conv2d(3, 4, 3),))
    speed.apply_channels_last(extractor)
    images, rows = torch.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5), torch.randn(2, 3)
    out = extractor(images)["features"]
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and torch.equal(out, images.flatten(1).float())
    assert torch.equal(extractor(rows)["features"], rows)  # not 4-D: as given


@pytest.fixture
def tf32_flags():
    """The process's TF32 settings, restored after a test that changes them."""
    saved = device._precision_flags()
    yield
    device._restore(saved)


def _flags() -> tuple[bool, bool]:
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def test_tf32_is_off_inside_and_the_process_setting_comes_back(tf32_flags):
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # the user's process enabled it
    with device.tf32():
        assert _flags() == (False, False)
    assert _flags() == (True, True)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    with pytest.raises(RuntimeError, match="inside"), device.tf32(True):
        assert _flags() == (True, True)
        raise RuntimeError("an error inside")
    assert _flags() == (False, False)


@pytest.mark.skipif(not hasattr(torch.backends.cuda.matmul, "fp32_precision"), reason="torch < 2.9: no fp32_precision")
def test_tf32_restores_fp32_precision_settings_the_legacy_flags_cannot_read(tf32_flags):
    cudnn = torch.backends.cudnn
    cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision = "tf32", "ieee"  # torch then refuses cudnn.allow_tf32
    with pytest.raises(RuntimeError):
        cudnn.allow_tf32
    with device.tf32():
        assert _flags() == (False, False)
    assert (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision) == ("tf32", "ieee")


def test_an_extractor_runs_without_tf32_unless_allowed(tf32_flags):
    seen = []
    extractor = FeatureExtractor("probe", lambda batch: seen.append(_flags()) or {"features": batch},
                                 torch.device("cpu"), "features")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    extractor(torch.zeros(1, 2))
    extractor.allow_tf32 = True
    extractor(torch.zeros(1, 2))
    torch.backends.cuda.matmul.allow_tf32 = False
    extractor(torch.zeros(1, 2))
    assert seen == [(False, False), (True, True), (True, True)] and _flags() == (False, True)


def _limited(limit: int, sizes: list[int]) -> FeatureExtractor:
    """An extractor whose forward runs out of memory above `limit` rows, recording each size it is given."""

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        sizes.append(len(batch))
        if len(batch) > limit:
            raise torch.cuda.OutOfMemoryError("fake: out of memory")
        return {"features": batch.flatten(1).float()}

    return FeatureExtractor("limited", forward, torch.device("cpu"), "features")


def test_largest_batch_on_a_cpu_is_the_default_without_a_forward():
    sizes = []
    assert speed.largest_batch(_limited(10**6, sizes), torch.zeros(2, 3)) == speed.DEFAULT_BATCH == 64
    assert sizes == []


@pytest.mark.parametrize(("limit", "expected", "tried"), [
    (1000, 256, [64, 128, 256, 512, 1024]),  # 1024 did not fit: one step back from 512
    (10**6, 2048, [64, 128, 256, 512, 1024, 2048]),  # `most` stopped it, not memory: the largest tried
    (40, 16, [64, 32]),  # the start did not fit: halved until one did, then one step back
    (0, 1, [64, 32, 16, 8, 4, 2]),  # nothing fits: 1, for the extraction to report
])
def test_largest_batch_doubles_while_a_forward_fits(monkeypatch, limit, expected, tried):
    monkeypatch.setattr(speed, "_probes_memory", lambda device: True)  # the CUDA path, on the CPU
    emptied, sizes = [], []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    sample = torch.arange(6.0).reshape(2, 3)
    assert speed.largest_batch(_limited(limit, sizes), sample) == expected
    assert sizes == tried and len(emptied) == len(tried)  # the cache emptied after every probe, fitting or not


def test_largest_batch_probes_copies_of_the_first_sample(monkeypatch):
    monkeypatch.setattr(speed, "_probes_memory", lambda device: True)
    batches = []
    extractor = FeatureExtractor("probe", lambda batch: batches.append(batch) or {"features": batch},
                                 torch.device("cpu"), "features")
    assert speed.largest_batch(extractor, torch.tensor([[1.0, 2.0], [3.0, 4.0]]), start=2, most=4) == 4
    assert [len(batch) for batch in batches] == [2, 4] and torch.equal(batches[-1], torch.tensor([[1.0, 2.0]] * 4))


def test_outputs_made_under_inference_mode_are_ordinary_tensors():
    extractor = features.create("fmnist-classifier", device="cpu")
    out = extractor(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))["pool"]
    assert not out.is_inference() and not out.requires_grad
    out.add_(1)  # an in-place update outside inference_mode: an error on an inference tensor
    weight = torch.ones(1, requires_grad=True)
    (out * weight).sum().backward()  # saved for backward: an error on an inference tensor
    assert weight.grad is not None


def test_identity_still_returns_a_view_of_the_batch():
    rows = torch.randn(3, 4)
    out = features.create("identity", device="cpu")(rows)["features"]
    assert out.data_ptr() == rows.data_ptr() and not out.is_inference()


def test_every_factory_names_its_network_so_the_knobs_reach_it(tmp_path):
    """`modules` is what apply_channels_last converts: an extractor that names none would silently ignore the flag."""
    extractor = features.create("fmnist-classifier", device="cpu")
    assert extractor.modules and all(isinstance(module, torch.nn.Module) for module in extractor.modules)
    inception_extractor = features.create("inception-v3-compat", device="cpu",
                                          weights=_random_inception_weights(tmp_path / "w.pth"))
    assert inception_extractor.modules


def test_the_score_flags_reach_the_extractor_and_keep_the_values(run_cli, tmp_path):
    """--channels-last and --batch-size auto (64 on a CPU) through the command line: the same FID to float rounding."""
    import json

    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp_path / "real.npy", rng.integers(0, 256, (200, 1, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "fake.npy", rng.integers(0, 128, (200, 1, 28, 28), dtype=np.uint8))
    base = ("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--extractor", "fmnist-classifier", "--metrics",
            "fid", "--json", "--quiet", "--no-cache")
    values = []
    for extra in ((), ("--channels-last", "--batch-size", "auto"), ("--allow-tf32",)):
        code, out, err = run_cli(*base, *extra)
        assert code == 0, err
        values.append(json.loads(out)["fid"])
    assert values[1] == pytest.approx(values[0], rel=1e-5) and values[2] == values[0]  # TF32 does nothing on a CPU
    code, _, err = run_cli(*base, "--batch-size", "many")
    assert code == 2 and "give a whole number or auto" in err


def test_tune_applies_the_knobs_and_resolves_auto():
    from ganeval.config import ScoreConfig
    from ganeval.data import Samples
    from ganeval.pipeline import tune

    extractor = features.create("fmnist-classifier", device="cpu")
    samples = Samples(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), "zeros")
    assert tune(extractor, ScoreConfig(batch_size="auto", channels_last=True, allow_tf32=True), samples) == 64
    assert extractor.memory_format is torch.channels_last and extractor.allow_tf32
    assert tune(extractor, ScoreConfig(batch_size=17), samples) == 17 and not extractor.allow_tf32
