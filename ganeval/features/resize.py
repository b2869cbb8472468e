"""Images on their way into a resizing network: the one input check, and the resize conventions besides TF1's.

Three conventions bring an image to a network's input size, and each gives its own feature space:
- 'tf1': TensorFlow 1.x bilinear without antialiasing, as published FIDs were computed. It runs inside
  torch-fidelity's own forward (torch_fidelity/interpolate_compat_tensorflow.py), so it has no function here.
- 'clean': clean-fid's "clean" mode, PIL bicubic with antialiasing on float pixels (`clean_resize`).
- 'torch': torch's antialiased bilinear (`torch_resize`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError

RESIZE_MODES = ("tf1", "clean", "torch")


def as_rgb_uint8(batch: torch.Tensor, extractor: str) -> torch.Tensor:
    """`batch` as uint8 N x 3 x H x W, grey (N x 1 x H x W) replicated to RGB; anything else is a one-line
    InputError naming `extractor`, since the networks' 0..255 scaling is only right for uint8 pixels."""
    if batch.dtype != torch.uint8 or batch.dim() != 4 or batch.shape[1] not in (1, 3):
        raise InputError(f"{extractor} takes uint8 images N x 1|3 x H x W, got {batch.dtype} {tuple(batch.shape)}")
    return batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch


def check_resize_mode(mode: str, extractor: str) -> None:
    """Refuse a resize mode other than RESIZE_MODES, in one line that lists them."""
    if mode not in RESIZE_MODES:
        raise InputError(f"{extractor}: unknown resize '{mode}'; choose from {', '.join(RESIZE_MODES)}")


def clean_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 N x C x H x W to float32 N x C x size (height, width), as clean-fid's "clean" resizer does it.

    Matches cleanfid/resize.py `make_resizer("PIL", False, "bicubic", size)`: each channel as a PIL mode 'F' float32
    image, bicubic with PIL's antialiasing (the kernel widens by the scale factor when shrinking), no quantisation
    afterwards, clipped to 0..255. torch's antialiased bicubic uses PIL's kernel (a = -0.5, the same support), so it
    runs batched on any device; it agrees with PIL to within 0.01 grey levels (tests/test_resize.py).
    """
    resized = F.interpolate(images.float(), size=size, mode="bicubic", antialias=True, align_corners=False)
    return resized.clamp_(0, 255)  # bicubic overshoots at edges; clean-fid clips, and so must we


def torch_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 N x C x H x W to float32 N x C x size: torch's bilinear with antialiasing, half-pixel centres
    (F.interpolate(mode='bilinear', antialias=True, align_corners=False)). Its weights are non-negative, so the
    result stays within 0..255 without clipping."""
    return F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
