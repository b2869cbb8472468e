"""Names and tables in compare and report: folder names, seed groups, '±', plain axes, cells that never wrap."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from ganeval.compare import compare, group_name, render
from tests.test_compare_gate import GRID, _Page, write_run

IDENTICAL_FID = -1.98952e-13  # FID of a set against itself: float64 rounding, not a score


def seeded_run(folder: Path, name: str, seed: int, fids: dict[int, float], config_name: str = "grid25-gan") -> Path:
    """A run of config `config_name` that differs from its siblings only by its seed."""
    run = write_run(folder, name, fids)
    (run / "config.toml").write_text(f'name = "{config_name}"\ndata = "grid25"\nmodel = "mlp"\nseed = {seed}\n')
    return run


def test_rows_are_named_by_the_run_folder_not_the_records_run(tmp_path):
    run = write_run(tmp_path, "renamed", {100: 3.0})
    path = run / "metrics.jsonl"
    path.write_text(path.read_text().replace('"run": "renamed"', '"run": "old-name"'))  # a folder renamed after scoring
    assert list(compare(run, metrics="fid")["run"]) == ["renamed"]


def test_a_seed_group_is_named_by_the_common_prefix_and_lists_its_runs(tmp_path):
    for seed, fid in enumerate((1.0, 3.0)):
        seeded_run(tmp_path, f"grid25-gan-seed{seed}", seed, {100: fid})
    write_run(tmp_path, "alone", {100: 5.0})
    table = compare(str(tmp_path / "*"), metrics="fid")
    rows = table.set_index("run")
    assert list(table["run"]) == ["grid25-gan", "alone"]
    assert rows.loc["grid25-gan", "runs"] == "grid25-gan-seed0, grid25-gan-seed1"
    assert rows.loc["alone", "runs"] == "alone" and rows.loc["alone", "seeds"] == 1
    assert table.attrs["groups"] == {"grid25-gan": ["grid25-gan-seed0", "grid25-gan-seed1"]}


def test_folders_without_a_shared_prefix_are_named_by_both_never_by_the_config(tmp_path):
    seeded_run(tmp_path, "first", 0, {100: 1.0}, config_name="grid25-gan")
    seeded_run(tmp_path, "second", 1, {100: 3.0}, config_name="grid25-gan")
    table = compare(str(tmp_path / "*"), metrics="fid")
    assert list(table["run"]) == ["first + second"] and table["seeds"].iloc[0] == 2


@pytest.mark.parametrize("members, taken, expected", [
    (["grid25-gan-seed0", "grid25-gan-seed1"], set(), "grid25-gan"),
    (["run_1", "run_2"], set(), "run"),
    (["alpha", "alpine"], set(), "alpha + alpine"),  # 'alp' stops inside a word
    (["seed0", "seed1"], set(), "seed0 + seed1"),  # nothing left without the seed part
    (["gan-seed0", "gan-seed1"], {"gan"}, "gan-seed0 + gan-seed1"),  # 'gan' is another run's folder
])
def test_group_names(members, taken, expected):
    assert group_name(members, taken) == expected


@pytest.fixture
def table(tmp_path) -> pd.DataFrame:
    for seed, fid in enumerate((1.0, 2.0)):
        seeded_run(tmp_path, f"gan-seed{seed}", seed, {100: fid})
    write_run(tmp_path, "copy", {1500: IDENTICAL_FID})
    return compare(str(tmp_path / "*"), metrics="fid")


def test_text_formats_show_plus_minus_and_zero_within_rounding(table):
    for fmt in ("table", "markdown", "html"):
        text = render(table, fmt)
        assert "1.5 ± 0.7071" in text and "+-" not in text, fmt
        assert "e-13" not in text and "-1.99" not in text, fmt
    assert "| copy  | step-0001500.pt |   1500 |       1 | copy" in render(table, "markdown")
    copy_line = next(line for line in render(table, "table").splitlines() if line.split()[0] == "copy")
    assert copy_line.split()[1:4] == ["step-0001500.pt", "1500", "1"] and copy_line.split()[-1] == "0"
    assert "<td>0</td>" in render(table, "html")
    # machine formats keep the raw numbers
    assert json.loads(render(table, "json"))[0]["fid"] == IDENTICAL_FID
    assert "-1.98952e-13" in render(table, "csv")


def _draw_labels(figure) -> dict:
    figure.canvas.draw()
    axis = figure.axes[0]
    ticks = [label.get_text() for label in [*axis.get_yticklabels(), *axis.get_xticklabels()] if label.get_text()]
    legend = axis.get_legend()
    return {"title": axis.get_title(), "ticks": ticks,
            "legend": [text.get_text() for text in legend.get_texts()] if legend else [], "log": axis.get_yscale()}


@pytest.fixture
def report_runs(tmp_path, monkeypatch) -> tuple[Path, list[dict]]:
    """Two seeds of one config and another run, reported; the drawn labels of every figure the report saved."""
    from ganeval import report

    seeded_run(tmp_path / "runs", "grid25-gan-seed0", 0, {0: 60.0, 500: 8.0, 1500: 6.0})
    seeded_run(tmp_path / "runs", "grid25-gan-seed1", 1, {0: 50.0, 500: 7.0, 1500: 5.0})
    write_run(tmp_path / "runs", "other", {0: 9.0, 1500: 3.0}, setting=GRID)
    drawn, save = [], report.save_figure
    monkeypatch.setattr(report, "save_figure",
                        lambda figure, path: (drawn.append(_draw_labels(figure)), save(figure, path)))
    report.write_report(str(tmp_path / "runs" / "*"), tmp_path / "report")
    return tmp_path / "report", drawn


def test_report_curves_name_runs_by_folder_and_group_with_plain_ticks(report_runs):
    _, drawn = report_runs
    fid = next(figure for figure in drawn if figure["title"].startswith("fid"))
    assert fid["legend"] == ["grid25-gan-seed0 (in grid25-gan)", "grid25-gan-seed1 (in grid25-gan)", "other"]
    assert fid["log"] == "log"  # 3 to 60: over a decade
    assert "5" in fid["ticks"] and "20" in fid["ticks"]
    ticks = [tick for figure in drawn for tick in figure["ticks"]]
    assert ticks and all("times" not in tick and "^" not in tick and "$" not in tick for tick in ticks)
    precision = next(figure for figure in drawn if figure["title"].startswith("precision"))
    assert precision["log"] == "linear"


def test_report_tables_keep_cells_on_one_line_and_use_plus_minus(report_runs):
    out, _ = report_runs
    page_text = (out / "index.html").read_text()
    style = page_text[page_text.index("<style>"):page_text.index("</style>")]
    assert "table.comparison td,table.comparison th{" in style.replace("\n", "")
    assert "white-space:nowrap" in style.split("table.comparison td,table.comparison th{", 1)[1].split("}", 1)[0]
    page = _Page()
    page.feed(page_text)
    assert page.scripts == 0 and "step-0001500.pt" in page.cells
    assert "grid25-gan-seed0, grid25-gan-seed1" in page.cells and "5.5 ± 0.7071" in page.cells
    markdown = (out / "README.md").read_text()
    assert "5.5 ± 0.7071" in markdown and "+-" not in markdown and "+-" not in page_text


def test_sample_picture_of_a_mixture_is_titled_by_its_run_folder(tmp_path, monkeypatch):
    from ganeval.train import pictures
    from ganeval.train.config import TrainConfig

    titles = []
    monkeypatch.setattr(pictures, "save_scatter", lambda points, path, means, title: titles.append(title))
    config = TrainConfig(name="grid25-gan", data="grid25", model="mlp")
    points = torch.zeros(10, 2)
    in_run = tmp_path / "runs" / "grid25-gan-seed1" / "samples" / "step-0000010.png"
    pictures.save_sample_picture(points, config, in_run, 10)
    pictures.save_sample_picture(points, config, tmp_path / "elsewhere.png", 10)
    assert titles == ["grid25-gan-seed1, step 10", "grid25-gan, step 10"]
