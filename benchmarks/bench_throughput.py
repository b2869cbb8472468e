"""End-to-end throughput against torch-fidelity (issue 23's acceptance), all in one pytest run.

1. inception-v3-compat images/s against torch-fidelity's extractor, same 64 images (batch 64), same weights file,
   timed in alternation: bench_extractors.py's anchored test (``test_against_torch_fidelity``), called here for
   Inception rather than copied; it asserts >= 0.9x (parity: ganeval runs torch-fidelity's module).
2. End to end on two PNG folders of 32 x 32 RGB images, N per side (seeded gradients for the reference, seeded noise
   for the input, written once): `ganeval score` cold (an empty $GANEVAL_CACHE: the reference is extracted and
   cached), torch-fidelity's `fidelity` CLI (--cpu --no-cache: nothing cached, nothing read), then `ganeval score`
   warm (the reference read from the cache), each a fresh subprocess timed with time.perf_counter, FID + IS + KID
   (100 subsets of min(1000, N), the same on both sides) on the same weights file. Asserted: FID, IS mean and KID
   mean of both ganeval runs equal torch-fidelity's within 1e-5 relative; the warm run took its reference from the
   cache; fidelity / ganeval >= 1.4x cold and >= 2x warm (issue 36; the default extracts channels_last). Last, a
   cold run with --exact (its own empty cache: the arithmetic before issue 36), reported beside the others, its
   values asserted within 1e-5 of torch-fidelity's too.
3. fmnist-classifier images/s on the 60,000 Fashion-MNIST training images: the network alone in batches of 64
   (ganeval's --batch-size default) and 500, and ganeval's extract() at 64 (network plus the streaming feature
   statistics, what a score's extract_input phase runs). Asserted: extract() >= 2,000 images/s (issue 23's target).
4. fmnist-dcgan checkpoint (1 training step): `ganeval score CKPT --reference fashion-mnist:test --metrics fid
   --num-samples 10000 --no-cache`, wall time and diagnostics.timing ('generate': the 10,000 samples generated,
   'extract_input': their features, 'reference': the 10,000 test images read and extracted). Reported only.
3 and 4 are skipped, with the reason, where Fashion-MNIST is not installed (`make data`).
5. Shares: the float64 FeatureStats.update of a batch's 2,048 features against the Inception forward of the same
   batch, and extract() with prefetch's background thread against without it, on the CPU. Reported only.

Where the cold speed comes from. Both tools run the same network (ganeval's inception-v3-compat is torch-fidelity's
FeatureExtractorInceptionV3, weights loaded safely), and a cold score has to push all 2N images through it: on 2 CPU
cores extraction was 91% of the wall time of the contiguous-NCHW arithmetic (N = 1,000, 2026-12-01: 91.3 + 97.7 s
of 208.1 s; 0.98x torch-fidelity's 204.5 s), so that arithmetic cannot go past about 1.08x cold. The default since
issue 36 extracts channels_last (oneDNN's NHWC convolutions run the network about 1.5x faster, its values moving by
float rounding only): that is where the cold ratio comes from; `--exact` keeps the old arithmetic, timed here for
comparison. The warm run halves the images extracted (the cached reference). On a GPU the network's share shrinks
and the rest (decoding, metrics, start-up) decides the cold ratio: gpu_throughput.py measures FID-50k end to end
there.

The wall-time figure prints each run's CPU seconds / wall seconds ("cores kept busy", 1.9 on an idle 2-core
machine): a run well below its neighbours shared the cores with another process (one such run here put the
reference phase at 200 s instead of 91 s and the cold ratio at 0.62x); re-run then.

No pretrained weights can be downloaded here: the Inception file is bench_extractors.py's random network with
BatchNorm calibrated (the speed of the pretrained network; see _inception_state there), with its fc layer scaled so
the input's logits differ between images (as tests/test_inception.py does; unscaled, IS sits at 1.0001 and its
parity says nothing), the SAME file for both tools. The features of that network are far apart for the two kinds of
image (FID in the millions): the values only have to agree between the tools.

GANEVAL_BENCH_THROUGHPUT_N (default 1,000) sets N per side. Issue 23's size is 5,000
(GANEVAL_BENCH_THROUGHPUT_N=5000): test 2 alone then took 50 minutes on 2 CPU cores (2026-12-01: cold 922.5 s,
torch-fidelity 904.1 s, warm 541.0 s, cold --channels-last 612.5 s); at 1,000 the whole file takes about 15 minutes.
GANEVAL_BENCH_DEVICE applies to test 1 only; the subprocess runs are on the CPU (--device cpu, --cpu).
"""
from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import bench_extractors
import numpy as np
import pytest
import torch
from _common import env_int, min_seconds
from bench_extractors import images  # noqa: F401  (the fixture test 1 uses)

