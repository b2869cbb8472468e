"""Calibrate `ganeval diagnose` (issue 32): train runs whose failure is known and the shipped configs as shipped,
score their checkpoints' FID again with bootstrap intervals (so that oscillation is judged against FID's noise), then
diagnose each and tabulate config, change, verdict and the evidence numbers.

    .venv/bin/python benchmarks/training_health.py                 # every run below, then the table
    .venv/bin/python benchmarks/training_health.py --only lr-d-10x  # one run (names below); --diagnose-only skips training

Runs go to runs/health/RUN (kept: re-running skips a run whose folder holds its last checkpoint), the
table to benchmarks/results/training_health.md and .json. Budgets are shortened from the configs' 15 minutes (or the
PacGAN paper's 400,000 steps) to what 2 CPU cores train in a few minutes each: the table says each run's steps.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent / "runs" / "health"  # git ignores runs/
RESULTS = HERE / "results"
GANEVAL = [sys.executable, "-m", "ganeval"]
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Calibration:
    """One run: a shipped config with `overrides`; `expected` are the finding kinds it should show (empty: healthy)."""

    name: str
    config: str
    change: str
    overrides: tuple[str, ...]
    expected: tuple[str, ...] = ()


FMNIST_SHORT = ("max_minutes=0", "steps=3000", "checkpoint_every=500")
MIXTURE_SHORT = ("steps=24000", "checkpoint_every=2000")
FAILURES = (
    Calibration("lr-d-10x", "fmnist-dcgan", "lr_d 8e-4, lr_g 8e-5 (D 10x G)", (*FMNIST_SHORT, "lr_g=8e-5"),
                ("discriminator_wins", "learning_rate_mismatch")),
    Calibration("lr-g-10x", "fmnist-dcgan", "lr_g 8e-4, lr_d 8e-5 (G 10x D)", (*FMNIST_SHORT, "lr_d=8e-5"),
                ("learning_rate_mismatch",)),
    Calibration("lr-1", "fmnist-dcgan", "lr_g = lr_d = 1.0", ("max_minutes=0", "steps=500", "checkpoint_every=250",
                                                            "lr_g=1.0", "lr_d=1.0"), ("divergence",)),
    Calibration("grid25-gan", "grid25-gan", "as shipped, 24,000 steps", MIXTURE_SHORT, ("mode_collapse", "mode_hopping")),
    Calibration("grid25-pacgan2", "grid25-pacgan2", "as shipped, 24,000 steps", MIXTURE_SHORT),
)
SHIPPED_SHORT = {
    "fmnist-dcgan": FMNIST_SHORT,
    "fmnist-lsgan": FMNIST_SHORT,
    "fmnist-wgan-gp": FMNIST_SHORT,
    "fmnist-hinge-sngan": ("steps=2000", "checkpoint_every=500"),
    "ring8-gan": ("steps=8000", "checkpoint_every=1000"),
    "ring8-pacgan2": ("steps=8000", "checkpoint_every=1000"),
}
SHIPPED = tuple(Calibration(f"{config}-seed{seed}", config, f"as shipped, seed {seed}, {overrides[-2]}",
                            (*overrides, f"seed={seed}")) for config, overrides in SHIPPED_SHORT.items() for seed in SEEDS)
CALIBRATIONS = FAILURES + SHIPPED


def train(run: Calibration) -> float:
    """Train `run` into RUNS/NAME unless its last checkpoint is there; returns the seconds it took."""
    folder = RUNS / run.name
    steps = next(int(item.split("=")[1]) for item in run.overrides if item.startswith("steps="))
    if (folder / "checkpoints" / f"step-{steps:07d}.pt").is_file():
        return 0.0
    started = time.perf_counter()
    overrides = [flag for item in run.overrides for flag in ("--set", item)]
    subprocess.run([*GANEVAL, "train", run.config, *overrides, "--out", str(folder), "--overwrite", "--quiet"],
                   check=False)
    return time.perf_counter() - started


def score_with_intervals(run: Calibration) -> None:
    """FID, PRDC and modes of every checkpoint again, with 95% bootstrap intervals (the training hook scores without
    them), so that `oscillation` and `mode_collapse` judge the moves against their noise; diagnose merges them with
    the hook's records."""
    folder = RUNS / run.name
    if '"coverage_ci_low"' in (folder / "metrics.jsonl").read_text():
        return
    config = (folder / "config.toml").read_text()
    data = next(line.split("=", 1)[1].strip().strip('"') for line in config.splitlines() if line.startswith("data ="))
    samples = next(line.split("=", 1)[1].strip() for line in config.splitlines() if line.startswith("eval_samples ="))
    ema = ["--ema"] if any(line.startswith("ema =") and float(line.split("=")[1]) > 0 for line in config.splitlines()) else []
    subprocess.run([*GANEVAL, "score", str(folder), "--reference", data, "--num-samples", samples, "--metrics",
                    "fid,prdc,modes", "--ci", "0.95", *ema, "--quiet"], check=True, stdout=subprocess.DEVNULL)


