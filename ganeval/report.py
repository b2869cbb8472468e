"""`ganeval report`: a folder with index.html and README.md comparing runs, with PNG plots beside the pages.

Contents: the comparison table (best checkpoint of each run; seeds of one config folded into one row, as in
`ganeval compare`), one metric-against-step plot per metric with a line per run, labelled by the run's folder and,
for a seed, the table row it is folded into ("grid25-gan-seed1 (in grid25-gan)"), and per run:
- the last sample picture (an image grid, one row per class for a conditional run; for 2D mixtures the samples
  over the mode centres);
- the mode histogram of its last checkpoint scored with `modes`;
- the FID per class of its last checkpoint scored with `ifid` (a conditional run), with the label accuracy;
- the most copy-like samples of its last checkpoint scored with `copies`, beside their nearest training images
  (ganeval.neighbours);
- its training health (ganeval.report_health: the signals of training.jsonl with the diagnosed spans shaded, and
  the findings);
- its config.
The page has no scripts and no external files: it works opened from disk.

The report is written into a temporary folder beside `out` (inside it when `out` already exists) and moved into
place at the end, index.html last: a full disk or a crash never leaves a half-written report where `out` is.
"""
from __future__ import annotations

import html
import math
import os
import shutil
import urllib.parse
from pathlib import Path

import pandas as pd

from .atomic import WriteError, check_output_folder, staging_folder, write_error, write_text_atomically
from .compare import compare, markdown_escape, render
from .errors import InputError
from .formatting import format_number
from .metrics.registry import HIGHER_IS_BETTER, METRIC_FAMILIES
from .neighbours import grid_of_record
from .plots import plain_ticks, pyplot, save_figure
from .records import Record
from .report_health import health_section
from .runs import RunDir, step_of
from .tables import load_records, record_files


def curve_metrics() -> list[str]:
    """The keys drawn against steps, in registry order: those registered (now) as plotted that have a direction."""
    return [key.name for family in METRIC_FAMILIES.values() for key in family.keys
            if key.plotted and key.higher_is_better is not None]


def write_report(paths_or_globs, out: str | os.PathLike, title: str = "ganeval report") -> Path:
    """Write out/index.html, out/README.md and their PNG files; returns the index.html path.

    An unwritable `out` is refused before any work; a failed write (a full disk) removes what was written and is a
    one-line WriteError naming the file in `out`.
    """
    out = Path(out)
    check_output_folder(out, "report folder")
    tidy = load_records(paths_or_globs)
    staging = _staging_folder(out)
    try:
        _write_pages(paths_or_globs, tidy, staging, title)
        _move_into_place(staging, out)
    except WriteError as error:  # name the file where the user will look for it, not the temporary folder
        raise WriteError(out / error.path.relative_to(staging) if error.path.is_relative_to(staging) else error.path,
                         error.reason) from error
    except OSError as error:  # moving the pages into place
        raise write_error(out, error) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "index.html"


def _staging_folder(out: Path) -> Path:
    """A new, empty folder on out's file system (so moving files from it is a rename), readable like any folder."""
    return staging_folder(out if out.is_dir() else out.parent, out.name or "report", out)


def _move_into_place(staging: Path, out: Path) -> None:
    """A new `out` is the staging folder renamed; into an existing one (an older report, other files beside it)
    the files are renamed one by one, index.html last, and nothing else there is touched."""
    if not out.exists():
        staging.rename(out)
        return
    for path in sorted(staging.iterdir(), key=lambda path: path.name == "index.html"):
        os.replace(path, out / path.name)


def _write_pages(paths_or_globs, tidy: pd.DataFrame, out: Path, title: str) -> None:
    settings = list(dict.fromkeys(tidy["setting"]))
    # scores under different settings (reference, extractor, N) are not comparable: a table and plots for each
    tables = [(setting, compare(paths_or_globs, select="best", setting=setting)) for setting in settings]
    groups = [_group_of_run(table) for _, table in tables]
    curves = [_plot_curve(tidy[tidy["setting"] == setting], metric, out, index, setting, groups[index])
              for index, setting in enumerate(settings) for metric in curve_metrics()
              if metric in set(tidy[tidy["setting"] == setting]["metric"])]
    sections = [_run_section(name, folder, out) for name, folder in _run_folders(paths_or_globs).items()]
    write_text_atomically(out / "README.md", _markdown(title, tables, curves, sections))
    write_text_atomically(out / "index.html", _html(title, tables, curves, sections))


