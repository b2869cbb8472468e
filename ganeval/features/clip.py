"""`clip-vit-l-14-336`: OpenAI CLIP ViT-L/14@336px image embeddings, L2-normalised: the feature space of CMMD.

What this follows, and where from:
- Preprocessing: CMMD's reference, google-research cmmd/io_util.py `_center_crop_and_resize` then embedding.py
  `_clip_preprocess`: centre crop to a square (side l = min(H, W), top (H - l) // 2, left (W - l) // 2), PIL bicubic
  resize to 336 (antialiased when shrinking) giving uint8 RGB, /255, CLIP mean (0.48145466, 0.4578275, 0.40821073),
  std (0.26862954, 0.26130258, 0.27577711) (its jax resize to 336 is then a no-op). The resize runs in torch with
  PIL's own arithmetic (see resize_like_pil), so it gives PIL's uint8 pixels. Grey images are replicated to RGB, as
  CMMD does.
- Network: timm's vit_large_patch14_clip_quickgelu_336 (QuickGELU as OpenAI trained it; timm's other variant uses
  GELU and is not the original), head = OpenAI's `visual.proj`. CMMD's scenic CLIP returns normalised embeddings.
- Weights: OpenAI's names (`visual.*`, as in open_clip_pytorch_model.bin of timm/vit_large_patch14_clip_336.openai,
  which open_clip downloads), its text tower ignored; or timm's names (model.safetensors of that repository).
  OpenAI's own ViT-L-14-336px.pt is a TorchScript program and is refused, never run.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import InputError
from .registry import FeatureExtractor, register
from .resize import as_rgb_uint8
from .weights import WeightsFile, check_keys, load_into, read_weights, resolve, unbuilt

NAME = "clip-vit-l-14-336"
ARCHITECTURE = "vit_large_patch14_clip_quickgelu_336"
HF_REPO = "timm/vit_large_patch14_clip_336.openai"
INPUT_SIZE = 336
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PREPROCESSING = "cmmd:center-crop,pil-bicubic-336-uint8,/255,clip-mean-std"
LAYER = "image_embedding"
_ONE, _HALF = float(1 << 22), float(1 << 21)  # PIL's 8-bit resampling works in 22-bit fixed point
WEIGHTS = WeightsFile(NAME, "open_clip_pytorch_model.bin", env="GANEVAL_CLIP_VIT_L_14_336_WEIGHTS", hf_repo=HF_REPO)
TIMM_WEIGHTS = WeightsFile(NAME, "model.safetensors", env=WEIGHTS.env, hf_repo=HF_REPO)

# OpenAI's names inside a residual block -> timm's (the weight/bias suffix follows each prefix).
_BLOCK_NAMES = (("ln_1.", "norm1."), ("attn.in_proj_", "attn.qkv."), ("attn.out_proj.", "attn.proj."),
                ("ln_2.", "norm2."), ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2."))


def openai_to_timm_names(depth: int) -> dict[str, str]:
    """Every key of OpenAI CLIP's visual tower (depth residual blocks) -> its timm name."""
    names = {"visual.conv1.weight": "patch_embed.proj.weight", "visual.class_embedding": "cls_token",
             "visual.positional_embedding": "pos_embed", "visual.proj": "head.weight"}
    pairs = [("ln_pre.", "norm_pre."), ("ln_post.", "norm.")]
    pairs += [(f"transformer.resblocks.{index}.{theirs}", f"blocks.{index}.{ours}")
              for index in range(depth) for theirs, ours in _BLOCK_NAMES]
    for theirs, ours in pairs:
        for param in ("weight", "bias"):
            names[f"visual.{theirs}{param}"] = f"{ours}{param}"
    return names


def _openai_shape(key: str, timm_shape: torch.Size) -> torch.Size:
    """The shape OpenAI stores a tensor in: the projection is x @ proj (timm's head weight transposed), the class
    and position embeddings have no batch dimension."""
    if key == "visual.proj":
        return torch.Size(reversed(timm_shape))
    if key == "visual.class_embedding":
        return timm_shape[2:]
    if key == "visual.positional_embedding":
        return timm_shape[1:]
    return timm_shape


def to_timm_state(state: dict[str, torch.Tensor], network: torch.nn.Module, path: Path) -> dict[str, torch.Tensor]:
    """`state` (OpenAI's or timm's names) as timm's state dict, every visual key and shape checked first."""
    shapes = {key: value.shape for key, value in network.state_dict().items()}
    if not any(key.startswith("visual.") for key in state):
        check_keys(state, shapes, path, f"{NAME} (timm CLIP ViT-L/14@336px)")
        return state
    names = openai_to_timm_names(len(network.blocks))
    visual = {key: value for key, value in state.items() if key.startswith("visual.")}  # the text tower is not ours
    check_keys(visual, {key: _openai_shape(key, shapes[ours]) for key, ours in names.items()}, path,
               f"{NAME} (OpenAI CLIP ViT-L/14@336px visual)")
    converted = {names[key]: value.T if key == "visual.proj" else value.reshape(shapes[names[key]])
                 for key, value in visual.items()}
    converted["head.bias"] = torch.zeros(shapes["head.bias"])  # OpenAI's projection has no bias
    return converted


