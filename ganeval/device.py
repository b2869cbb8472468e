"""Device selection shared by the CLI and the library, and the TF32 guard every float32 product needs."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

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


@contextlib.contextmanager
def tf32(allowed: bool = False) -> Iterator[None]:
    """Matrix products and cuDNN convolutions in TF32 (`allowed`) or IEEE float32 (the default) for the duration,
    whatever the process had set; restored afterwards. No effect on CPU, where TF32 does not exist.

    TF32 keeps 10 mantissa bits: features move by about 1e-3 relative, enough to shift a FID, so extraction runs
    without it unless asked. The flags are process-wide: forwards run at the same time in several threads with
    different settings would see each other's.
    """
    saved = _precision_flags()
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        _restore(saved)


@contextlib.contextmanager
def cudnn_autotune(enabled: bool = False) -> Iterator[None]:
    """cuDNN picks each convolution's algorithm by timing the candidates (`enabled`, torch.backends.cudnn.benchmark)
    or by its heuristics (the default), whatever the process had set; restored afterwards. No effect on CPU.

    Autotuning makes the first batch of each shape slower and the rest faster; the algorithm it picks may sum in
    another order, so features move by float rounding (never by TF32, which tf32() keeps off). Forced off when not
    asked so that `--exact` extraction picks the same algorithms run after run. Process-wide, like tf32().
    """
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def _precision_flags() -> dict[str, object]:
    """What tf32() changes, as the process has it: the two allow_tf32 flags , or, where torch (>= 2.9) refuses to read those because the process set its
    per-backend `fp32_precision` strings to a mix they cannot summarise, those strings."""
    try:
        return {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
    except RuntimeError:
        return {"fp32_precision": {name: backend.fp32_precision for name, backend in _precision_backends().items()}}


def _restore(saved: dict[str, object]) -> None:
    if "fp32_precision" in saved:
        for name, backend in _precision_backends().items():
            backend.fp32_precision = saved["fp32_precision"][name]
    else:
        torch.backends.cuda.matmul.allow_tf32 = saved["matmul"]
        torch.backends.cudnn.allow_tf32 = saved["cudnn"]


def _precision_backends() -> dict[str, object]:
    """The backends whose fp32_precision the legacy allow_tf32 setters change (torch >= 2.9)."""
    cudnn = torch.backends.cudnn
    return {"matmul": torch.backends.cuda.matmul, "cudnn": cudnn, "conv": cudnn.conv, "rnn": cudnn.rnn}
