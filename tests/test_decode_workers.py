"""Image folders and zips decoded in worker processes (--workers N): the same samples and scores as decoding in this
process, the same one-line errors naming the file, and no processes left behind."""
from __future__ import annotations

import json
import multiprocessing
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from ganeval.data import decode, load_source
from ganeval.errors import InputError

COUNT = 100  # above decode.PARALLEL_FROM, so workers=2 takes the parallel path


def write_pngs(folder, count: int = COUNT, seed: int = 0):
    """`count` random 28x28 grey PNGs named 0000.png... in `folder`; returns the folder."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{index:04d}.png")
    return folder


def zipped(folder, archive):
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.iterdir()):
            handle.write(path, path.name)
    return archive


@pytest.fixture
def loaders(monkeypatch):
    """The worker counts of the DataLoaders decode_rows builds (to be sure the parallel path ran)."""
    made = []
    real = decode.DataLoader

    def spy(*args, **kwargs):
        made.append(kwargs["num_workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(decode, "DataLoader", spy)
    return made


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("num_samples", [None, 80])
def test_workers_decode_the_same_samples(tmp_path, loaders, as_zip, num_samples):
    source = write_pngs(tmp_path / "pngs")
    if as_zip:
        source = zipped(source, tmp_path / "pngs.zip")
    serial = load_source(source, num_samples=num_samples, seed=3, workers=0).data
    assert loaders == []
    rng_state = torch.get_rng_state()
    parallel = load_source(source, num_samples=num_samples, seed=3, workers=2).data
    assert loaders == [2]
    assert torch.equal(serial, parallel) and len(parallel) == (num_samples or COUNT)
    assert torch.equal(rng_state, torch.get_rng_state())  # the DataLoader drew its seed from its own generator
    assert multiprocessing.active_children() == []


def test_few_images_decode_in_this_process(tmp_path, loaders):
    source = write_pngs(tmp_path / "pngs", count=10)
    assert len(load_source(source, workers=2)) == 10
    assert loaders == []


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("odd", ["rgb", "size"])
def test_mixed_sizes_in_a_worker_are_one_line(tmp_path, loaders, as_zip, odd):
    folder = write_pngs(tmp_path / "pngs")
    image = np.zeros((30, 30, 3) if odd == "rgb" else (30, 30), np.uint8)
    Image.fromarray(image).save(folder / "0070.png")  # grey 28x28 before: refused, with or without workers
    source = zipped(folder, tmp_path / "pngs.zip") if as_zip else folder
    with pytest.raises(InputError) as raised:
        load_source(source, workers=2)
    found = "3x30x30" if odd == "rgb" else "1x30x30"  # a colour image among grey ones is read (RGB); its size is not
    assert str(raised.value) == f"{source}: images of mixed sizes (0000.png is 1x28x28, 0070.png is {found})"
    assert loaders == [2] and multiprocessing.active_children() == []


def test_corrupt_zip_member_in_a_worker_is_one_line(tmp_path):
    folder = write_pngs(tmp_path / "pngs")
    (folder / "0090.png").write_bytes((folder / "0090.png").read_bytes()[:60])  # truncated inside its pixel data
    archive = zipped(folder, tmp_path / "pngs.zip")
    with pytest.raises(InputError, match=r"pngs\.zip:0090\.png: unreadable image \(OSError\)$"):
        load_source(archive, workers=2)


def test_corrupt_png_exits_2_with_one_line(tmp_path, run_cli):
    folder = write_pngs(tmp_path / "fake")
    (folder / "0050.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    write_pngs(tmp_path / "real", seed=1)
    code, _, err = run_cli("score", folder, "--reference", tmp_path / "real", "--metrics", "fid", "--extractor",
                           "fmnist-classifier", "--workers", "2", "--quiet", "--no-cache")
    assert code == 2
    assert err.strip().splitlines() == [f"ganeval: error: {folder / '0050.png'}: unreadable image "
                                        f"(UnidentifiedImageError)"]
    assert multiprocessing.active_children() == []


def test_scores_are_the_same_for_any_worker_count(tmp_path, run_cli):
    fake, real = write_pngs(tmp_path / "fake"), write_pngs(tmp_path / "real", seed=1)
    records = []
    for workers in ("0", "2", "4"):  # 4 on 2 cores: more processes than cores, still the same array
        code, out, err = run_cli("score", fake, "--reference", real, "--metrics", "fid,kid", "--extractor",
                                 "fmnist-classifier", "--kid-subsets", "5", "--workers", workers, "--json",
                                 "--quiet", "--no-cache")
        assert code == 0, err
        records.append(json.loads(out))
    assert all((record["fid"], record["kid_mean"]) == (records[0]["fid"], records[0]["kid_mean"]) for record in records)


def test_negative_workers_is_one_line(tmp_path, run_cli):
    folder = write_pngs(tmp_path / "pngs", count=4)
    code, _, err = run_cli("score", folder, "--reference", folder, "--metrics", "fid", "--extractor",
                           "fmnist-classifier", "--workers", "-1", "--quiet", "--no-cache")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--workers -1" in err
    with pytest.raises(InputError, match=r"^--workers -1: must be a whole number, 0 or more"):
        load_source("ring8.npy", workers=-1)
    # a source that decodes nothing refuses it as well, and the keyword form takes the field
    code, _, err = run_cli("score", "ring8", "ring8", "--workers", "-1", "--quiet", "--no-cache")
    assert code == 2 and "--workers -1" in err


def test_the_keyword_form_takes_workers():
    from ganeval import score

    record = score("ring8", "ring8", "fid", workers=2, num_samples=300, progress=False, use_cache=False)
    assert record["fid"] >= 0
