"""Hardening (issue 19): bad record fields, unwritable outputs, full disks and concurrent sweeps each give one line
and exit code 2 (or, for sweeps, each record once), never a traceback or a half-written report."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ganeval.runs import RunDir

GRID = {"reference": "grid25", "extractor": "identity", "num_samples": 2500, "num_reference": 2500, "seed": 2020}


def write_run(folder: Path, name: str = "alpha", steps: tuple[int, ...] = (0, 100, 200)) -> Path:
    """A run directory with one good record per step."""
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    for index, step in enumerate(steps):
        checkpoint = f"step-{step:07d}.pt"
        (run / "checkpoints" / checkpoint).write_bytes(b"")
        RunDir(run).append({"schema": 1, "created": f"2026-11-30T00:00:{index:02d}+00:00", "run": name,
                            "checkpoint": checkpoint, "step": step, **GRID, "fid": 10.0 - index,
                            "precision": 0.5})
    return run


def one_line_error(code: int, err: str) -> None:
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (code, err)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False):
    """A small tmpfs at `folder` (root only: skips otherwise); read-only after mounting when asked."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root (and a system that allows it)")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)


# --- bad record fields -------------------------------------------------------------------------------------------

BAD_FIELDS = {
    "fid a string": ("fid", "abc", "field 'fid' must be a finite number or null, got 'abc' (a string)"),
    "fid a list": ("fid", [1, 2], "field 'fid' must be a finite number or null, got [1, 2] (a list)"),
    "fid a boolean": ("fid", True, "field 'fid' must be a finite number"),
    "fid NaN": ("fid", float("nan"), "field 'fid' must be a finite number"),
    "interval a string": ("fid_ci_low", "1", "field 'fid_ci_low' must be a finite number"),
    "step a string": ("step", "100", "field 'step' must be an integer or null, got '100' (a string)"),
    "step a fraction": ("step", 1.5, "field 'step' must be an integer"),
    "seed a list": ("seed", [1], "field 'seed' must be an integer"),
    "checkpoint a number": ("checkpoint", 7, "field 'checkpoint' must be a string or null, got 7 (a number)"),
    "reference a list": ("reference", ["grid25"], "field 'reference' must be a string"),
    "diagnostics a string": ("diagnostics", "x", "field 'diagnostics' must be an object"),
    "mode counts a string": ("diagnostics", {"modes": {"mode_counts": "abc", "source": "mixture"}},
                             "field 'diagnostics.modes.mode_counts' must be a non-empty list of numbers"),
    "standard error a string": ("diagnostics", {"ci": {"standard_errors": {"fid": "x"}}},
                                "field 'diagnostics.ci.standard_errors.fid' must be a number"),
}


@pytest.mark.parametrize("command", ["compare", "gate", "report"])
@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_a_bad_field_is_one_line_naming_file_and_line(case, command, tmp_path, run_cli):
    run = write_run(tmp_path)
    path = run / "metrics.jsonl"
    field, value, message = BAD_FIELDS[case]
    lines = path.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), field: value})
    path.write_text("\n".join(lines) + "\n")
    argv = {"compare": ["compare", run], "gate": ["gate", run, "--max", "fid=100"],
            "report": ["report", run, "--out", tmp_path / "report"]}[command]
    code, _, err = run_cli(*argv)
    one_line_error(code, err)
    assert f"{path.resolve()}:2: {message}" in err
    assert not (tmp_path / "report").exists()


def test_good_records_with_nulls_and_nan_standard_errors_still_load(tmp_path, run_cli):
    run = write_run(tmp_path)
    RunDir(run).append({"checkpoint": None, "step": None, **GRID, "fid": None, "fid_ci_low": None,
                        "diagnostics": {"ci": {"standard_errors": {"fid": float("nan")}}, "modes": None}})
    code, out, err = run_cli("compare", run)
    assert code == 0 and "alpha" in out, err


def test_a_truncated_last_line_still_only_warns(tmp_path, run_cli):
    run = write_run(tmp_path)
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write('{"schema": 1, "fid": "ab')  # a writer killed mid-line
    code, out, err = run_cli("compare", run)
    assert code == 0 and "alpha" in out and "metrics.jsonl:4: unreadable record skipped" in err


# --- outputs that cannot be written --------------------------------------------------------------------------------

