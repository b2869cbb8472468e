"""Griffe extension for the API reference (mkdocs.yml names it under mkdocstrings' `extensions:`).

ganeval's docstrings are prose with doctest examples (`>>> ...` lines and their output), not Google or NumPy
sections. Markdown would read `>>>` as nested block quotes; this fences each doctest run as a `pycon` code block and
drops `# doctest:` directives, in the docstrings griffe loaded for the site. The source files are not touched.
"""
from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_DIRECTIVE = re.compile(r"\s*# doctest:.*$")


class DoctestBlocks(Extension):
    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        _fence(obj)

    def on_package(self, *, pkg: Object, **kwargs: Any) -> None:  # the package itself gets no on_object
        _fence(pkg)


def _fence(obj: Object) -> None:
    if obj.is_alias:  # its target's docstring is fenced on the target
        return
    if obj.docstring is not None and ">>>" in obj.docstring.value and "```pycon" not in obj.docstring.value:
        obj.docstring.value = fence_doctests(obj.docstring.value)


def fence_doctests(text: str) -> str:
    """Each run of lines from a `>>> ` line to the next blank line becomes a ```pycon block."""
    out: list[str] = []
    in_example = False
    for line in text.splitlines():
        if not in_example and line.lstrip().startswith(">>>"):
            out += ["", "```pycon"]
            in_example = True
        elif in_example and not line.strip():
            out.append("```")
            in_example = False
        out.append(_DIRECTIVE.sub("", line) if in_example else line)
    if in_example:
        out.append("```")
    return "\n".join(out)
