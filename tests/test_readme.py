"""The README says what the code does: the files it links exist, and every concrete command it shows parses."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ganeval.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def concrete_commands() -> list[str]:
    """`ganeval ...` lines of the README's code blocks that are examples, not synopses (no [optional] parts)."""
    commands = []
    for block in _code_blocks(README.read_text()):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip().removeprefix("$ ")
            if line.startswith("ganeval ") and "[" not in line and "|" not in line and "..." not in line:
                commands.append(line)
    return commands


def test_linked_files_exist():
    links = re.findall(r"\]\(([^)#]+)\)", README.read_text())
    missing = [link for link in links if not link.startswith("http") and not (README.parent / link).exists()]
    assert links and not missing


def test_no_stale_promises():
    text = README.read_text()
    assert "still to come" not in text.lower()
    assert "shared DESIGN.md" not in text


def test_the_readme_opens_with_demo_and_test():
    first_block = _code_blocks(README.read_text())[0]
    assert first_block.splitlines()[0].startswith("make demo") and "make test" in first_block


@pytest.mark.parametrize("command", concrete_commands())
def test_every_example_command_parses(command):
    build_parser().parse_args(shlex.split(command)[1:])  # argparse exits (SystemExit 2) on any unknown flag