def test_a_file_where_a_folder_is_needed_and_vice_versa(tmp_path, run_cli):
    run = write_run(tmp_path)
    (tmp_path / "file").write_text("keep me")
    (tmp_path / "folder").mkdir()
    code, _, err = run_cli("report", run, "--out", tmp_path / "file")
    one_line_error(code, err)
    assert "file: exists and is not a folder" in err and (tmp_path / "file").read_text() == "keep me"
    code, _, err = run_cli("report", run, "--out", tmp_path / "file" / "report")
    one_line_error(code, err)
    assert f"{tmp_path / 'file'} is a file, not a folder" in err
    code, _, err = run_cli("compare", run, "--out", tmp_path / "folder")
    one_line_error(code, err)
    assert "folder is a folder; give a file name" in err
    code, out, err = run_cli("gate", run, "--max", "fid=100", "--junit", tmp_path / "folder")
    one_line_error(code, err)
    assert f"--junit {tmp_path / 'folder'} is a folder; give a file name" in err and out == ""  # before any verdict
    assert list((tmp_path / "folder").iterdir()) == []


@pytest.mark.parametrize("command", ["report", "compare", "gate"])
def test_a_read_only_file_system_is_one_line_naming_the_path(command, tmp_path, run_cli):
    run = write_run(tmp_path)
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        argv = {"report": ["report", run, "--out", read_only / "report"],
                "compare": ["compare", run, "--out", read_only / "table.md", "--format", "markdown"],
                "gate": ["gate", run, "--max", "fid=100", "--junit", read_only / "junit.xml"]}[command]
        code, _, err = run_cli(*argv)
        one_line_error(code, err)
        assert str(read_only) in err and "read-only file system" in err


def test_a_read_only_cache_scores_without_caching_and_says_so(tmp_path, run_cli, monkeypatch):
    with tmpfs(tmp_path / "cache", "1m", read_only=True) as cache:
        monkeypatch.setenv("GANEVAL_CACHE", str(cache))
        code, out, err = run_cli("score", "ring8", "ring8", "--metrics", "fid", "--quiet", "--json")
    assert code == 0, err
    assert json.loads(out)["fid"] < 0.01
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) >= 1 and all(f"reference cache {cache / 'references'} is not writable" in line
                                      for line in warnings), err


def _run_with_a_big_picture(tmp_path: Path) -> Path:
    from PIL import Image

    run = write_run(tmp_path)
    (run / "samples").mkdir()
    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)  # ~270 KB: fills a 64 KB disk
    Image.fromarray(noise).save(run / "samples" / "step-0000200.png")
    return run


def test_a_full_disk_leaves_no_half_written_report(tmp_path, run_cli):
    run = _run_with_a_big_picture(tmp_path)
    with tmpfs(tmp_path / "disk", "64k") as disk:
        code, _, err = run_cli("report", run, "--out", disk / "report")
        one_line_error(code, err)
        assert f"cannot write {disk / 'report'}" in err and "no space left on device" in err
        assert list(disk.iterdir()) == []  # neither the report nor its temporary folder


def test_a_full_disk_keeps_the_previous_report_whole(tmp_path, run_cli):
    run = _run_with_a_big_picture(tmp_path)
    with tmpfs(tmp_path / "disk", "64k") as disk:
        (disk / "report").mkdir()
        (disk / "report" / "index.html").write_text("previous report")
        code, _, err = run_cli("report", run, "--out", disk / "report")
        one_line_error(code, err)
        assert [path.name for path in (disk / "report").iterdir()] == ["index.html"]
        assert (disk / "report" / "index.html").read_text() == "previous report"


def test_report_readme_escapes_run_names(tmp_path, run_cli):
    from PIL import Image

    name = "a|b `c` [d](e) <i>"
    run = write_run(tmp_path / "runs", name)
    (run / "samples").mkdir()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(run / "samples" / "step-0000200.png")
    code, _, err = run_cli("report", tmp_path / "runs" / "*", "--out", tmp_path / "report")  # brackets: a pattern
    assert code == 0, err
    markdown = (tmp_path / "report" / "README.md").read_text()
    escaped = r"a\|b \`c\` \[d\](e) &lt;i&gt;"
    assert f"## {escaped}" in markdown and name not in markdown
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    unescaped_pipes = [line.replace(r"\|", "").count("|") for line in table]
    assert len(table) == 3 and len(set(unescaped_pipes)) == 1  # header, rule, one row: same columns in each
    link = "samples-a%7Cb%20%60c%60%20%5Bd%5D%28e%29%20%3Ci%3E.png"
    assert f"![samples of {escaped}]({link})" in markdown and (tmp_path / "report" / f"samples-{name}.png").is_file()