def _run_folders(paths_or_globs) -> dict[str, Path]:
    """Run name -> run folder (where the records file sits in a run directory)."""
    folders = {}
    for path in record_files(paths_or_globs):
        if RunDir.is_run(path.parent):
            folders[path.parent.name] = path.parent
    return folders


def _group_of_run(table: pd.DataFrame) -> dict[str, str]:
    """Run folder -> the name of the comparison row its seeds are folded into (runs not folded are absent)."""
    return {member: name for name, members in table.attrs.get("groups", {}).items() for member in members}


def _plot_curve(tidy: pd.DataFrame, metric: str, out: Path, index: int, setting: str,
                group_of_run: dict[str, str]) -> dict:
    """One line per run, labelled by its folder; a seed says which table row holds it, so the plot and the table
    agree on what a run is (the table's row is the mean of the lines labelled 'in' it)."""
    rows = tidy[(tidy["metric"] == metric) & tidy["step"].notna()]
    figure, axis = pyplot().subplots(figsize=(6, 3.6))
    for run, group in rows.groupby("run", sort=False):
        group = group.sort_values(["step", "created"]).drop_duplicates("step", keep="last")
        label = f"{run} (in {group_of_run[run]})" if run in group_of_run else run
        axis.plot(group["step"].astype(float), group["value"], marker="o", markersize=3, label=label)
    direction = "higher" if HIGHER_IS_BETTER.get(metric) else "lower"
    axis.set_title(f"{metric} ({direction} is better)\n{setting}", fontsize=9)
    axis.set_xlabel("step")
    decades = None
    # FID and KID of different runs can lie orders of magnitude apart; within one decade a linear axis reads better
    if metric in ("fid", "kid_mean") and len(rows) and (rows["value"] > 0).all():
        decades = math.log10(rows["value"].max() / rows["value"].min())
        if decades >= 1:
            axis.set_yscale("log")
        else:
            decades = None
    plain_ticks(axis, log_y_decades=decades)
    axis.grid(alpha=0.3)
    if len(rows):
        axis.legend(fontsize=7)
    name = f"curve-{index}-{metric}.png"
    save_figure(figure, out / name)
    return {"metric": metric, "file": name, "setting": setting}


def _run_section(name: str, folder: Path, out: Path) -> dict:
    section = {"name": name, "config": None, "picture": None, "histogram": None, "step": None,
               "health": health_section(folder, name, out)}
    run = RunDir(folder)
    if run.config_file.is_file():
        section["config"] = run.config_file.read_text()
    pictures = run.pictures()
    if pictures:
        section["picture"] = f"samples-{name}.png"
        section["step"] = step_of(pictures[-1])
        try:
            shutil.copyfile(pictures[-1], out / section["picture"])
        except OSError as exc:
            raise write_error(out / section["picture"], exc) from exc
    with_modes = [record for record in run.records() if record.diagnostics.get("modes")]
    if with_modes:
        last = max(with_modes, key=lambda record: (record.step or -1, record.created or ""))
        section["histogram"] = _plot_histogram(name, last, out)
    section["neighbours"] = _neighbours_grid(name, run, out)
    with_classes = [record for record in run.records(skip_invalid=True)
                    if (record.diagnostics.get("ifid") or {}).get("per_class")]
    section["classes"] = None
    if with_classes:
        last = max(with_classes, key=lambda record: (record.step or -1, record.created or ""))
        section["classes"] = _plot_class_fids(name, last, out)
    return section


