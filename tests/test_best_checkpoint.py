"""`--select best` with bootstrap intervals: compare and gate say when the best checkpoint is tied with others within
the intervals (a winner by noise), and nothing changes for records scored without --ci."""
from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

import ganeval
from ganeval.compare import interval_ties, render
from ganeval.gate import Limits, gate_targets

from .conftest import write_scored_run
from .test_compare_gate import write_run


def write_ci_run(folder: Path, name: str, fids: dict[int, tuple[float, float, float]]) -> Path:
    """A run with one record per step: FID (value, ci_low, ci_high), scored with --ci."""
    scores = {step: {"fid": value, "fid_ci_low": low, "fid_ci_high": high, "ci_level": 0.95}
              for step, (value, low, high) in fids.items()}
    return write_scored_run(folder, name, scores)


@pytest.fixture
def ci_runs(tmp_path) -> Path:
    """'clear': step 200 is best and no other interval reaches it; 'noisy': best step 2500 is tied with 2000
    (its value inside the best's interval) and 3000 (whose interval holds the best's value), not with 0."""
    write_ci_run(tmp_path, "clear", {0: (9.0, 8.5, 9.5), 100: (5.0, 4.6, 5.4), 200: (3.0, 2.7, 3.3)})
    write_ci_run(tmp_path, "noisy", {0: (9.0, 8.5, 9.5), 2000: (4.3, 4.25, 4.35), 2500: (4.0, 3.5, 4.5),
                                     3000: (4.6, 3.9, 5.3)})
    return tmp_path


def test_intervals_tie_either_way_round_and_never_without_one():
    rows = pd.DataFrame({"step": [0, 1, 2, 3, 4], "checkpoint": "-", "fid": [4.0, 4.3, 4.6, 4.1, 6.0],
                         "fid ci_low": [3.5, 4.25, 3.9, float("nan"), 5.0],
                         "fid ci_high": [4.5, 4.35, 5.3, float("nan"), 7.0]})
    # 1: inside the best's interval; 2: its interval holds the best's value; 3: no interval of its own, but its value
    # lies inside the best's; 4: apart
    assert interval_ties(rows, 0, "fid", "fid ci_low", "fid ci_high") == [1, 2, 3]
    without = rows.drop(columns=["fid ci_low", "fid ci_high"])
    assert interval_ties(without, 0, "fid", "fid ci_low", "fid ci_high") == []


def test_compare_names_the_checkpoints_tied_with_the_best(ci_runs):
    table = ganeval.compare(str(ci_runs / "*"), metrics="fid").set_index("run")
    assert table.loc["noisy", "step"] == 2500 and table.loc["noisy", "tied_with"] == "2000, 3000"
    assert table.loc["clear", "step"] == 200 and pd.isna(table.loc["clear", "tied_with"])  # a clear winner
    text = render(ganeval.compare(str(ci_runs / "*"), metrics="fid"))
    note = ("run noisy: best fid at step 2500 is tied with steps 2000, 3000 within bootstrap intervals (scored with "
            "--ci): not a winner beyond noise")
    lines = text.splitlines()
    assert note in lines and "tied_with" in lines[0] and "run clear" not in text
    assert lines[-1].startswith("ranked by fid")  # the settings note stays last (report's HTML page reads it there)
    rows = {row["run"]: row for row in json.loads(render(ganeval.compare(str(ci_runs / "*"), metrics="fid"), "json"))}
    assert rows["noisy"]["tied_with"] == "2000, 3000" and rows["clear"]["tied_with"] is None
    frame = ganeval.compare(str(ci_runs / "*"), metrics="fid")
    for fmt, header in (("markdown", "tied\\_with"), ("html", "<th>tied_with</th>"), ("csv", ",tied_with")):
        assert header in render(frame, fmt) and "2000, 3000" in render(frame, fmt)  # Markdown escapes underscores
    assert "run noisy: best fid at step 2500" in render(frame, "markdown")
    assert "tied_with" not in ganeval.compare(str(ci_runs / "*"), metrics="fid", select="last")


def test_compare_cli_shows_the_tie(ci_runs, run_cli):
    code, out, _ = run_cli("compare", ci_runs / "*", "--metrics", "fid", "--format", "json")
    assert code == 0 and {row["run"]: row["tied_with"] for row in json.loads(out)} == {"clear": None,
                                                                                         "noisy": "2000, 3000"}
    code, out, _ = run_cli("compare", ci_runs / "*", "--metrics", "fid")
    assert code == 0 and "not a winner beyond noise" in out


def test_records_without_intervals_are_unchanged(tmp_path):
    write_run(tmp_path, "alpha", {0: 9.0, 100: 3.0, 200: 3.1})
    frame = ganeval.compare(str(tmp_path / "*"), metrics="fid")
    assert "tied_with" not in frame and frame.attrs["ties"] == {}
    assert render(frame).splitlines()[-1].startswith("ranked by fid") and "noise" not in render(frame)
    verdict, = gate_targets(str(tmp_path / "alpha"), Limits(max={"fid": 5}), select="best")
    assert verdict.tied_steps == () and verdict.chosen == "best fid of 3 scored checkpoints"


def test_gate_says_the_best_is_tied_and_keeps_its_verdict(ci_runs, run_cli, tmp_path):
    noisy, = gate_targets(str(ci_runs / "noisy"), Limits(max={"fid": 5}), select="best")
    assert noisy.passed and noisy.step == 2500 and noisy.tied_steps == (2000, 3000)
    assert noisy.chosen == "best fid of 4 scored checkpoints; tied with steps 2000, 3000 within bootstrap intervals"
    clear, = gate_targets(str(ci_runs / "clear"), Limits(max={"fid": 5}), select="best")
    assert clear.tied_steps == () and clear.chosen == "best fid of 3 scored checkpoints"
    last, = gate_targets(str(ci_runs / "noisy"), Limits(max={"fid": 5}))
    assert last.tied_steps == () and "tied" not in last.chosen
    code, out, _ = run_cli("gate", ci_runs / "noisy", "--max", "fid=3", "--select", "best", "--junit", tmp_path / "g.xml")
    assert code == 1 and "tied with steps 2000, 3000 within bootstrap intervals" in out  # fails as before, says why
    suite = ElementTree.parse(tmp_path / "g.xml").getroot().find("testsuite")
    target = next(item for item in suite.iter("property") if item.get("name") == "target")
    assert "tied with steps 2000, 3000" in target.get("value")


def test_a_group_of_seeds_names_each_member_whose_best_is_tied(tmp_path):
    for seed in (0, 1):
        run = write_ci_run(tmp_path, f"g-seed{seed}", {100: (4.0 + seed, 3.5 + seed, 4.5 + seed),
                                                        200: (4.2 + seed, 4.1 + seed, 4.3 + seed)})
        (run / "config.toml").write_text(f'name = "g"\nseed = {seed}\n')
    table = ganeval.compare(str(tmp_path / "*"), metrics="fid")
    assert list(table["run"]) == ["g"] and table.loc[0, "tied_with"] == "g-seed0: 200; g-seed1: 200"
    assert render(table).count("not a winner beyond noise") == 2  # a note per folder: each has its own best
