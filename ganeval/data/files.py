"""Samples from files: .npy / .npz arrays (uint8 images NCHW or NHWC, or float feature matrices) and image folders.

Folders and zips may come from anyone: an image's size is read from its header and checked against a pixel limit
before it is decoded, a zip member's uncompressed size before it is read, and with `num_samples` only the chosen
images are opened at all. Their images decode in worker processes (ganeval.data.decode), with the same checks.

A folder's images are read as pytorch-fid, torch-fidelity and clean-fid read them: each through PIL's
Image.convert("RGB") (RGBA's alpha dropped, not composited), so a folder mixing grey, palette, RGBA or CMYK images
gives RGB, with a one-line note of what was converted; only grey images alone stay 1 channel, as Fashion-MNIST's do.
Like "one size", this holds for the images used (a seeded subset's).
"""
from __future__ import annotations

import contextlib
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..atomic import write_atomically, write_error
from ..errors import ImageModeWarning, InputError, warn_at_caller
from .decode import decode_rows, row_array, worker_count
from .samples import Samples, subset_rows

# pytorch-fid's list (bmp jpg jpeg pgm png ppm tif tiff webp), matched whatever the case of the name
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
NO_IMAGES = "no PNG or JPEG images (nor BMP, PGM, PPM, TIFF or WebP)"
NPZ_KEYS = ("samples", "images", "features", "x", "arr_0")  # tried in order when an .npz holds several arrays
MAX_IMAGE_PIXELS = 8192 * 8192  # the largest image (width x height) decoded; --max-image-pixels N raises it
# A zip member may hold at most what an uncompressed 16-bit RGBA image of the pixel limit needs (8 bytes a pixel),
# plus room for metadata: a PNG, JPEG, TIFF or PPM of that many pixels is never larger (nor a 16-bit CMYK TIFF), so a
# bigger member is refused unread.
MEMBER_BYTES_PER_PIXEL, MEMBER_SLACK_BYTES = 8, 1 << 20
# Image modes, each image's kept as a code (its index here) in an array shared with the decoding workers. Grey modes
# come first ("I;16" stands for every 16-bit grey mode): a folder of them alone stays 1 channel; any other mode makes
# the folder RGB. The names are those of the note that tells what was converted; OTHER_MODE is any mode not listed.
GREY_MODES = ("L", "1", "I;16")
MODES = GREY_MODES + ("RGB", "P", "RGBA", "LA", "PA", "RGBa", "La", "CMYK", "YCbCr", "RGBX", "LAB", "HSV")
MODE_NAMES = {"L": "grey", "1": "1-bit", "I;16": "16-bit grey", "P": "palette", "LA": "grey+alpha",
              "PA": "palette+alpha", "La": "grey+alpha"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
RGB_MODE, OTHER_MODE = MODES.index("RGB"), len(MODES)

ImageOpener = Callable[[str], Any]  # an image's name -> a context manager yielding its path or a binary file


def load_path(path: str | Path, *, num_samples: int | None = None, seed: int = 0,
              max_image_pixels: int | None = None, workers: int | None = None) -> Samples:
    """Load a file or folder of samples (a seeded subset of `num_samples`, as Samples.subset takes), or raise
    InputError naming it and what is wrong. Images above `max_image_pixels` (default MAX_IMAGE_PIXELS) are refused;
    a folder's or zip's images decode in `workers` processes (None: min(4, the cores); 0: in this one)."""
    path = Path(path)
    limit = pixel_limit(max_image_pixels)
    workers = worker_count(workers)  # checked for every source, so a bad --workers is refused whatever it reads
    if path.is_dir():
        return load_image_folder(path, num_samples=num_samples, seed=seed, max_image_pixels=limit, workers=workers)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return Samples(array_to_samples(read_array(path), str(path)), str(path)).subset(num_samples, seed)
    if suffix == ".zip":
        return load_image_zip(path, num_samples=num_samples, seed=seed, max_image_pixels=limit, workers=workers)
    raise InputError(f"{path}: unsupported input; give a .npy/.npz array, a .zip or a folder of images "
                     f"(PNG, JPEG, BMP, PGM, PPM, TIFF or WebP)")


def pixel_limit(max_image_pixels: int | None) -> int:
    """The pixel limit in force: `max_image_pixels`, or the module's MAX_IMAGE_PIXELS (read now, so it can be set)."""
    limit = MAX_IMAGE_PIXELS if max_image_pixels is None else max_image_pixels
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"--max-image-pixels {limit}: must be a whole number of at least 1")
    return limit


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
        if array.shape[1] not in (1, 3):
            if array.shape[3] not in (1, 3):
                raise InputError(_channels_message(name, array.shape))
            array = array.transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(array))
    if np.issubdtype(array.dtype, np.floating):
        if array.ndim != 2:
            raise InputError(
                f"{name}: float arrays must be feature matrices (N,d); got shape {array.shape} "
                f"(store images as uint8 in [0, 255]{_unit_range_hint(array)})"
            )
        return torch.from_numpy(np.ascontiguousarray(array))
    raise InputError(f"{name}: unsupported dtype {array.dtype}; use uint8 images or float features")