def _plot_class_fids(name: str, record: Record, out: Path) -> str:
    """A conditional run's FID per class (intra-class FID's parts) at its last checkpoint scored with `ifid`, with
    its label accuracy per class beside it where scored."""
    fids = record.diagnostics["ifid"]["per_class"]
    accuracy = (record.diagnostics.get("label_accuracy") or {}).get("per_class") or {}
    classes = sorted(fids, key=int)
    figure, axis = pyplot().subplots(figsize=(6, 2.8))
    axis.bar(range(len(classes)), [fids[label] for label in classes], width=0.8, label="FID of the class")
    axis.axhline(record.values.get("ifid") or 0, color="red", linewidth=0.8, label="intra-class FID (mean)")
    axis.set_xticks(range(len(classes)), [f"{label}\n{accuracy[label]:.0%}" if label in accuracy else label
                                          for label in classes], fontsize=7)
    axis.set_xlabel("class" + (" (label accuracy below it)" if accuracy else ""))
    axis.set_ylabel("FID")
    axis.set_title(f"{name}, step {record.step}: FID per class", fontsize=9)
    axis.legend(fontsize=7)
    file = f"classes-{name}.png"
    save_figure(figure, out / file)
    return file


def _neighbours_grid(name: str, run: RunDir, out: Path) -> dict | None:
    """The most copy-like samples of the last checkpoint scored with `copies`, beside their nearest training
    images: {'figure', 'caption'}; a grid that cannot be drawn (its checkpoint or training data gone) says why."""
    with_copies = [record for record in run.records(skip_invalid=True)
                   if (record.diagnostics.get("copies") or {}).get("worst") and record.checkpoint]
    if not with_copies:
        return None
    last = max(with_copies, key=lambda record: (record.step or -1, record.created or ""))
    caption = (f"step {last.step}: copies {format_number(last.values.get('copies'))}, pixel space "
               f"{format_number(last.values.get('copies_pixel'))}")
    try:
        figure = grid_of_record(last, run.path, out / f"neighbours-{name}.png")
    except (InputError, OSError) as error:  # a missing checkpoint spoils the grid, not the report
        return {"figure": None, "caption": f"{caption}; not drawn: {error}"}
    return {"figure": figure.name if figure else None, "caption": caption}


def _plot_histogram(name: str, record: Record, out: Path) -> str:
    modes = record.diagnostics["modes"]
    counts = modes["mode_counts"]
    figure, axis = pyplot().subplots(figsize=(6, 2.8))
    axis.bar(range(len(counts)), counts, width=1.0 if len(counts) > 50 else 0.8)
    axis.axhline(sum(counts) / len(counts), color="red", linewidth=0.8, label="uniform")
    axis.set_title(f"{name}, step {record.step}: {record.values.get('modes')} of {len(counts)} modes "
                   f"({modes.get('source')})", fontsize=9)
    axis.set_xlabel("mode")
    axis.set_ylabel("samples")
    axis.legend(fontsize=7)
    file = f"modes-{name}.png"
    save_figure(figure, out / file)
    return file


def _markdown(title: str, tables: list[tuple[str, pd.DataFrame]], curves: list[dict], sections: list[dict]) -> str:
    """README.md. Run names and settings come from folder names and records: escaped, so a name with a pipe, a
    backtick, brackets or HTML reads as itself (the title is the user's own Markdown)."""
    text, link = markdown_escape, _link
    parts = [f"# {title}", ""]
    for setting, table in tables:
        parts += [f"## Best checkpoint of each run: {text(setting)}", "", render(table, "markdown")]
    parts += ["## Metrics against training steps", ""]
    parts += [f"![{text(curve['metric'])}, {text(curve['setting'])}]({link(curve['file'])})" for curve in curves]
    for section in sections:
        name = text(section["name"])
        parts += ["", f"## {name}", ""]
        if section["picture"]:
            parts += [f"Samples at step {section['step']}:", "", f"![samples of {name}]({link(section['picture'])})", ""]
        if section["histogram"]:
            parts += [f"![modes of {name}]({link(section['histogram'])})", ""]
        if section["classes"]:
            parts += [f"![FID per class of {name}]({link(section['classes'])})", ""]
        parts += _neighbours_markdown(section["neighbours"], name)
        parts += _health_markdown(section["health"], name)
        if section["config"]:
            parts += ["```toml", section["config"].rstrip(), "```"]
    return "\n".join(parts) + "\n"


