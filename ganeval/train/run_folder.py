"""A run folder's own files, and the rule that keeps two runs from mixing in one folder.

A new run goes to an empty or new folder. A folder that already holds a run is continued with `resume` or
replaced with `overwrite`, which removes only what a run writes there (checkpoints/, samples/, config.toml,
metrics.jsonl and atomic writes left half-done): files the user keeps beside them stay.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import InputError
from ..runs import METRICS_FILE

RUN_ENTRIES = ("checkpoints", "samples", "config.toml", METRICS_FILE)
# write_atomically's temporary files (".NAME.XXXX.tmp"); those inside checkpoints/ and samples/ go with the folders
LEFTOVER_PATTERNS = tuple(f".{name}.*.tmp" for name in RUN_ENTRIES[2:])


def existing_run_entries(out: Path) -> list[str]:
    """The names of `out`'s entries that a run wrote (empty for a new or empty folder)."""
    return [name for name in RUN_ENTRIES if (out / name).exists()]


def prepare_run_folder(out: Path, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse to start a run over another one in `out`; with `overwrite`, remove the old run's files first.

    >>> prepare_run_folder(Path("/nonexistent/new-run"))  # a new folder: nothing to check
    """
    if resume and overwrite:
        raise InputError(f"--resume continues the run in {out} and --overwrite replaces it: give one of them")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    found = existing_run_entries(out)
    if resume or not found:
        return
    if not overwrite:
        raise InputError(f"{out} already holds a run ({', '.join(found)}): continue it with --resume, "
                         "or start it afresh with --overwrite (removes its checkpoints, samples and scores)")
    for name in found:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    for pattern in LEFTOVER_PATTERNS:
        for leftover in out.glob(pattern):
            leftover.unlink()
