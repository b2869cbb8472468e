"""Writing checkpoint files: tensors and plain Python values only, written atomically.

The format (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, REQUIRED_KEYS) and the reader, load_checkpoint, live in
ganeval.data.checkpoint, where evaluation reads checkpoints without importing training; they are imported here so
that training code has one module for both directions.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..atomic import write_atomically
from ..data.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, REQUIRED_KEYS, load_checkpoint

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "REQUIRED_KEYS", "checkpoint_name", "load_checkpoint",
           "save_checkpoint"]


def save_checkpoint(path: str | os.PathLike, contents: dict) -> Path:
    """Write `contents` (with format and version added) to `path` atomically; returns the path."""
    missing = [key for key in REQUIRED_KEYS if key not in contents]
    if missing:
        raise ValueError(f"checkpoint contents lack {', '.join(missing)}")
    path = Path(path)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **contents}
    write_atomically(path, lambda handle: torch.save(payload, handle))
    return path


def checkpoint_name(step: int) -> str:
    """step-0002000.pt: names sort in step order."""
    return f"step-{step:07d}.pt"
