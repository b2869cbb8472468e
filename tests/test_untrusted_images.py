"""Image folders and zips from untrusted sources: sizes checked from headers before decoding, zip members from their
uncompressed size before reading, and with --num-samples only the chosen images decoded (the same ones as before)."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganeval.data import files, load_source
from ganeval.errors import InputError

# Peak RSS of the child since its exec (VmHWM), not ru_maxrss, which Linux carries over from the pytest parent.
CLI_WITH_PEAK_RSS = """
import json, sys
from ganeval.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "peak_gb": peak_kb * 1024 / 1e9}))
"""


def png_bytes(width: int, height: int, channels: int = 1, pixels: bool = True) -> bytes:
    """An all-black 8-bit PNG written by hand (so its header can claim any size), with correct CRCs; `pixels=False`
    leaves the image data out (a header that claims what it likes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, {1: 0, 3: 2}[channels], 0, 0, 0)
    compressor, row = zlib.compressobj(9), bytes(1 + width * channels)  # each row: filter byte 0, then zeros
    data = (b"".join(compressor.compress(row) for _ in range(height)) if pixels else b"") + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def small_images(folder: Path, count: int, size: int = 8) -> list[np.ndarray]:
    """`count` distinct greyscale PNGs in `folder`; returns them as 1 x H x W arrays, in file order."""
    folder.mkdir(parents=True, exist_ok=True)
    images = [np.full((size, size), index * 7 % 256, np.uint8) for index in range(count)]
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    return [image[None] for image in images]


@pytest.fixture
def reference(tmp_path) -> Path:
    np.save(tmp_path / "reference.npy", np.zeros((4, 1, 8, 8), np.uint8))
    return tmp_path / "reference.npy"


def one_line_error(run_cli, *args) -> str:
    code, _, err = run_cli(*args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("ganeval: error:"), (code, err)
    assert "Traceback" not in err
    return lines[0]


def test_a_header_claiming_2_31_squared_is_one_line_in_a_folder_and_a_zip(tmp_path, run_cli, reference):
    bomb = png_bytes(2**31, 2**31, pixels=False)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "bomb.png").write_bytes(bomb)
    (tmp_path / "folder" / "fine.png").write_bytes(png_bytes(8, 8))
    archive = write_zip(tmp_path / "bomb.zip", {"a/bomb.png": bomb, "a/fine.png": png_bytes(8, 8)})

    line = one_line_error(run_cli, "score", tmp_path / "folder", reference, "--quiet")
    assert "bomb.png: image 2147483648x2147483648 (4,611,686,018,427,387,904 pixels)" in line and "--max-image-pixels" in line
    line = one_line_error(run_cli, "score", archive, reference, "--quiet")
    assert "bomb.zip:a/bomb.png" in line and "pixels" in line and "--max-image-pixels" in line


