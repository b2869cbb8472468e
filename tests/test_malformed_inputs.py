"""Malformed input, across every command: exit code 2, at most two lines on stderr (the error, and for a usage error
the subcommand's usage), no traceback, and no new file left behind.

Each case builds its inputs in a fresh folder, snapshots every file under it, runs the command in-process, and
compares the snapshot after; the reference cache may have gained whole entries (a reference extracted before the
error was found), never partial ones.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

RECORD = {"schema": 1, "created": "2026-11-30T00:00:00+00:00", "run": "r", "checkpoint": "step-0000100.pt",
          "step": 100, "input": "x", "reference": "grid25", "extractor": "identity", "num_samples": 2500,
          "num_reference": 2500, "seed": 2020, "fid": 1.5}


def _run_with(folder: Path, **changes) -> Path:
    """A run folder whose one record has `changes` applied."""
    run = folder / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step-0000100.pt").write_bytes(b"")
    (run / "metrics.jsonl").write_text(json.dumps({**RECORD, **changes}) + "\n")
    return run


def _arrays(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    np.save(folder / "real.npy", rng.standard_normal((50, 4)).astype(np.float32))
    np.save(folder / "fake8.npy", rng.standard_normal((50, 8)).astype(np.float32))
    return folder / "real.npy", folder / "fake8.npy"


def _bomb_png(path: Path) -> Path:
    """A PNG whose header claims 2^31 x 2^31 pixels: a few dozen bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 2**31 - 1, 2**31 - 1, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


# (id, builder(folder) -> argv): each builder makes its inputs under `folder` and returns the command line.
Case = Callable[[Path], list]
CASES: dict[str, Case] = {
    "score-missing-input": lambda d: ["score", d / "missing.npy", _arrays(d)[0]],
    "score-dimension-mismatch": lambda d: ["score", _arrays(d)[1], _arrays(d)[0], "--metrics", "fid"],
    "score-one-sample": lambda d: ["score", _arrays(d)[0], _arrays(d)[0], "--num-samples", "1"],
    "score-negative-seed": lambda d: ["score", "ring8", "ring8", "--seed", "-1"],
    "score-kid-subset-too-big": lambda d: ["score", "ring8", "ring8", "--metrics", "kid", "--kid-subset-size", "99999"],
    "score-unknown-metric": lambda d: ["score", "ring8", "ring8", "--metrics", "fdi"],
    "score-out-is-a-folder": lambda d: ["score", "ring8", "ring8", "--metrics", "fid", "--out", d],
    "score-save-stats-not-npz": lambda d: ["score", "ring8", "ring8", "--metrics", "fid", "--save-stats", d / "s.txt"],
    "score-garbage-npy": lambda d: [(d / "bad.npy").write_bytes(os.urandom(64)) and "score", d / "bad.npy", "ring8"],
    "score-ci-level": lambda d: ["score", "ring8", "ring8", "--metrics", "fid", "--ci", "1.5"],
    "score-bomb-png": lambda d: ["score", _bomb_png(d / "bomb" / "a.png").parent, _bomb_png(d / "real" / "b.png").parent],
    "score-two-references": lambda d: ["score", "ring8", "ring8", "--reference", "grid25"],
    "score-typo-flag": lambda d: ["score", "ring8", "ring8", "--metircs", "fid"],
    "train-unknown-config": lambda d: ["train", "no-such-config", "--out", d / "out"],
    "train-negative-lr": lambda d: ["train", "ring8-gan", "--set", "lr=-1", "--out", d / "out"],
    "train-fractional-steps": lambda d: ["train", "ring8-gan", "--set", "steps=2.5", "--out", d / "out"],
    "train-string-steps": lambda d: ["train", "ring8-gan", "--set", "steps='abc'", "--out", d / "out"],
    "train-bad-betas": lambda d: ["train", "ring8-gan", "--set", "betas=[2.0]", "--out", d / "out"],
    "train-zero-width": lambda d: ["train", "ring8-gan", "--set", "model_options.generator_width=0", "--out", d / "out"],
    "train-unknown-key": lambda d: ["train", "ring8-gan", "--set", "colour=1", "--out", d / "out"],
    "train-out-is-a-file": lambda d: [(d / "file").write_text("x") and "train", "ring8-gan", "--out", d / "file"],
    "sample-missing-checkpoint": lambda d: ["sample", d / "none.pt", "--num-samples", "2", "--out", d / "s.npz"],
    "sample-garbage-checkpoint": lambda d: [(d / "bad.pt").write_bytes(os.urandom(256)) and "sample", d / "bad.pt",
                                            "--num-samples", "2", "--out", d / "s.npz"],
    "sample-out-under-a-file": lambda d: [(d / "file").write_text("x") and "sample", d / "none.pt", "--num-samples",
                                          "2", "--out", d / "file" / "samples"],
    "train-classifier-out-under-a-file": lambda d: [(d / "file").write_text("x") and "train-classifier", "--out",
                                                    d / "file" / "weights"],
    "compare-string-value": lambda d: ["compare", _run_with(d, fid="abc")],
    "compare-string-step": lambda d: ["compare", _run_with(d, step="x")],
    "compare-list-value": lambda d: ["compare", _run_with(d, fid=[1, 2])],
    "compare-out-is-a-folder": lambda d: ["compare", _run_with(d), "--out", d],
    "compare-pattern-matches-nothing": lambda d: ["compare", str(d / "nothing" / "*")],
    "gate-string-value": lambda d: ["gate", _run_with(d, fid="abc"), "--max", "fid=3"],
    "gate-limit-not-a-number": lambda d: ["gate", _run_with(d), "--max", "fid=abc"],
    "gate-junit-is-a-folder": lambda d: ["gate", _run_with(d), "--max", "fid=3", "--junit", d],
    "gate-alpha-out-of-range": lambda d: ["gate", _run_with(d), "--max-regression", "fid=1", "--baseline",
                                          _run_with(d / "b"), "--alpha", "2"],
    "report-string-value": lambda d: ["report", _run_with(d, fid="abc"), "--out", d / "report"],
    "report-out-is-a-file": lambda d: [(d / "file").write_text("x") and "report", _run_with(d), "--out", d / "file"],
    "ref-show-unknown-key": lambda d: ["ref", "show", "0123456789abcdef"],
    "ref-export-not-npz": lambda d: ["ref", "export", "ring8", "--out", d / "stats.txt"],
    "ref-build-missing-file": lambda d: ["ref", "build", d / "missing.npy"],
}


