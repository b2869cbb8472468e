"""`torchscript:PATH`: a user's TorchScript module mapping uint8 images to a feature tensor or a dict of them."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch

from ..errors import InputError
from .registry import FeatureExtractor, register


@register("torchscript:", prefix=True)
def create_torchscript(path: str, device: torch.device) -> FeatureExtractor:
    """Load a TorchScript module (torch.jit.load: code and tensors, no arbitrary unpickling). A tensor output becomes
    'features'; a dict is used as is and must hold 'features' or 'pool' (the embedding), and may hold 'logits' (IS)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"torchscript:{path}: file does not exist")
    try:
        with warnings.catch_warnings():  # torch 2.14 marks jit.load deprecated; TorchScript files are still what users have
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(file), map_location=device).eval()
    except Exception as exc:  # torch raises RuntimeError or ValueError variants for non-TorchScript files
        raise InputError(f"torchscript:{path}: not a TorchScript module ({type(exc).__name__})") from exc

    def forward(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        output = module(batch)
        if isinstance(output, torch.Tensor):
            return {"features": output.reshape(output.shape[0], -1)}
        if isinstance(output, dict) and ("features" in output or "pool" in output):
            named = dict(output)
            named.setdefault("features", named.get("pool"))
            return named
        raise InputError(f"torchscript:{path}: must return a tensor or a dict with 'features' or 'pool'")

    return FeatureExtractor(
        f"torchscript:{path}",
        forward,
        device,
        feature_layer="features",
        logits_layer="logits",
        weights_sha256=hashlib.sha256(file.read_bytes()).hexdigest(),
        options={"path": str(file)},
    )
