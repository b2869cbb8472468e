"""A run folder's own files, and the rules that keep two runs, or two configs, from mixing in one folder.

A new run goes to an empty or new folder. A folder that already holds a run is continued with `resume` or
replaced with `overwrite`, which removes only what a run writes there (checkpoints/, samples/, config.toml,
metrics.jsonl, training.jsonl and atomic writes left half-done): files the user keeps beside them stay. A resumed
run keeps its config but for RESUMABLE_KEYS, which change when and how long it trains, never what it computes.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from dataclasses import asdict

from ..atomic import check_output_folder
from ..errors import InputError
from ..nets.dcgan import DCGANConfig
from ..runs import CHECKPOINTS, CONFIG_FILE, METRICS_FILE, SAMPLES, TRAINING_FILE, RunDir
from .config import MODEL_DEFAULTS, TrainConfig

RUN_ENTRIES = (CHECKPOINTS, SAMPLES, CONFIG_FILE, METRICS_FILE, TRAINING_FILE)
# write_atomically's temporary files (".NAME.XXXX.tmp") of the files a run writes, by folder
LEFTOVER_PATTERNS = {".": tuple(f".{name}.*.tmp" for name in RUN_ENTRIES[2:]), CHECKPOINTS: (".step-*.pt.*.tmp",),
                     SAMPLES: (".step-*.png.*.tmp",)}
# What may differ on --resume: the training itself stays the one the run started (bit for bit: see train.loop).
# eval_samples and eval_metrics are left out so that one run's metric curve has one protocol throughout.
RESUMABLE_KEYS = ("steps", "max_minutes", "checkpoint_every", "eval_every", "log_every")


def existing_run_entries(run: RunDir) -> list[str]:
    """The names of the entries in `run`'s folder that a run wrote (empty for a new or empty folder)."""
    return [name for name in RUN_ENTRIES if (run.path / name).exists()]


def prepare_run_folder(run: RunDir, *, resume: bool = False, overwrite: bool = False) -> list[str]:
    """Refuse to start a run over another one in `run`'s folder; returns the old run's entries that `overwrite`
    replaces, for clear_old_run once the new run is known to start (a new run that cannot load its data keeps the
    old one).

    >>> prepare_run_folder(RunDir("/nonexistent/new-run"))  # a new folder: nothing to check
    []
    """
    out = run.path
    if resume and overwrite:
        raise InputError(f"--resume continues the run in {out} and --overwrite replaces it: give one of them")
    check_output_folder(out, "--out")  # a file in its place, a read-only or foreign folder: before any work
    found = existing_run_entries(run)
    if found and not resume and not overwrite:
        raise InputError(f"{out} already holds a run ({', '.join(found)}): continue it with --resume, "
                         "or start it afresh with --overwrite (removes its checkpoints, samples and scores)")
    remove_leftovers(run)
    return [] if resume else found


def clear_old_run(run: RunDir, entries: list[str]) -> None:
    """Remove the old run's `entries` (from prepare_run_folder) before the new run writes its first file."""
    for name in entries:
        path = run.path / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def remove_leftovers(run: RunDir) -> None:
    """Remove the temporary files that writes killed before their rename left in the run's folders (only this
    process writes the run, so none of them is in use)."""
    for folder, patterns in LEFTOVER_PATTERNS.items():
        for pattern in patterns:
            for leftover in (run.path / folder).glob(pattern):
                leftover.unlink(missing_ok=True)


def check_resumed_config(run: RunDir, config: TrainConfig, checkpoint_config: dict,
                         changing: Collection[str] | None = None) -> None:
    """Refuse to resume `run` with a config that differs from its saved one (its config.toml, else the
    checkpoint's) in other keys than RESUMABLE_KEYS, or in resumable keys not in `changing` (None: any of them).

    >>> saved = TrainConfig("x", "ring8", model="mlp").to_dict()
    >>> check_resumed_config(RunDir("/nonexistent"), TrainConfig("x", "ring8", model="mlp", steps=9), saved)
    """
    out, saved_file = run.path, run.config_file
    saved, source = run.saved_config(), str(saved_file)
    if saved is None:
        saved, source = checkpoint_config, f"the checkpoint in {run.checkpoints_folder}"
    now = _flat(config.to_dict())
    saved = _flat(saved)
    changed = [key for key in now if key in saved and saved[key] != now[key]]
    allowed = set(RESUMABLE_KEYS if changing is None else set(changing) & set(RESUMABLE_KEYS))
    if config.lr_decay > 0:
        allowed.discard("steps")  # the decay follows `steps`: another value bends the schedule mid-run
    refused = [key for key in changed if key not in allowed]
    if not refused:
        return
    first, others = refused[0], refused[1:]
    raise InputError(
        f"--resume: {source} has {first} = {_shown(saved[first])}, the config now {_shown(now[first])}"
        + (f" (and {', '.join(others)})" if others else "")
        + f"; continue with the saved config (ganeval train {saved_file} --out {out} --resume), or --set the keys "
        f"that may change: {', '.join(RESUMABLE_KEYS)} (steps only without lr_decay)"
    )


def _flat(values: dict) -> dict:
    """Config values with the model options as `model_options.KEY`, their defaults filled in (an option set to its
    default describes the same network as one left out)."""
    flat = {key: value for key, value in values.items() if key != "model_options"}
    defaults = asdict(MODEL_DEFAULTS.get(values.get("model"), DCGANConfig()))
    defaults.pop("packing", None)  # a config key of its own
    options = {**defaults, **values.get("model_options", {})}
    flat.update({f"model_options.{key}": value for key, value in options.items()})
    flat["betas"] = list(flat.get("betas", []))
    return flat


def _shown(value) -> str:
    return json.dumps(value) if isinstance(value, (str, bool, list)) else repr(value)