def _neighbours_markdown(grid: dict | None, name: str) -> list[str]:
    if grid is None:
        return []
    parts = [f"Most copy-like samples beside their nearest training images (`ganeval neighbours`), "
             f"{markdown_escape(grid['caption'])}", ""]
    if grid["figure"]:
        parts += [f"![nearest training images of {name}]({_link(grid['figure'])})", ""]
    return parts


def _neighbours_html(grid: dict | None, name: str) -> list[str]:
    if grid is None:
        return []
    escape = html.escape
    body = [f"<p>Most copy-like samples beside their nearest training images (<code>ganeval neighbours</code>), "
            f"{escape(grid['caption'])}</p>"]
    if grid["figure"]:
        body.append(f'<img src="{escape(_link(grid["figure"]))}" alt="nearest training images of {escape(name)}">')
    return body


def _health_markdown(health: dict | None, name: str) -> list[str]:
    if health is None:
        return []
    parts = [f"Training health (`ganeval diagnose`): {health['verdict']}", ""]
    parts += [f"- {markdown_escape(line)}" for line in health["findings"]]
    if health["figure"]:
        parts += ["", f"![training signals of {name}]({_link(health['figure'])})"]
    return parts + [""]


def _health_html(health: dict | None, name: str) -> list[str]:
    if health is None:
        return []
    escape = html.escape
    body = [f"<p>Training health (<code>ganeval diagnose</code>): {escape(health['verdict'])}</p>"]
    if health["findings"]:
        body.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in health["findings"]) + "</ul>")
    if health["figure"]:
        body.append(f'<img src="{escape(_link(health["figure"]))}" alt="training signals of {escape(name)}">')
    return body


def _link(file: str) -> str:
    """A file name as a relative URL: a run named 'a b (2)' or 'x#y' still links to its picture."""
    return urllib.parse.quote(file)


# cells never wrap (a checkpoint name split as 'step-' / '0001500.pt' reads as two things): a wide table scrolls in
# its own box instead
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
.table{overflow-x:auto}table.comparison{border-collapse:collapse;font-size:.9em}
table.comparison td,table.comparison th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right;
white-space:nowrap}pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.85em}
img{max-width:100%;margin:.3em}.note{color:#555;font-size:.9em}"""


def _html(title: str, tables: list[tuple[str, pd.DataFrame]], curves: list[dict], sections: list[dict]) -> str:
    escape = html.escape
    body = [f"<h1>{escape(title)}</h1>"]
    for setting, table in tables:
        body += [f"<h2>Best checkpoint of each run: {escape(setting)}</h2>",
                 f'<div class="table">{render(table, "html")}</div>',
                 f"<p class=note>{escape(render(table, 'table').splitlines()[-1])}</p>"]
    body.append("<h2>Metrics against training steps</h2>")
    body += [f'<img src="{escape(_link(curve["file"]))}" alt="{escape(curve["metric"])} against steps, {escape(curve["setting"])}">'
             for curve in curves]
    for section in sections:
        body.append(f"<h2>{escape(section['name'])}</h2>")
        if section["picture"]:
            body.append(f"<p>Samples at step {section['step']}:</p>")
            body.append(f'<img src="{escape(_link(section["picture"]))}" alt="samples of {escape(section["name"])}">')
        if section["histogram"]:
            body.append(f'<img src="{escape(_link(section["histogram"]))}" alt="modes of {escape(section["name"])}">')
        if section["classes"]:
            body.append(f'<img src="{escape(_link(section["classes"]))}" alt="FID per class of '
                        f'{escape(section["name"])}">')
        body += _neighbours_html(section["neighbours"], section["name"])
        body += _health_html(section["health"], section["name"])
        if section["config"]:
            body.append(f"<pre>{escape(section['config'])}</pre>")
    return (f"<!doctype html>\n<html><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