from ganeval.data import fashion_mnist

N = env_int("GANEVAL_BENCH_THROUGHPUT_N", 1000)
KID_SUBSETS, KID_SUBSET_SIZE = 100, min(1000, N)
PARITY_REL = 1e-5  # issue 36: the default (fast) path's FID, IS and KID within 1e-5 relative of torch-fidelity's
COLD_TARGET = 1.4  # issue 36: torch-fidelity's wall time / ganeval's, cold, default flags
WARM_TARGET = 2.0  # issue 36 (issue 23 asked 1.5x): warm, the reference read from the cache
FMNIST_TARGET = 2000.0  # images/s of fmnist-classifier extraction on 2 cores (issue 23)
FMNIST_SAMPLES = 10000
GANEVAL = [sys.executable, "-m", "ganeval"]
FIDELITY = str(Path(sys.executable).with_name("fidelity"))

needs_fmnist = pytest.mark.skipif(fashion_mnist.find_folder("train") is None or fashion_mnist.find_folder("test") is None,
                                  reason="Fashion-MNIST not installed: run `make data`")


def test_inception_extractor_against_torch_fidelity(benchmark, images, device, figures, tmp_path_factory):  # noqa: F811
    """Test 1: bench_extractors.py's anchored test for inception-v3-compat (asserts >= 0.9x torch-fidelity's)."""
    bench_extractors.test_against_torch_fidelity(benchmark, "inception-v3-compat", images, device, figures, tmp_path_factory)


# ---------------------------------------------------------------------------------------------------- end to end


