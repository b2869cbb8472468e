"""Train the Fashion-MNIST reference GANs on this machine's CPU cores and check issue 4's quality targets.

For each config (default: fmnist-dcgan, fmnist-lsgan, fmnist-wgan-gp) it trains a run in benchmarks/runs/NAME/ with
the in-training evaluation hook (the config's eval_samples and eval_metrics at every scored checkpoint), then scores
the step-0 and the last checkpoint with 10,000 samples against fashion-mnist:train through the shipped
fmnist-classifier (FID, IS, KID, PRDC; the EMA weights where the config keeps an EMA) and counts the classes the
classifier gives the samples. Targets: training wall time (scoring hook included) at most 15 minutes, last FID at
most 1/20 of step 0's, IS at least 6, all 10 classes present.

    .venv/bin/python benchmarks/train_fmnist.py                       # all three, ~45 minutes on 2 cores
    .venv/bin/python benchmarks/train_fmnist.py --configs fmnist-dcgan --set steps=500   # a quick look

Writes benchmarks/results/train_fmnist.json and .md (the table in benchmarks/README.md) and copies each run's last
sample grid to benchmarks/figures/NAME.png. Exit status 1 when a target is missed. Run it on an idle machine: other
processes on the cores slow training and the wall-time target is absolute.
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
from ganeval.evaluate import score
from ganeval.runs import checkpoints
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


def run_config(name: str, overrides: list[str], runs: Path, num_samples: int) -> dict:
    config = load_config(name, overrides)
    out = runs / name
    shutil.rmtree(out, ignore_errors=True)
    device = torch.device("cpu")
    scorer, hook_seconds = CheckpointScorer(config, device), [0.0]

    def timed_scorer(path: Path, step: int):
        started = time.perf_counter()
        record = scorer(path, step)
        hook_seconds[0] += time.perf_counter() - started
        return record

    started = time.perf_counter()
    train(config, out, device=device, progress=sys.stderr.isatty(), on_checkpoint=timed_scorer)
    minutes = (time.perf_counter() - started) / 60
    saved = checkpoints(out)
    first, last = final_score(saved[0], num_samples, config.ema > 0), final_score(saved[-1], num_samples, config.ema > 0)
    figure = HERE / "figures" / f"{name}.png"
    figure.parent.mkdir(exist_ok=True)
    shutil.copyfile(out / "samples" / f"{saved[-1].stem}.png", figure)
    result = {
        "config": name, "overrides": overrides, "steps": config.steps, "minutes": minutes,
        "steps_per_second": config.steps / (minutes * 60 - hook_seconds[0]), "eval_hook_seconds": hook_seconds[0],
        "step0": first, "last": last,
        "fid_ratio": last["fid"] / first["fid"], "figure": str(figure.relative_to(HERE)),
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
        last, ok = r["last"], all(r["passed"].values())
        lines.append(
            f"| {r['config']} | {r['steps']} | {r['minutes']:.1f} | {r['steps_per_second']:.2f} | {r['step0']['fid']:.1f} "
            f"| {last['fid']:.2f} | 1/{1 / r['fid_ratio']:.0f} | {last['is_mean']:.2f} | {last['kid_mean']:.4f} "
            f"| {last['precision']:.3f} | {last['recall']:.3f} | {last['modes']}/10 | "
            + ("pass" if ok else "FAIL: " + ", ".join(key for key, passed in r["passed"].items() if not passed)) + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="fmnist-dcgan,fmnist-lsgan,fmnist-wgan-gp")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every config")
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--runs", type=Path, default=HERE / "runs")
    args = parser.parse_args(argv)
    machine = f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    results = []
    for name in args.configs.split(","):
        results.append(run_config(name, args.set, args.runs, args.num_samples))
        print(json.dumps(results[-1]), flush=True)
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    write_text_atomically(results_dir / "train_fmnist.json", json.dumps({"machine": machine, "results": results}, indent=1) + "\n")
    table = markdown(results, machine, args.num_samples)
    write_text_atomically(results_dir / "train_fmnist.md", table)
    print(table)
    return 0 if all(all(r["passed"].values()) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
