"""The `ganeval score` command: tables and JSON, input formats, determinism, and one-line errors with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from .conftest import gaussian_pair

FAST = ("--kid-subsets", "5", "--quiet")


@pytest.fixture
def feature_files(tmp_path, rng):
    real, fake = gaussian_pair(rng, 300, 8)
    np.save(tmp_path / "real.npy", real.astype(np.float32))
    np.savez(tmp_path / "fake.npz", features=fake.astype(np.float32))
    return tmp_path / "real.npy", tmp_path / "fake.npz"


def write_images(folder, images: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        Image.fromarray(image.squeeze()).save(folder / f"{index:04d}.png")


def test_table_and_json(run_cli, feature_files):
    real, fake = feature_files
    code, out, err = run_cli("score", fake, "--reference", real, *FAST)
    assert code == 0, err
    assert "fid" in out and "precision" in out and "coverage" in out
    code, out, _ = run_cli("score", fake, "--reference", real, "--metrics", "fid,kid", "--json", *FAST)
    record = json.loads(out)
    assert record["fid"] > 0 and "kid_mean" in record and "precision" not in record
    assert record["num_samples"] == 300 and record["extractor"] == "identity"
    assert record["diagnostics"]["fid"]["dim"] == 8


def test_same_seed_same_numbers_and_batch_size_independent(run_cli, feature_files):
    real, fake = feature_files
    results = []
    for batch_size in ("1", "7", "64"):
        code, out, _ = run_cli("score", fake, "--reference", real, "--json", "--batch-size", batch_size, *FAST)
        results.append(json.loads(out))
    for key in ("fid", "kid_mean", "precision", "recall", "density", "coverage"):
        values = [result[key] for result in results]
        assert values[1] == pytest.approx(values[0], rel=1e-6) and values[2] == pytest.approx(values[0], rel=1e-6)


def test_image_folders_and_nhwc_arrays_agree(run_cli, tmp_path, rng):
    real = rng.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8)
    fake = rng.integers(0, 200, (40, 3, 8, 8), dtype=np.uint8)
    write_images(tmp_path / "real" / "nested", real.transpose(0, 2, 3, 1))
    write_images(tmp_path / "fake", fake.transpose(0, 2, 3, 1))
    np.save(tmp_path / "real_nhwc.npy", real.transpose(0, 2, 3, 1))
    np.save(tmp_path / "fake_nchw.npy", fake)
    args = ("--extractor", "identity", "--metrics", "fid,prdc", "--json", *FAST)
    _, from_folders, err = run_cli("score", tmp_path / "fake", "--reference", tmp_path / "real", *args)
    _, from_arrays, _ = run_cli("score", tmp_path / "fake_nchw.npy", "--reference", tmp_path / "real_nhwc.npy", *args)
    folders, arrays = json.loads(from_folders), json.loads(from_arrays)
    assert folders["fid"] == pytest.approx(arrays["fid"], rel=1e-12)
    assert folders["precision"] == arrays["precision"]
    assert "N <= d" in err  # 40 samples for 192 pixel dimensions: the warning names N and d
    assert "40 samples for 192 feature dimensions" in err


def one_line_error(run_cli, *args) -> str:
    code, out, err = run_cli(*args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganeval: error:"), err
    return lines[0]


def test_bad_input_gives_one_line_and_exit_2(run_cli, tmp_path, feature_files):
    real, fake = feature_files
    np.save(tmp_path / "wide.npy", np.zeros((300, 9), np.float32))
    np.save(tmp_path / "nan.npy", np.full((300, 8), np.nan, np.float32))
    np.save(tmp_path / "one.npy", np.zeros((1, 8), np.float32))
    (tmp_path / "garbage.npy").write_bytes(b"not an array at all")
    (tmp_path / "empty").mkdir()
    write_images(tmp_path / "mixed", np.zeros((2, 8, 8), np.uint8))
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "mixed" / "odd.png")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"\x89PNG but truncated")

    cases = {
        ("score", fake, "--reference", tmp_path / "wide.npy"): "feature dimensions differ",
        ("score", tmp_path / "nan.npy", "--reference", real): "NaN or Inf",
        ("score", tmp_path / "one.npy", "--reference", real): "at least 2 samples",
        ("score", fake, "--reference", real, "--kid-subset-size", "500"): "subset size 500",
        ("score", fake, "--reference", real, "--metrics", "fid,fdi"): "unknown metric 'fdi'; choose from authpct, cas, class_pr, cmmd, copies, ct, fid, fid_inf, fld, ifid, is, is_inf, kid, label_accuracy, mifid, modes, ndb, prdc, realism, vendi",
        ("score", fake, "--reference", real, "--extractor", "vgg"): "unknown extractor 'vgg'; choose from ",
        ("score", fake, "--reference", tmp_path / "missing"): "missing: no such file or folder",
        ("score", fake, "--reference", tmp_path / "empty"): "folder holds no PNG or JPEG images",
        ("score", tmp_path / "garbage.npy", "--reference", real): "garbage.npy: unreadable array file",
        ("score", tmp_path / "broken", "--reference", real): "a.png: unreadable image",
        ("score", tmp_path / "mixed", "--reference", real): "images of mixed sizes",
        ("score", fake, "--reference", real, "--device", "tpu"): "--device 'tpu'",
        ("score", fake): "--reference",
    }
    for args, message in cases.items():
        assert message in one_line_error(run_cli, *args), args


def test_python_dash_m_runs_the_command(feature_files):
    real, fake = feature_files
    result = subprocess.run(
        [sys.executable, "-m", "ganeval", "score", str(fake), "--reference", str(real), "--metrics", "fid", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fid"] > 0
