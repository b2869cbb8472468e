"""What diagnosis reads of a run: RunHistory (its training lines, its scored checkpoints under one setting, its
config), and the run folders a command line names."""
from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from ..records import Record
from ..runs import RunDir
from ..training_log import read_training_log


@dataclass(frozen=True)
class RunHistory:
    """What diagnosis reads of a run: its training lines, its checkpoint scores (one setting) and its rates."""

    name: str
    lines: list[dict]
    scores: list[Record]  # one per scored step, in step order, one setting
    config: dict
    has_log: bool = True  # whether the run has a training.jsonl (lines may still be none: an empty file)


def read_history(run: str | os.PathLike) -> RunHistory:
    """A run folder's training lines, its scored checkpoints under its main setting (the one with the most scored
    steps; the latest score of a step) and its config.toml's values. A run folder with neither file (just started,
    or trained with --no-eval before the signals) has an empty history; a folder that is no run is an InputError."""
    folder = RunDir(run)
    if not folder.path.is_dir():
        raise InputError(f"{folder.path}: no such run directory")
    has_lines, has_scores = folder.training_file.is_file(), folder.metrics_file.is_file()
    if not has_lines and not has_scores and not RunDir.is_run(folder.path):
        raise InputError(f"{folder.path}: holds neither training.jsonl nor metrics.jsonl (not a ganeval run, or not "
                         "trained or scored yet)")
    lines = read_training_log(folder.training_file) if has_lines else []
    return RunHistory(folder.name, lines, main_setting_scores(folder.records(skip_invalid=True)), folder.saved_config() or {},
                      has_log=has_lines)


def main_setting_scores(records: Sequence[Record]) -> list[Record]:
    """One record per scored step, in step order, of the setting scored at the most steps (a curve is only a curve
    within one setting: reference, extractor, sample count)."""
    by_setting: dict[str, dict[int, Record]] = {}
    for record in records:
        if record.step is None:
            continue
        steps = by_setting.setdefault(record.setting_label, {})
        earlier = steps.get(record.step)
        # a step scored twice (the training hook's families, then `score --ci` of some): its values merged, the
        # latest's winning where both hold a key
        steps[record.step] = record if earlier is None else replace(
            record, values={**earlier.values, **record.values},
            diagnostics={**earlier.diagnostics, **record.diagnostics})
    if not by_setting:
        return []
    steps = max(by_setting.values(), key=len)
    return [steps[step] for step in sorted(steps)]


def effective_rates(history: RunHistory) -> dict:
    """D's and G's learning rates (the config's, else the first logged line's), D steps per G step and the ratio of
    D's effective rate to G's (lr_d x d_steps / lr_g); empty when the rates are unknown."""
    source = history.config if "lr_d" in history.config else (history.lines[0] if history.lines else {})
    lr_d, lr_g = source.get("lr_d"), source.get("lr_g")
    if not is_number(lr_d) or not is_number(lr_g) or lr_g <= 0:
        return {}
    d_steps = history.config.get("d_steps", 1)
    return {"lr_d": lr_d, "lr_g": lr_g, "d_steps": d_steps, "ratio": lr_d * d_steps / lr_g}


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def loss_name(history: RunHistory) -> str | None:
    """The loss the run trained with (its config's, else its lines'); None when unknown or not a name."""
    names = [history.config.get("loss")] + [line.get("loss") for line in history.lines]
    return next((name for name in names if isinstance(name, str)), None)


def expand_runs(arguments: Sequence[str | os.PathLike]) -> list[Path]:
    """The run folders that `arguments` name: run folders, folders of runs, or glob patterns of either."""
    runs: list[Path] = []
    for argument in arguments:
        text = str(argument)
        # a pattern such as runs/* may match files beside the runs (a README): folders only
        matches = sorted(match for match in glob.glob(text) if Path(match).is_dir()) if glob.has_magic(text) else [text]
        if not matches:
            raise InputError(f"{text}: the pattern matches no run directory")
        for match in matches:
            runs += _runs_in(Path(match))
    if not runs:
        raise InputError(f"{', '.join(map(str, arguments))}: no run directory (a folder with training.jsonl, "
                         "metrics.jsonl or checkpoints)")
    return list(dict.fromkeys(runs))


def _is_diagnosable(path: Path) -> bool:
    run = RunDir(path)
    return run.training_file.is_file() or run.metrics_file.is_file() or RunDir.is_run(path)


def _runs_in(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError(f"{path}: no such run directory")
    if not path.is_dir():
        raise InputError(f"{path}: not a run directory (diagnose reads a run's training.jsonl and metrics.jsonl)")
    if _is_diagnosable(path):
        return [path]
    inside = sorted(child for child in path.iterdir() if child.is_dir() and _is_diagnosable(child))
    if not inside:
        raise InputError(f"{path}: neither a run directory nor a folder of runs")
    return inside


