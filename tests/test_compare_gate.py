"""Records as tables, `ganeval compare`, `ganeval gate`, `ganeval report` and the demo."""
from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

import ganeval
from ganeval.errors import InputError, RecordsWarning

from .conftest import GRID, write_scored_run

def write_run(folder: Path, name: str, fids: dict[int, float], setting: dict = GRID, extra: dict | None = None) -> Path:
    """A run directory with one record per step: the FID given, precision 1 / (1 + FID)."""
    scores = {step: {"fid": value, "precision": 1 / (1 + value), **(extra or {})} for step, value in fids.items()}
    return write_scored_run(folder, name, scores, setting)


@pytest.fixture
def runs(tmp_path) -> Path:
    write_run(tmp_path, "alpha", {0: 9.0, 100: 3.0, 200: 4.0})
    write_run(tmp_path, "beta", {0: 8.0, 100: 2.0, 200: 2.5})
    return tmp_path


def test_load_records_is_tidy(runs):
    frame = ganeval.load_records(str(runs / "*"))
    assert len(frame) == 12 and set(frame["metric"]) == {"fid", "precision"}
    assert set(frame.columns) >= {"run", "checkpoint", "step", "reference", "extractor", "num_samples", "seed",
                                  "value", "higher_is_better"}
    fid = frame[(frame["run"] == "beta") & (frame["metric"] == "fid")].sort_values("step")
    assert list(fid["value"]) == [8.0, 2.0, 2.5] and not fid["higher_is_better"].any()


def test_truncated_last_line_loads_with_a_warning(runs):
    path = runs / "alpha" / "metrics.jsonl"
    path.write_text(path.read_text() + '{"schema": 1, "created": "2026')  # a crash mid-write
    with pytest.warns(RecordsWarning, match=r"metrics.jsonl:4: unreadable record skipped \(a truncated last line") as caught:
        frame = ganeval.load_records(runs / "alpha")
    assert len(frame) == 6 and caught[0].filename == __file__  # shown at the caller's line, not inside ganeval
    from ganeval.runs import RunDir

    RunDir(runs / "alpha").append(json.loads(path.read_text().splitlines()[0]))  # the next writer starts a new line
    with pytest.warns(RecordsWarning, match=r"metrics.jsonl:4: unreadable record skipped$"):
        assert len(ganeval.load_records(runs / "alpha")) == 8


@pytest.mark.parametrize("select, expected", [("best", [("beta", 100, 2.0), ("alpha", 100, 3.0)]),
                                              ("last", [("beta", 200, 2.5), ("alpha", 200, 4.0)])])
def test_compare_selects_and_ranks(runs, select, expected):
    table = ganeval.compare([runs / "alpha", runs / "beta"], metrics="fid,prdc", select=select)
    assert list(zip(table["run"], table["step"], table["fid"])) == expected
    assert list(table.columns) == ["run", "checkpoint", "step", "fid", "precision", "recall", "density", "coverage"][:5]
    assert table.attrs["rank_by"] == "fid"


def test_compare_ranks_higher_is_better_metrics_first(runs):
    table = ganeval.compare(str(runs / "*"), metrics="precision", select="all")
    assert table["precision"].is_monotonic_decreasing and len(table) == 6


def test_compare_never_mixes_references(runs):
    write_run(runs, "gamma", {0: 0.5}, setting={**GRID, "reference": "ring8"})
    table = ganeval.compare(str(runs / "*"), metrics="fid")
    assert set(table.columns) == {"run", "checkpoint", "step", "fid [grid25, identity, N=2500]", "fid [ring8, identity, N=2500]"}
    gamma = table[table["run"] == "gamma"].iloc[0]
    assert gamma["fid [ring8, identity, N=2500]"] == 0.5 and pd.isna(gamma["fid [grid25, identity, N=2500]"])


