"""Train the class-conditional Fashion-MNIST GANs and score them against issue 34's lines, one row per (config, seed).

Each (config, seed) trains a run in benchmarks/runs/cond/CONFIG-seedS with the in-training evaluation hook (the
config's eval_samples and eval_metrics at every scored checkpoint: the curve), then scores the final checkpoint's EMA
generator with 10,000 samples (labels uniform, drawn per sample from (seed, i)) against the 10,000 test images through
the shipped fmnist-classifier: FID, label_accuracy, ifid, class precision and recall, and CAS. Lines: at most 15
minutes of training, label_accuracy >= 0.85, CAS >= 0.70.

    .venv/bin/python benchmarks/conditional.py --configs fmnist-cdcgan-proj --seeds 0,1,2   # ~50 minutes, 2 cores
    .venv/bin/python benchmarks/conditional.py --configs fmnist-acgan --seeds 0 --set aux_generated=false
    .venv/bin/python benchmarks/conditional.py --configs fmnist-acgan --seeds 0 --score-only   # a run trained earlier

`train_minutes` is the run's own training time, read from its training.jsonl (seconds per step between logged lines;
checkpoints and their scores left out), so a run scored with --score-only reports it too; `wall_minutes` (the
training command's wall time, the evaluation hook included) only when this script trained the run. Writes
benchmarks/results/conditional.json and .md (rows of other (config, seed) pairs kept from earlier runs), the curves
(benchmarks/figures/conditional-curves.png) and each run's last sample picture (figures/CONFIG-seedS.png); exit status
1 when a line is missed. Run it on an idle machine: the configs stop on a 14.5-minute time budget, so a busy machine
trains fewer steps.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ganeval import score  # noqa: E402
from ganeval.atomic import write_text_atomically  # noqa: E402
from ganeval.plots import pyplot  # noqa: E402
from ganeval.runs import RunDir  # noqa: E402
from ganeval.train.config import load_config  # noqa: E402
from ganeval.train.loop import train  # noqa: E402
from ganeval.train.scoring import CheckpointScorer  # noqa: E402

REFERENCE = "fashion-mnist:test"
METRICS = "fid,label_accuracy,ifid,class_pr,cas"
LINES = {"train_minutes": 15.0, "label_accuracy": 0.85, "cas": 0.70}
CURVE_KEYS = ("fid", "label_accuracy", "ifid")


def train_run(config_name: str, seed: int, overrides: list[str], out: Path) -> float:
    """Train one run afresh in `out` with its in-training scores; returns the wall minutes."""
    config = load_config(config_name, [*overrides, f"seed={seed}"])
    shutil.rmtree(out, ignore_errors=True)
    device = torch.device("cpu")
    started = time.perf_counter()
    train(config, out, device=device, progress=sys.stderr.isatty(), on_checkpoint=CheckpointScorer(config, device))
    return (time.perf_counter() - started) / 60


def training_minutes(run: Path) -> float:
    """The run's training time from its training.jsonl: each line's seconds per step times the steps since the
    line before it (the log leaves checkpoints and their scores out of the speed)."""
    minutes, previous = 0.0, 0
    for line in (run / "training.jsonl").read_text().splitlines():
        entry = json.loads(line)
        minutes += entry["seconds_per_step"] * (entry["step"] - previous) / 60
        previous = entry["step"]
    return minutes


def curve(run: Path) -> list[dict]:
    """The in-training scores (the config's eval_samples against its data), one entry per scored checkpoint."""
    config = load_config(str(run / "config.toml"))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    by_step = {row["step"]: row for row in rows
               if row.get("reference") == config.data and row.get("requested_num_samples") == config.eval_samples}
    return [{"step": step, **{key: row.get(key) for key in CURVE_KEYS}} for step, row in sorted(by_step.items())]


def final_score(run: Path, num_samples: int) -> dict:
    """The last checkpoint's EMA generator against the test split (the record also goes to the run's metrics.jsonl)."""
    last = RunDir(run).checkpoints()[-1].path
    record = score(str(last), REFERENCE, METRICS, num_samples=num_samples, ema=True, extractor="fmnist-classifier",
                   progress=False)
    keys = ("step", "fid", "label_accuracy", "ifid", "class_precision", "class_recall", "cas")
    return {key: record[key] for key in keys}


def row_of(config_name: str, seed: int, overrides: list[str], run: Path, wall: float | None, num_samples: int) -> dict:
    scores = final_score(run, num_samples)
    row = {"config": config_name, "seed": seed, "overrides": overrides, "run": str(run), "date": time.strftime("%Y-%m-%d"),
           "train_minutes": training_minutes(run), "wall_minutes": wall, "final": scores, "curve": curve(run)}
    row["passed"] = {"train_minutes": row["train_minutes"] <= LINES["train_minutes"],
                     "label_accuracy": scores["label_accuracy"] >= LINES["label_accuracy"],
                     "cas": scores["cas"] >= LINES["cas"]}
    return row


def markdown(rows: list[dict], machine: str, num_samples: int) -> str:
    lines = [f"Measured on {machine}; final checkpoint (EMA), {num_samples:,} samples against {REFERENCE}, "
             "fmnist-classifier features.", "",
             "| config | seed | overrides | steps | train min | FID | label_accuracy | ifid | class P | class R | CAS | lines |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        final, missed = row["final"], [key for key, ok in row["passed"].items() if not ok]
        lines.append(f"| {row['config']} | {row['seed']} | {' '.join(row['overrides']) or '-'} | {final['step']} "
                     f"| {row['train_minutes']:.1f} | {final['fid']:.2f} | {final['label_accuracy']:.3f} "
                     f"| {final['ifid']:.2f} | {final['class_precision']:.3f} | {final['class_recall']:.3f} "
                     f"| {final['cas']:.3f} | {'met' if not missed else 'MISSED: ' + ', '.join(missed)} |")
    lines += ["", *summary_lines(rows)]
    return "\n".join(lines) + "\n"


def summary_lines(rows: list[dict]) -> list[str]:
    """Mean and standard deviation over seeds for each (config, overrides) with more than one seed."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["config"], tuple(row["overrides"])), []).append(row)
    lines = []
    for (config_name, overrides), group in groups.items():
        if len(group) < 2:
            continue
        parts = []
        for key in ("fid", "label_accuracy", "ifid", "cas"):
            values = [row["final"][key] for row in group]
            parts.append(f"{key} {statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}")
        name = " ".join([config_name, *overrides])
        lines.append(f"{name} over {len(group)} seeds (mean ± sd): " + ", ".join(parts))
    return lines


def write_results(rows: list[dict], machine: str, num_samples: int, results: Path) -> str:
    """Write the JSON and Markdown, keeping earlier rows of other (config, seed, overrides); returns the table."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / "conditional.json"
    earlier = json.loads(path.read_text())["rows"] if path.is_file() else []
    key = lambda row: (row["config"], row["seed"], tuple(row["overrides"]))  # noqa: E731
    fresh = {key(row): row for row in rows}
    merged = sorted([fresh.pop(key(row), row) for row in earlier] + list(fresh.values()), key=key)
    write_text_atomically(path, json.dumps({"machine": machine, "rows": merged}, indent=1) + "\n")
    table = markdown(merged, machine, num_samples)
    write_text_atomically(results / "conditional.md", table)
    return table


def draw_figures(rows: list[dict], figures: Path) -> None:
    """The curves of every row (FID and label accuracy of the in-training scores against the step) in
    conditional-curves.png, and each run's last sample picture (a row per class) as CONFIG-seedS.png."""
    plt = pyplot()
    figure, (fid_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    for row in rows:
        steps = [point["step"] for point in row["curve"]]
        label = f"{row['config']} seed {row['seed']}"
        fid_axis.plot(steps, [point["fid"] for point in row["curve"]], marker=".", label=label)
        accuracy_axis.plot(steps, [point["label_accuracy"] for point in row["curve"]], marker=".", label=label)
    fid_axis.set(yscale="log", xlabel="step", ylabel="FID (1,000 EMA samples vs train)")
    accuracy_axis.set(xlabel="step", ylabel="label accuracy", ylim=(0, 1))
    accuracy_axis.axhline(LINES["label_accuracy"], color="grey", linestyle="--", linewidth=0.8)
    accuracy_axis.legend(fontsize=7)
    figure.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    figure.savefig(figures / "conditional-curves.png", dpi=110)
    plt.close(figure)
    for row in rows:
        pictures = sorted((Path(row["run"]) / "samples").glob("step-*.png"))
        if pictures:
            shutil.copyfile(pictures[-1], figures / f"{row['config']}-seed{row['seed']}.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="fmnist-cdcgan-proj,fmnist-acgan")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every config")
    parser.add_argument("--score-only", action="store_true", help="score runs trained earlier in --runs")
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--runs", type=Path, default=HERE / "runs" / "cond")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    machine = f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    rows = []
    for config_name in args.configs.split(","):
        for seed in map(int, args.seeds.split(",")):
            suffix = "".join(f"-{item.replace('=', '_')}" for item in args.set)
            run = args.runs / f"{config_name}{suffix}-seed{seed}"
            wall = None if args.score_only else train_run(config_name, seed, args.set, run)
            rows.append(row_of(config_name, seed, args.set, run, wall, args.num_samples))
            print(json.dumps({key: value for key, value in rows[-1].items() if key != "curve"}), flush=True)
    print(write_results(rows, machine, args.num_samples, args.results))
    draw_figures(json.loads((args.results / "conditional.json").read_text())["rows"], args.results.parent / "figures")
    return 0 if all(all(row["passed"].values()) for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
