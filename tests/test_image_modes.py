"""Image folders and zips read as peers read them: images of several modes (grey, palette, RGBA, CMYK...) become RGB
through PIL's convert("RGB") with a one-line note of what was converted, grey images alone stay 1 channel, and TIFF,
PGM, PPM, BMP and WebP files are read like PNG and JPEG."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ganeval.data import decode, files, load_source
from ganeval.errors import ImageModeWarning
from ganeval.data.samples import subset_rows
from ganeval.errors import InputError

from .test_decode_workers import loaders, zipped  # noqa: F401  (loaders: a fixture)

SIZE = 8


def colours(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def image_of(mode: str, seed: int) -> Image.Image:
    """A random SIZE x SIZE image in `mode`."""
    rgb = colours(seed)
    if mode == "RGBA":
        return Image.fromarray(np.dstack([rgb, rgb[:, :, 0]]), "RGBA")
    if mode == "LA":
        return Image.fromarray(np.dstack([rgb[:, :, 0], rgb[:, :, 1]]), "LA")
    if mode == "I;16":
        return Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257)  # 16-bit grey, top 8 bits = channel 0
    return Image.fromarray(rgb).convert(mode)  # L, P (an adaptive palette), 1 (dithered), CMYK


# One file of each mode: JPEG for CMYK (the CMYK JPEGs of ImageNet's validation set), PNG for the others.
MIXED = {"a_grey.png": "L", "b_palette.png": "P", "c_rgba.png": "RGBA", "d_cmyk.jpg": "CMYK", "e_rgb.png": "RGB",
         "f_grey_alpha.png": "LA", "g_bits.png": "1"}


def write_folder(folder, modes: dict[str, str], seed: int = 0):
    """The images named in `modes`, each in its mode, written into `folder`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, (name, mode) in enumerate(modes.items()):
        image_of(mode, seed + index).save(folder / name)
    return folder


def as_rgb(path) -> np.ndarray:
    """What pytorch-fid, torch-fidelity and clean-fid read from the file: convert("RGB"), as 3 x H x W."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).transpose(2, 0, 1)


def loaded(source, **keywords):
    """load_source's data and the ImageModeWarning messages it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_source(source, **keywords).data
    return data, [str(warning.message) for warning in caught if warning.category is ImageModeWarning]


@pytest.mark.parametrize("grey_first", [True, False], ids=["grey-first", "colour-first"])
def test_a_folder_of_mixed_modes_reads_as_rgb_each_image_as_convert_gives(tmp_path, grey_first):
    modes = MIXED if grey_first else {f"{'z' if mode == 'L' else ''}{name}": mode for name, mode in MIXED.items()}
    folder = write_folder(tmp_path / "photos", modes)
    data, notes = loaded(folder, workers=0)
    assert data.dtype == torch.uint8 and tuple(data.shape) == (len(MIXED), 3, SIZE, SIZE)
    for row, name in enumerate(sorted(modes)):
        assert np.array_equal(data[row].numpy(), as_rgb(folder / name)), name
    assert notes == [f"{folder}: 6 of 7 images converted to RGB "
                     f"(1 grey, 1 1-bit, 1 palette, 1 RGBA, 1 grey+alpha, 1 CMYK; alpha dropped)"]


def test_mixed_modes_read_as_torch_fidelity_reads_them(tmp_path):
    datasets = pytest.importorskip("torch_fidelity.datasets")
    folder = write_folder(tmp_path / "photos", MIXED)
    data, _ = loaded(folder, workers=0)
    theirs = datasets.ImagesPathDataset([str(folder / name) for name in sorted(MIXED)])
    assert torch.equal(data, torch.stack([theirs[row] for row in range(len(theirs))]))


def test_a_mixed_folder_scores(tmp_path):
    from ganeval import score

    fake = write_folder(tmp_path / "fake", MIXED)
    real = write_folder(tmp_path / "real", {f"{index}.png": "RGB" for index in range(7)}, seed=50)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = score(str(fake), str(real), "fid", extractor="identity", progress=False, use_cache=False)
    assert np.isfinite(record["fid"]) and record["num_samples"] == 7
    notes = [str(warning.message) for warning in caught if warning.category is ImageModeWarning]
    assert notes == [f"{fake}: 6 of 7 images converted to RGB "
                     f"(1 grey, 1 1-bit, 1 palette, 1 RGBA, 1 grey+alpha, 1 CMYK; alpha dropped)"]