def test_compare_command_formats_and_errors(runs, run_cli, tmp_path):
    code, out, err = run_cli("compare", str(runs / "*"), "--metrics", "fid", "--format", "csv")
    assert code == 0, err
    assert list(pd.read_csv(__import__("io").StringIO(out))["run"]) == ["beta", "alpha"]
    code, out, _ = run_cli("compare", runs / "alpha", runs / "beta", "--format", "json")
    assert code == 0 and [row["run"] for row in json.loads(out)] == ["beta", "alpha"]
    code, out, _ = run_cli("compare", str(runs / "*"), "--format", "markdown")
    assert code == 0 and out.startswith("| run") and "ranked by fid (lower is better)" in out
    code, _, _ = run_cli("compare", str(runs / "*"), "--format", "html", "--out", tmp_path / "table.html")
    assert code == 0 and "<table" in (tmp_path / "table.html").read_text()
    code, _, err = run_cli("compare", str(runs / "*"))  # the glob now also matches table.html: not a run, left out
    assert code == 0 and err == ""
    code, _, err = run_cli("compare", tmp_path / "table.html")
    assert code == 2 and "not a ganeval records file" in err
    for args, message in [(("--metrics", "fdi"), "unknown metric 'fdi'"), (("--metrics", "is"), "no record holds is_mean"),
                          (("--select", "worst"), "invalid choice"), (("--colour",), "unrecognized option --colour")]:
        code, _, err = run_cli("compare", str(runs / "*"), *args)
        lines = err.strip().splitlines()  # the error, then (usage errors only) the subcommand's usage line
        assert code == 2 and message in lines[0] and len(lines) <= 2 and lines[-1].startswith(("ganeval", "usage")), err
    code, _, err = run_cli("compare", tmp_path / "nowhere")
    assert code == 2 and "no such run directory or records file" in err


def test_gate_passes_and_fails_at_the_recorded_value(runs, run_cli, tmp_path):
    last = 4.0  # alpha's last checkpoint
    code, out, _ = run_cli("gate", runs / "alpha", "--max", f"fid={last}")
    assert code == 0 and "gate passed: 1 of 1" in out
    code, out, _ = run_cli("gate", runs / "alpha", "--max", f"fid={last - 1e-9}")
    assert code == 1 and "FAIL" in out and "gate FAILED" in out
    code, out, _ = run_cli("gate", runs / "alpha", "--select", "best", "--max", "fid=3.0", "--min", "precision=0.25")
    assert code == 0, out
    code, out, _ = run_cli("gate", runs / "alpha" / "checkpoints" / "step-0000000.pt", "--max", "fid=8.5")
    assert code == 1 and " 9 " in out  # that checkpoint's own record
    code, _, _ = run_cli("gate", runs / "beta" / "metrics.jsonl", "--max", "fid=2.5")
    assert code == 0


def test_gate_against_a_baseline(runs, run_cli):
    code, out, _ = run_cli("gate", runs / "alpha", "--baseline", runs / "beta", "--max-regression", "fid=1.5")
    assert code == 0 and "baseline 2.5" in out  # 4.0 <= 2.5 + 1.5
    code, out, _ = run_cli("gate", runs / "alpha", "--baseline", runs / "beta", "--max-regression", "fid=1.4")
    assert code == 1
    code, _, err = run_cli("gate", runs / "alpha", "--max-regression", "fid=1")
    assert code == 2 and "needs --baseline" in err


def test_gate_bad_input_is_exit_2(runs, run_cli):
    for args, message in [
        (("--max", "fdi=3"), "unknown metric 'fdi'"),
        (("--max", "fid"), "expected METRIC=NUMBER"),
        (("--max", "fid=abc"), "'abc' is not a number"),
        (("--min", "is=7"), "has no record of metric 'is_mean'"),
        ((), "no limits"),
        (("--maxx", "fid=3"), "unrecognized option --maxx; did you mean --max?"),
    ]:
        code, _, err = run_cli("gate", runs / "alpha", *args)
        lines = err.strip().splitlines()  # the error, then (usage errors only) the subcommand's usage line
        assert code == 2 and message in lines[0] and len(lines) <= 2 and lines[-1].startswith(("ganeval", "usage")), (args, err)


def test_gate_refuses_mixed_settings(runs, run_cli):
    record = json.loads((runs / "alpha" / "metrics.jsonl").read_text().splitlines()[-1])
    with open(runs / "alpha" / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({**record, "reference": "ring8", "step": 300}) + "\n")
    code, _, err = run_cli("gate", runs / "alpha", "--max", "fid=10")
    assert code == 2 and "choose one with --setting" in err
    code, _, _ = run_cli("gate", runs / "alpha", "--max", "fid=10", "--reference", "grid25")
    assert code == 0


