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


def _score_arrays(run_cli, tmp_path, *extra: str) -> dict:
    """A fmnist-classifier FID + IS + KID record of two random 28x28 array files, with no reference cache."""
    import json

    import numpy as np

    if not (tmp_path / "real.npy").exists():
        rng = np.random.default_rng(0)
        np.save(tmp_path / "real.npy", rng.integers(0, 256, (200, 1, 28, 28), dtype=np.uint8))
        np.save(tmp_path / "fake.npy", rng.integers(0, 128, (200, 1, 28, 28), dtype=np.uint8))
    code, out, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--extractor", "fmnist-classifier",
                             "--metrics", "fid,is,kid", "--kid-subsets", "5", "--kid-subset-size", "50", "--json",
                             "--quiet", "--no-cache", *extra)
    assert code == 0, err
    return json.loads(out)


def _comparable(record: dict) -> dict:
    """A record without what differs between two runs of one score: when it was made, its provenance, its timings."""
    kept = {key: value for key, value in record.items() if key not in ("created", "provenance")}
    kept["diagnostics"] = {key: value for key, value in record["diagnostics"].items() if key != "timing"}
    return kept


def test_the_score_flags_reach_the_extractor_and_keep_the_values(run_cli, tmp_path):
    """The default (the fast path), --channels-last (its old name) with --batch-size auto (64 on a CPU), --exact and
    --allow-tf32 through the command line: the same values to float rounding, each record naming its path."""
    default = _score_arrays(run_cli, tmp_path)
    named = _score_arrays(run_cli, tmp_path, "--channels-last", "--batch-size", "auto")
    exact = _score_arrays(run_cli, tmp_path, "--exact")
    tf32 = _score_arrays(run_cli, tmp_path, "--allow-tf32")
    assert [record["provenance"]["extraction_path"] for record in (default, named, exact, tf32)] == [
        "channels_last", "channels_last", "exact", "channels_last"]  # a CPU has neither autotuning nor TF32
    assert _comparable(named) == _comparable(default) == _comparable(tf32)  # TF32 does nothing on a CPU
    for key in ("fid", "is_mean", "kid_mean"):
        assert default[key] == pytest.approx(exact[key], rel=1e-5), key
    code, _, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--batch-size", "many")
    assert code == 2 and "give a whole number or auto" in err
    code, _, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--exact", "--channels-last")
    assert code == 2 and "contradict" in err


def test_exact_gives_the_records_of_the_arithmetic_before_the_fast_default(run_cli, tmp_path, monkeypatch):
    """--exact is bit for bit the record of an extractor left as its factory built it (contiguous NCHW weights and
    batches, cuDNN's heuristics): what every score ran before the fast path became the default (issue 36)."""
    from ganeval import pipeline

    knobbed, original_knobs = [], pipeline.apply_knobs

    def recording_knobs(extractor: FeatureExtractor, config) -> None:
        original_knobs(extractor, config)
        knobbed.append(extractor)

    monkeypatch.setattr(pipeline, "apply_knobs", recording_knobs)
    exact = _score_arrays(run_cli, tmp_path, "--exact")
    monkeypatch.setattr(speed, "apply_fast_path", lambda extractor: extractor)  # the default, as it was before
    before = _score_arrays(run_cli, tmp_path)
    assert knobbed, "the extractors were not seen: the test would check nothing"
    for extractor in knobbed:  # --exact and the old default both left them as built
        assert extractor.memory_format is None and not extractor.cudnn_autotune
        assert all(weight.is_contiguous() for module in extractor.modules for weight in module.parameters())
    assert _comparable(exact) == _comparable(before)  # every value and diagnostic, bit for bit (== on floats)
    assert exact["provenance"]["extraction_path"] == before["provenance"]["extraction_path"] == "exact"
    assert {"fid", "is_mean", "kid_mean"} <= exact.keys()


def test_tune_applies_the_knobs_and_resolves_auto():
    from ganeval.config import ScoreConfig
    from ganeval.data import Samples
    from ganeval.pipeline import tune

    samples = Samples(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), "zeros")
    extractor = features.create("fmnist-classifier", device="cpu")
    assert tune(extractor, ScoreConfig(batch_size="auto", allow_tf32=True), samples) == 64
    assert extractor.memory_format is torch.channels_last and extractor.allow_tf32
    assert speed.extraction_path(extractor) == "channels_last" and not extractor.cudnn_autotune  # not on a CPU
    extractor = features.create("fmnist-classifier", device="cpu")
    assert tune(extractor, ScoreConfig(batch_size=17, exact=True), samples) == 17 and not extractor.allow_tf32
    assert extractor.memory_format is None and speed.extraction_path(extractor) == "exact"


def test_the_fast_path_autotunes_cudnn_on_cuda_only_and_the_path_says_so():
    network = torch.nn.Conv2d(1, 2, 3)
    on_cuda = FeatureExtractor("probe", network, torch.device("cuda"), "features", modules=(network,))
    assert speed.extraction_path(on_cuda) == "exact"
    speed.apply_fast_path(on_cuda)
    assert on_cuda.cudnn_autotune and speed.extraction_path(on_cuda) == "channels_last+cudnn_autotune"
    on_cuda.allow_tf32 = True
    assert speed.extraction_path(on_cuda) == "channels_last+cudnn_autotune+tf32"
    without_modules = speed.apply_fast_path(FeatureExtractor("identity", dict, torch.device("cuda"), "features"))
    assert not without_modules.cudnn_autotune and speed.extraction_path(without_modules) == "exact"


def test_cudnn_autotune_is_set_for_the_forward_and_the_process_setting_comes_back(monkeypatch):
    saved = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = True  # the user's process enabled it: --exact still runs cuDNN's heuristics
        with device.cudnn_autotune():
            assert torch.backends.cudnn.benchmark is False
        assert torch.backends.cudnn.benchmark is True
        torch.backends.cudnn.benchmark = False
        with pytest.raises(RuntimeError, match="inside"), device.cudnn_autotune(True):
            assert torch.backends.cudnn.benchmark is True
            raise RuntimeError("an error inside")
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = saved
