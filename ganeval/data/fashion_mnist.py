"""Fashion-MNIST (Xiao et al. 2017) read straight from its IDX files: no per-image PIL round trip.

Looked for, in order, in --data-root, $GANEVAL_DATA, /usr/share/datasets/fashion-mnist (Debian package
`dataset-fashion-mnist`) and torchvision's layout (<root>/FashionMNIST/raw/); downloaded through torchvision only
when asked. Each folder may hold the files gzipped or not.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
DATA_ENV = "GANEVAL_DATA"
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000)}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_IDX_UBYTE = 0x08  # IDX type code for unsigned bytes


def download_root(data_root: str | os.PathLike | None = None) -> Path:
    """Where downloads go: --data-root, else $GANEVAL_DATA, else datasets/ beside the torch hub cache."""
    return Path(data_root or os.environ.get(DATA_ENV) or Path(torch.hub.get_dir()).parent / "datasets")


def candidate_folders(data_root: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for the IDX files, in order."""
    roots = [Path(data_root)] if data_root else []
    if os.environ.get(DATA_ENV):
        roots.append(Path(os.environ[DATA_ENV]))
    folders = []
    for root in roots:
        folders += [root, root / "fashion-mnist", root / "FashionMNIST" / "raw"]
    folders += [DEBIAN_FOLDER, download_root() / "FashionMNIST" / "raw"]
    return folders


def load(split: str, data_root: str | os.PathLike | None = None, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N x 1 x 28 x 28, labels int64 N) of the 'train' or 'test' split."""
    if split not in SPLITS:
        raise InputError(f"fashion-mnist split '{split}' is unknown; choose from {', '.join(SPLITS)}")
    images_name, labels_name, expected = SPLITS[split]
    folder = find_folder(split, data_root)
    if folder is None and download:
        folder = _download(data_root)
    if folder is None:
        looked = ", ".join(str(path) for path in candidate_folders(data_root))
        raise InputError(
            f"fashion-mnist:{split}: {images_name}(.gz) not found (looked in {looked}); install the Debian package "
            f"dataset-fashion-mnist, pass --data-root DIR or set ${DATA_ENV}, or add --download"
        )
    images = read_idx(_existing(folder, images_name), dims=3)
    labels = read_idx(_existing(folder, labels_name), dims=1)
    if len(images) != expected or len(labels) != expected or images.shape[1:] != (28, 28):
        raise InputError(f"{folder / images_name}: expected {expected} images of 28x28, got {images.shape}")
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def find_folder(split: str, data_root: str | os.PathLike | None = None) -> Path | None:
    """The first candidate folder holding both files of `split`."""
    images_name, labels_name, _ = SPLITS[split]
    for folder in candidate_folders(data_root):
        if all(_find(folder, name) for name in (images_name, labels_name)):
            return folder
    return None


def read_idx(path: Path, dims: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (optionally gzipped), checking its header against its size."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: unreadable IDX file ({type(exc).__name__}: truncated or corrupt)") from exc
    header = 4 + 4 * dims
    if len(raw) < header or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] != dims:
        raise InputError(f"{path}: not an IDX file of {dims}-D unsigned bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * axis: 8 + 4 * axis], "big") for axis in range(dims))
    if len(raw) - header != int(np.prod(shape)):
        raise InputError(f"{path}: IDX header says {shape} but the file holds {len(raw) - header} bytes of data")
    return np.frombuffer(bytearray(raw), dtype=np.uint8, offset=header).reshape(shape)  # bytearray: writable


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _existing(folder: Path, name: str) -> Path:
    found = _find(folder, name)
    assert found is not None  # find_folder checked both files
    return found


def _download(data_root: str | os.PathLike | None) -> Path | None:
    from torchvision.datasets import FashionMNIST

    root = download_root(data_root)
    try:
        for train in (True, False):
            FashionMNIST(str(root), train=train, download=True)
    except Exception as exc:  # torchvision raises RuntimeError/URLError variants when offline
        raise InputError(f"fashion-mnist: download into {root} failed ({type(exc).__name__}); install dataset-fashion-mnist instead") from exc
    return root / "FashionMNIST" / "raw"
