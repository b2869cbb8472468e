"""The names ganeval gives what it logs to a tracker: one mapping, the same for TensorBoard, MLflow and W&B.

A metric value lands under `KEY/SETTING`, where SETTING is the record's comparability setting (reference,
extractor, N: Record.comparable_key, shown as Record.setting_label 'fashion-mnist:test, fmnist-classifier, N=2000')
written as path segments that every tracker accepts:

>>> from ganeval.records import Record
>>> record = Record("ckpt.pt", "fashion-mnist:test", "fmnist-classifier", 2000, 10000, 2020, values={"fid": 3.1})
>>> metric_name("fid", record), metric_name("fid_ci_low", record)
('fid/fashion-mnist_test/fmnist-classifier/N2000', 'fid_ci_low/fashion-mnist_test/fmnist-classifier/N2000')
>>> signal_name("d_loss")
'train/d_loss'

MLflow takes letters, digits and `_ - . /` and spaces in a name (no colon on Windows), and refuses a name that a
path normalisation would change (`a//b`, `./a`); W&B and TensorBoard group charts by the part before the first
slash. So each segment keeps `A-Z a-z 0-9 _ - .` and turns every other run of characters into one `_` (a colon,
a slash of a path, a comma, an equals sign), with leading and trailing `_` dropped; a segment of dots is
`_`. Two references that differ only in those characters share a name (`data/real.npy` and `data_real.npy`):
the record's own setting is also logged beside it (`setting/...` params). A segment longer than
MAX_SEGMENT keeps its end and a hash of the whole, so that MLflow's 250-character limit holds.
"""
from __future__ import annotations

import hashlib
import re

from ..records import Record

SIGNAL_PREFIX = "train"  # training.jsonl's signals: train/d_loss, train/grad_norm_g, ...
PICTURE_TAG = "samples"  # the checkpoint's picture of samples (runs/NAME/samples/step-XXXXXXX.png)
MAX_SEGMENT = 60
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def segment(text: object) -> str:
    """`text` as one path segment every tracker takes: 'fashion-mnist:test' -> 'fashion-mnist_test'."""
    cleaned = _UNSAFE.sub("_", str(text)).strip("_")
    if not cleaned.strip("."):
        cleaned = "_"
    if len(cleaned) > MAX_SEGMENT:  # an absolute path as the reference: keep its end, told apart by a hash
        digest = hashlib.sha256(str(text).encode()).hexdigest()[:8]
        cleaned = f"{cleaned[-(MAX_SEGMENT - 9):]}-{digest}"
    return cleaned


def setting_path(record: Record) -> str:
    """The record's setting as segments: 'fashion-mnist_test/fmnist-classifier/N2000'."""
    reference, extractor, num_samples = record.comparable_key()
    count = "N" + ("_" if num_samples is None else str(num_samples))
    return f"{segment(reference)}/{segment(extractor or '_')}/{count}"


def metric_name(key: str, record: Record) -> str:
    """Where value `key` of `record` goes: 'fid/fashion-mnist_test/fmnist-classifier/N2000'."""
    return f"{segment(key)}/{setting_path(record)}"


def signal_name(key: str) -> str:
    """Where a training.jsonl signal goes: 'train/d_loss'."""
    return f"{SIGNAL_PREFIX}/{segment(key)}"


def run_name(record: Record | None, run_folder_name: str | None) -> str:
    """The tracker run a record goes to: its ganeval run's (the run folder's name, else the record's `run`), else
    the input it scored ('ring8', 'fake.npy'), else 'ganeval'. One ganeval run is one tracker run."""
    name = run_folder_name or (record.run if record is not None else None)
    if not name and record is not None and record.input:
        name = str(record.input).rstrip("/").rsplit("/", 1)[-1]
    return segment(name or "ganeval")


def flatten(values: dict, prefix: str = "") -> dict[str, str]:
    """A nested dict (a config.toml, the settings) as flat parameter names joined by '/', values as text."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}/{segment(key)}" if prefix else segment(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = str(value)
    return flat
