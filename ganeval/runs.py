"""Run directories: runs/NAME/{config.toml, checkpoints/step-XXXXXXX.pt, metrics.jsonl}.

Records are appended one JSON line at a time with O_APPEND under an exclusive lock, so concurrent writers never
interleave or truncate lines, and `pandas.read_json(path, lines=True)` reads the file whatever happened.

Sweeps (`score_run`, the CLI's `ganeval score RUN_DIR`) skip what is scored with the same settings (`is_scored`,
which the training hook asks too) and pass one ReferenceStore to every score, so the reference is extracted once.
They claim each checkpoint with an exclusive flock on checkpoints/.NAME.lock while scoring it, so two sweeps of one
run split the checkpoints instead of scoring each twice; a claim dies with its process.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .atomic import write_error
from .config import ScoreConfig
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
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                line = b"\n" + line  # a writer killed mid-line left a partial line: never glue a record onto it
            written = os.write(descriptor, line)
            if written != len(line):  # a full disk: say so rather than leave half a line unexplained
                raise OSError(errno.ENOSPC, "no space left on device (a partial line was written)")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # closing releases the lock
    except OSError as exc:
        raise write_error(path, exc) from exc
    return path


def read_records(run_dir: str | os.PathLike) -> list[dict]:
    """All records of a run ([] before its first score)."""
    path = Path(run_dir) / METRICS_FILE
    return read_record_file(path) if path.is_file() else []


def read_record_file(path: Path) -> list[dict]:
    """The records of one file; unreadable lines are skipped with a RecordsWarning naming them."""
    return [record for _, record in read_numbered_records(path)]


def read_numbered_records(path: Path) -> list[tuple[int, dict]]:
    """(line number, record) of every record of one file, so errors can name file:line; unreadable lines are
    skipped with a RecordsWarning naming them."""
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
            records.append((number, record))
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


def asked_settings(reference: str | None, config: ScoreConfig):
    """The ScoreSettings a score against `reference` (as given; None: an object) under `config` records."""
    from .records import ScoreSettings

    return ScoreSettings(reference_argument=None if reference is None else str(reference), seed=config.seed,
                         ema=config.ema, requested_num_samples=config.num_samples,
                         requested_reference_samples=config.reference_samples, metrics=config.metrics,
                         ci_level=config.ci.level if config.ci else None, latents=config.latents,
                         extractor=asked_extractor(config), preset=config.preset)


# Extractor options that say where the weights are or whether to trust them: they do not change the feature space
# (the weights' SHA256 is in the record's provenance), so a sweep asked with another path is the same ask.
_LOCATION_OPTIONS = frozenset(("weights", "trust", "download"))


def asked_extractor(config: ScoreConfig) -> str:
    """The extractor a score asks for, with the options that change its space: 'auto', 'dinov2-vit-l-14',
    'inception-v3-compat[resize=clean]'; under 'auto' the options of the extractor it may pick,
    'auto[inception-v3-compat:resize=clean]'."""
    name = config.extractor.name
    spaces = []
    for extractor, options in sorted(config.extractor.options.items()):
        if extractor != name and name != "auto":  # another extractor of the same list: not this record's space
            continue
        for key, value in sorted((options or {}).items()):
            if key not in _LOCATION_OPTIONS and value is not None:
                spaces.append(f"{key}={value}" if extractor == name else f"{extractor}:{key}={value}")
    return name + (f"[{','.join(spaces)}]" if spaces else "")


def is_scored(checkpoint: Path, settings, records: list[dict]) -> bool:
    """Whether `records` (as read_records gives them) hold a score of `checkpoint` with `settings`."""
    from .records import ScoreSettings

    wanted = settings.key(checkpoint.name)
    asked = (ScoreSettings.from_json(record) for record in records if record.get("checkpoint") == checkpoint.name)
    return any(other is not None and other.key(checkpoint.name) == wanted for other in asked)


def score_run(run_dir: str | os.PathLike, reference: str, config: ScoreConfig,
              on_scored: Callable[[Path, dict], object] | None = None, store=None) -> list[Path]:
    """Score every checkpoint of the run not yet scored against `reference` with `config`'s settings (one
    reference pass: `store`, a ReferenceStore, is shared by all); `on_scored(checkpoint, record)` after each.
    Returns the checkpoints scored here. Each record is appended to the run's metrics.jsonl by the score."""
    # imported here: records and tables read this module without loading torch
    from .pipeline import score_all
    from .reference import ReferenceStore

    store = store or ReferenceStore(enabled=config.use_cache)
    asked = {name: asked_settings(reference, config.for_extractor(name)) for name in config.extractor.names}

    def unscored(path: Path, records: list[dict]) -> list[str]:
        return [name for name, settings in asked.items() if not is_scored(path, settings, records)]

    def score_one(checkpoint: Path) -> None:
        # the extractors this checkpoint still lacks, as rank 0 reads them: generated once, scored by each
        names = unscored(checkpoint, read_records(run_dir)) if store.world.is_main else None
        names = store.world.broadcast(names)
        for scored in score_all(str(checkpoint), reference, config.for_extractor(",".join(names)), store):
            if on_scored is not None:
                on_scored(checkpoint, scored.record)

    def scored(path: Path, records: list[dict]) -> bool:
        return not unscored(path, records)

    if store.world.distributed:
        return _score_together(run_dir, scored, score_one, store.world)
    return score_checkpoints(run_dir, scored, score_one)


