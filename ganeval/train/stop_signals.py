"""Stop a run at a finished step on SIGINT (Ctrl-C) or SIGTERM (what schedulers and `timeout` send).

The first signal only asks: the training loop finishes the step under way, writes the checkpoint of the finished
steps as a scheduled one and stops, so that the run resumes bit for bit. A second signal stops at once (a
KeyboardInterrupt wherever the run is), for a run that should not even finish its step.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """`signum`: the first stop signal received (None until one is)."""

    def __init__(self) -> None:
        self.signum: int | None = None


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Catch SIGINT and SIGTERM into the StopRequest yielded, then put the previous handlers back.

    Python runs signal handlers in the main thread only and lets only it install them; elsewhere nothing is
    installed and Ctrl-C interrupts the main thread as usual."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum: int, frame) -> None:
        if request.signum is not None:
            raise KeyboardInterrupt
        request.signum = signum
        _say(f"ganeval: {signal.Signals(signum).name}: finishing the step (or the scoring) under way and writing "
             "its checkpoint (a second signal stops at once)\n")

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            # None: a handler installed outside Python, which cannot be put back; the default is the nearest
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _say(message: str) -> None:
    """A line on stderr from a signal handler: os.write, because print may re-enter a write in progress."""
    try:
        os.write(2, message.encode())
    except OSError:
        pass
