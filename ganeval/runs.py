"""Run directories: runs/NAME/{config.toml, checkpoints/step-XXXXXXX.pt, metrics.jsonl}.

Records are appended one JSON line at a time with O_APPEND under an exclusive lock, so concurrent writers never
interleave or truncate lines, and `pandas.read_json(path, lines=True)` reads the file whatever happened.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from .errors import InputError, RecordsWarning, warn_at_caller

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
    """All records of a run ([] before its first score)."""
    path = Path(run_dir) / METRICS_FILE
    return read_record_file(path) if path.is_file() else []


def read_record_file(path: Path) -> list[dict]:
    """The records of one file; unreadable lines are skipped with a RecordsWarning naming them."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read records ({type(exc).__name__})") from exc
    records, skipped = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "reference" in record:
            records.append(record)
        else:
            skipped.append(number)
    if skipped and not records:
        raise InputError(f"{path}: not a ganeval records file (no line is a score record)")
    for number in skipped[:3]:
        truncated = " (a truncated last line: a writer stopped mid-write)" if number == len(lines) else ""
        warn_at_caller(f"{path}:{number}: unreadable record skipped{truncated}", RecordsWarning)
    if len(skipped) > 3:
        warn_at_caller(f"{path}: {len(skipped) - 3} more unreadable records skipped", RecordsWarning)
    return records
