"""Decoding image folders: PIL against torchvision.io per image, and --workers 2 against decoding in this process.

1. One image at a time in this process, from bytes in memory: PIL (Image.open, header, then ganeval's decode_image,
   as ganeval.data.files does) against torchvision.io.decode_png / decode_jpeg, on 32x32 PNGs and 512x512 JPEGs.
   Reported only: ganeval keeps PIL unless torchvision.io is clearly faster (it also needs the header pixel check).
   PIL's header read alone (what torchvision.io would still need before it, for the pixel limit) is reported too.
2. load_source of a folder of 5,000 32x32 RGB PNGs (and, where decoding dominates, 1,000 256x256 JPEGs) with
   workers=2 against workers=0: the arrays must be identical; the speed-up is reported (it depends on the cores free,
   on listing the folder and on the start-up of the workers, about 50 ms for two).
"""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from _common import min_seconds
from PIL import Image

from ganeval.data import load_source
from ganeval.data.files import decode_image

FOLDER_IMAGES, SMALL_IMAGES, LARGE_IMAGES = 5000, 2000, 8


def _encoded(count: int, size: int, fmt: str, seed: int = 0) -> list[bytes]:
    """`count` random RGB images of size x size encoded as `fmt`; JPEGs from smooth noise (as photos compress)."""
    rng = np.random.default_rng(seed)
    blobs = []
    for _ in range(count):
        if fmt == "JPEG":
            coarse = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
            picture = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
        else:
            picture = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        handle = io.BytesIO()
        picture.save(handle, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        blobs.append(handle.getvalue())
    return blobs


def _pil(blob: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(blob)) as image:
        _ = image.width * image.height  # the header check ganeval makes before decoding
        return decode_image(image)


def _header(blob: bytes) -> int:
    with Image.open(io.BytesIO(blob)) as image:
        return image.width * image.height


def _per_image_us(decode, blobs: list[bytes], rounds: int = 3) -> float:
    """Fastest round's microseconds per image."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for blob in blobs:
            decode(blob)
        best = min(best, time.perf_counter() - start)
    return best / len(blobs) * 1e6


@pytest.mark.parametrize("fmt, size, count", [("PNG", 32, SMALL_IMAGES), ("JPEG", 512, LARGE_IMAGES)],
                         ids=["png-32", "jpeg-512"])
def test_pil_against_torchvision_io(figures, fmt, size, count):
    from torchvision.io import decode_jpeg, decode_png

    blobs = _encoded(count, size, fmt)
    native = decode_png if fmt == "PNG" else decode_jpeg
    tensors = [torch.frombuffer(bytearray(blob), dtype=torch.uint8) for blob in blobs]  # as read from a file
    assert np.array_equal(_pil(blobs[0]), native(tensors[0]).numpy()) or fmt == "JPEG"  # JPEG decoders may differ
    pil_us = _per_image_us(_pil, blobs)
    torchvision_us = _per_image_us(native, tensors)
    header_us = _per_image_us(_header, blobs)
    figures(f"{count} {size}x{size} RGB {fmt}s, one at a time: PIL {pil_us:.1f} us/image, torchvision.io "
            f"{native.__name__} {torchvision_us:.1f} us/image (PIL / torchvision {pil_us / torchvision_us:.2f}x); PIL "
            f"header alone {header_us:.1f} us, so header + torchvision {header_us + torchvision_us:.1f} us "
            f"({pil_us / (header_us + torchvision_us):.2f}x)")


@pytest.mark.parametrize("fmt, size, count", [("PNG", 32, FOLDER_IMAGES), ("JPEG", 256, 1000)],
                         ids=["png-32", "jpeg-256"])
def test_two_workers_against_one_process(benchmark, figures, tmp_path, fmt, size, count):
    folder = tmp_path / "images"
    folder.mkdir()
    for index, blob in enumerate(_encoded(count, size, fmt, seed=1)):
        (folder / f"{index:05d}.{fmt.lower()}").write_bytes(blob)
    serial_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        serial = load_source(folder, workers=0).data
        serial_s = min(serial_s, time.perf_counter() - start)
    parallel = benchmark.pedantic(load_source, (folder,), {"workers": 2}, rounds=3, iterations=1).data
    assert torch.equal(serial, parallel)
    if min_seconds(benchmark) is not None:
        parallel_s = min_seconds(benchmark)
        figures(f"{count} {size}x{size} RGB {fmt}s: workers=0 {serial_s:.3f} s, workers=2 {parallel_s:.3f} s "
                f"(speed-up {serial_s / parallel_s:.2f}x)")