def test_grey_images_alone_stay_one_channel_without_a_note(tmp_path):
    folder = write_folder(tmp_path / "grey", {"a.png": "L", "b.png": "1", "c.png": "L", "d.png": "I;16"})
    data, notes = loaded(folder)
    assert tuple(data.shape) == (4, 1, SIZE, SIZE) and notes == []
    for row, name in enumerate("abc"):
        assert np.array_equal(data[row, 0].numpy(), np.asarray(Image.open(folder / f"{name}.png").convert("L")))
    assert np.array_equal(data[3, 0].numpy(), colours(3)[:, :, 0])  # 16-bit grey: its top 8 bits


def test_sixteen_bit_grey_among_colour_keeps_its_top_eight_bits(tmp_path):
    folder = write_folder(tmp_path / "mixed", {"a.png": "I;16", "b.png": "RGB"})
    data, notes = loaded(folder)
    assert np.array_equal(data[0].numpy(), np.repeat(colours(0)[None, :, :, 0], 3, axis=0))  # not clipped at 255
    assert notes == [f"{folder}: 1 of 2 images converted to RGB (1 16-bit grey)"]


@pytest.mark.parametrize(("mode", "note"), [("P", "3 palette"), ("RGBA", "3 RGBA; alpha dropped"), ("CMYK", "3 CMYK")])
def test_colour_images_of_one_other_mode_become_rgb_noted(tmp_path, mode, note):
    suffix = ".jpg" if mode == "CMYK" else ".png"
    folder = write_folder(tmp_path / "one", {f"{index}{suffix}": mode for index in range(3)})
    data, notes = loaded(folder)
    assert tuple(data.shape) == (3, 3, SIZE, SIZE)
    assert np.array_equal(data[1].numpy(), as_rgb(folder / f"1{suffix}"))
    assert notes == [f"{folder}: 3 of 3 images converted to RGB ({note})"]


def test_rgb_images_give_no_note(tmp_path):
    folder = write_folder(tmp_path / "rgb", {"a.png": "RGB", "b.jpg": "RGB"})
    data, notes = loaded(folder)
    assert tuple(data.shape) == (2, 3, SIZE, SIZE) and notes == []


@pytest.mark.parametrize("suffixes", [(".tif", ".TIFF", ".Tif"), (".pgm", ".PGM"), (".ppm", ".PPM"),
                                      (".bmp", ".webp", ".WEBP")])
def test_tiff_pgm_ppm_bmp_and_webp_files_are_read_whatever_the_case(tmp_path, suffixes):
    grey = suffixes[0] == ".pgm"  # PGM holds grey images, the others colour
    modes = {f"{index}{suffix}": "L" if grey else "RGB" for index, suffix in enumerate(suffixes)}
    folder = write_folder(tmp_path / "images", modes)
    for name in modes:
        if name.lower().endswith(".webp"):  # lossless, so the pixels compare
            image_of("RGB", list(modes).index(name)).save(folder / name, lossless=True)
    data, notes = loaded(folder)
    assert tuple(data.shape) == (len(suffixes), 1 if grey else 3, SIZE, SIZE) and notes == []
    for row, name in enumerate(sorted(modes)):
        expected = colours(list(modes).index(name))
        expected = np.asarray(Image.fromarray(expected).convert("L"))[None] if grey else expected.transpose(2, 0, 1)
        assert np.array_equal(data[row].numpy(), expected), name


@pytest.mark.parametrize("suffix", [".tif", ".pgm", ".ppm"])
def test_the_pixel_limit_refuses_the_new_formats_before_decoding(tmp_path, monkeypatch, suffix):
    folder = write_folder(tmp_path / "big", {f"b{suffix}": "L" if suffix == ".pgm" else "RGB"})  # 64 pixels
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).convert("L" if suffix == ".pgm" else "RGB").save(
        folder / f"a{suffix}")
    decoded = []
    decode_image = files.decode_image
    monkeypatch.setattr(files, "decode_image", lambda image: decoded.append(image.size) or decode_image(image))
    with pytest.raises(InputError, match=rf"big/a\{suffix}: image 30x40 \(1,200 pixels\) is over the limit of 100 "
                                         rf"pixels; refused before decoding"):
        load_source(folder, max_image_pixels=100)
    assert decoded == []


