"""Reproduce PacGAN's Table 1 (Lin et al. 2018) on this machine: GAN against PacGAN-m on grid25 and ring8.

Each cell trains the shipped config (`grid25-gan`, `grid25-pacgan2`, ...: the PacGAN architecture, initialisation
and optimiser, 100,000 training points) with several seeds, draws 2,500 samples from the last generator and reports
modes captured, the fraction of high-quality samples and the reverse KL of the mode histogram (ganeval.metrics.modes)
as mean ± standard error over the seeds, beside the paper's numbers (10 runs of 400,000 steps each).

    .venv/bin/python benchmarks/pacgan_table.py                        # GAN, PacGAN2; 3 seeds; 8,000 steps
    .venv/bin/python benchmarks/pacgan_table.py --packing 1,2,3,4 --seeds 10 --steps 400000   # the paper's schedule

The paper's 400,000 steps take about 75 minutes per run on 2 CPU cores, so the default schedule is shortened and
the table says so. Writes benchmarks/results/pacgan_table.json and .md and a scatter of the first seed's samples per
cell to benchmarks/figures/pacgan-MIXTURE.png. Exit status 1 when, on grid25, PacGAN2 does not capture more modes
with a lower reverse KL than GAN.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from ganeval.atomic import write_text_atomically
from ganeval.data.mixtures import MIXTURES
from ganeval.metrics.modes import mixture_modes
from ganeval.plots import pyplot, save_figure, scatter_over_modes
from ganeval.train.config import TrainConfig, load_config
from ganeval.data.checkpoint import generate
from ganeval.train.loop import train

HERE = Path(__file__).resolve().parent
NUM_SAMPLES = 2500
SAMPLE_SEED = 2020
# PacGAN Table 1: (modes, high quality %, reverse KL), each (mean, standard error) over 10 runs
PAPER = {
    ("ring8", 1): ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
    ("ring8", 2): ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
    ("ring8", 3): ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
    ("ring8", 4): ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
    ("grid25", 1): ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
    ("grid25", 2): ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
    ("grid25", 3): ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
    ("grid25", 4): ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
}
STATISTICS = ("modes", "high_quality", "reverse_kl")


def cell_config(mixture: str, packing: int, seed: int, steps: int) -> TrainConfig:
    """The shipped GAN config of the mixture with packing m (batch 100 packs, as in the paper's code)."""
    overrides = [f"seed={seed}", f"steps={steps}", f"checkpoint_every={steps}", "eval_every=0",
                 f"packing={packing}", f"batch_size={100 * packing}"]
    return load_config(f"{mixture}-gan", overrides)


def run_cell(config: TrainConfig, runs: Path, threads: int | None = None) -> tuple[dict, torch.Tensor]:
    if threads:
        torch.set_num_threads(threads)
    out = runs / f"{config.data}-pacgan{config.packing}-seed{config.seed}"
    shutil.rmtree(out, ignore_errors=True)
    trainer = train(config, out, progress=False)
    points = generate(trainer.generator.eval(), config, NUM_SAMPLES, SAMPLE_SEED)
    mixture = MIXTURES[config.data]()
    result = mixture_modes(points, mixture.means, mixture.std)
    result.pop("mode_counts")
    result["reverse_kl"] = result["reverse_kl"] if math.isfinite(result["reverse_kl"]) else math.log(len(mixture.means))
    return result, points


def mean_and_error(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def summarise(results: dict, packings: list[int], mixtures: list[str]) -> dict:
    summary = {}
    for mixture in mixtures:
        for packing in packings:
            runs = results[(mixture, packing)]
            summary[(mixture, packing)] = {name: mean_and_error([run[name] for run in runs]) for name in STATISTICS}
    return summary


def within_three_errors(ours: tuple[float, float], paper: tuple[float, float]) -> bool:
    """Is our mean within 3 combined standard errors of the paper's?"""
    error = math.sqrt(ours[1] ** 2 + paper[1] ** 2) if math.isfinite(ours[1]) else paper[1]
    return abs(ours[0] - paper[0]) <= 3 * error


def markdown(summary: dict, packings: list[int], mixtures: list[str], seeds: int, steps: int, minutes: float) -> str:
    lines = [
        f"{seeds} seeds per cell, {steps:,} steps per run (the paper: 10 runs of 400,000), 2,500 samples each; "
        f"{minutes:.1f} minutes in all on {os.cpu_count()} CPU cores. Ours: mean ± standard error; paper in brackets; "
        "* marks a mean more than 3 combined standard errors from the paper's.",
        "",
        "| model | " + " | ".join(f"{mixture} modes | {mixture} HQ % | {mixture} reverse KL" for mixture in mixtures) + " |",
        "|---|" + "---|---|---|" * len(mixtures),
    ]
    for packing in packings:
        cells = []
        for mixture in mixtures:
            ours = summary[(mixture, packing)]
            paper = PAPER.get((mixture, packing))
            for index, name in enumerate(STATISTICS):
                scale = 100 if name == "high_quality" else 1
                mean, error = ours[name][0] * scale, ours[name][1] * scale
                text = f"{mean:.2f} ± {error:.2f}" if name == "reverse_kl" else f"{mean:.1f} ± {error:.1f}"
                if paper:
                    mark = "" if within_three_errors((mean, error), paper[index]) else " *"
                    text += f" ({paper[index][0]} ± {paper[index][1]}){mark}"
                cells.append(text)
        lines.append(f"| {'GAN' if packing == 1 else f'PacGAN{packing}'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(points: dict, mixture: str, packings: list[int], path: Path) -> None:
    figure, axes = pyplot().subplots(1, len(packings), figsize=(4 * len(packings), 4))
    for axis, packing in zip(axes if len(packings) > 1 else [axes], packings):
        scatter_over_modes(axis, points[(mixture, packing)], MIXTURES[mixture]().means,
                           f"{mixture}: {'GAN' if packing == 1 else f'PacGAN{packing}'} (seed 0)")
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", default="grid25,ring8")
    parser.add_argument("--packing", default="1,2", help="packing degrees (1 = GAN)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8_000)
    parser.add_argument("--runs", type=Path, default=HERE / "runs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="cells trained at once, one thread each (these small networks gain more from this than "
                             "from threads; default: one per CPU core)")
    args = parser.parse_args(argv)
    mixtures, packings = args.mixtures.split(","), [int(text) for text in args.packing.split(",")]
    started = time.perf_counter()
    results: dict = {}
    first_points: dict = {}
    cells = [(mixture, packing, seed) for mixture in mixtures for packing in packings for seed in range(args.seeds)]
    configs = [cell_config(mixture, packing, seed, args.steps) for mixture, packing, seed in cells]
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        outcomes = pool.map(run_cell, configs, [args.runs] * len(cells), [1] * len(cells))
        for (mixture, packing, seed), (result, points) in zip(cells, outcomes):
            results.setdefault((mixture, packing), []).append(result)
            first_points.setdefault((mixture, packing), points)
            print(json.dumps({"mixture": mixture, "packing": packing, "seed": seed, **result}), flush=True)
    minutes = (time.perf_counter() - started) / 60
    summary = summarise(results, packings, mixtures)
    table = markdown(summary, packings, mixtures, args.seeds, args.steps, minutes)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "figures").mkdir(exist_ok=True)
    for mixture in mixtures:
        plot(first_points, mixture, packings, HERE / "figures" / f"pacgan-{mixture}.png")
    write_text_atomically(HERE / "results" / "pacgan_table.md", table)
    write_text_atomically(HERE / "results" / "pacgan_table.json", json.dumps({
        "steps": args.steps, "seeds": args.seeds, "minutes": minutes,
        "runs": [{"mixture": m, "packing": p, **run} for (m, p), runs in results.items() for run in runs],
    }, indent=1) + "\n")
    print(table)
    if "grid25" in mixtures and {1, 2} <= set(packings):
        gan, pacgan = summary[("grid25", 1)], summary[("grid25", 2)]
        ordered = pacgan["modes"][0] > gan["modes"][0] and pacgan["reverse_kl"][0] < gan["reverse_kl"][0]
        print(f"grid25: PacGAN2 captures more modes with a lower reverse KL than GAN: {ordered}", file=sys.stderr)
        return 0 if ordered else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