def _channels_message(name: str, shape: tuple[int, ...]) -> str:
    """Neither axis 1 nor axis 3 holds 1 or 3 channels: name the smaller one, which is the likelier channel axis."""
    channels_last = shape[3] <= shape[1]
    channels = shape[3] if channels_last else shape[1]
    layout = "(N,H,W,C)" if channels_last else "(N,C,H,W)"
    return (f"{name}: array of shape {shape}: {channels} channels as {layout}; images need 1 (grey) or 3 (RGB) "
            f"channels, as (N,C,H,W) or (N,H,W,C)")


def _unit_range_hint(array: np.ndarray) -> str:
    if array.size and array.ndim in (3, 4) and 0 <= np.nanmin(array) and np.nanmax(array) <= 1:
        return "; these values lie in [0, 1]: (x * 255).round().astype(np.uint8)"
    return ""


def load_image_folder(folder: Path, *, num_samples: int | None = None, seed: int = 0,
                      max_image_pixels: int | None = None, workers: int | None = None) -> Samples:
    """The images under `folder` (IMAGE_SUFFIXES in any case, recursively, sorted by path), all of them or a seeded
    subset of `num_samples`; the images used must share one size (width x height). If the images used are all grey
    (modes L, 1, 16-bit) they give 1 channel; images of any other mode (palette, RGBA, CMYK...), alone or mixed with
    others, give RGB, each converted as Image.convert("RGB") does and noted in one ImageModeWarning (see
    _load_images). Only the chosen files are opened, decoded in `workers` processes (as load_path takes)."""
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    if not files:
        raise InputError(f"{folder}: folder holds {NO_IMAGES}")
    prefix = len(str(folder / "x")) - 1  # rglob's paths all start with folder/: their names inside it
    paths = {str(path)[prefix:]: path for path in files}
    chosen = _chosen(list(paths), num_samples, seed, str(folder))
    return _load_images(folder, chosen, lambda name: contextlib.nullcontext(paths[name]),
                        lambda name: str(paths[name]), pixel_limit(max_image_pixels), worker_count(workers))


def load_image_zip(path: Path, *, num_samples: int | None = None, seed: int = 0,
                   max_image_pixels: int | None = None, workers: int | None = None) -> Samples:
    """The image members of a zip file (sorted by name; sizes and modes as load_image_folder takes them), all of
    them or a seeded subset of `num_samples`; members that would escape the archive's root are refused, and a chosen
    member's uncompressed size is checked before it is read. Members decode in `workers` processes (as load_path
    takes), each reading the zip through its own handle."""
    limit = pixel_limit(max_image_pixels)
    workers = worker_count(workers)
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(name for name in archive.namelist() if Path(name).suffix.lower() in IMAGE_SUFFIXES)
            for name in names:
                # Members are only read, never extracted; one that would land outside the root is still refused as a
                # sign of a malicious or broken archive.
                if name.startswith("/") or ".." in Path(name).parts or ":" in name:
                    raise InputError(f"{path}: member '{name}' points outside the archive's root")
            if not names:
                raise InputError(f"{path}: zip holds {NO_IMAGES}")
            chosen = _chosen(names, num_samples, seed, str(path))
            return _load_images(path, chosen, _ZipMembers(path, archive, limit), lambda name: f"{path}:{name}", limit,
                                workers)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as exc:  # RuntimeError: encrypted
        reason = "corrupt deflate data" if isinstance(exc, zlib.error) else type(exc).__name__
        raise InputError(f"{path}: unreadable zip file ({reason})") from exc


def _chosen(names: list[str], num_samples: int | None, seed: int, source: str) -> list[str]:
    """The names whose images are used: the rows Samples.subset would keep of all of them, in their order."""
    rows = subset_rows(len(names), num_samples, seed, source)
    return names if rows is None else [names[row] for row in rows.tolist()]