def test_mixed_sizes_stay_an_error_naming_both(tmp_path):
    folder = write_folder(tmp_path / "sizes", {"a.png": "L"})
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(folder / "b.png")
    with pytest.raises(InputError, match=r"images of mixed sizes \(a.png is 1x8x8, b.png is 3x9x9\)"):
        load_source(folder)


@pytest.fixture
def parallel(monkeypatch, loaders):
    """decode_rows takes the worker path from 4 rows on, in chunks of 3 (tiny folders exercise it); returns the
    worker counts of the DataLoaders it builds (test_decode_workers' `loaders`)."""
    monkeypatch.setattr(decode, "PARALLEL_FROM", 4)
    monkeypatch.setattr(decode, "CHUNK_ROWS", 3)
    return loaders


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("grey_first", [True, False], ids=["grey-first", "colour-first"])
def test_workers_give_the_same_rgb_array(tmp_path, parallel, as_zip, grey_first):
    cycle = ["L", "P", "RGBA", "CMYK", "RGB", "L", "1", "LA"]
    if not grey_first:
        cycle = cycle[1:] + cycle[:1]
    modes = {f"{index:02d}.{'jpg' if mode == 'CMYK' else 'png'}": mode for index, mode in
             ((index, cycle[index % len(cycle)]) for index in range(24))}
    source = write_folder(tmp_path / "photos", modes)
    if as_zip:
        source = zipped(source, tmp_path / "photos.zip")
    serial, serial_notes = loaded(source, workers=0)
    assert parallel == []
    workers, worker_notes = loaded(source, workers=2)
    assert parallel == ([2, 2] if grey_first else [2])  # grey first: the colour rows are decoded by workers again
    assert tuple(serial.shape) == (24, 3, SIZE, SIZE) and torch.equal(serial, workers)
    assert serial_notes == worker_notes and len(serial_notes) == 1 and "21 of 24 images converted" in serial_notes[0]
    folder = tmp_path / "photos"
    for row, name in enumerate(sorted(modes)):
        assert np.array_equal(serial[row].numpy(), as_rgb(folder / name)), name


def test_a_zip_of_mixed_modes_reads_as_the_folder_does(tmp_path):
    folder = write_folder(tmp_path / "photos", MIXED)
    archive = zipped(folder, tmp_path / "photos.zip")
    from_folder, _ = loaded(folder)
    from_zip, notes = loaded(archive)
    assert torch.equal(from_zip, from_folder)
    assert notes == [f"{archive}: 6 of 7 images converted to RGB "
                     f"(1 grey, 1 1-bit, 1 palette, 1 RGBA, 1 grey+alpha, 1 CMYK; alpha dropped)"]


def test_a_seeded_subset_of_a_mixed_folder_decodes_only_its_images(tmp_path, monkeypatch):
    modes = {f"{index:02d}.png": ("L", "RGB", "P")[index % 3] for index in range(30)}
    folder = write_folder(tmp_path / "photos", modes)
    full, _ = loaded(folder, workers=0)
    decoded = []
    decode_image = files.decode_image
    monkeypatch.setattr(files, "decode_image", lambda image: decoded.append(image.size) or decode_image(image))
    lazy, notes = loaded(folder, num_samples=9, seed=4, workers=0)
    rows = subset_rows(30, 9, 4, "photos").tolist()
    assert len(decoded) == 9 and torch.equal(lazy, full[rows])
    grey, palette = sum(row % 3 == 0 for row in rows), sum(row % 3 == 2 for row in rows)
    # the note counts the images used
    assert notes == [f"{folder}: {grey + palette} of 9 images converted to RGB ({grey} grey, {palette} palette)"]


def test_the_rule_applies_to_the_images_used(tmp_path):
    folder = write_folder(tmp_path / "photos", {"00.png": "RGB", **{f"{index:02d}.png": "L" for index in range(1, 30)}})
    seed = next(seed for seed in range(100) if 0 not in subset_rows(30, 2, seed, "photos").tolist())
    data, notes = loaded(folder, num_samples=2, seed=seed)
    assert tuple(data.shape) == (2, 1, SIZE, SIZE) and notes == []  # two grey images chosen: grey, as sizes go