def _image(rng: np.random.Generator, kind: str) -> np.ndarray:
    if kind == "fake":
        return rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    columns, rows = np.meshgrid(np.linspace(0, 1, 32), np.linspace(0, 1, 32))
    low, high = np.sort(rng.uniform(0, 255, 2))
    gradient = np.stack([low + (high - low) * columns, low + (high - low) * rows, high - (high - low) * columns * rows], -1)
    return np.clip(gradient + rng.normal(0, 8, gradient.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """N seeded PNGs per side: 'real' (noisy gradients, the reference), 'fake' (uniform noise, the input)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("throughput")
    made = {}
    for seed, kind in enumerate(("real", "fake")):
        folder, rng = root / kind, np.random.default_rng(seed)
        folder.mkdir()
        for index in range(N):
            Image.fromarray(_image(rng, kind)).save(folder / f"{index:06d}.png")
        made[kind] = folder
    return made


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """bench_extractors' calibrated random Inception, its fc weights scaled so that the logits of the input's kind
    of image (noise) differ between images by about 3 (standard deviation): IS about 3 to 4 instead of 1.0001."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    base = bench_extractors.WEIGHTS["inception-v3-compat"](tmp_path_factory)
    rng = np.random.default_rng(123)  # calibration images, not the folders' own
    batch = torch.from_numpy(np.stack([_image(rng, "fake") for _ in range(32)])).permute(0, 3, 1, 2)
    network = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=base).eval()
    state = torch.load(base, map_location="cpu", weights_only=True)
    with torch.no_grad():
        logits = network(batch.contiguous())[0] @ state["fc.weight"].T
    state["fc.weight"] = state["fc.weight"] * (3 / (logits - logits.mean(0)).std())
    path = Path(base).with_name("inception-fc-scaled.pth")
    torch.save(state, path)
    return str(path)


CORES_USED: dict[str, float] = {}  # CPU seconds / wall seconds of each run by its label: another busy process shows


def _run(command: list[str], env: dict | None = None, label: str = "") -> tuple[float, dict]:
    """Wall seconds of the subprocess and the JSON object it printed on stdout."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=7200, check=False, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CORES_USED[label] = (after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime) / seconds
    if done.returncode != 0:
        raise AssertionError(f"{command[:3]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return seconds, json.loads(done.stdout[done.stdout.index("{"):])


def _phases(timing: dict, wall: float) -> str:
    return ", ".join(f"{key} {seconds:.1f} s ({seconds / wall:.0%})" for key, seconds in timing.items())


@pytest.mark.skipif(not Path(FIDELITY).is_file(), reason="torch-fidelity's `fidelity` command is not installed")
def test_end_to_end_against_torch_fidelity(folders, weights, figures, tmp_path):
    """Test 2: cold, torch-fidelity, warm (torch-fidelity between the two so both ganeval runs bracket it)."""
    kid = ["--kid-subsets", str(KID_SUBSETS), "--kid-subset-size", str(KID_SUBSET_SIZE)]
    ours = [*GANEVAL, "score", str(folders["fake"]), "--reference", str(folders["real"]), "--metrics", "fid,is,kid",
            "--inception-weights", weights, *kid, "--device", "cpu", "--quiet", "--json"]
    theirs = [FIDELITY, "--input1", str(folders["fake"]), "--input2", str(folders["real"]), "--cpu", "--fid", "--isc",
              "--kid", *kid, "--feature-extractor-weights-path", weights, "--no-cache", "--json", "--silent"]
    cache = {"GANEVAL_CACHE": str(tmp_path / "cache")}
    cold_s, cold = _run(ours, cache, "ganeval cold")
    fidelity_s, expected = _run(theirs, label="torch-fidelity")
    warm_s, warm = _run(ours, cache, "ganeval warm")
    exact_s, exact = _run([*ours, "--exact"], {"GANEVAL_CACHE": str(tmp_path / "cache-exact")}, "ganeval cold exact")

    assert not cold["provenance"]["reference_from_cache"] and warm["provenance"]["reference_from_cache"]
    assert expected["inception_score_mean"] > 1.05, "near-uniform logits would make the IS parity vacuous"
    pairs = {"fid": "frechet_inception_distance", "is_mean": "inception_score_mean", "kid_mean": "kernel_inception_distance_mean"}
    worst = max(abs(record[ours_key] / expected[key] - 1) for record in (cold, warm) for ours_key, key in pairs.items())
    figures(f"N = {N} per side, 32x32 PNG, FID + IS + KID ({KID_SUBSETS} subsets of {KID_SUBSET_SIZE}), CPU, "
            f"{torch.get_num_threads()} threads: ganeval fid {cold['fid']:.6g} is {cold['is_mean']:.6g} kid "
            f"{cold['kid_mean']:.6g} against torch-fidelity {expected['frechet_inception_distance']:.6g} / "
            f"{expected['inception_score_mean']:.6g} / {expected['kernel_inception_distance_mean']:.6g}: largest "
            f"relative difference {worst:.1e} (limit {PARITY_REL:g})")
    cold_ratio, warm_ratio = fidelity_s / cold_s, fidelity_s / warm_s
    figures(f"wall: ganeval cold {cold_s:.1f} s, warm {warm_s:.1f} s, torch-fidelity {fidelity_s:.1f} s; "
            f"torch-fidelity / ganeval = {cold_ratio:.2f}x cold (target {COLD_TARGET}x), {warm_ratio:.2f}x warm "
            f"(target {WARM_TARGET}x); cores kept busy (CPU s / wall s, "
            f"children included): " + ", ".join(f"{label} {used:.2f}" for label, used in CORES_USED.items()))
    for label, record, wall in (("cold", cold, cold_s), ("warm", warm, warm_s)):
        timing = record["diagnostics"]["timing"]
        cold_run = label == "cold"  # warm: 'reference' is the cache read, nothing extracted
        extraction = timing["extract_input"] + (timing["reference"] if cold_run else 0.0)
        figures(f"ganeval {label} phases: {_phases(timing, wall)}; outside the phases (start-up, imports, "
                f"output) {wall - sum(timing.values()):.1f} s; extraction ({'reference + ' if cold_run else ''}"
                f"extract_input) {extraction / wall:.0%} of the wall time, {N * (2 if cold_run else 1) / extraction:.1f} "
                f"images/s")
    bound = fidelity_s / (cold["diagnostics"]["timing"]["reference"] + cold["diagnostics"]["timing"]["extract_input"])
    figures(f"cold bound with everything but extraction at zero: torch-fidelity / ganeval's extraction = {bound:.2f}x")
    moved = max(abs(exact[key] / cold[key] - 1) for key in pairs)
    figures(f"ganeval cold --exact: {exact_s:.1f} s = {fidelity_s / exact_s:.2f}x torch-fidelity "
            f"(the default cold is {exact_s / cold_s:.2f}x faster); phases "
            f"{_phases(exact['diagnostics']['timing'], exact_s)}; fid, is, kid of the default within {moved:.1e} "
            f"relative of --exact's")
    assert cold["provenance"]["extraction_path"] == "channels_last" and exact["provenance"]["extraction_path"] == "exact"
    for ours_key, key in pairs.items():
        for record in (cold, warm, exact):
            assert record[ours_key] == pytest.approx(expected[key], rel=PARITY_REL), ours_key
    assert cold_ratio >= COLD_TARGET, f"cold: torch-fidelity / ganeval = {cold_ratio:.2f}x"
    assert warm_ratio >= WARM_TARGET, f"warm: torch-fidelity / ganeval = {warm_ratio:.2f}x"


# ---------------------------------------------------------------------------------------------------- Fashion-MNIST


@needs_fmnist
def test_fmnist_classifier_images_per_second(benchmark, figures):
    """Test 3: extraction alone on the 60,000 training images (decoding and start-up left out)."""
    from ganeval import features
    from ganeval.data import load_source
    from ganeval.features.extract import extract

    samples = load_source("fashion-mnist:train")
    extractor = features.create("fmnist-classifier", device=torch.device("cpu"))
    extractor(samples.data[:64])  # first call: oneDNN's kernels chosen outside the time

    def network(batch_size: int) -> None:
        for batch in samples.data.split(batch_size):
            extractor(batch)

    rates = {}
    for batch_size in (64, 500):
        start = time.perf_counter()
        network(batch_size)
        rates[f"network, batch {batch_size}"] = len(samples) / (time.perf_counter() - start)
    benchmark.pedantic(lambda: extract(samples, extractor, keep_rows=True, logits="optional", batch_size=64,
                                       progress=False), rounds=2, iterations=1)
    seconds = min_seconds(benchmark)
    if seconds is None:
        return
    rate = len(samples) / seconds
    figures(f"fmnist-classifier on 60,000 images, {torch.get_num_threads()} threads: "
            + ", ".join(f"{label} {value:,.0f}" for label, value in rates.items())
            + f", extract() at batch 64 (network + feature statistics, a score's extract_input) {rate:,.0f} images/s "
            f"(target {FMNIST_TARGET:,.0f}) {'PASS' if rate >= FMNIST_TARGET else 'FAIL'}")
    assert rate >= FMNIST_TARGET


@needs_fmnist
def test_fmnist_dcgan_checkpoint_generation_and_extraction(figures, tmp_path):
    """Test 4: a 1-step fmnist-dcgan checkpoint scored on 10,000 generated samples (no cache: reference extracted)."""
    done = subprocess.run([*GANEVAL, "train", "fmnist-dcgan", "--steps", "1", "--set", "batch_size=8", "--set",
                           "max_minutes=0", "--out", str(tmp_path / "run"), "--quiet", "--no-eval"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    checkpoint = tmp_path / "run" / "checkpoints" / "step-0000001.pt"
    wall, record = _run([*GANEVAL, "score", str(checkpoint), "--reference", "fashion-mnist:test", "--metrics", "fid",
                         "--num-samples", str(FMNIST_SAMPLES), "--device", "cpu", "--no-cache", "--json", "--quiet"],
                        label="checkpoint")
    assert record["num_samples"] == FMNIST_SAMPLES and math.isfinite(record["fid"])
    timing = record["diagnostics"]["timing"]
    both = timing["generate"] + timing["extract_input"]
    figures(f"fmnist-dcgan checkpoint, {FMNIST_SAMPLES:,} samples, {record['extractor']}: wall {wall:.1f} s; "
            f"{_phases(timing, wall)}; generation + extraction {both:.2f} s = {FMNIST_SAMPLES / both:,.0f} samples/s "
            f"(generation {FMNIST_SAMPLES / timing['generate']:,.0f}/s, extraction "
            f"{FMNIST_SAMPLES / timing['extract_input']:,.0f}/s); fid {record['fid']:.2f}")


# ---------------------------------------------------------------------------------------------------- shares


def test_statistics_share_and_prefetching(images, figures, tmp_path_factory):  # noqa: F811
    """Test 5: what the streaming float64 statistics cost beside the network (FeatureStats.update of a batch's
    2,048 features: N x d x d multiply-adds, against the Inception forward of the same batch), and extraction with
    the batches prepared by a background thread (prefetch.ahead, on by default on CUDA only) against without, on
    the CPU. Reported; the prefetch ratio decides whether the thread may run on a CPU (it may not, below 1.05x)."""
    import functools

    from ganeval import features
    from ganeval.data import Samples
    from ganeval.features import extract as extract_module
    from ganeval.features import prefetch
    from ganeval.features.stats import FeatureStats

    extractor = features.create("inception-v3-compat", device=torch.device("cpu"),
                                weights=bench_extractors.WEIGHTS["inception-v3-compat"](tmp_path_factory))
    batch = images[:64]
    extractor(batch)  # oneDNN's kernels chosen outside the time
    forward = min(_timed(lambda: extractor(batch)) for _ in range(3))
    rows = extractor(batch)[extractor.feature_layer].reshape(64, -1)
    stats = FeatureStats(keep_raw=True)
    stats.update(rows)  # the first update sets the shift and allocates the d x d sums
    update = min(_timed(lambda: stats.update(rows)) for _ in range(5))
    figures(f"statistics: FeatureStats.update of 64 x {rows.shape[1]} features {update * 1e3:.1f} ms against the "
            f"Inception forward of the same 64 images {forward * 1e3:.0f} ms: {update / (update + forward):.2%} of "
            f"extraction ({torch.get_num_threads()} threads)")
    samples = Samples(images[:64].repeat(4, 1, 1, 1), "repeated")
    plain = _timed(lambda: extract_module.extract(samples, extractor, keep_rows=False, batch_size=64, progress=False))
    threaded = functools.partial(prefetch.ahead, threaded=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(extract_module, "ahead", threaded)
        ahead = _timed(lambda: extract_module.extract(samples, extractor, keep_rows=False, batch_size=64,
                                                      progress=False))
    figures(f"prefetching on the CPU, {len(samples)} images at batch 64: {plain:.1f} s without, {ahead:.1f} s with "
            f"the background thread ({plain / ahead:.2f}x): {'worth it' if plain / ahead >= 1.05 else 'kept off'} "
            f"on a CPU")


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start
