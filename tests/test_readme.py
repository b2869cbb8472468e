"""The README and the docs pages say what the code does: the files they link exist, and every concrete command they
show parses."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ganeval.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
# Pages that exist only in the built site: mkdocs.yml's hook writes them (docs/hooks/cli_reference.py: cli.md).
GENERATED = {ROOT / "docs" / "cli.md"}


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def _prose(text: str) -> str:
    """The text outside fenced code blocks, where a `](...)` is a link."""
    return re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S)


def concrete_commands(page: Path) -> list[str]:
    """`ganeval ...` lines of a page's code blocks that are examples, not synopses (no [optional] parts)."""
    commands = []
    for block in _code_blocks(page.read_text()):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip().removeprefix("$ ")
            if line.startswith("ganeval ") and "[" not in line and "|" not in line and "..." not in line:
                commands.append(line)
    return commands


def links(page: Path) -> list[str]:
    """Relative link targets of a page, without their #anchors; web addresses and same-page anchors left out."""
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", _prose(page.read_text()))
    return [target.split("#", 1)[0] for target in targets
            if not target.startswith(("http://", "https://", "mailto:", "#"))]


def test_the_docs_pages_are_found():
    assert README.is_file() and (ROOT / "docs" / "index.md") in DOCS and len(DOCS) >= 10


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_linked_files_exist(page):
    """Links are relative to the page that holds them (mkdocs resolves a page's links so, and GitHub too)."""
    missing = [link for link in links(page)
               if not (page.parent / link).exists() and (page.parent / link).resolve() not in GENERATED]
    assert not missing, f"{_name(page)} links to files that do not exist: {missing}"


def test_the_readme_and_the_site_home_link_pages():
    assert links(README) and links(ROOT / "docs" / "index.md")


def test_generated_pages_are_generated():
    hook = (ROOT / "docs" / "hooks" / "cli_reference.py").read_text()
    assert all(f'PAGE = "{page.name}"' in hook for page in GENERATED)


def test_every_docs_page_is_reachable():
    """Every docs page is linked from the README or listed in mkdocs.yml's nav (mkdocs --strict checks the nav too)."""
    nav = (ROOT / "mkdocs.yml").read_text()
    readme_links = {(ROOT / link).resolve() for link in links(README)}
    unreachable = [_name(page) for page in DOCS if page.resolve() not in readme_links
                   and not re.search(rf":\s*{re.escape(page.name)}\b", nav)]
    assert not unreachable


def test_no_stale_promises():
    for page in PAGES:
        text = page.read_text()
        assert "still to come" not in text.lower(), _name(page)
    assert "shared DESIGN.md" not in README.read_text()


def test_the_readme_opens_with_demo_and_test():
    first_block = _code_blocks(README.read_text())[0]
    assert first_block.splitlines()[0].startswith("make demo") and "make test" in first_block


def test_the_readme_is_a_landing_page():
    assert len(README.read_text()) <= 12_000


@pytest.mark.parametrize("page", [page for page in PAGES if concrete_commands(page)], ids=_name)
def test_every_example_command_parses(page):
    parser, failing = build_parser(), []
    for command in concrete_commands(page):
        try:
            parser.parse_args(shlex.split(command)[1:])  # argparse exits (SystemExit 2) on any unknown flag
        except SystemExit:
            failing.append(command)
    assert not failing, f"{_name(page)}: these commands do not parse: {failing}"
