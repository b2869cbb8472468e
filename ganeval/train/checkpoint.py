"""Writing checkpoint files: tensors and plain Python values only, written atomically.

The format (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, REQUIRED_KEYS) and the reader, load_checkpoint, live in
ganeval.data.checkpoint, where evaluation reads checkpoints without importing training; a checkpoint's name and
place in its run are ganeval.runs'.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..atomic import write_atomically
from ..data.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, REQUIRED_KEYS


def save_checkpoint(path: str | os.PathLike, contents: dict) -> Path:
    """Write `contents` (with format and version added) to `path` atomically; returns the path."""
    missing = [key for key in REQUIRED_KEYS if key not in contents]
    if missing:
        raise ValueError(f"checkpoint contents lack {', '.join(missing)}")
    path = Path(path)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **contents}
    write_atomically(path, lambda handle: torch.save(payload, handle))
    return path
