"""Images per second of each pretrained extractor at batch 64, on the same 64 images, against torch-fidelity's own
extractor where it has one (Inception-v3, VGG16), same weights, same run.

No pretrained weights can be downloaded here, so every network holds a state dict saved from a randomly initialised
network of its architecture: the arithmetic, and so the speed, is the pretrained network's. ganeval's Inception and
VGG16 run torch-fidelity's own modules (the weights loaded safely), so the target is parity: >= 0.9x of
torch-fidelity's images/s. DINOv2 and CLIP have no anchor that loads local weights (torch-fidelity's DINOv2 needs
torch.hub to reach GitHub): their images/s are reported. Images are 32 x 32 RGB (CIFAR-sized, the GAN case), so the
resize to each network's input is part of the time, as it is in a score.

GANEVAL_BENCH_DEVICE (default cpu) sets the device; GANEVAL_BENCH_EXTRACTOR_BATCH the batch (default 64). On a CPU
the ViT-L networks take about a minute a batch: one timed round each, after no warm-up.
"""
from __future__ import annotations

import math
import time

import pytest
import torch
from _common import env_int, min_seconds

from ganeval import features

BATCH = env_int("GANEVAL_BENCH_EXTRACTOR_BATCH", 64)
TARGET_RATIO = 0.9


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randint(0, 256, (BATCH, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _inception_state(tmp_path_factory) -> str:
    """A random torch-fidelity Inception whose BatchNorm statistics are calibrated on two batches: a fresh network's
    (mean 0, variance 1) shrink activations layer by layer into float32 denormals, whose arithmetic is many times
    slower on CPUs and would time something pretrained weights never do."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity_inception

    torch.manual_seed(0)
    loader, load = fidelity_inception.load_state_dict_from_url, fidelity_inception.FeatureExtractorInceptionV3.load_state_dict
    fidelity_inception.load_state_dict_from_url = lambda *args, **kwargs: {}
    fidelity_inception.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    try:
        network = fidelity_inception.FeatureExtractorInceptionV3("random", ["2048"])
    finally:
        fidelity_inception.load_state_dict_from_url, fidelity_inception.FeatureExtractorInceptionV3.load_state_dict = loader, load
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # the average over the calibration batches
    network.train()
    with torch.no_grad():
        for seed in (1, 2):
            network(torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)))
    return _saved(network.state_dict(), tmp_path_factory, "inception.pth")


def _timm_state(architecture: str, tmp_path_factory, **kwargs) -> str:
    """A timm network's own state dict (timm key names, which the extractors accept beside the official ones)."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    network = timm.create_model(architecture, pretrained=False, **kwargs)
    path = tmp_path_factory.mktemp("weights") / f"{architecture}.safetensors"
    save_file({key: value.contiguous() for key, value in network.state_dict().items()}, str(path))
    return str(path)


def _saved(state: dict, tmp_path_factory, name: str) -> str:
    path = tmp_path_factory.mktemp("weights") / name
    torch.save(state, path)
    return str(path)


WEIGHTS = {
    "inception-v3-compat": _inception_state,
    "vgg16": lambda factory: _saved(__import__("torchvision").models.vgg16().state_dict(), factory, "vgg16.pth"),
    "dinov2-vit-s-14": lambda factory: _timm_state("vit_small_patch14_dinov2", factory, num_classes=0),
    "dinov2-vit-b-14": lambda factory: _timm_state("vit_base_patch14_dinov2", factory, num_classes=0),
    "dinov2-vit-l-14": lambda factory: _timm_state("vit_large_patch14_dinov2", factory, num_classes=0),
    "clip-vit-l-14-336": lambda factory: _timm_state("vit_large_patch14_clip_quickgelu_336", factory, num_classes=768),
}


def _rate(benchmark, function, images: torch.Tensor, rounds: int) -> float | None:
    # CUDA: a warm-up round keeps kernel loading and cuDNN's autotuning out of the time (and synchronise after)
    warmup = 1 if images.device.type == "cuda" else 0

    def timed(batch):
        output = function(batch)
        if batch.device.type == "cuda":
            torch.cuda.synchronize(batch.device)
        return output

    benchmark.pedantic(timed, (images,), rounds=rounds, warmup_rounds=warmup, iterations=1)
    seconds = min_seconds(benchmark)
    return None if seconds is None else len(images) / seconds


@pytest.mark.parametrize("name", list(WEIGHTS))
def test_extractor_images_per_second(benchmark, name, images, device, figures, tmp_path_factory):
    extractor = features.create(name, device=device, weights=WEIGHTS[name](tmp_path_factory), download=False)
    small = name in ("inception-v3-compat", "vgg16", "dinov2-vit-s-14") or device.type == "cuda"
    rate = _rate(benchmark, lambda batch: extractor(batch), images.to(device), rounds=3 if small else 1)
    if rate is not None:
        figures(f"{rate:.1f} images/s ({name}, batch {BATCH}, 32x32 -> its input size, {device}, "
                f"{torch.get_num_threads()} threads)")


def _fidelity_extractor(name: str, weights: str):
    """torch-fidelity's own extractor with the same weights file (its own loader: our file, so unpickling is safe)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

    if name == "inception-v3-compat":
        return FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                           feature_extractor_weights_path=weights)
    return FeatureExtractorVGG16("vgg16", ["fc2", "fc2_relu"], feature_extractor_weights_path=weights)


@pytest.mark.parametrize("name", ["inception-v3-compat", "vgg16"])
def test_against_torch_fidelity(benchmark, name, images, device, figures, tmp_path_factory):
    """torch-fidelity's extractor and ganeval's on the same weights file and images, timed in alternation (three
    rounds each, the fastest kept) so that neither gets a quieter moment of the machine."""
    weights = WEIGHTS[name](tmp_path_factory)
    network = _fidelity_extractor(name, weights).to(device).eval()
    ours = features.create(name, device=device, weights=weights, download=False)
    batch = images.to(device)

    def theirs(batch):
        with torch.no_grad():
            return network(batch)

    best = {"ganeval": math.inf, "torch-fidelity": math.inf}
    for _ in range(3):
        for label, function in (("ganeval", ours), ("torch-fidelity", theirs)):
            best[label] = min(best[label], _seconds(function, batch))
    benchmark.pedantic(theirs, (batch,), rounds=1, iterations=1)  # the table's row: torch-fidelity's
    ratio = best["torch-fidelity"] / best["ganeval"]
    figures(f"{BATCH / best['ganeval']:.1f} against {BATCH / best['torch-fidelity']:.1f} images/s: ganeval / "
            f"torch-fidelity = {ratio:.2f}x for {name} (batch {BATCH}, {device})")
    assert ratio >= TARGET_RATIO, f"{name}: ganeval at {ratio:.2f}x of torch-fidelity's images/s"


def _seconds(function, batch: torch.Tensor) -> float:
    start = time.perf_counter()
    function(batch)
    if batch.device.type == "cuda":
        torch.cuda.synchronize(batch.device)
    return time.perf_counter() - start
