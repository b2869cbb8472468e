"""Feature moments as pytorch-fid statistics files (.npz of float64 `mu` and `sigma`): written by `score
--save-stats` and `ref export`, read back by pytorch-fid, torch-fidelity, clean-fid and ganeval (`--reference`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import write_atomically, write_text_atomically
from ..errors import InputError
from ..features import FeatureStats
from .stats import ReferenceStats


def check_stats_path(path: str | Path) -> Path:
    """Statistics files are .npz (pytorch-fid's format); say so before anything is extracted."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise InputError(f"{path}: statistics are written as .npz (pytorch-fid's mu/sigma format); name it STATS.npz")
    return path


def save_moments(path: str | Path, stats: FeatureStats) -> Path:
    """Write `stats` as pytorch-fid writes them with --save-stats: float64 `mu` (d,) and `sigma` (d, d), nothing
    else."""
    path = check_stats_path(path)
    mean = stats.mean().cpu().numpy().astype(np.float64)
    covariance = stats.covariance().cpu().numpy().astype(np.float64)
    write_atomically(path, lambda handle: np.savez_compressed(handle, mu=mean, sigma=covariance))
    return path


def export_moments(reference: ReferenceStats, path: str | Path) -> tuple[Path, Path]:
    """A cached reference's mean and covariance as pytorch-fid statistics, and its provenance card as JSON beside
    them (stats.npz -> stats.json); returns both paths."""
    card_path = Path(path).with_suffix(".json")
    write_text_atomically(card_path, reference.card.to_json())  # the small file first: a full disk fails here
    try:
        path = save_moments(path, reference.stats)
    except BaseException:
        card_path.unlink(missing_ok=True)  # never a card without its statistics
        raise
    return path, card_path
