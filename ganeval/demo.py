"""`make demo` (`ganeval demo`): train four reference GANs briefly, score them, compare, report and gate.

1. Trains grid25-gan and grid25-pacgan2 (the PacGAN 2D mixture setup) and, where Fashion-MNIST is installed,
   fmnist-dcgan and fmnist-lsgan, on shortened schedules in runs/demo/; the evaluation hook scores every checkpoint.
   Each run trains all its steps, however fast the machine (no time budget), and replaces the last demo's run.
2. Prints the comparison tables (one per dataset: their scores are not comparable with each other).
3. Writes the report to reports/demo/ (index.html and README.md with curves, sample pictures and mode histograms).
4. Runs the gate with the limits of models/demo-gate.toml on the grid25 GAN run and prints its verdict.
About 5 minutes on 2 CPU cores (the first run also extracts and caches the 60,000 Fashion-MNIST reference images).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from .compare import compare, render
from .data import fashion_mnist
from .device import resolve_device
from .gate import evaluate_limits, read_limits
from .report import write_report
from .train.config import CONFIG_DIR, load_config
from .train.loop import TrainingInterrupted, train
from .train.scoring import CheckpointScorer
from .verdicts import verdict_table

GATE_FILE = CONFIG_DIR.parent / "demo-gate.toml"
GATE_TARGET = "grid25-gan"
MIXTURE_RUNS = {
    "grid25-gan": ["steps=4000", "checkpoint_every=1000"],
    "grid25-pacgan2": ["steps=4000", "checkpoint_every=1000"],
}
NO_TIME_BUDGET = "max_minutes=0"  # the fmnist configs' 14.5 minutes would cut the demo's runs short on slow machines
FASHION_RUNS = {  # no EMA at 1,500 steps: a 0.999 average would still hold 22% of the initial weights
    "fmnist-dcgan": ["steps=1500", "checkpoint_every=500", "eval_samples=1000", "ema=0"],
    "fmnist-lsgan": ["steps=1500", "checkpoint_every=500", "eval_samples=1000", "ema=0"],
}


def planned_runs(fashion: bool) -> dict[str, list[str]]:
    return {**MIXTURE_RUNS, **(FASHION_RUNS if fashion else {})}


def train_runs(runs: dict[str, list[str]], folder: Path, device: torch.device, progress: bool | None) -> None:
    """Train each run from scratch in folder/NAME (replacing an earlier demo's), all its steps, scoring its
    checkpoints as it goes."""
    for name, overrides in runs.items():
        config = load_config(name, [*overrides, NO_TIME_BUDGET])
        started = time.perf_counter()
        try:
            trainer = train(config, folder / name, device=device, overwrite=True, progress=progress,
                            on_checkpoint=CheckpointScorer(config, device))
        except TrainingInterrupted as interrupt:
            _say_trained(name, interrupt.trainer.steps_reached(), started)
            raise
        _say_trained(name, trainer.steps_reached(), started)


def _say_trained(name: str, steps_reached: str, started: float) -> None:
    print(f"trained {name}: {steps_reached} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def run(runs_folder: Path, report: Path, *, fashion: bool | None = None, device: torch.device = torch.device("cpu"),
        progress: bool | None = None, runs: dict[str, list[str]] | None = None) -> int:
    """The whole demo; returns the gate's exit status (0 pass, 1 fail)."""
    if fashion is None:
        fashion = fashion_mnist.find_folder("train") is not None
    if not fashion:
        print("Fashion-MNIST is not installed (make data installs it): the demo trains the mixture GANs only",
              file=sys.stderr)
    runs = runs or planned_runs(fashion)
    train_runs(runs, runs_folder, device, progress)
    for group in ("grid25", "fmnist"):
        members = [str(runs_folder / name) for name in runs if name.startswith(group)]
        if members:
            print(f"\n{group} runs, best checkpoint of each:\n")
            print(render(compare(members, select="best"), "table"))
    index = write_report([str(runs_folder / name) for name in runs], report, "ganeval demo")
    checks, description = evaluate_limits(read_limits(GATE_FILE), str(runs_folder / GATE_TARGET))
    print(f"\ngate with the limits of {GATE_FILE.relative_to(CONFIG_DIR.parent.parent)}:\n")
    print(verdict_table(checks, description))
    print(f"\nreport: {index} (and {report / 'README.md'})")
    return 0 if all(check.passed for check in checks) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganeval.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/demo"), help="where the runs go (default runs/demo)")
    parser.add_argument("--out", type=Path, default=Path("reports/demo"), help="report folder (default reports/demo)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    args = parser.parse_args(argv)
    return run(args.runs, args.out, device=resolve_device(args.device))


if __name__ == "__main__":
    raise SystemExit(main())
