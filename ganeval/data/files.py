"""Samples from files: .npy / .npz arrays (uint8 images NCHW or NHWC, or float feature matrices) and image folders."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..atomic import write_atomically
from ..errors import InputError
from .samples import Samples

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
NPZ_KEYS = ("samples", "images", "features", "x", "arr_0")  # tried in order when an .npz holds several arrays


def load_path(path: str | Path) -> Samples:
    """Load a file or folder of samples, or raise InputError naming it and what is wrong."""
    path = Path(path)
    if path.is_dir():
        return load_image_folder(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return Samples(array_to_samples(read_array(path), str(path)), str(path))
    if suffix == ".zip":
        return load_image_zip(path)
    raise InputError(f"{path}: unsupported input; give a .npy/.npz array, a .zip or a folder of PNG/JPEG images")


def read_array(path: Path) -> np.ndarray:
    """The sample array stored in a .npy or .npz file (object arrays are refused: no pickle)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded
        with loaded:
            return loaded[_npz_key(path, list(loaded.keys()))]
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: unreadable array file ({reason})") from exc


def _npz_key(path: Path, keys: list[str]) -> str:
    if not keys:
        raise InputError(f"{path}: the .npz holds no arrays")
    if len(keys) == 1:
        return keys[0]
    for key in NPZ_KEYS:
        if key in keys:
            return key
    raise InputError(f"{path}: the .npz holds {', '.join(keys)}; name the samples one of {', '.join(NPZ_KEYS)}")


def array_to_samples(array: np.ndarray, name: str) -> torch.Tensor:
    """uint8 N x H x W, N x C x H x W or N x H x W x C -> uint8 NCHW; floating N x d -> float tensor."""
    if array.dtype == np.uint8:
        if array.ndim == 3:
            array = array[:, None]
        if array.ndim != 4:
            raise InputError(f"{name}: uint8 arrays must be images (N,H,W), (N,C,H,W) or (N,H,W,C); got {array.shape}")
        if array.shape[1] not in (1, 3) and array.shape[3] in (1, 3):
            array = array.transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(array))
    if np.issubdtype(array.dtype, np.floating):
        if array.ndim != 2:
            raise InputError(
                f"{name}: float arrays must be feature matrices (N,d); got shape {array.shape} "
                f"(store images as uint8 in [0, 255])"
            )
        return torch.from_numpy(np.ascontiguousarray(array))
    raise InputError(f"{name}: unsupported dtype {array.dtype}; use uint8 images or float features")


def load_image_folder(folder: Path) -> Samples:
    """All PNG/JPEG images under `folder` (recursively, sorted by path), which must share one size."""
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    if not files:
        raise InputError(f"{folder}: folder holds no PNG or JPEG images")
    images = [read_image(path) for path in files]
    _check_one_size(folder, [path.name for path in files], images)
    return Samples(torch.from_numpy(np.stack(images)), str(folder))


def _check_one_size(source: Path, names: list[str], images: list[np.ndarray]) -> None:
    first = images[0].shape
    for name, image in zip(names, images):
        if image.shape != first:
            raise InputError(f"{source}: images of mixed sizes ({names[0]} is {_chw(first)}, {name} is {_chw(image.shape)})")


def load_image_zip(path: Path) -> Samples:
    """All PNG/JPEG members of a zip file (sorted by name); members that would escape the archive's root are refused."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(name for name in archive.namelist() if Path(name).suffix.lower() in IMAGE_SUFFIXES)
            for name in names:
                # Members are only read, never extracted; one that would land outside the root is still refused as a
                # sign of a malicious or broken archive.
                if name.startswith("/") or ".." in Path(name).parts or ":" in name:
                    raise InputError(f"{path}: member '{name}' points outside the archive's root")
            if not names:
                raise InputError(f"{path}: zip holds no PNG or JPEG images")
            images = [read_image(io.BytesIO(archive.read(name)), f"{path}:{name}") for name in names]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{path}: unreadable zip file ({type(exc).__name__})") from exc
    _check_one_size(path, names, images)
    return Samples(torch.from_numpy(np.stack(images)), str(path))


def read_image(path, name: str | None = None) -> np.ndarray:
    """One image as uint8 C x H x W: greyscale stays 1 channel, everything else becomes RGB."""
    try:
        with Image.open(path) as image:
            if image.mode.startswith("I;16"):  # 16-bit grey: keep the top 8 bits (convert("L") would clip at 255)
                array = (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
            elif image.mode in ("I", "F"):
                raise InputError(f"{name or path}: {image.mode}-mode images (32-bit) are not supported; save 8-bit PNG/JPEG")
            else:
                array = np.asarray(image.convert("L") if image.mode in ("L", "1") else image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{name or path}: unreadable image ({type(exc).__name__})") from exc
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _chw(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape)


def save_samples(samples: torch.Tensor, out: Path) -> Path:
    """Write samples for other tools: an .npz (key 'samples'; images uint8 NCHW) or a folder of PNG images."""
    out = Path(out)
    if out.suffix.lower() in (".npz", ".npy"):
        array = samples.numpy()
        writer = (lambda handle: np.savez(handle, samples=array)) if out.suffix.lower() == ".npz" else (lambda handle: np.save(handle, array))
        write_atomically(out, writer)
        return out
    if out.suffix:
        raise InputError(f"{out}: write samples to a .npz/.npy file or a folder")
    if samples.dtype != torch.uint8:
        raise InputError(f"{out}: points cannot be written as images; use a .npz file")
    out.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(samples):
        array = image.permute(1, 2, 0).numpy()
        picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        write_atomically(out / f"{index:06d}.png", lambda handle, picture=picture: picture.save(handle, format="PNG"))
    return out