def refuse_torchscript(path: Path) -> None:
    """OpenAI's ViT-L-14-336px.pt is a TorchScript archive: loading it means running its code. Say which file to use
    instead (torch.load(weights_only=True) would only say it cannot read it)."""
    if not zipfile.is_zipfile(path):
        return
    with zipfile.ZipFile(path) as archive:
        entries = archive.namelist()
    if any(entry.endswith("constants.pkl") or "/code/" in entry for entry in entries):
        raise InputError(f"{path}: a TorchScript archive (OpenAI's ViT-L-14-336px.pt?), which ganeval does not run; "
                         f"use {WEIGHTS.name} or {TIMM_WEIGHTS.name} from https://huggingface.co/{HF_REPO}")


def build_network(state: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """timm's QuickGELU CLIP ViT-L/14 at 336 px holding `state`, in eval mode."""
    import timm

    network = unbuilt(lambda: timm.create_model(ARCHITECTURE, pretrained=False, num_classes=768))
    return load_into(network, to_timm_state(state, network, path)).eval().requires_grad_(False)


def center_crop(batch: torch.Tensor) -> torch.Tensor:
    """The centred square of side min(H, W), offsets rounded down as CMMD's `_center_crop_and_resize` does."""
    height, width = batch.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return batch[..., top:top + side, left:left + side]


def resize_like_pil(batch: torch.Tensor, size: int) -> torch.Tensor:
    """PIL's `Image.resize((size, size), Image.BICUBIC)` of uint8 images, in torch: float N x C x size x size holding
    PIL's uint8 values.

    It does PIL's own arithmetic (Pillow's Resample.c): width then height, each pass a weighted sum with PIL's
    coefficients in 22-bit fixed point, rounded and clipped to uint8. F.interpolate(mode='bicubic', antialias=True)
    has PIL's kernel but, done in one pass, keeps the overshoot that PIL clips between its passes (up to ~20 grey
    levels apart at sharp edges), and even in two float passes it rounds differently (up to 2 levels)."""
    images = batch.to(torch.float64)  # sums of uint8 x fixed-point coefficients stay exact integers below 2**53
    images = _fixed_point_pass(images, _pil_bicubic_coefficients(images.shape[-1], size, images.device))
    columns = _pil_bicubic_coefficients(images.shape[-2], size, images.device)
    return _fixed_point_pass(images.transpose(-1, -2), columns).transpose(-1, -2).float()


def _fixed_point_pass(images: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """Resample the last axis: (sum + 2**21) >> 22, clipped to [0, 255], as PIL's 8-bit passes."""
    return torch.floor((images @ coefficients.T + _HALF) / _ONE).clamp(0, 255)


def _pil_bicubic_coefficients(in_size: int, out_size: int, device: torch.device) -> torch.Tensor:
    """out_size x in_size resampling weights as PIL's precompute_coeffs and normalize_coeffs_8bpc compute them: the
    Keys cubic (a = -0.5) stretched by the scale when shrinking (antialiasing), normalised, in 22-bit fixed point."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 2.0 * filter_scale
    centers = (torch.arange(out_size, dtype=torch.float64, device=device) + 0.5) * scale
    first = torch.trunc(centers - support + 0.5).clamp(min=0)[:, None]
    end = torch.trunc(centers + support + 0.5).clamp(max=in_size)[:, None]
    inputs = torch.arange(in_size, dtype=torch.float64, device=device)[None, :]
    distance = ((inputs - centers[:, None] + 0.5) * (1.0 / filter_scale)).abs()
    cubic = torch.where(distance < 1, (1.5 * distance - 2.5) * distance * distance + 1,
                        torch.where(distance < 2, (((distance - 5) * distance + 8) * distance - 4) * -0.5, 0.0))
    weights = torch.where((inputs >= first) & (inputs < end), cubic, 0.0)
    weights = weights / weights.sum(dim=1, keepdim=True)
    return torch.trunc(weights * _ONE + torch.where(weights < 0, -0.5, 0.5))  # C's (int)(w * 2**22 +- 0.5)


def preprocess(batch: torch.Tensor) -> torch.Tensor:
    """uint8 N x 1|3 x H x W -> CMMD's CLIP input (float, 336 x 336, CLIP-normalised)."""
    batch = as_rgb_uint8(batch, NAME)  # grey replicated to RGB; anything but uint8 images is an InputError
    images = resize_like_pil(center_crop(batch), INPUT_SIZE) / 255
    mean = torch.tensor(CLIP_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


@register(NAME)
def create_clip(device: torch.device, weights: str | os.PathLike | None = None,
                download: bool = True) -> FeatureExtractor:
    """CLIP ViT-L/14@336px image embeddings (768-d, unit norm) with weights from `weights`,
    $GANEVAL_CLIP_VIT_L_14_336_WEIGHTS, the torch hub or Hugging Face caches, or a download by huggingface_hub."""
    path = resolve(WEIGHTS, weights, download, alternative=TIMM_WEIGHTS)
    refuse_torchscript(path)
    state, sha256 = read_weights(path)
    network = build_network(state, path).to(device)

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return {LAYER: F.normalize(network(preprocess(batch)), dim=-1)}

    return FeatureExtractor(NAME, forward, device, feature_layer=LAYER, logits_layer=None,
                            weights_sha256=sha256, preprocessing=PREPROCESSING,
                            options={"weights": str(path)}, takes_any_size=True, modules=(network,))