def _score_together(run_dir, is_scored: Callable[[Path, list[dict]], bool], score_one: Callable[[Path], object],
                    world) -> list[Path]:
    """score_checkpoints for the ranks of one torchrun job, which score each checkpoint together. Rank 0 lists the
    checkpoints (training may add one meanwhile), takes the claims and decides, under each claim, whether the
    checkpoint is still unscored; every rank follows its word. Checkpoints another sweep holds are passed over,
    then waited for at the end, as score_checkpoints does."""
    listed = [str(path) for path in checkpoints(run_dir)] if world.is_main else None
    paths = [Path(path) for path in world.broadcast(listed)]
    scored, busy = [], []
    for wait, queue in ((False, paths), (True, busy)):
        for path in queue:
            with _claim(path, wait) if world.is_main else contextlib.nullcontext(None) as claimed:
                decision = world.broadcast(_decision(path, claimed, run_dir, is_scored) if world.is_main else None)
                if decision == "busy":
                    busy.append(path)
                elif decision == "score":
                    score_one(path)
                    scored.append(path)
    return scored


def _decision(path: Path, claimed: bool, run_dir, is_scored: Callable[[Path, list[dict]], bool]) -> str:
    """What rank 0 tells the others about a checkpoint: 'busy' (another sweep holds it), 'skip' or 'score'."""
    if not claimed:
        return "busy"
    return "skip" if is_scored(path, read_records(run_dir)) else "score"


def score_checkpoints(run_dir: str | os.PathLike, is_scored: Callable[[Path, list[dict]], bool],
                      score_one: Callable[[Path], object]) -> list[Path]:
    """Call `score_one(checkpoint)` for each checkpoint of the run that `is_scored(checkpoint, records)` says is not
    scored yet; returns the checkpoints this process scored.

    Safe to run twice at once: a checkpoint is scored only under its claim (an exclusive flock), and whether it is
    still unscored is decided under that claim from the records as they are then, so concurrent sweeps split the
    work. Checkpoints claimed by another sweep are passed over, then waited for at the end and scored here if that
    sweep died before recording them (its lock died with it).

    >>> score_checkpoints("runs/ring8-gan", lambda path, records: False, print)   # doctest: +SKIP
    """
    records = read_records(run_dir)
    todo = [path for path in checkpoints(run_dir) if not is_scored(path, records)]
    scored, busy = [], []
    for wait, queue in ((False, todo), (True, busy)):
        for path in queue:
            with _claim(path, wait) as claimed:
                if not claimed:
                    busy.append(path)
                elif not is_scored(path, read_records(run_dir)):
                    score_one(path)
                    scored.append(path)
    return scored


@contextlib.contextmanager
def _claim(checkpoint: Path, wait: bool) -> Iterator[bool]:
    """Hold checkpoint's lock file (checkpoints/.NAME.lock) exclusively; yields False when another process holds it
    and `wait` is False. The lock file stays (removing a locked file would let a third process lock a new one)."""
    lock_path = checkpoint.parent / f".{checkpoint.name}.lock"
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise write_error(lock_path, exc) from exc
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # closing releases the lock
