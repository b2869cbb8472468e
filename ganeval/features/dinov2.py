"""`dinov2-vit-s-14`, `dinov2-vit-b-14`, `dinov2-vit-l-14`: DINOv2's CLS token, the feature space of FD_DINOv2.

What this follows, and where from:
- Preprocessing: NVlabs/edm2 calculate_metrics.py, DINOv2Detector with resize_mode='torch' (itself modelled on
  layer6ai-labs/dgm-eval): uint8 N x 3 x H x W -> float32 -> F.interpolate(size=(224, 224), mode='bicubic',
  antialias=True), no rounding or clamping -> /255 -> ImageNet mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
  dgm-eval's dinov2.py (and EDM2's resize_mode='pil') resizes the uint8 image with PIL bicubic instead, which
  rounds the resized pixels to uint8: features differ from these by that rounding. Grey images are replicated to
  RGB here; EDM2 takes RGB only.
- Network: timm's vit_{small,base,large}_patch14_dinov2 built at 224 px. The output is the CLS token after the final
  norm, what facebookresearch/dinov2's `model(x)` returns (vision_transformer.py: head(x_norm_clstoken), head =
  Identity).
- Positional embedding: the checkpoints hold it for 518 px (1 + 37 x 37 tokens). facebookresearch/dinov2's
  interpolate_pos_encoding resamples it at every forward to the input's grid; `official_pos_embed` does the same once,
  at load time (see there).
- Weights: the official files (dinov2_vit{s,b,l}14_pretrain.pth, timm's state-dict names at 518 px plus
  `mask_token`), or timm's model.safetensors of timm/vit_*_patch14_dinov2.lvd142m (timm's names, 518 px).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .registry import FeatureExtractor, register
from .resize import as_rgb_uint8
from .weights import WeightsFile, check_keys, load_into, read_weights, resolve, unbuilt

INPUT_SIZE = 224
PATCH = 14
CHECKPOINT_GRID = 37  # 518 px / 14: the grid the official pos_embed was trained at
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSING = "edm2-torch:float-bicubic-antialias-224,/255,imagenet-mean-std"
LAYER = "cls_token"


@dataclass(frozen=True)
class Variant:
    """One DINOv2 size: its ganeval name, timm architecture, the official file and timm's Hugging Face copy."""

    name: str
    architecture: str
    official: WeightsFile
    timm_copy: WeightsFile


def _variant(size: str, architecture: str) -> Variant:
    name, tag = f"dinov2-vit-{size}-14", f"vit{size}14"
    env = f"GANEVAL_DINOV2_VIT_{size.upper()}_14_WEIGHTS"
    official = WeightsFile(name, f"dinov2_{tag}_pretrain.pth", env=env,
                           url=f"https://dl.fbaipublicfiles.com/dinov2/dinov2_{tag}/dinov2_{tag}_pretrain.pth")
    timm_copy = WeightsFile(name, "model.safetensors", env=env, hf_repo=f"timm/{architecture}.lvd142m")
    return Variant(name, architecture, official, timm_copy)


VARIANTS = {variant.name: variant for variant in (
    _variant("s", "vit_small_patch14_dinov2"),
    _variant("b", "vit_base_patch14_dinov2"),
    _variant("l", "vit_large_patch14_dinov2"),
)}


def official_pos_embed(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """The checkpoint's 1 + M x M position embedding resampled to 1 + grid x grid, as facebookresearch/dinov2's
    interpolate_pos_encoding does: bicubic by scale_factor (grid + 0.1) / M, no antialias, class token untouched.

    timm's own loader (checkpoint_filter_fn) resamples with size=(grid, grid) and antialias=True: a different
    result, since interpolate uses the given scale factor, not grid / M, to place its samples. The features would
    then not be DINOv2's, so the official resampling is done here instead."""
    side = math.isqrt(pos_embed.shape[1] - 1)
    dim = pos_embed.shape[-1]
    patches = pos_embed[:, 1:].float().reshape(1, side, side, dim).permute(0, 3, 1, 2)
    scale = (grid + 0.1) / side  # dinov2's offset "to avoid floating point error in the interpolation"
    patches = F.interpolate(patches, scale_factor=(scale, scale), mode="bicubic")
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid * grid, dim)
    return torch.cat([pos_embed[:, :1].float(), patches], dim=1)


def build_network(variant: Variant, state: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """timm's DINOv2 ViT at 224 px holding `state` (official or timm names, pos_embed at 518 px), keys checked first."""
    import timm

    network = unbuilt(lambda: timm.create_model(variant.architecture, pretrained=False, img_size=INPUT_SIZE,
                                                num_classes=0))
    expected = {key: value.shape for key, value in network.state_dict().items()}
    dim = expected["cls_token"][-1]
    expected["pos_embed"] = torch.Size((1, 1 + CHECKPOINT_GRID ** 2, dim))
    if "mask_token" in state:  # the official file; timm's copy drops the (unused) mask token
        expected["mask_token"] = torch.Size((1, dim))
    check_keys(state, expected, path, f"{variant.name} (DINOv2)")
    state = {key: value for key, value in state.items() if key != "mask_token"}
    state["pos_embed"] = official_pos_embed(state["pos_embed"], INPUT_SIZE // PATCH)
    return load_into(network, state).eval().requires_grad_(False)


def preprocess(batch: torch.Tensor, name: str) -> torch.Tensor:
    """uint8 N x 1|3 x H x W -> EDM2's DINOv2 input (float, 224 x 224, ImageNet-normalised)."""
    batch = as_rgb_uint8(batch, name)  # grey replicated to RGB; anything but uint8 images is an InputError
    images = F.interpolate(batch.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", antialias=True) / 255
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def create_dinov2(name: str, device: torch.device, weights: str | os.PathLike | None = None,
                  download: bool = True) -> FeatureExtractor:
    """The DINOv2 extractor `name` with weights from `weights`, its environment variable, the caches or a download."""
    variant = VARIANTS[name]
    path = resolve(variant.official, weights, download, alternative=variant.timm_copy)
    state, sha256 = read_weights(path)
    network = build_network(variant, state, path).to(device)

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return {LAYER: network(preprocess(batch, name))}

    return FeatureExtractor(name, forward, device, feature_layer=LAYER, logits_layer=None,
                            weights_sha256=sha256, preprocessing=PREPROCESSING,
                            options={"weights": str(path)}, takes_any_size=True, modules=(network,))


@register("dinov2-vit-s-14")
def create_vit_s(device: torch.device, weights: str | os.PathLike | None = None,
                 download: bool = True) -> FeatureExtractor:
    """DINOv2 ViT-S/14: 384-d CLS token."""
    return create_dinov2("dinov2-vit-s-14", device, weights, download)


@register("dinov2-vit-b-14")
def create_vit_b(device: torch.device, weights: str | os.PathLike | None = None,
                 download: bool = True) -> FeatureExtractor:
    """DINOv2 ViT-B/14: 768-d CLS token."""
    return create_dinov2("dinov2-vit-b-14", device, weights, download)


@register("dinov2-vit-l-14")
def create_vit_l(device: torch.device, weights: str | os.PathLike | None = None,
                 download: bool = True) -> FeatureExtractor:
    """DINOv2 ViT-L/14: 1024-d CLS token, the network of FD_DINOv2 (EDM2, dgm-eval)."""
    return create_dinov2("dinov2-vit-l-14", device, weights, download)
