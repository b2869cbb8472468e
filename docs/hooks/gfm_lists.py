"""MkDocs hook: lists that follow a paragraph line directly, as GitHub renders them.

The pages are written for GitHub as much as for the site (README.md's sections moved here, DESIGN.md,
REFERENCES.md). GitHub lets a list interrupt a paragraph ("one of:\\n- a\\n- b"); Python-Markdown needs a blank line
first and would run the items into the paragraph. This adds that blank line in the page's Markdown as the site is
built, outside code blocks; the files are not touched.
"""
from __future__ import annotations

import re

_ITEM = re.compile(r" {0,3}([-*+]|1[.)]) +\S")  # GitHub: an ordered list interrupts a paragraph only from 1
_NOT_PARAGRAPH = re.compile(r"\s|#|\||>|```|~~~")  # indented (a list item's own lines, code), heading, table, quote


def on_page_markdown(markdown: str, **kwargs) -> str:
    out: list[str] = []
    fenced = False
    previous = ""
    for line in markdown.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif (not fenced and _ITEM.match(line) and previous.strip() and not _ITEM.match(previous)
              and not _NOT_PARAGRAPH.match(previous)):
            out.append("")
        out.append(line)
        previous = line
    return "\n".join(out)
