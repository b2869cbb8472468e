"""`ganeval gate`: a verdict judges one checkpoint, several targets are each gated, and the table stays readable."""
from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ganeval.errors import InputError
from ganeval.gate import Check, Limits, evaluate_limits, gate_targets
from ganeval.verdicts import verdict_table

from .conftest import GRID, write_scored_run

write_scores = write_scored_run  # a run directory with one record per step holding exactly the metrics given


@pytest.fixture
def mixed(tmp_path) -> Path:
    """The best FID (step 1,500) and the best precision (step 0) are at different checkpoints."""
    return write_scores(tmp_path, "mixed", {0: {"fid": 9.0, "precision": 0.9}, 1500: {"fid": 2.0, "precision": 0.1}})


@pytest.fixture
def runs(tmp_path) -> Path:
    """A folder of three runs: `good` passes fid <= 3, `bad` and `worse` do not."""
    folder = tmp_path / "runs"
    for name, fid in [("good", 2.0), ("bad", 4.0), ("worse", 6.0)]:
        write_scores(folder, name, {0: {"fid": 9.0, "precision": 0.2}, 100: {"fid": fid, "precision": 0.3}})
    return folder


def test_best_reads_every_metric_from_the_one_checkpoint_it_picks(mixed, run_cli):
    code, out, err = run_cli("gate", mixed, "--select", "best", "--max", "fid=3", "--min", "precision=0.5")
    assert code == 1, out + err  # no checkpoint meets both limits
    assert "mixed step 1500 (best fid of 2 scored checkpoints)" in out and "1 of 2 checks pass" in out
    [verdict] = gate_targets(mixed, Limits(max={"fid": 3}, min={"precision": 0.5}), select="best")
    assert verdict.step == 1500 and [check.value for check in verdict.checks] == [2.0, 0.1]


