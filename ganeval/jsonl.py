"""JSON Lines files that several processes append to: metrics.jsonl (score records), and any later log of a run.

A line is appended with O_APPEND under an exclusive flock and fsynced, so concurrent writers never interleave or
truncate lines; a line left half-written by a killed writer is closed before the next one, never glued to it. A
reader skips what it cannot read, saying where, so `pandas.read_json(path, lines=True)` and ganeval read the same
file whatever happened to it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

from .atomic import write_error
from .errors import InputError, RecordsWarning, warn_at_caller

SHOWN_SKIPS = 3  # unreadable lines named one by one; the rest are counted


def append_line(path: str | os.PathLike, entry: dict) -> Path:
    """Append `entry` as one JSON line to `path` (created if missing), atomically with respect to other writers."""
    path = Path(path)
    line = (json.dumps(entry, sort_keys=False) + "\n").encode()
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                line = b"\n" + line  # a writer killed mid-line left a partial line: never glue an entry onto it
            written = os.write(descriptor, line)
            if written != len(line):  # a full disk: say so rather than leave half a line unexplained
                raise OSError(errno.ENOSPC, "no space left on device (a partial line was written)")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # closing releases the lock
    except OSError as exc:
        raise write_error(path, exc) from exc
    return path


def read_lines(path: str | os.PathLike, is_entry: Callable[[dict], bool], kind: str) -> list[tuple[int, dict]]:
    """(line number, object) of every line of `path` that is a JSON object `is_entry` accepts, so that errors can
    name file:line. Other lines are skipped with a RecordsWarning naming them; a file where no line is an entry is
    an InputError ('not a ganeval {kind} file')."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read {kind}s ({type(exc).__name__})") from exc
    entries, skipped = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict) and is_entry(entry):
            entries.append((number, entry))
        else:
            skipped.append(number)
    if skipped and not entries:
        raise InputError(f"{path}: not a ganeval {kind}s file (no line is a {kind})")
    for number in skipped[:SHOWN_SKIPS]:
        truncated = " (a truncated last line: a writer stopped mid-write)" if number == len(lines) else ""
        warn_at_caller(f"{path}:{number}: unreadable {kind} skipped{truncated}", RecordsWarning)
    if len(skipped) > SHOWN_SKIPS:
        warn_at_caller(f"{path}: {len(skipped) - SHOWN_SKIPS} more unreadable {kind}s skipped", RecordsWarning)
    return entries