def diagnosed(run: Calibration) -> dict:
    """The run's diagnosis as a table row: verdict, kinds, whether they are the expected ones, the evidence."""
    from ganeval.diagnose import diagnose_run

    diagnosis = diagnose_run(RUNS / run.name)
    kinds = sorted(diagnosis.kinds())
    expected = set(run.expected)
    as_expected = (not kinds) if not expected else bool(expected & set(kinds))
    evidence = "; ".join(f"{finding.kind} at {finding.first_step}-{finding.last_step}: {finding.summary}"
                         for finding in diagnosis.findings)
    steps = next(item.split("=")[1] for item in run.overrides if item.startswith("steps="))
    fid = [record.values["fid"] for record in diagnosis_scores(run) if "fid" in record.values]
    return {"run": run.name, "config": run.config, "change": run.change, "steps": int(steps),
            "verdict": "healthy" if diagnosis.healthy else ", ".join(kinds), "expected": list(run.expected),
            "as_expected": as_expected, "evidence": evidence, "final_fid": fid[-1] if fid else None,
            "findings": diagnosis.to_json()["findings"]}


def diagnosis_scores(run: Calibration) -> list:
    from ganeval.diagnose import read_history

    return read_history(RUNS / run.name).scores


def table(rows: list[dict]) -> str:
    lines = ["| run | config | change | steps | verdict | expected | final FID | evidence |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        expected = " or ".join(row["expected"]) or "healthy"
        mark = "" if row["as_expected"] else " **(unexpected)**"
        fid = f"{row['final_fid']:.2f}" if row["final_fid"] is not None else ""
        lines.append(f"| {row['run']} | {row['config']} | {row['change']} | {row['steps']:,} | {row['verdict']}{mark} "
                     f"| {expected} | {fid} | {row['evidence'] or '-'} |")
    return "\n".join(lines) + "\n"


def duality_gap_rows(runs: list[Calibration]) -> list[dict]:
    """The duality gap (ganeval.train.duality_gap, defaults) of the fmnist runs: every checkpoint of seed 0's, step 0
    and the last of the other seeds'."""
    from ganeval.train.duality_gap import duality_gaps

    rows = []
    for run in runs:
        if not run.config.startswith("fmnist-") or run not in SHIPPED:
            continue
        cached = RUNS / run.name / "duality_gap.json"  # kept beside the run: a re-run of the table reuses it
        if not cached.is_file():
            every = 1 if run.name.endswith("seed0") else 10**6  # 10**6: the first checkpoint and the last
            gaps = [{"run": run.name, "config": run.config, **gap.to_dict()}
                    for gap in duality_gaps(RUNS / run.name, every=every)]
            cached.write_text(json.dumps(gaps, indent=1) + "\n")
        rows += json.loads(cached.read_text())
        print(", ".join(f"{row['run']} step {row['step']}: DG {row['gap']:.4g} ({row['seconds']:.1f} s)"
                        for row in rows if row["run"] == run.name), flush=True)
    return rows


def duality_gap_table(rows: list[dict]) -> str:
    """Per run: the gap at each measured step, and whether the last is below step 0's."""
    lines = ["| run | duality gap by step | last < step 0 | seconds per checkpoint |", "|---|---|---|---|"]
    for name in dict.fromkeys(row["run"] for row in rows):
        own = [row for row in rows if row["run"] == name]
        curve = ", ".join(f"{row['step']}: {row['gap']:.3g}" for row in own)
        seconds = sum(row["seconds"] for row in own) / len(own)
        lines.append(f"| {name} | {curve} | {'yes' if own[-1]['gap'] < own[0]['gap'] else '**no**'} | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated run names")
    parser.add_argument("--diagnose-only", action="store_true")
    parser.add_argument("--duality-gap", action="store_true", help="also the duality gaps of the fmnist runs")
    args = parser.parse_args(argv)
    chosen = [run for run in CALIBRATIONS if not args.only or run.name in args.only.split(",")]
    RUNS.mkdir(parents=True, exist_ok=True)
    for run in chosen:
        if not args.diagnose_only:
            seconds = train(run)
            print(f"{run.name}: trained in {seconds:.0f} s", flush=True)
        if (RUNS / run.name / "metrics.jsonl").is_file():
            score_with_intervals(run)
    rows = [diagnosed(run) for run in chosen if (RUNS / run.name).is_dir()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training_health.json").write_text(json.dumps(rows, indent=1) + "\n")
    (RESULTS / "training_health.md").write_text(table(rows))
    print(table(rows))
    if args.duality_gap:
        gaps = duality_gap_rows(chosen)
        (RESULTS / "training_health_duality.json").write_text(json.dumps(gaps, indent=1) + "\n")
        (RESULTS / "training_health_duality.md").write_text(duality_gap_table(gaps))
        print(duality_gap_table(gaps))
    return 0 if all(row["as_expected"] for row in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