class _ZipMembers:
    """Opens the members of one zip (an ImageOpener) through a ZipFile of the calling process's own: a forked
    decoding worker shares its parent's file position, so reading through the parent's handle would race."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, limit: int):
        self.path, self.archive, self.limit, self.pid = path, archive, limit, os.getpid()

    def __call__(self, name: str):
        if self.pid != os.getpid():  # in a worker: closed when it exits
            self.archive, self.pid = zipfile.ZipFile(self.path), os.getpid()
        return _open_member(self.archive, self.path, name, self.limit)


def _open_member(archive: zipfile.ZipFile, path: Path, name: str, limit: int):
    """A zip member opened for reading, once its uncompressed size fits an image of `limit` pixels."""
    info = archive.getinfo(name)
    most = limit * MEMBER_BYTES_PER_PIXEL + MEMBER_SLACK_BYTES
    if info.file_size > most:
        ratio = info.file_size / max(info.compress_size, 1)  # a stored member of 0 bytes would divide by zero
        raise InputError(
            f"{path}:{name}: member of {info.file_size:,} bytes uncompressed ({ratio:,.0f}x its compressed size) is "
            f"more than an image of {limit:,} pixels needs; refused unread (raise the limit with --max-image-pixels N)"
        )
    return archive.open(info)


def _load_images(source: Path, names: list[str], open_image: ImageOpener, label: Callable[[str], str],
                 limit: int, workers: int) -> Samples:
    """Decode the named images into one array sized from the first one's header (read here), the others in
    `workers` processes; each image's header is checked (pixel limit, the first one's size) before it is decoded, so
    a bad file costs no decoding and little memory.

    Images may differ in mode, as peers allow: the array has 1 channel while every image is grey (GREY_MODES), else 3,
    each image converted to RGB as pytorch-fid, torch-fidelity and clean-fid do (Image.convert("RGB"): grey repeated
    in each channel, a palette's colours looked up, RGBA's alpha dropped rather than composited, CMYK converted
    naively), except that 16-bit grey keeps its top 8 bits as it does alone (convert clips it at 255). A colour image
    met after grey ones is only looked at then; _widened decodes it once the array is RGB. The conversions are noted
    in one warning (_note_conversions)."""
    with _pil_pixel_limit(limit):  # once for all images (workers inherit it): catch_warnings per image costs a third
        with open_image(names[0]) as member, _opened_image(member, label(names[0]), limit) as image:
            first_mode = _mode_code(image, label(names[0]))
            size, channels = (image.height, image.width), _mode_channels(first_mode)
            images = _image_array(source, len(names), (channels, *size), workers)
            modes = row_array((len(names),), workers, first=1)  # shared with the workers as `images` is
            modes[0], images[0] = first_mode, decode_image(image)
        rows = {name: row for row, name in enumerate(names)}

        def decode(name: str) -> np.ndarray:
            # reads `channels` when called: 3 in _widened's workers, forked after it is set
            with open_image(name) as member, _opened_image(member, label(name), limit) as image:
                mode = _mode_code(image, label(name))
                if (image.height, image.width) != size:
                    raise InputError(f"{source}: images of mixed sizes ({names[0]} is "
                                     f"{_chw((_mode_channels(first_mode), *size))}, {name} is "
                                     f"{_chw((_mode_channels(mode), image.height, image.width))})")
                modes[rows[name]] = mode
                if _mode_channels(mode) > channels:
                    return np.zeros((), np.uint8)  # a colour image among grey ones so far: decoded by _widened
                return decode_image(image)  # a grey image in an RGB array is repeated in each channel on assignment

        decode_rows(images, names, decode, workers, first=1, description=f"decode {source}")
        colour = np.flatnonzero(modes >= len(GREY_MODES)).tolist()
        if channels == 1 and colour:
            channels = 3
            images = _widened(source, images, names, colour, decode, workers)
    if channels == 3:
        _note_conversions(source, modes)
    return Samples(torch.from_numpy(images), str(source))


def _widened(source: Path, grey: np.ndarray, names: list[str], colour: list[int], decode: Callable[[str], np.ndarray],
             workers: int) -> np.ndarray:
    """The 1-channel `grey` array as RGB: each of its rows repeated in three channels (what convert("RGB") gives a
    grey image), then the `colour` rows it skipped decoded into it (`decode` now giving RGB), in `workers` processes
    where there are enough of them."""
    wide = _image_array(source, len(names), (3, *grey.shape[2:]), workers, first=len(names) - len(colour))
    wide[:] = grey
    decode_rows(wide, names, decode, workers, rows=colour, description=f"decode {source} (colour images)")
    return wide


def _mode_code(image: Image.Image, name: str) -> int:
    """The code of `image`'s mode (its index in MODES); 32-bit modes are refused naming `name`."""
    _channels(image, name)
    mode = "I;16" if image.mode.startswith("I;16") else image.mode
    return MODES.index(mode) if mode in MODES else OTHER_MODE


def _mode_channels(code: int) -> int:
    return 1 if code < len(GREY_MODES) else 3


