"""MkDocs hook: the command-line reference page (cli.md), generated from `ganeval.cli.build_parser()` at build time.

Every command and subcommand with its usage line, what it does and each argument with its help and default, read
from the parser the `ganeval` command runs, so the page cannot drift from the flags. Nothing is checked in: the page
exists only in the built site (mkdocs.yml lists it in the nav and names this file under `hooks:`).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

PAGE = "cli.md"
USAGE_WIDTH = 100  # usage lines wrap here, whatever the terminal that runs mkdocs

INTRO = """# Command-line reference

Generated from the parser itself (`ganeval.cli.build_parser()`) each time the site is built: every command and
subcommand, its usage, and each argument with its help and default. `ganeval COMMAND --help` prints the same. What
the commands do, with examples: [Scoring](scoring.md), [References](references.md), [Training](training.md),
[Compare, report and gate](compare-report-gate.md), [Human evaluation](human.md), [the demo](demo.md).
"""


def on_files(files, config):
    """Add the generated page to the site's files (mkdocs 1.6's File.generated), before the nav is built."""
    files.append(File.generated(config, PAGE, content=cli_reference(Path(config.config_file_path).parent)))
    return files


def cli_reference(root: Path) -> str:
    if str(root) not in sys.path:  # document the tree being built, not another installed copy
        sys.path.insert(0, str(root))
    from ganeval.cli import build_parser

    sections = [INTRO]
    _describe(build_parser(), "Evaluation and metrics for GANs.", 2, sections)
    return "\n".join(sections)


def _describe(parser: argparse.ArgumentParser, summary: str | None, level: int, sections: list[str]) -> None:
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=USAGE_WIDTH)
    sections.append(f"{'#' * level} `{parser.prog}`\n")
    for text in (parser.description or summary, parser.epilog):
        if text:
            sections.append(_escape(text) + "\n")
    sections.append("```\n" + parser.format_usage().strip() + "\n```\n")
    subcommands = []
    for group in parser._action_groups:
        rows = []
        for action in group._group_actions:
            if action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                summaries = {choice.dest: choice.help for choice in action._choices_actions}
                subcommands += [(sub, summaries.get(name)) for name, sub in action.choices.items()]
                rows.append(_row(action.metavar or action.dest, "one of: " + ", ".join(
                    f"`{name}`" for name in action.choices), None))
                continue
            rows.append(_row(_name(action), _help(parser, action), _default(action)))
        if rows:
            sections.append(f"**{group.title}**\n\n| argument | description | default |\n|---|---|---|\n"
                            + "\n".join(rows) + "\n")
    for sub, text in subcommands:
        _describe(sub, text, level + 1, sections)


def _name(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest)
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return names
    if action.choices is not None and action.metavar is None:
        return f"{names} {{{','.join(map(str, action.choices))}}}"
    return f"{names} {action.metavar or action.dest.upper()}"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = parser._get_formatter()._expand_help(action) if action.help else ""
    if action.required and action.option_strings:
        text += " (required)"
    return _escape(text)


def _default(action: argparse.Action) -> str | None:
    default = action.default
    if default is None or default is argparse.SUPPRESS or (action.nargs == 0 and default is False):
        return None
    if isinstance(default, list) and not default:
        return None
    return str(default)


def _row(name: str, text: str, default: str | None) -> str:
    shown = f"`{default}`" if default is not None else ""
    return f"| `{name}` | {text} | {shown} |"


def _escape(text: str) -> str:
    """Help text as Markdown in a table cell: `code` spans kept, everything else literal."""
    parts = re.split(r"(`[^`]*`)", " ".join(text.split()))
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)  # the tables extension ignores pipes inside code spans
        else:
            part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            out.append(re.sub(r"([\\*_\[\]|#])", r"\\\1", part))
    return "".join(out)
