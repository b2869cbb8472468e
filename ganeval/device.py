"""Device selection shared by the CLI and the library."""
from __future__ import annotations

import os

import torch

from .errors import InputError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Map 'auto' (or None) to CUDA when present (under torchrun, this process's GPU: cuda:LOCAL_RANK), else CPU;
    validate explicit names.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or str(device) == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"--device '{device}' is not a device; use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device '{device}' asked for CUDA but torch sees no GPU; use --device cpu or auto")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise InputError(f"--device '{device}': there are only {torch.cuda.device_count()} CUDA device(s), cuda:0 onwards")
    return resolved
