"""Train the Fashion-MNIST reference GANs on this machine's CPU cores and check issue 4's quality targets.

For each config (default: fmnist-dcgan, fmnist-lsgan, fmnist-wgan-gp) it trains a run in benchmarks/runs/NAME/ with
the in-training evaluation hook (the config's eval_samples and eval_metrics at every scored checkpoint), then scores
the step-0 and the last checkpoint with 10,000 samples against fashion-mnist:train through the shipped
fmnist-classifier (FID, IS, KID, PRDC; the EMA weights where the config keeps an EMA) and counts the classes the
classifier gives the samples. Targets: training wall time (scoring hook included) at most 15 minutes, last FID at
most 1/20 of step 0's, IS at least 6, all 10 classes present. The fmnist configs carry a time budget (max_minutes
= 14.5, `steps` an upper bound), so the steps a row reaches, and with them its FID, follow this machine's speed.

    .venv/bin/python benchmarks/train_fmnist.py                       # all three, ~45 minutes on 2 cores
    .venv/bin/python benchmarks/train_fmnist.py --configs fmnist-dcgan --set steps=500 --results /tmp/look/results

Writes benchmarks/results/train_fmnist.json and .md (the table in benchmarks/README.md; configs not run this time
keep their earlier rows) and copies each run's last sample grid to NAME.png in the figures/ folder beside the
results (benchmarks/figures/; /tmp/look/figures/ for the quick look above). A config with an EMA is scored with its
EMA weights at both ends, the ratio target taken between those two; its raw step-0 generator is scored too and
shown beside them. Exit status 1 when a target is missed. Run it on an idle machine: other processes on the cores
slow training and the wall-time target is absolute.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from ganeval.atomic import write_text_atomically
from ganeval import score
from ganeval.runs import RunDir
from ganeval.train.config import load_config
from ganeval.train.loop import train
from ganeval.train.scoring import CheckpointScorer

HERE = Path(__file__).resolve().parent
REFERENCE = "fashion-mnist:train"
SEED = 2020
TARGETS = {"minutes": 15.0, "fid_ratio": 1 / 20, "is": 6.0, "classes": 10}


def final_score(checkpoint: Path, num_samples: int, ema: bool) -> dict:
    """Score a checkpoint with `num_samples` samples against the whole training set (the record also goes to the
    run's metrics.jsonl); `modes` counts the classes the classifier gives the samples."""
    record = score(str(checkpoint), REFERENCE, "fid,is,kid,prdc,modes", num_samples=num_samples, seed=SEED, ema=ema,
                   progress=False)
    keys = ("step", "fid", "is_mean", "kid_mean", "precision", "recall", "density", "coverage", "modes", "kl_reference")
    return {**{key: record[key] for key in keys}, "class_counts": record["diagnostics"]["modes"]["mode_counts"]}


def run_config(name: str, overrides: list[str], runs: Path, num_samples: int, figures: Path) -> dict:
    config = load_config(name, overrides)
    out = runs / name
    shutil.rmtree(out, ignore_errors=True)
    device = torch.device("cpu")
    scorer, hook_seconds = CheckpointScorer(config, device), [0.0]

    def timed_scorer(path: Path, step: int, last: bool):
        started = time.perf_counter()
        record = scorer(path, step, last)
        hook_seconds[0] += time.perf_counter() - started
        return record

    started = time.perf_counter()
    trainer = train(config, out, device=device, progress=sys.stderr.isatty(), on_checkpoint=timed_scorer)
    minutes = (time.perf_counter() - started) / 60
    saved = [checkpoint.path for checkpoint in RunDir(out).checkpoints()]
    first, last = final_score(saved[0], num_samples, config.ema > 0), final_score(saved[-1], num_samples, config.ema > 0)
    # At step 0 the EMA weights are the raw ones, but the EMA generator runs on standing BatchNorm statistics
    # (train.loop.standing_statistics), the raw one on its initial running statistics: two different step-0 FIDs.
    first_raw = final_score(saved[0], num_samples, False) if config.ema > 0 else None
    figure = figures / f"{name}.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "samples" / f"{saved[-1].stem}.png", figure)
    result = {
        "config": name, "overrides": overrides, "steps": trainer.step, "max_steps": config.steps,
        "max_minutes": config.max_minutes, "stopped_by": "time budget" if trainer.ended_by_time_budget else "steps",
        "minutes": minutes, "steps_per_second": trainer.step / (minutes * 60 - hook_seconds[0]),
        "eval_hook_seconds": hook_seconds[0],
        "date": time.strftime("%Y-%m-%d"), "step0": first, "step0_raw": first_raw, "last": last,
        "fid_ratio": last["fid"] / first["fid"], "figure": f"{figures.name}/{figure.name}",
    }
    result["passed"] = {
        "minutes": minutes <= TARGETS["minutes"],
        "fid_ratio": result["fid_ratio"] <= TARGETS["fid_ratio"],
        "is": last["is_mean"] >= TARGETS["is"],
        "classes": last["modes"] == TARGETS["classes"],
    }
    return result


def markdown(results: list[dict], machine: str, num_samples: int) -> str:
    lines = [
        f"Measured on {machine}; {num_samples:,} samples per score against "
        f"{REFERENCE} (60,000 images), fmnist-classifier features.",
        "",
        "| config | steps | minutes (incl. eval hook) | train steps/s | FID step 0 | FID last | ratio | IS | KID | precision | recall | classes | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        last, ok, raw = r["last"], all(r["passed"].values()), r.get("step0_raw")
        first = f"{r['step0']['fid']:.1f}" + (f" (raw {raw['fid']:.1f})" if raw else "")
        lines.append(
            f"| {r['config']} | {r['steps']}{' (time)' if r.get('stopped_by') == 'time budget' else ''} | {r['minutes']:.1f} | {r['steps_per_second']:.2f} | {first} "
            f"| {last['fid']:.2f} | 1/{1 / r['fid_ratio']:.1f} | {last['is_mean']:.2f} | {last['kid_mean']:.4f} "
            f"| {last['precision']:.3f} | {last['recall']:.3f} | {last['modes']}/10 | "
            + ("pass" if ok else "FAIL: " + ", ".join(key for key, passed in r["passed"].items() if not passed)) + " |"
        )
    if any(r.get("stopped_by") == "time budget" for r in results):
        budgets = sorted({f"{r['max_minutes']:g}" for r in results if r.get("stopped_by") == "time budget"})
        lines += ["", f"(time): the config's time budget (max_minutes = {', '.join(budgets)}) ended the run before its "
                      "`steps`; the row gives the steps it reached."]
    if any(r.get("step0_raw") for r in results):
        lines += ["", "EMA configs: both ends scored with the EMA weights (standing BatchNorm statistics), the ratio "
                      "between those; the raw step-0 generator's FID in brackets."]
    return "\n".join(lines) + "\n"


def write_results(results: list[dict], machine: str, num_samples: int, results_dir: Path = HERE / "results") -> str:
    """Write the JSON and Markdown results, keeping the earlier rows of configs not in `results`; returns the table."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "train_fmnist.json"
    earlier = json.loads(path.read_text())["results"] if path.is_file() else []
    fresh = {r["config"]: r for r in results}
    merged = [fresh.pop(r["config"], r) for r in earlier] + list(fresh.values())
    write_text_atomically(path, json.dumps({"machine": machine, "results": merged}, indent=1) + "\n")
    table = markdown(merged, machine, num_samples)
    write_text_atomically(results_dir / "train_fmnist.md", table)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="fmnist-dcgan,fmnist-lsgan,fmnist-wgan-gp")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every config")
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--runs", type=Path, default=HERE / "runs")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="folder for train_fmnist.json / .md")
    args = parser.parse_args(argv)
    machine = f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    results = []
    for name in args.configs.split(","):
        results.append(run_config(name, args.set, args.runs, args.num_samples, args.results.parent / "figures"))
        print(json.dumps(results[-1]), flush=True)
    table = write_results(results, machine, args.num_samples, args.results)
    print(table)
    return 0 if all(all(r["passed"].values()) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