def test_gate_limits_from_pyproject_and_config_file(runs, run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.ganeval.gate]\nmax = { fid = 3.5 }\n')
    code, out, _ = run_cli("gate", runs / "alpha")
    assert code == 1 and "<= 3.5" in out
    code, out, _ = run_cli("gate", runs / "alpha", "--max", "fid=5")  # the command line wins
    assert code == 0
    (tmp_path / "limits.toml").write_text('[gate]\nmin = { precision = 0.1 }\nmax = { fid = 4 }\n')
    code, out, _ = run_cli("gate", runs / "alpha", "--config", tmp_path / "limits.toml")
    assert code == 0 and "2 of 2 checks pass" in out
    (tmp_path / "bad.toml").write_text('[gate]\nmax = { fid = 4 }\nmaximum = 3\n')
    code, _, err = run_cli("gate", runs / "alpha", "--config", tmp_path / "bad.toml")
    assert code == 2 and "unknown gate key(s) maximum" in err


def test_gate_writes_junit_and_the_github_summary(runs, run_cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = run_cli("gate", runs / "alpha", "--max", "fid=3", "--min", "precision=0.1", "--junit", tmp_path / "gate.xml")
    assert code == 1
    suite = ElementTree.parse(tmp_path / "gate.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert [case.find("failure") is not None for case in suite.iter("testcase")] == [True, False]
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "ganeval gate: FAILED" in text and "| fid | 4 |" in text


def test_concurrent_score_processes_append_whole_lines(run_cli, tmp_path):
    code, _, err = run_cli("train", "ring8-gan", "--set", "batch_size=10", "--set", "train_size=200", "--set",
                           "model_options.generator_width=8", "--set", "model_options.discriminator_width=8",
                           "--set", "checkpoint_every=1", "--steps", "99", "--out", tmp_path / "run", "--quiet", "--no-eval")
    assert code == 0, err
    command = [sys.executable, "-m", "ganeval", "score", str(tmp_path / "run"), "--reference", "ring8", "--metrics", "fid",
               "--num-samples", "50", "--quiet", "--no-cache"]
    writers = [subprocess.Popen([*command, "--seed", str(seed)], stdout=subprocess.DEVNULL) for seed in (1, 2)]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["fid"] >= 0 for line in lines)
    assert sorted(json.loads(line)["seed"] for line in lines) == [1] * 100 + [2] * 100


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.cells, self.scripts = [], [], 0
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._in_cell = tag == "td"
        self.scripts += tag in ("script", "link")

    def handle_data(self, data):
        if self._in_cell and data.strip():
            self.cells.append(data.strip())


def test_report_pages_reference_existing_images_and_every_run(run_cli, tmp_path):
    for name in ("ring8-gan", "ring8-pacgan2"):
        code, _, err = run_cli("train", name, "--set", "batch_size=20", "--set", "train_size=500", "--set",
                               "checkpoint_every=5", "--set", "eval_samples=300", "--steps", "10",
                               "--out", tmp_path / "runs" / name, "--quiet")
        assert code == 0, err
    code, out, err = run_cli("report", str(tmp_path / "runs" / "*"), "--out", tmp_path / "report")
    assert code == 0, err
    page = _Page()
    page.feed((tmp_path / "report" / "index.html").read_text())
    assert page.scripts == 0  # nothing to fetch: it works opened from disk
    assert page.images and all((tmp_path / "report" / src).is_file() for src in page.images)
    assert {"ring8-gan", "ring8-pacgan2"} <= set(page.cells)
    assert {"curve-0-fid.png", "samples-ring8-gan.png", "modes-ring8-pacgan2.png"} <= set(page.images)
    markdown = (tmp_path / "report" / "README.md").read_text()
    assert "| ring8-gan" in markdown and "![samples of ring8-pacgan2](samples-ring8-pacgan2.png)" in markdown


def test_demo_trains_compares_reports_and_gates(tmp_path, capsys, monkeypatch):
    from ganeval import demo

    runs = {name: ["steps=10", "checkpoint_every=5", "batch_size=20", "train_size=500", "eval_samples=300"]
            for name in ("grid25-gan", "grid25-pacgan2")}
    status = demo.run(tmp_path / "runs", tmp_path / "report", fashion=False, progress=False, runs=runs)
    out = capsys.readouterr().out
    assert status == 1  # ten steps capture no grid25 mode: the demo's limits fail, and the gate says so
    assert "grid25 runs, best checkpoint of each" in out and "gate FAILED" in out and "report:" in out
    assert (tmp_path / "report" / "index.html").is_file()


def test_records_errors():
    with pytest.raises(InputError, match="no runs or records files"):
        ganeval.load_records([])
