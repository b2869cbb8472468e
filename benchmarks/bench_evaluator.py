"""ganeval.Evaluator in a training loop against torchmetrics' FrechetInceptionDistance + KernelInceptionDistance,
given the same generator and the same feature module (`feature=`), in one run: seconds per evaluation (generation,
extraction, FID and KID) and peak memory.

Each side runs in a fresh interpreter. The reference's features are computed once before the timed rounds on both
sides (torchmetrics: reset_real_features=False, the real images updated once; ganeval: the Evaluator's first call).
A timed evaluation generates N samples, extracts them, and computes FID and KID (100 subsets of 1,000: torchmetrics'
defaults). torchmetrics runs the feature module once per metric, as its users do.

Target: ganeval at least as fast (ratio >= 1.0). Settings: GANEVAL_BENCH_EVALUATOR_N (default 10000) samples with the
fmnist-classifier module on 28 x 28 images; GANEVAL_BENCH_EVALUATOR_INCEPTION_N (default 2000) with inception-v3-compat
(calibrated random weights) on 32 x 32 colour images; GANEVAL_BENCH_EVALUATOR_ROUNDS (default 2) timed evaluations.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from _common import env_int, run_python

import bench_extractors

N = env_int("GANEVAL_BENCH_EVALUATOR_N", 10_000)
INCEPTION_N = env_int("GANEVAL_BENCH_EVALUATOR_INCEPTION_N", 2000)
ROUNDS = env_int("GANEVAL_BENCH_EVALUATOR_ROUNDS", 2)
TARGET = 1.0

COMMON = r'''
import json, sys, time
import numpy as np, torch
from torch import nn
from ganeval.nets.dcgan import DCGANConfig, DCGANGenerator

kind, tool, count, rounds, reference_path, weights = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    sys.argv[5], sys.argv[6]
torch.manual_seed(0)
config = DCGANConfig(latent_dim=64) if kind == "fmnist" else DCGANConfig(image_size=32, channels=3, latent_dim=64)
generator = DCGANGenerator(config)
reference = torch.from_numpy(np.load(reference_path))

from ganeval import features
extractor = (features.create("fmnist-classifier", device="cpu") if kind == "fmnist"
             else features.create("inception-v3-compat", device="cpu", weights=weights))
layer = extractor.feature_layer  # what ganeval's FID reads: torchmetrics gets the same output
width = extractor(reference[:2])[layer].shape[1]


class Module(nn.Module):
    """The feature module torchmetrics is given: the same network ganeval extracts with."""
    num_features = width

    def forward(self, images):
        return extractor(images)[layer]


def timed(evaluation):
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        values = evaluation()
        seconds.append(time.perf_counter() - started)
    return min(seconds), values
'''

GANEVAL = COMMON + r'''
import ganeval
from ganeval.evaluate import MetricOptions
evaluator = ganeval.Evaluator(reference_path, "fid,kid", num_samples=count, latent_dim=64, extractor=extractor,
                              use_cache=False, options=MetricOptions(kid_subsets=100, kid_subset_size=min(1000, count)))
evaluator.evaluate(generator)  # the reference extracted once, the extractor ready
last = {}
def evaluation():
    record = evaluator.evaluate(generator)
    last["timing"] = record["diagnostics"]["timing"]
    return record["fid"], record["kid_mean"]
best, values = timed(evaluation)
print(json.dumps({"seconds": best, "fid": values[0], "kid": values[1], "timing": last["timing"],
                  "peak_gb": peak_rss_gb()}))
'''

TORCHMETRICS = COMMON + r'''
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance
module = Module()
fid = FrechetInceptionDistance(feature=module, reset_real_features=False)
kid = KernelInceptionDistance(feature=module, subsets=100, subset_size=min(1000, count), reset_real_features=False)
for batch in reference.split(500):
    fid.update(batch, real=True)
    kid.update(batch, real=True)
generator.eval()
def evaluation():
    fid.reset()
    kid.reset()
    with torch.no_grad():
        for start in range(0, count, 500):
            latents = torch.randn(min(500, count - start), 64)
            images = ((generator(latents).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            fid.update(images, real=False)
            kid.update(images, real=False)
        return float(fid.compute()), float(kid.compute()[0])
best, values = timed(evaluation)
print(json.dumps({"seconds": best, "fid": values[0], "kid": values[1], "peak_gb": peak_rss_gb()}))
'''


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, str]:
    """Reference images for each kind: the Fashion-MNIST test split where installed (else uniform noise), and
    noise for the colour setting (the timing, not the value, is measured)."""
    from ganeval.data import fashion_mnist, load_source

    folder = tmp_path_factory.mktemp("evaluator")
    rng = np.random.default_rng(0)
    grey = (load_source("fashion-mnist:test").data.numpy() if fashion_mnist.find_folder("test") is not None
            else rng.integers(0, 256, (N, 1, 28, 28), dtype=np.uint8))
    colour = rng.integers(0, 256, (INCEPTION_N, 3, 32, 32), dtype=np.uint8)
    made = {}
    for kind, images in (("fmnist", grey), ("inception", colour)):
        made[kind] = str(folder / f"{kind}.npy")
        np.save(made[kind], images)
    return made


@pytest.mark.parametrize("kind, count", [("fmnist", N), ("inception", INCEPTION_N)])
def test_an_evaluation_against_torchmetrics(kind, count, references, figures, tmp_path_factory):
    weights = bench_extractors._inception_state(tmp_path_factory) if kind == "inception" else "-"
    arguments = (kind, count, ROUNDS, references[kind], weights)
    ours = run_python(GANEVAL, kind, "ganeval", *arguments[1:])
    theirs = run_python(TORCHMETRICS, kind, "torchmetrics", *arguments[1:])
    ratio = theirs["seconds"] / ours["seconds"]
    split = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in ours["timing"].items())
    figures(f"{kind}, N={count}: ganeval {ours['seconds']:.2f} s ({split}), torchmetrics FID+KID "
            f"{theirs['seconds']:.2f} s: {ratio:.2f}x; peak RSS {ours['peak_gb']:.2f} GB against "
            f"{theirs['peak_gb']:.2f} GB; FID {ours['fid']:.4g} / {theirs['fid']:.4g} (their latents are their own)")
    print(json.dumps({"ours": ours, "theirs": theirs}))
    assert ratio >= TARGET, f"ganeval {ratio:.2f}x torchmetrics' speed, target {TARGET}x"