@pytest.mark.parametrize("kind", ["zip of 13,000^2 PNGs", "folder of 9,000^2 RGB PNGs"])
def test_huge_images_are_refused_from_their_headers_in_little_memory(tmp_path, kind, reference):
    if kind.startswith("zip"):
        source = write_zip(tmp_path / "huge.zip", {f"{index}.png": png_bytes(13000, 13000) for index in range(4)})
        expected = "huge.zip:"
    else:
        source, picture = tmp_path / "huge", png_bytes(9000, 9000, channels=3)
        source.mkdir()
        for index in range(4):
            (source / f"{index}.png").write_bytes(picture)
        expected = "9000x9000 (81,000,000 pixels)"
    done = subprocess.run(
        [sys.executable, "-c", CLI_WITH_PEAK_RSS, "score", str(source), str(reference), "--num-samples", "2",
         "--metrics", "fid", "--no-cache", "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    lines = done.stderr.strip().splitlines()
    assert result["peak_gb"] < 1.0, result  # decoding them all before the subset: 2.0 (zip), 2.6 GB (folder)
    assert result["code"] == 2 and len(lines) == 1 and expected in lines[0], done.stderr
    assert "over the limit of 67,108,864 pixels" in lines[0]


def test_the_pixel_limit_is_an_option_and_a_module_default(tmp_path, run_cli, monkeypatch):
    small_images(tmp_path / "folder", 3, size=64)
    line = one_line_error(run_cli, "ref", "build", tmp_path / "folder", "--max-image-pixels", "1000", "--quiet")
    assert "000.png: image 64x64 (4,096 pixels) is over the limit of 1,000 pixels" in line
    assert "--max-image-pixels 0" in one_line_error(run_cli, "ref", "build", tmp_path / "folder",
                                                    "--max-image-pixels", "0", "--quiet")
    assert len(load_source(tmp_path / "folder", max_image_pixels=4096)) == 3
    monkeypatch.setattr(files, "MAX_IMAGE_PIXELS", 4095)
    with pytest.raises(InputError, match="4,096 pixels"):
        load_source(tmp_path / "folder")


def test_a_raised_limit_lifts_pils_own_guard_too(tmp_path):
    claim = tmp_path / "wide.png"
    claim.write_bytes(png_bytes(20000, 20000, pixels=False))  # 400M pixels: over twice PIL's default limit
    pil_limit = Image.MAX_IMAGE_PIXELS
    assert files.image_shape(claim, max_image_pixels=10**9) == (1, 20000, 20000)
    with pytest.raises(InputError, match=r"wide.png: image 20000x20000 \(400,000,000 pixels\) is over the limit"):
        files.image_shape(claim, max_image_pixels=300_000_000)  # PIL warns here; the line still gives the sides
    assert Image.MAX_IMAGE_PIXELS == pil_limit  # PIL's guard is ours only while we open images


def test_a_zip_member_too_large_for_the_limit_is_refused_unread(tmp_path, monkeypatch):
    archive = write_zip(tmp_path / "members.zip", {"a.png": png_bytes(8, 8), "b.png": bytes(3 << 20)})
    opened, open_member = [], zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, member, *args: opened.append(member.filename)
                        or open_member(self, member, *args))
    with pytest.raises(InputError, match=r"members.zip:b.png: member of 3,145,728 bytes uncompressed \(\d[\d,]*x its "
                                         r"compressed size\) is more than an image of 1,000 pixels needs"):
        load_source(archive, max_image_pixels=1000)
    assert opened == ["a.png"]  # b.png was never opened


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_num_samples_decodes_only_the_chosen_images(tmp_path, monkeypatch, container):
    small_images(tmp_path / "folder", 40)
    source = tmp_path / "folder"
    if container == "zip":
        source = write_zip(tmp_path / "images.zip", {path.name: path.read_bytes() for path in sorted(source.iterdir())})
    decoded, decode_image = [], files.decode_image
    monkeypatch.setattr(files, "decode_image", lambda image: decoded.append(image.size) or decode_image(image))
    assert len(load_source(source, num_samples=2, seed=5)) == 2
    assert len(decoded) == 2


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_a_lazy_subset_holds_the_images_a_full_load_then_subset_gives(tmp_path, container):
    images = small_images(tmp_path / "folder", 30)
    source = tmp_path / "folder"
    if container == "zip":
        source = write_zip(tmp_path / "images.zip", {path.name: path.read_bytes() for path in sorted(source.iterdir())})
    for seed in (0, 7, 2021):
        lazy = load_source(source, num_samples=9, seed=seed)
        full = load_source(source).subset(9, seed)
        rows = torch.randperm(30, generator=torch.Generator().manual_seed(seed))[:9].sort().values
        assert torch.equal(lazy.data, full.data)
        assert torch.equal(lazy.data, torch.from_numpy(np.stack([images[row] for row in rows.tolist()])))
    with pytest.raises(InputError, match="--num-samples 31 must be between 2 and the 30 available"):
        load_source(source, num_samples=31)


def test_one_size_holds_for_the_images_used(tmp_path):
    small_images(tmp_path / "folder", 5)
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "folder" / "odd.png")
    with pytest.raises(InputError, match=r"images of mixed sizes \(000.png is 1x8x8, odd.png is 1x9x9\)"):
        load_source(tmp_path / "folder")
    assert len(load_source(tmp_path / "folder", num_samples=2, seed=2)) == 2  # seed 2 picks 000 and 003, not odd.png


def test_32_bit_images_are_named_as_such(tmp_path):
    (tmp_path / "folder").mkdir()
    for name in ("a.png", "b.png"):  # PIL reads by content: a 32-bit TIFF named .png opens as mode I
        Image.fromarray(np.zeros((8, 8), np.int32)).save(tmp_path / "folder" / name, format="TIFF")
    with pytest.raises(InputError, match="a.png: I-mode images \\(32-bit\\) are not supported"):
        load_source(tmp_path / "folder")


def test_any_corrupted_byte_of_a_zip_is_one_line(tmp_path):
    archive = write_zip(tmp_path / "images.zip", {name: png_bytes(64, 64, channels=3) + bytes(range(256)) * 8
                                                  for name in ("a.png", "b.png")})
    original = archive.read_bytes()
    for offset in range(30, len(original), 5):
        corrupted = bytearray(original)
        corrupted[offset] ^= 0xFF
        archive.write_bytes(bytes(corrupted))
        try:
            load_source(archive)
        except InputError as error:
            assert "images.zip" in str(error) and "\n" not in str(error)


def test_score_passes_the_limit_to_both_sides(tmp_path, reference):
    from ganeval import score

    small_images(tmp_path / "folder", 3, size=64)
    for samples, other in ((tmp_path / "folder", reference), (reference, tmp_path / "folder")):
        with pytest.raises(InputError, match=r"folder/000.png: image 64x64 \(4,096 pixels\) is over the limit of 1,000"):
            score(str(samples), str(other), "fid", max_image_pixels=1000, progress=False, use_cache=False)
