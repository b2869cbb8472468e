"""Device selection shared by the CLI and the library."""
from __future__ import annotations

import torch

from .errors import InputError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Map 'auto' (or None) to CUDA when present, else CPU; validate explicit names.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"--device '{device}' is not a device; use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device '{device}' asked for CUDA but torch sees no GPU; use --device cpu or auto")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise InputError(f"--device '{device}': there are only {torch.cuda.device_count()} CUDA device(s), cuda:0 onwards")
    return resolved
