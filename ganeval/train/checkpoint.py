"""Checkpoint files: tensors and plain Python values only, written atomically, read with weights_only=True.

A checkpoint is a dict with `format` ("ganeval-checkpoint"), `version`, `step`, `config` (the plain-dict config the
networks are rebuilt from) and the state dicts of the networks and optimisers. Anything else (a truncated file,
another format, a newer version, a pickled object) is a one-line InputError, and no pickled code ever runs.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..atomic import write_atomically
from ..errors import InputError

CHECKPOINT_FORMAT = "ganeval-checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("step", "config", "generator")


def save_checkpoint(path: str | os.PathLike, contents: dict) -> Path:
    """Write `contents` (with format and version added) to `path` atomically; returns the path."""
    missing = [key for key in REQUIRED_KEYS if key not in contents]
    if missing:
        raise ValueError(f"checkpoint contents lack {', '.join(missing)}")
    path = Path(path)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **contents}
    write_atomically(path, lambda handle: torch.save(payload, handle))
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint with torch.load(weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, foreign file or a pickle with objects: several exception types
        reason = "holds objects other than tensors and plain values" if "weights_only" in str(exc) else "truncated or not a torch file"
        raise InputError(f"{path}: not a readable checkpoint ({reason})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a ganeval checkpoint (no format '{CHECKPOINT_FORMAT}')")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise InputError(
            f"{path}: checkpoint format version {payload.get('version')} is not supported by this ganeval "
            f"(reads version {CHECKPOINT_VERSION})"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise InputError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return payload


def checkpoint_name(step: int) -> str:
    """step-0002000.pt: names sort in step order."""
    return f"step-{step:07d}.pt"