def _note_conversions(source: Path, modes: np.ndarray) -> None:
    """Warn, in one line, how many images of an RGB array were converted to RGB, and from which modes."""
    counts = np.bincount(modes, minlength=OTHER_MODE + 1).tolist()
    counts[RGB_MODE] = 0
    converted = sum(counts)
    if not converted:
        return
    named = [(MODES[code] if code < OTHER_MODE else "other", count) for code, count in enumerate(counts) if count]
    parts = ", ".join(f"{count} {MODE_NAMES.get(mode, mode)}" for mode, count in named)
    alpha = "; alpha dropped" if any(mode in ALPHA_MODES for mode, _ in named) else ""
    warn_at_caller(f"{source}: {converted} of {len(modes)} images converted to RGB ({parts}{alpha})", ImageModeWarning)


def _image_array(source: Path, count: int, shape: tuple[int, int, int], workers: int, first: int = 1) -> np.ndarray:
    """Room for `count` images of `shape` (shared with the `workers` that decode those from row `first` on, or as
    many), refused in one line when it is more than half the machine's memory (many small, highly compressed large
    images: each passes the pixel limit, all of them together would not fit)."""
    needed = count * int(np.prod(shape))
    available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    if needed > available:
        raise InputError(f"{source}: {count} images of {_chw(shape)} need {needed / 2**30:.1f} GiB, more than half "
                         f"this machine's memory; score a subset with --num-samples N")
    return row_array((count, *shape), workers, first=first)  # first=1: row 0 is decoded by _load_images itself


def image_shape(source, name: str | None = None, max_image_pixels: int | None = None) -> tuple[int, int, int]:
    """C x H x W that decoding would give, from the header alone (nothing is decoded)."""
    limit = pixel_limit(max_image_pixels)
    with _pil_pixel_limit(limit), _opened_image(source, name or str(source), limit) as image:
        return _channels(image, name or str(source)), image.height, image.width


def decode_image(image: Image.Image) -> np.ndarray:
    """The pixels of an opened image (the only step that decodes) as uint8 C x H x W."""
    if image.mode.startswith("I;16"):  # 16-bit grey: keep the top 8 bits (convert("L") would clip at 255)
        array = (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
    else:
        array = np.asarray(image.convert("L") if image.mode in ("L", "1") else image.convert("RGB"), dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _channels(image: Image.Image, name: str) -> int:
    if image.mode in ("I", "F"):
        raise InputError(f"{name}: {image.mode}-mode images (32-bit) are not supported; save 8-bit PNG/JPEG")
    return 1 if image.mode in ("L", "1") or image.mode.startswith("I;16") else 3


@contextlib.contextmanager
def _opened_image(source, name: str, limit: int) -> Iterator[Image.Image]:
    """The image with its header read and its size within `limit`; PIL errors, decoding ones included, become one
    line naming `name`. Callers hold _pil_pixel_limit(limit) around it."""
    try:
        with Image.open(source) as image:
            if image.width * image.height > limit:
                raise InputError(_too_large(name, image.size, limit))
            yield image
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(_too_large(name, _claimed_size(source), limit)) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{name}: unreadable image ({type(exc).__name__})") from exc


@contextlib.contextmanager
def _pil_pixel_limit(limit: int) -> Iterator[None]:
    """PIL's own decompression-bomb guard set to our limit while we open images: it raises above twice the limit,
    before we see the size (then _claimed_size reads it); its warning in between is ours to report."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _claimed_size(source) -> tuple[int, int] | None:
    """Width and height from the header with PIL's guard off: only to name the size of an image PIL has refused."""
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        if hasattr(source, "seek"):
            source.seek(0)
        with Image.open(source) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _too_large(name: str, size: tuple[int, int] | None, limit: int) -> str:
    size_text = "of unknown size" if size is None else f"{size[0]}x{size[1]} ({size[0] * size[1]:,} pixels)"
    return (f"{name}: image {size_text} is over the limit of {limit:,} pixels; refused before decoding "
            f"(raise the limit with --max-image-pixels N)")


def _chw(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape)


def save_samples(samples: torch.Tensor, out: Path, labels: torch.Tensor | None = None) -> Path:
    """Write samples for other tools: an .npz (key 'samples'; images uint8 NCHW; with `labels`, the class each was
    generated for under 'labels') or a folder of PNG images."""
    out = Path(out)
    if out.suffix.lower() in (".npz", ".npy"):
        array = samples.numpy()
        arrays = {"samples": array} if labels is None else {"samples": array, "labels": labels.numpy()}
        writer = (lambda handle: np.savez(handle, **arrays)) if out.suffix.lower() == ".npz" else (lambda handle: np.save(handle, array))
        write_atomically(out, writer)
        return out
    if out.suffix:
        raise InputError(f"{out}: write samples to a .npz/.npy file or a folder")
    if samples.dtype != torch.uint8:
        raise InputError(f"{out}: points cannot be written as images; use a .npz file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out, exc) from exc
    for index, image in enumerate(samples):
        array = image.permute(1, 2, 0).numpy()
        picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        write_atomically(out / f"{index:06d}.png", lambda handle, picture=picture: picture.save(handle, format="PNG"))
    return out
