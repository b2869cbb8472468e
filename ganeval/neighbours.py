"""Pictures of memorization: the most copy-like generated samples, each beside its nearest training images in the
extractor's space and in pixel space, worst first, with the distances (what StudioGAN's `run_k_nearest_neighbor`
shows, ranked here by the copy ratio of ganeval.metrics.copies).

`write_neighbours` scores an input's `copies` against a training set and draws the grid (`ganeval neighbours`);
`grid_of_record` draws it again from a checkpoint's record (its samples regenerated from the checkpoint, the
training images read from the source the record names), for the report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .atomic import write_text_atomically
from .config import ScoreConfig
from .data import Samples, load_source
from .data.checkpoint import CheckpointSource
from .errors import InputError
from .features.cache import content_sha256
from .metrics.families.copies import Options as CopiesOptions
from .pipeline import open_input, score_all
from .plots import pyplot, save_figure
from .records import Record

SPACES = (("features", "features"), ("pixels", "pixels"))  # (diagnostics key, caption)
FIGURE, LISTING = "neighbours.png", "neighbours.json"


@dataclass(frozen=True)
class Neighbours:
    """What `ganeval neighbours` wrote: the grid, the listing (JSON: each sample's neighbours and distances) and
    the record of the `copies` score it drew them from."""

    figure: Path
    listing: Path
    record: Record


def write_neighbours(source, train: str, out: Path, config: ScoreConfig, count: int = 32) -> Neighbours:
    """Score `source`'s copies against the training set `train`, then write OUT/neighbours.png (the `count` most
    copy-like samples, worst first, each beside its 3 nearest training images in feature and pixel space) and
    OUT/neighbours.json."""
    if count < 1:
        raise InputError(f"--count {count}: show at least 1 sample")
    config = config.replace(metrics=("copies",), train=train,
                            metric_options={**config.metric_options, "copies": CopiesOptions(worst=count)})
    samples = open_input(source, config.replace(train=None)).samples
    if samples.kind != "images":
        raise InputError(f"{samples.name} holds vectors: the neighbours grid shows images")
    training = _training_images(train, config)
    record = score_all(samples, train, config)[0].record  # the training set as reference too: one extraction
    return _write(record, samples, training, out)


def grid_of_record(record: Record, run_folder: Path, out: Path) -> Path | None:
    """The grid of a checkpoint's record scored with `copies`, written as OUT (a PNG); None when the record has
    no grid to draw (no copies diagnostics, not a checkpoint's record)."""
    worst = (record.diagnostics.get("copies") or {}).get("worst")
    train = record.provenance.get("train") or {}
    if not worst or record.checkpoint is None or not train.get("name"):
        return None
    checkpoint = CheckpointSource(run_folder / "checkpoints" / record.checkpoint, ema=bool(record.ema),
                                  latents=record.latents)
    samples = checkpoint.samples(record.num_samples, record.seed)
    training = load_source(train["name"])
    if train.get("content_sha256") not in (None, content_sha256(training.data)):
        raise InputError(f"{train['name']} is not the training set {record.checkpoint} was scored against (its "
                         f"content changed)")
    _draw(worst, samples, training, out, f"{record.run or ''} {record.checkpoint}: most copy-like samples")
    return out


def _training_images(train: str, config: ScoreConfig) -> Samples:
    data = config.data
    try:
        training = load_source(train, data_root=data.data_root, download=data.download,
                               max_image_pixels=data.max_image_pixels, workers=data.workers)
    except InputError as error:
        raise InputError(f"--train {train}: the neighbours grid needs the training images ({error})") from None
    if training.kind != "images":
        raise InputError(f"--train {train} holds vectors: the neighbours grid shows images")
    return training


def _write(record: Record, samples: Samples, training: Samples, out: Path) -> Neighbours:
    worst = record.diagnostics["copies"]["worst"]
    out.mkdir(parents=True, exist_ok=True)
    figure, listing = out / FIGURE, out / LISTING
    _draw(worst, samples, training, figure, f"{samples.name}: most copy-like samples against {training.name}")
    write_text_atomically(listing, json.dumps({"input": samples.name, "train": training.name,
                                               "threshold": record.diagnostics["copies"]["threshold"],
                                               "copies": record.values.get("copies"),
                                               "copies_pixel": record.values.get("copies_pixel"),
                                               "samples": worst}, indent=1) + "\n")
    return Neighbours(figure, listing, record)


def _draw(worst: list[dict], samples: Samples, training: Samples, path: Path, title: str) -> None:
    """One row per sample: the generated image, then its 3 nearest training images in each space, with the
    distances and the nearest-to-second ratio above them."""
    spaces = [(name, label) for name, label in SPACES if name in worst[0]]
    columns = 1 + sum(len(worst[0][name]["neighbours"]) for name, _ in spaces)
    plt = pyplot()
    figure, axes = plt.subplots(len(worst), columns, figsize=(1.15 * columns, 1.3 * len(worst) + 0.4), squeeze=False)
    for row, entry in zip(axes, worst):
        _show(row[0], samples.data[entry["sample"]], f"#{entry['sample']}")
        column = 1
        for name, label in spaces:
            found = entry[name]
            for rank, (index, distance) in enumerate(zip(found["neighbours"], found["distances"])):
                caption = f"{label} r={found['ratio']:.2f}\nd={distance:.3g}" if rank == 0 else f"d={distance:.3g}"
                _show(row[column], training.data[index], caption)
                column += 1
    figure.suptitle(title, fontsize=8)
    save_figure(figure, path)


def _show(axis, image: torch.Tensor, caption: str) -> None:
    picture = image.permute(1, 2, 0).squeeze(-1).cpu().numpy()
    axis.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255)
    axis.set_title(caption, fontsize=5)
    axis.axis("off")
