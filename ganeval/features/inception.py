"""`inception-v3-compat`: torch-fidelity's TF1-compatible Inception-v3, the network behind published FIDs.

The architecture is torch-fidelity's own module; ganeval finds and loads the weights itself, with
torch.load(weights_only=True) (torch-fidelity unpickles a local weights file with weights_only=False).
Layers: 'pool' = the 2048-d pool3 features (FID, KID, PRDC), 'logits' = the 1008 unbiased logits (IS), as
torch-fidelity uses them.

`resize` picks how images reach 299 x 299 (ganeval/features/resize.py): 'tf1' (the default, torch-fidelity's own
forward, bit for bit), 'clean' (clean-fid's PIL bicubic) or 'torch' (torch's antialiased bilinear). The other two are
other feature spaces: the extractor's `variant` ('resize=clean') and preprocessing string say so in records and
reference cache keys.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unittest import mock

import torch

from ..errors import InputError
from .registry import FeatureExtractor, register
from .resize import as_rgb_uint8, check_resize_mode, clean_resize, torch_resize
from .weights import WeightsFile, load_tensors, read_weights, resolve

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS = WeightsFile(
    "inception-v3-compat", WEIGHTS_FILE, env="GANEVAL_INCEPTION_WEIGHTS",
    url=f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}",
    hash_prefix="6726825d", flags=("--weights", "--inception-weights"),
)
WEIGHTS_ENV = WEIGHTS.env
LAYERS = {"pool": "2048", "logits": "logits_unbiased"}  # ganeval name -> torch-fidelity feature name
RESIZERS = {"clean": clean_resize, "torch": torch_resize}  # 'tf1' is torch-fidelity's forward itself
# Part of the reference cache key and of every record: the three modes never share a cache entry.
PREPROCESSING = {
    "tf1": "tf1-bilinear-299,(x-128)/128",
    "clean": "clean-fid-pil-bicubic-antialias-299,float,clip-0-255,(x-128)/128",
    "torch": "torch-bilinear-antialias-299,float,(x-128)/128",
}


def hub_weights_path() -> Path:
    """Where torch.hub (and so torch-fidelity) caches the weights: $TORCH_HOME/hub/checkpoints/<file>."""
    return WEIGHTS.hub_path


def resolve_weights(weights: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Find the weights: an explicit path, then $GANEVAL_INCEPTION_WEIGHTS, then the torch hub cache, then download."""
    return resolve(WEIGHTS, weights, download)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a weights file safely (tensors only); anything else is a one-line error."""
    return load_tensors(path)


@register("inception-v3-compat")
def create_inception(
    device: torch.device, weights: str | os.PathLike | None = None, download: bool = True, resize: str = "tf1"
) -> FeatureExtractor:
    """torch-fidelity's Inception with weights found by resolve_weights(); grey images are replicated to RGB.

    `resize`: 'tf1' (torch-fidelity's TF1-compatible bilinear inside its forward, the parity target), 'clean'
    (clean-fid's resizer) or 'torch' (torch's antialiased bilinear); see ganeval/features/resize.py.
    """
    check_resize_mode(resize, "inception-v3-compat")
    path = resolve_weights(weights, download)
    state, sha256 = read_weights(path)
    network = build_network(state).to(device)
    run = network if resize == "tf1" else partial(run_on_resized, network, RESIZERS[resize])

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        pool, logits = run(as_rgb_uint8(batch, "inception-v3-compat"))
        return {"pool": pool, "logits": logits}

    return FeatureExtractor(
        "inception-v3-compat",
        forward,
        device,
        feature_layer="pool",
        logits_layer="logits",
        weights_sha256=sha256,
        preprocessing=PREPROCESSING[resize],
        options={"weights": str(path), "resize": resize},
        variant=None if resize == "tf1" else f"resize={resize}",
        takes_any_size=True,
        modules=(network,),
    )


def build_network(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    """torch-fidelity's FeatureExtractorInceptionV3 holding `state_dict`, returning (pool, logits_unbiased)."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity_inception

    # Its constructor insists on loading weights itself (by URL, or a path it unpickles unsafely); hand it the
    # dict we already loaded with weights_only=True instead.
    with mock.patch.object(fidelity_inception, "load_state_dict_from_url", lambda *args, **kwargs: state_dict):
        try:
            return fidelity_inception.FeatureExtractorInceptionV3("inception-v3-compat", list(LAYERS.values()))
        except RuntimeError as exc:  # load_state_dict: missing or unexpected keys, wrong shapes
            raise InputError(f"Inception weights do not fit torch-fidelity's Inception-v3: {str(exc).splitlines()[0]}") from exc


_FLOAT_INPUT = threading.Lock()  # one float forward at a time: each swaps a module global of torch-fidelity's


def run_on_resized(
    network: torch.nn.Module, resizer: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor], batch: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pool, logits) of torch-fidelity's Inception (feature_extractor_inceptionv3.py) on `resizer(batch)`, float
    images already at 299 x 299.

    Its forward takes uint8 only, because it resizes itself; at 299 -> 299 its TF1 bilinear is the identity, bit for
    bit (tests/test_resize.py), so our resized pixels reach its layers unchanged, with its own (x - 128) / 128.
    Only its uint8 check is waived, and only during this call.
    """
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity_inception

    size = network.INPUT_IMAGE_SIZE
    images = resizer(batch, (size, size))
    with _FLOAT_INPUT, mock.patch.object(fidelity_inception, "vassert", _waiving_uint8_check(fidelity_inception.vassert)):
        return network(images)


def _waiving_uint8_check(check: Callable[[bool, str], None]) -> Callable[[bool, str], None]:
    """torch-fidelity's `vassert`, except for its "dtype=torch.uint8" input check. Should that message change, the
    check is no longer waived and float input fails loudly rather than silently doing something else."""

    def waiving(condition: bool, message: str) -> None:
        if "dtype=torch.uint8" not in message:
            check(condition, message)

    return waiving
