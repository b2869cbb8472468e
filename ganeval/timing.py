"""Where a score spends its time: seconds per phase for the record's `diagnostics.timing`, and one status line per
phase on stderr where progress bars are shown.

The feature bars close when extraction ends; what follows (the reference's k-NN radii, KID's subsets, NDB's
K-means, bootstrap replicates) can take a minute, and a silent minute reads as a hang.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .progress import is_shown


class PhaseTimer:
    """Seconds per named phase; a status line each where bars show (`progress`, decided as ganeval.progress does).

    >>> timer = PhaseTimer(progress=False)
    >>> with timer.phase("kid", "kid: 100 subsets of 1000"):
    ...     pass
    >>> list(timer.summary())
    ['kid']
    """

    def __init__(self, progress: bool | None = None) -> None:
        self.show = is_shown(progress)
        self.seconds: dict[str, float] = {}
        self._open: list[list] = []  # the phases under way, innermost last: [status shown, seconds of inner phases]

    @contextmanager
    def phase(self, key: str, status: str | None = None) -> Iterator[None]:
        """Time the block under `key` (a key entered twice adds up); `status` is printed while it runs, then the
        elapsed seconds: '  kid: 100 subsets of 1000 ... 31.8 s'. A phase opened inside another (the reference's
        k-NN radii inside prdc) is timed on its own and left out of the outer one's seconds."""
        shown = self.show and status is not None
        if shown:
            self._end_open_line()
            print(f"  {status} ...", end="", file=sys.stderr, flush=True)
        entry = [shown, 0.0]
        self._open.append(entry)
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            if shown:
                print(" stopped", file=sys.stderr, flush=True)  # the error follows on a line of its own
            raise
        finally:
            elapsed = time.perf_counter() - start
            self._open.pop()
            self.seconds[key] = self.seconds.get(key, 0.0) + elapsed - entry[1]
            if self._open:
                self._open[-1][1] += elapsed
        if shown:
            interrupted = entry[0] is None  # an inner phase printed lines since: say which phase ends
            print(f"  {status} ... {elapsed - entry[1]:.1f} s" if interrupted else f" {elapsed - entry[1]:.1f} s",
                  file=sys.stderr, flush=True)

    def fork(self) -> PhaseTimer:
        """A timer that starts with this one's phases: the phases several scores share (reading the input once for
        every extractor), then each score's own."""
        forked = PhaseTimer(self.show)
        forked.seconds = dict(self.seconds)
        return forked

    def _end_open_line(self) -> None:
        """An outer phase's status line is waiting for its seconds: end the line, and mark it interrupted."""
        for entry in self._open:
            if entry[0]:
                print(file=sys.stderr, flush=True)
                entry[0] = None

    def summary(self) -> dict[str, float]:
        """Seconds per phase in the order the phases ran, to the millisecond."""
        return {key: round(seconds, 3) for key, seconds in self.seconds.items()}