def _snapshot(*folders: Path) -> set[str]:
    return {str(path) for folder in folders if folder.exists() for path in folder.rglob("*")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_input_is_one_line_and_exit_2(case, tmp_path, run_cli):
    folder = tmp_path / "work"
    folder.mkdir()
    argv = [str(arg) for arg in CASES[case](folder)]
    before = _snapshot(folder)
    code, _, err = run_cli(*argv)
    lines = [line for line in err.strip().splitlines() if not line.startswith("ganeval: warning:")]
    assert code == 2, (argv, err)
    assert 1 <= len(lines) <= 2 and "Traceback" not in err, err
    assert lines[0].startswith(("ganeval: error:", "ganeval ")), err
    assert _snapshot(folder) == before, "files left behind"
    # the reference cache may keep a reference it extracted whole (a later score reuses it), never a partial entry
    entries = [Path(path) for path in _snapshot(Path(os.environ["GANEVAL_CACHE"])) if Path(path).is_file()]
    assert all(path.suffix in (".pt", ".json") and path.with_suffix(".json" if path.suffix == ".pt" else ".pt").exists()
               for path in entries), entries


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return result.returncode == 0


def _tmpfs(folder: Path, options: str):
    """A tmpfs mounted at `folder` for the test's length (root only: skipped elsewhere)."""
    if os.geteuid() != 0 or not _mount(folder, options):
        pytest.skip("mounting a tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def read_only_disk(tmp_path):
    """A read-only tmpfs: writes fail with EROFS, even for root."""
    yield from _tmpfs(tmp_path / "ro", "size=64k,ro")


@pytest.mark.parametrize("command", ["report", "compare", "score", "train"])
def test_read_only_output_is_one_line(command, read_only_disk, tmp_path, run_cli):
    run = _run_with(tmp_path)
    argv = {"report": ["report", run, "--out", read_only_disk / "report"],
            "compare": ["compare", run, "--out", read_only_disk / "table.txt"],
            "score": ["score", "ring8", "ring8", "--metrics", "fid", "--quiet", "--out", read_only_disk / "s.json"],
            "train": ["train", "ring8-gan", "--steps", "2", "--no-eval", "--quiet", "--out", read_only_disk / "run"]}
    code, _, err = run_cli(*argv[command])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(read_only_disk) in err


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KB tmpfs: a write past it fails with ENOSPC."""
    yield from _tmpfs(tmp_path / "full", "size=64k")


def _noisy_run(folder: Path) -> Path:
    """A run whose sample picture (~200 KB of noise) cannot fit on the full disk."""
    from PIL import Image

    run = _run_with(folder)
    (run / "samples").mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(run / "samples" / "step-0000100.png")
    return run


@pytest.mark.parametrize("command", ["report", "train", "save-stats"])
def test_a_full_disk_is_one_line_and_leaves_nothing(command, full_disk, tmp_path, run_cli):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "wide.npy", rng.standard_normal((300, 200)).astype(np.float32))  # sigma: 200 x 200 float64
    argv = {"report": ["report", _noisy_run(tmp_path), "--out", full_disk / "report"],
            "train": ["train", "ring8-gan", "--steps", "2", "--no-eval", "--quiet", "--set", "model_options.generator_width=512",
                      "--out", full_disk / "run"],
            "save-stats": ["score", tmp_path / "wide.npy", tmp_path / "wide.npy", "--metrics", "fid", "--quiet",
                           "--save-stats", full_disk / "stats.npz"]}[command]
    code, _, err = run_cli(*argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "no space left" in err and str(full_disk) in err, err
    leftovers = [path for path in full_disk.rglob("*") if path.is_file()]
    assert not [path for path in leftovers if path.suffix in (".tmp", ".npz", ".html") or ".tmp" in path.name]


def test_an_unwritable_github_summary_is_one_line(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "file" / "summary.md"))
    (tmp_path / "file").write_text("x")
    code, out, err = run_cli("gate", _run_with(tmp_path), "--max", "fid=3")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "GITHUB_STEP_SUMMARY" in err and out == "", err


def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(tmp_path, run_cli):
    code, _, err = run_cli("train", "ring8-gan", "--steps", "2", "--no-eval", "--quiet", "--out", tmp_path / "run")
    assert code == 0, err
    before = sorted(path.name for path in (tmp_path / "run" / "checkpoints").iterdir())
    code, _, err = run_cli("train", "ring8-gan", "--steps", "2", "--no-eval", "--quiet", "--overwrite",
                           "--set", f"data='{tmp_path / 'missing.npy'}'", "--set", "model='mlp'", "--out", tmp_path / "run")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert sorted(path.name for path in (tmp_path / "run" / "checkpoints").iterdir()) == before


def test_images_that_cannot_fit_in_memory_together_are_one_line(tmp_path, run_cli, monkeypatch):
    from PIL import Image

    from ganeval.data import files

    for index in range(3):
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / f"{index}.png")
    pages = {"SC_PHYS_PAGES": 2, "SC_PAGE_SIZE": 4096}  # an 8 KB machine: three 64 x 64 images need 12 KB
    monkeypatch.setattr(files.os, "sysconf", lambda name: pages[name])
    code, _, err = run_cli("score", tmp_path, "ring8")
    assert code == 2 and "3 images of 1x64x64 need" in err and "--num-samples" in err, err


def test_an_interrupt_during_a_write_stays_an_interrupt(tmp_path):
    from ganeval.atomic import write_atomically

    def write(handle):
        try:
            raise OSError(28, "No space left on device")
        except OSError:
            raise KeyboardInterrupt  # Ctrl-C while a library handles a write error

    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "x.bin", write)
    assert list(tmp_path.iterdir()) == []
