"""`vgg16`: torch-fidelity's VGG16, the network of its precision/recall and of stylegan's pr50k3 protocol.

stylegan2-ada's pr50k3 runs NVIDIA's TorchScript vgg16.pt (Karras et al.'s conversion of the VGG16 of Kynkaanniemi
et al.'s code); torch-fidelity, and so this extractor, use torchvision's ImageNet VGG16 weights instead, so values
follow pr50k3's protocol (N, k = 3, fc2 features) but are not numerically stylegan's.

The network is torch-fidelity's own module (torch_fidelity/feature_extractor_vgg16.py), so its forward is what runs:
torchvision's vgg16 with the classifier cut after fc2, images resized to 224 x 224 by TF1-compatible bilinear and
normalised with ImageNet's mean and std in 0..255 units. ganeval finds torchvision's weights file and loads it itself,
tensors only (torch-fidelity unpickles a local weights file with weights_only=False).
Layers: 'fc2_relu' (FID, KID, PRDC: torch-fidelity's default for all its metrics) and 'fc2' (before the ReLU).
"""
from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import torch

from .registry import FeatureExtractor, register
from .resize import as_rgb_uint8
from .weights import WeightsFile, check_keys, read_weights, resolve

WEIGHTS_FILE = "vgg16-397923af.pth"
# torchvision's ImageNet weights (VGG16_Weights.IMAGENET1K_V1), kept by torch.hub where torchvision downloads them.
WEIGHTS = WeightsFile(
    "vgg16", WEIGHTS_FILE, env="GANEVAL_VGG16_WEIGHTS",
    url=f"https://download.pytorch.org/models/{WEIGHTS_FILE}", hash_prefix="397923af",
)
WEIGHTS_ENV = WEIGHTS.env
LAYERS = ("fc2", "fc2_relu")  # the order torch-fidelity returns them in
PREPROCESSING = "tf1-bilinear-224,(x-255*(0.485,0.456,0.406))/(255*(0.229,0.224,0.225))"


@register("vgg16")
def create_vgg16(
    device: torch.device, weights: str | os.PathLike | None = None, download: bool = True
) -> FeatureExtractor:
    """torch-fidelity's VGG16 with torchvision's weights found by weights.resolve (`weights`, $GANEVAL_VGG16_WEIGHTS,
    the torch hub cache, a download); takes uint8 N x 1|3 x H x W, grey replicated to RGB."""
    path = resolve(WEIGHTS, weights, download)
    state, sha256 = read_weights(path)
    network = build_network(state, path).to(device)

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        fc2, fc2_relu = network(as_rgb_uint8(batch, "vgg16"))
        return {"fc2": fc2, "fc2_relu": fc2_relu}

    return FeatureExtractor(
        "vgg16",
        forward,
        device,
        feature_layer="fc2_relu",
        weights_sha256=sha256,
        preprocessing=PREPROCESSING,
        options={"weights": str(path)},
        takes_any_size=True,
        modules=(network,),
    )


def build_network(state_dict: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """torch-fidelity's FeatureExtractorVGG16 holding `state_dict` (torchvision's key names), returning
    (fc2, fc2_relu). A dict of other names or shapes is a one-line InputError naming `path`."""
    from torch_fidelity import feature_extractor_vgg16 as fidelity_vgg16

    check_keys(state_dict, official_shapes(), path, "torchvision VGG16")
    # Its constructor loads weights itself (torchvision's download, or a path it unpickles unsafely); have its
    # pretrained loader return a vgg16 holding the dict we already loaded tensors-only instead.
    with mock.patch.object(fidelity_vgg16, "torchvision_load_pretrained_vgg16", lambda **kwargs: _vgg16(state_dict)):
        return fidelity_vgg16.FeatureExtractorVGG16("vgg16", list(LAYERS))


def official_shapes() -> dict[str, torch.Size]:
    """Key names and shapes of torchvision's `vgg16().state_dict()`: features.N.*, classifier.0/3/6.*."""
    return {name: tensor.shape for name, tensor in _meta_vgg16().state_dict().items()}


def _vgg16(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    """torchvision's vgg16 holding `state_dict`, loaded strict."""
    model = _meta_vgg16()
    model.load_state_dict(state_dict, strict=True, assign=True)  # assign: take the tensors, the meta ones hold nothing
    return model


def _meta_vgg16() -> torch.nn.Module:
    """torchvision's vgg16 on the meta device: its 138M parameters are not allocated, nor drawn at random only to be
    overwritten (seconds on a CPU)."""
    import torchvision

    with torch.device("meta"):
        return torchvision.models.vgg16()
