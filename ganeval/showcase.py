"""What each metric sees: score typical generator failures and write a small report (`python -m ganeval.showcase`).

Two settings, each with candidates that imitate what a GAN produces when it works, when it collapses onto a few
modes, when its samples are blurred, and when it is off target; the table shows which metric sees which failure.
- ring8 and grid25 (VEEGAN/PacGAN 2D mixtures): 2,500 exact samples as the reference, the points as features.
- Fashion-MNIST (when installed: `make data`): fashion-mnist:train as the reference, the shipped fmnist-classifier as
  the extractor, candidates made from the test split. The reference statistics are cached after the first run.
About two minutes on 2 CPU cores (one more the first time, to extract and cache the 60,000 training images).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from .atomic import write_text_atomically
from .data import Samples, fashion_mnist, load_source
from .data.mixtures import MIXTURES, Mixture
from .evaluate import MetricOptions
from .pipeline import score_keywords as score
from .plots import image_grid, pyplot, save_figure, scatter_over_modes

NUM_POINTS = 2500
COLUMNS = ("fid", "is_mean", "kid_mean", "precision", "recall", "density", "coverage")


def mixture_candidates(mixture: Mixture, seed: int) -> dict[str, torch.Tensor]:
    """Points a generator might produce: faithful, collapsed, blurred and shifted."""
    faithful = mixture.sample(NUM_POINTS, seed=seed)
    few_modes = Mixture(mixture.name, mixture.means[: max(2, len(mixture.means) // 4)], mixture.std)
    return {
        "faithful": faithful,
        "collapsed (1/4 of modes)": few_modes.sample(NUM_POINTS, seed=seed),
        "blurred (std x 10)": Mixture(mixture.name, mixture.means, mixture.std * 10).sample(NUM_POINTS, seed=seed),
        "shifted (+2 std)": faithful + 2 * mixture.std,
    }


def fashion_candidates(seed: int) -> dict[str, torch.Tensor]:
    """Images a generator might produce, made from the test split: faithful, collapsed, blurred and noise."""
    test = load_source("fashion-mnist:test")
    images, labels = test.data, test.labels
    three_classes = images[labels < 3]
    generator = torch.Generator().manual_seed(seed)
    blurred = F.avg_pool2d(images.float(), 3, stride=1, padding=1, count_include_pad=False).round().to(torch.uint8)
    return {
        "faithful (test split)": images,
        "collapsed (3 of 10 classes)": three_classes,
        "blurred (3x3 box)": blurred,
        "uniform noise": torch.randint(0, 256, images.shape, dtype=torch.uint8, generator=generator),
    }


def run(out: Path, seed: int = 0, fashion: bool | None = None) -> list[dict]:
    """Score every candidate, write records.jsonl, README.md and the figures into `out`; return the records.

    `fashion=None` includes Fashion-MNIST when it is installed."""
    records = []
    for name, make in MIXTURES.items():
        mixture = make()
        reference = Samples(mixture.sample(NUM_POINTS, seed=seed), f"{name} (exact)")
        for label, points in mixture_candidates(mixture, seed + 1).items():
            record = score(
                Samples(points, label), reference, "fid,kid,prdc", seed=seed, options=MetricOptions(kid_subsets=20),
                progress=False, use_cache=False,
            )
            records.append(_row(name, label, record))
    if fashion is None:
        fashion = fashion_mnist.find_folder("train") is not None and fashion_mnist.find_folder("test") is not None
    out.mkdir(parents=True, exist_ok=True)
    if fashion:
        candidates = fashion_candidates(seed)
        for label, images in candidates.items():
            record = score(Samples(images, label), "fashion-mnist:train", "fid,is,kid,prdc", seed=seed, progress=False)
            records.append(_row("fashion-mnist", label, record))
        plot_images(out / "fashion-mnist.png", candidates)
    write_text_atomically(out / "records.jsonl", "".join(json.dumps(record) + "\n" for record in records))
    write_text_atomically(out / "README.md", markdown_report(records, fashion))
    plot_mixtures(out / "mixtures.png", seed)
    return records


def _row(dataset: str, candidate: str, record: dict) -> dict:
    return {"dataset": dataset, "candidate": candidate, "extractor": record["extractor"],
            **{key: record[key] for key in COLUMNS if key in record}}


def markdown_table(records: list[dict]) -> str:
    header = "| dataset | candidate | " + " | ".join(COLUMNS) + " |\n|---|---|" + "---:|" * len(COLUMNS) + "\n"
    return header + "".join(
        f"| {r['dataset']} | {r['candidate']} | " + " | ".join(f"{r[key]:.4g}" if key in r else "-" for key in COLUMNS)
        + " |\n"
        for r in records
    )


def markdown_report(records: list[dict], fashion: bool) -> str:
    fashion_text = (
        "Fashion-MNIST: reference fashion-mnist:train (60,000), features from the shipped `fmnist-classifier` (128-d\n"
        "penultimate layer; IS from its 10 classes). Collapse onto 3 classes keeps precision and density and shows in\n"
        "FID, IS, recall and coverage; blur and noise move every metric, precision and density first. Coverage of\n"
        "the test split stays near 0.5 because its 10,000 samples meet 60,000 small reference balls.\n\n"
        if fashion
        else "Fashion-MNIST is not installed here, so its part was skipped (`make data` installs it).\n\n"
    )
    return (
        "# ganeval showcase: what each metric sees\n\n"
        f"2D mixtures: reference {NUM_POINTS} exact samples per mixture; features: the points themselves (`identity`).\n"
        "Collapse keeps precision and loses recall and coverage, and FID and KID see it. Blur and a shift of two\n"
        "standard deviations barely move FID, a two-moment summary, while the k-NN balls of precision, density and\n"
        "coverage catch both: report several metrics, never FID alone.\n\n"
        + fashion_text
        + "Lower is better for fid and kid_mean, higher for the others (density is about 1 for a faithful sample).\n\n"
        + markdown_table(records)
        + "\n![mixtures](mixtures.png)\n"
        + ("\n![fashion-mnist](fashion-mnist.png)\n" if fashion else "")
    )


def plot_mixtures(path: Path, seed: int) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(len(MIXTURES), 4, figsize=(14, 7))
    for row, make in enumerate(MIXTURES.values()):
        mixture = make()
        for column, (label, points) in enumerate(mixture_candidates(mixture, seed + 1).items()):
            scatter_over_modes(axes[row][column], points, mixture.means, f"{mixture.name}: {label}")
    save_figure(figure, path)


def plot_images(path: Path, candidates: dict[str, torch.Tensor]) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(1, len(candidates), figsize=(4 * len(candidates), 4.3))
    for axis, (label, images) in zip(axes, candidates.items()):
        axis.imshow(image_grid(images[:64], columns=8, padding=0)[:, :, 0].numpy(), cmap="gray", vmin=0, vmax=255)
        axis.set_title(label, fontsize=10)
        axis.axis("off")
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganeval.showcase", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/showcase"), help="report folder (default reports/showcase)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    records = run(args.out, args.seed)
    print(markdown_table(records))
    print(f"report: {args.out / 'README.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
