"""The memorization metrics on real data (issue 33): Fashion-MNIST through fmnist-classifier, against the 60,000
training images, for sets whose answer is known, and a trained fmnist-dcgan checkpoint.

    .venv/bin/python benchmarks/memorization.py [--checkpoint runs/health/fmnist-dcgan-seed0/checkpoints/step-0003000.pt]

Sets (5,000 each): `copier` (training images as they are), `near-copier` (the same with uniform pixel noise of
+-8), `held-out` (test images the reference does not hold), `noise` (uniform noise images) and the checkpoint's
samples. The reference is the other half of the test split (5,000 images): C_T's P_n; the noise is also scored
against the whole test split (prdc precision and the robust one only). Writes
benchmarks/results/memorization.md and .json, and the neighbours grids of the held-out set and the checkpoint to
docs/images/ (what the docs show).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ganeval.config import ExtractorConfig, ScoreConfig  # noqa: E402
from ganeval.data import Samples, load_source  # noqa: E402
from ganeval.data.checkpoint import CheckpointSource  # noqa: E402
from ganeval.neighbours import write_neighbours  # noqa: E402
from ganeval.pipeline import score  # noqa: E402
from ganeval.reference import ReferenceStore  # noqa: E402

COUNT = 5000
METRICS = ("prdc", "realism", "copies", "authpct", "ct", "fld", "mifid")
COLUMNS = ("precision", "robust_precision", "realism", "copies", "copies_pixel", "authpct", "ct", "fld", "fld_gap",
           "mifid")
DEFAULT_CHECKPOINT = HERE.parent / "runs" / "health" / "fmnist-dcgan-seed0" / "checkpoints" / "step-0003000.pt"
PIXEL_NOISE = 8


def sets(checkpoint: Path | None) -> tuple[Samples, dict[str, Samples]]:
    """(reference, {name: generated}): the reference and held-out halves of the test split, and the known sets."""
    test = load_source("fashion-mnist:test")
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    reference = Samples(test.data[order[:COUNT]], "fashion-mnist:test (half)")
    train = load_source("fashion-mnist:train", num_samples=COUNT, seed=1)
    noise = torch.randint(-PIXEL_NOISE, PIXEL_NOISE + 1, train.data.shape, generator=torch.Generator().manual_seed(2))
    generated = {
        "copier": Samples(train.data, "copier"),
        "near-copier": Samples((train.data.int() + noise).clamp(0, 255).to(torch.uint8), "near-copier"),
        "held-out": Samples(test.data[order[COUNT:]], "held-out"),
        "noise": Samples(torch.randint(0, 256, train.data.shape, dtype=torch.uint8,
                                       generator=torch.Generator().manual_seed(3)), "noise"),
    }
    if checkpoint is not None and checkpoint.is_file():
        generated["fmnist-dcgan"] = CheckpointSource(checkpoint).samples(COUNT, 2020)
    return reference, generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    args = parser.parse_args()
    reference, generated = sets(args.checkpoint)
    config = ScoreConfig(metrics=METRICS, extractor=ExtractorConfig("fmnist-classifier"), train="fashion-mnist:train",
                         progress=False)
    store = ReferenceStore(enabled=True)
    rows = {}
    for name, samples in generated.items():
        started = time.perf_counter()
        record = score(samples, reference, config, store)
        rows[name] = {**{key: record.values.get(key) for key in COLUMNS},
                      "mifid_d": record.diagnostics["mifid"]["d"],
                      "mifid_d_thresholded": record.diagnostics["mifid"]["d_thresholded"],
                      "mifid_d_per_generated": record.diagnostics["mifid"]["d_per_generated"],
                      "seconds": round(time.perf_counter() - started, 1)}
        print(name, json.dumps(rows[name]), flush=True)
    # prdc precision is fooled by noise when the reference's outliers have large balls: the whole test split has
    # them (the half above has fewer); the outlier-robust precision is not
    record = score(generated["noise"], "fashion-mnist:test", config.replace(metrics=("prdc", "realism"), train=None),
                   store)
    rows["noise, against all 10,000 test images"] = {key: record.values.get(key) for key in COLUMNS}
    print("noise against the whole test split", json.dumps(rows["noise, against all 10,000 test images"]), flush=True)
    results = HERE / "results"
    (results / "memorization.json").write_text(json.dumps(rows, indent=1) + "\n")
    (results / "memorization.md").write_text(table(rows))
    images = HERE.parent / "docs" / "images"
    grids = {"held-out": generated["held-out"]}
    if "fmnist-dcgan" in generated:
        grids["fmnist-dcgan"] = generated["fmnist-dcgan"]
    for name, samples in grids.items():
        written = write_neighbours(samples, "fashion-mnist:train", images / f"neighbours-{name}",
                                   config.replace(metrics=None), count=8)
        print(name, "grid:", written.figure)


def table(rows: dict[str, dict]) -> str:
    columns = (*COLUMNS, "mifid_d", "mifid_d_thresholded", "mifid_d_per_generated", "seconds")
    lines = ["| set | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row.get(key)) for key in columns) + " |")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
