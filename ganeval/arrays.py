"""Validation and conversion of numeric inputs (numpy arrays or torch tensors on any device): metric kernels, feature
statistics and samples check their inputs here."""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

from .errors import InputError

ArrayLike = Union[torch.Tensor, np.ndarray]


def as_matrix(
    values: ArrayLike,
    name: str,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = torch.float64,
    min_rows: int = 2,
) -> torch.Tensor:
    """Return `values` as a 2-D tensor (N x d), checking shape, finiteness and the number of rows.

    A tensor stays on its own device unless `device` is given; a numpy array goes to `device` (default CPU).
    `dtype=None` keeps the input's floating dtype (integers become float32).
    """
    if isinstance(values, np.ndarray):
        if values.dtype == object:
            raise InputError(f"{name}: expected a numeric array, got dtype=object")
        tensor = torch.from_numpy(np.ascontiguousarray(values))
    elif isinstance(values, torch.Tensor):
        tensor = values.detach()
    else:
        raise InputError(f"{name}: expected a numpy array or torch tensor, got {type(values).__name__}")
    if tensor.dim() != 2:
        raise InputError(f"{name}: expected a 2-D matrix of shape (samples, features), got shape {tuple(tensor.shape)}")
    if tensor.shape[0] < min_rows:
        raise InputError(f"{name}: needs at least {min_rows} samples, got {tensor.shape[0]}")
    if tensor.shape[1] < 1:
        raise InputError(f"{name}: has no feature dimensions")
    if dtype is None and not tensor.is_floating_point():
        dtype = torch.float32
    tensor = tensor.to(device=device or tensor.device, dtype=dtype or tensor.dtype)
    check_finite(tensor, name)
    return tensor


def check_finite(tensor: torch.Tensor, name: str) -> None:
    """Raise InputError naming `name` when `tensor` holds NaN or Inf."""
    # A sum is NaN or Inf whenever an element is (or, harmlessly, on overflow), and costs far less than isfinite.
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor.sum())) and not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise InputError(f"{name}: contains {bad} NaN or Inf value(s)")


def check_same_dim(first: torch.Tensor, second: torch.Tensor, names: tuple[str, str] = ("real", "fake")) -> None:
    """Raise InputError when two feature matrices (or statistics) have different feature dimensions."""
    if first.shape[-1] != second.shape[-1]:
        raise InputError(
            f"feature dimensions differ: {names[0]} has {first.shape[-1]}, {names[1]} has {second.shape[-1]}"
        )


def pick_device(*values: ArrayLike, device: torch.device | str | None = None) -> torch.device:
    """The device to compute on: the explicit one, else that of the first tensor argument, else CPU."""
    if device is not None:
        return torch.device(device)
    for value in values:
        if isinstance(value, torch.Tensor):
            return value.device
    return torch.device("cpu")
