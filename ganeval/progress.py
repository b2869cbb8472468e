"""Progress bars, one per phase (decoding, generation, extraction), with images per second.

Whether bars show is decided once, where a score starts (`showing(progress)`), and read wherever a bar opens: the
loaders and the generator deep below the pipeline then need no `progress` argument threaded through every call.
Outside `showing`, bars show when stderr is a terminal, as the extraction bars always have.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tqdm import tqdm

_SHOWN: ContextVar[bool | None] = ContextVar("ganeval_progress_shown", default=None)


@contextmanager
def showing(progress: bool | None) -> Iterator[None]:
    """Bars opened inside the block show when `progress` is True, never when False, and when stderr is a terminal
    for None."""
    token = _SHOWN.set(progress)
    try:
        yield
    finally:
        _SHOWN.reset(token)


def is_shown(progress: bool | None = None) -> bool:
    """Whether a bar shows: `progress` where given, else what the enclosing `showing` said, else whether stderr is
    a terminal."""
    chosen = _SHOWN.get() if progress is None else progress
    return sys.stderr.isatty() if chosen is None else bool(chosen)


def bar(total: int, description: str, *, unit: str = "image", progress: bool | None = None) -> tqdm:
    """A bar of `total` units reading 'decode photos/: 40%|####   | 2000/5000 [00:01<00:01, 1850.2image/s]'; it
    disappears when done (the phase's seconds go to the record's diagnostics.timing)."""
    return tqdm(total=total, desc=description, unit=unit, disable=not is_shown(progress), leave=False)