def test_select_by_picks_the_checkpoint_by_another_metric(mixed, run_cli):
    code, out, _ = run_cli("gate", mixed, "--select", "best", "--select-by", "precision", "--max", "fid=3",
                           "--min", "precision=0.5")
    assert code == 1 and "mixed step 0 (best precision" in out
    [verdict] = gate_targets(mixed, Limits(max={"fid": 3}), select="best", select_by="precision")
    assert verdict.step == 0 and verdict.checks[0].value == 9.0 and not verdict.passed
    for args, message in [(("--select-by", "precision"), "use it with --select best"),
                          (("--select", "best", "--select-by", "fdi"), "unknown metric 'fdi'"),
                          (("--select", "best", "--select-by", "is"), "no record of metric 'is_mean' to pick")]:
        code, _, err = run_cli("gate", mixed, "--max", "fid=3", *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (args, err)


def test_a_chosen_checkpoint_without_a_gated_metric_is_an_error(tmp_path, run_cli):
    run = write_scores(tmp_path, "partial", {0: {"fid": 9.0, "precision": 0.9}, 1500: {"fid": 2.0}})
    for select in ("last", "best"):
        code, _, err = run_cli("gate", run, "--select", select, "--max", "fid=3", "--min", "precision=0.5")
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "step-0001500.pt (step 1500)" in err and "no record of metric 'precision'" in err
    with pytest.raises(InputError, match="step-0001500.pt"):
        gate_targets(run, Limits(min={"precision": 0.5}), select="best", select_by="fid")
    code, out, _ = run_cli("gate", run / "checkpoints" / "step-0000000.pt", "--max", "fid=10", "--min", "precision=0.5")
    assert code == 0 and "partial step 0 [" in out  # one checkpoint named: that checkpoint, nothing else


def test_a_regression_compares_the_baselines_checkpoint_chosen_the_same_way(tmp_path, run_cli):
    target = write_scores(tmp_path, "target", {0: {"fid": 9.0}, 100: {"fid": 3.0}, 200: {"fid": 3.5}})
    baseline = write_scores(tmp_path, "baseline", {0: {"fid": 8.0}, 100: {"fid": 2.0}, 200: {"fid": 2.5}})
    # best 3.0 against the baseline's best 2.0 (+ 0.6): fails; against its last 2.5 it would pass
    code, out, _ = run_cli("gate", target, "--select", "best", "--baseline", baseline, "--max-regression", "fid=0.6")
    assert code == 1 and "baseline 2 + allowance" in out
    code, out, _ = run_cli("gate", target, "--baseline", baseline, "--max-regression", "fid=1")  # last: 3.5 vs 2.5
    assert code == 0 and "baseline 2.5 + allowance" in out
    code, _, err = run_cli("gate", target, "--baseline", tmp_path / "*", "--max-regression", "fid=1")
    assert code == 2 and "names 2 runs" in err


def test_every_run_of_a_pattern_a_folder_or_the_arguments_is_gated(runs, run_cli):
    for targets in ([runs / "*"], [runs], [runs / "good", runs / "bad", runs / "worse" / "metrics.jsonl"]):
        code, out, err = run_cli("gate", *targets, "--max", "fid=3")
        assert code == 1, (targets, out, err)
        assert out.count("gate: ") == 3 and "gate FAILED: 2 of 3 runs fail (bad, worse)" in out
    code, out, _ = run_cli("gate", runs / "good", runs / "good" / "checkpoints" / "step-0000100.pt", "--max", "fid=3")
    assert code == 0 and "gate passed: all 2 runs pass" in out
    verdicts = gate_targets([str(runs / "*")], Limits(max={"fid": 3}))
    assert [(verdict.run, verdict.passed) for verdict in verdicts] == [("bad", False), ("good", True), ("worse", False)]


def test_targets_that_name_no_run_are_errors(runs, tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    for target, message in [(runs / "nothing-*", "matches no run directory"), (tmp_path / "empty", "nor a folder of runs"),
                            (runs / "good" / "checkpoints" / "step-0000500.pt", "no such checkpoint")]:
        code, _, err = run_cli("gate", runs / "good", target, "--max", "fid=3")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (target, err)


def test_junit_and_the_github_summary_cover_every_run(runs, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    code, _, _ = run_cli("gate", runs / "*", "--max", "fid=3", "--min", "precision=0.25", "--junit", tmp_path / "gate.xml")
    assert code == 1
    root = ElementTree.parse(tmp_path / "gate.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "6" and root.get("failures") == "2"
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["bad", "good", "worse"] and suites["good"].get("failures") == "0"
    cases = [(case.get("classname"), case.get("name"), case.find("failure") is not None) for case in root.iter("testcase")]
    assert cases[:2] == [("bad", "fid <= 3", True), ("bad", "precision >= 0.25", False)] and len(cases) == 6
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("### ganeval gate: FAILED (2 of 3 runs fail)")
    assert all(f"`{name} step 100 (last of 2 scored checkpoints) [" in summary for name in suites)


def test_the_verdict_table_keeps_its_columns_apart_and_prints_through_formatting():
    checks = [Check("fid", "max_regression", 12.3456789, 10.123456, False, baseline=8.123456, p_value=0.0123456),
              Check("kid_mean", "max", -1.98952e-13, 0.01, True)]
    lines = verdict_table(checks, "run step 1 [grid25, identity, N=2500]").splitlines()
    header, rows = lines[2], lines[3:5]
    assert len(checks[0].condition) > 44  # longer than the column the table used to have
    column = header.index("verdict")  # every verdict starts under the header, two spaces after the longest limit
    assert all(row[column - 2:] in ("  FAIL", "  pass") for row in rows)
    assert rows[1].split() == ["kid_mean", "0", "<=", "0.01", "pass"]  # rounding noise prints as 0


def test_evaluate_limits_still_judges_one_target(mixed, runs):
    checks, description = evaluate_limits(Limits(max={"fid": 3}, min={"precision": 0.5}), str(mixed), select="best")
    assert [check.passed for check in checks] == [True, False] and description.startswith("mixed step 1500")
    with pytest.raises(InputError, match="names 3 runs"):
        evaluate_limits(Limits(max={"fid": 3}), str(runs))


def test_a_records_file_without_checkpoints_is_judged_by_its_last_record(tmp_path, run_cli):
    records = [{"schema": 1, "created": f"2026-11-30T00:00:0{index}+00:00", "input": "samples.npz", **GRID, "fid": fid}
               for index, fid in enumerate([5.0, 2.0])]
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    code, out, err = run_cli("gate", path, "--max", "fid=3")
    assert code == 0 and "gate: samples.npz [grid25" in out, out + err


def test_setting_separates_two_sample_sizes_of_one_reference(tmp_path, run_cli):
    """A run scored at N=2500 and N=500 against one reference: --reference cannot choose, --setting can."""
    run = write_scores(tmp_path, "sizes", {100: {"fid": 1.0}})
    small = json.loads((run / "metrics.jsonl").read_text())
    small.update(num_samples=500, fid=9.0, created="2026-11-30T00:01:00+00:00")
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps(small) + "\n")
    code, _, err = run_cli("gate", run, "--max", "fid=3", "--reference", "grid25")
    assert code == 2 and "--setting 'grid25, identity, N=2500'" in err
    code, out, err = run_cli("gate", run, "--max", "fid=3", "--setting", "grid25, identity, N=2500")
    assert code == 0 and "N=2500" in out, err
    code, out, _ = run_cli("gate", run, "--max", "fid=3", "--setting", "grid25, identity, N=500")
    assert code == 1 and "N=500" in out
    code, _, err = run_cli("gate", run, "--max", "fid=3", "--setting", "grid25, identity, N=7")
    assert code == 2 and "no record scored under setting" in err and "N=500" in err
