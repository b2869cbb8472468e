"""`torchscript:PATH`: a user's TorchScript module mapping uint8 images to a feature tensor or a dict of them.

A TorchScript file is a program, not weights: its code runs with your permissions when it is loaded (a
`__setstate__` can create, overwrite or read files, e.g. through `torch.from_file`) and on every batch. So it is
loaded only when trusted explicitly; every other file ganeval reads is loaded weights-only.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import torch

from ..errors import InputError
from .registry import FeatureExtractor, register

TRUST_ENV = "GANEVAL_TRUST_TORCHSCRIPT"  # "1" trusts every TorchScript extractor, as --trust-extractor does for one
HOW_TO_TRUST = f"--trust-extractor (Python: trust=True) or {TRUST_ENV}=1"


def trusted(trust: bool = False) -> bool:
    """Whether loading a TorchScript file is allowed: `trust`, or the environment variable GANEVAL_TRUST_TORCHSCRIPT=1."""
    return trust or os.environ.get(TRUST_ENV) == "1"


@register("torchscript:", prefix=True)
def create_torchscript(path: str, device: torch.device, trust: bool = False) -> FeatureExtractor:
    """Load the TorchScript module at `path`: code you must trust, since torch.jit.load and its forward run the file's
    code with your permissions. Without `trust=True` (CLI `--trust-extractor`) or GANEVAL_TRUST_TORCHSCRIPT=1 it is
    refused before the file is opened. A tensor output becomes 'features'; a dict is used as is and must hold
    'features' or 'pool' (the embedding), and may hold 'logits' (IS). `weights_sha256` is the SHA256 of the bytes
    loaded, so the record's provenance names the exact program that ran.

    >>> from ganeval import features
    >>> features.create("torchscript:net.pt", device="cpu", trust=True)  # doctest: +SKIP
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"torchscript:{path}: file does not exist (a TorchScript extractor is code you must trust; "
                         f"allow it with {HOW_TO_TRUST})")
    if not trusted(trust):
        raise InputError(f"torchscript:{path} is a program that runs with your permissions (it can read, write or "
                         f"delete your files), not weights; load it only if you trust it as a script: {HOW_TO_TRUST}")
    content = file.read_bytes()  # hash and load the same bytes: the file may change after it is read
    try:
        with warnings.catch_warnings():  # torch 2.14 marks jit.load deprecated; TorchScript files are still what users have
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(io.BytesIO(content), map_location=device).eval()
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
        weights_sha256=hashlib.sha256(content).hexdigest(),
        options={"path": str(file)},
    )
