"""Run directories: runs/NAME/{config.toml, checkpoints/step-XXXXXXX.pt, metrics.jsonl}.

Records are appended one JSON line at a time with O_APPEND under an exclusive lock, so concurrent writers never
interleave or truncate lines, and `pandas.read_json(path, lines=True)` reads the file whatever happened.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from .errors import InputError

METRICS_FILE = "metrics.jsonl"


def is_run_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "checkpoints").is_dir()


def checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The run's checkpoints in step order."""
    found = sorted((Path(run_dir) / "checkpoints").glob("step-*.pt"))
    if not found:
        raise InputError(f"{run_dir}: run directory holds no checkpoints (checkpoints/step-*.pt)")
    return found


def append_record(run_dir: str | os.PathLike, record: dict) -> Path:
    """Append one record as one line to run_dir/metrics.jsonl, atomically with respect to other writers."""
    path = Path(run_dir) / METRICS_FILE
    line = (json.dumps(record, sort_keys=False) + "\n").encode()
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        size = os.fstat(descriptor).st_size
        if size and os.pread(descriptor, 1, size - 1) != b"\n":
            line = b"\n" + line  # a writer killed mid-line left a partial line: never glue a record onto it
        written = os.write(descriptor, line)
        if written != len(line):  # a full disk: say so rather than leave half a line unexplained
            raise OSError(f"short write to {path}")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)  # closing releases the lock
    return path


def read_records(run_dir: str | os.PathLike) -> list[dict]:
    """All records of a run (an unreadable line is skipped: a writer killed mid-line can leave one)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
