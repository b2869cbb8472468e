"""Write files so that readers never see half of one: temporary name in the same folder, fsync, rename.

Every failure to write (a read-only file system, a full disk, a folder where a file should be) is a one-line
WriteError naming the path and the reason, e.g. "cannot write reports/x/index.html: no space left on device".
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import GanevalError


class WriteError(GanevalError):
    """A file or folder that cannot be written; `path` and `reason` say which and why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"cannot write {path}: {reason}")


def write_error(path: str | os.PathLike, error: OSError) -> WriteError:
    """The WriteError for an OSError met while writing `path` (strerror, lower-cased: 'no space left on device')."""
    reason = error.strerror or str(error) or type(error).__name__
    return WriteError(path, reason[:1].lower() + reason[1:])


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(handle)` on a temporary file beside `path`, then rename it over `path`.

    The temporary file is removed on failure; the result gets the usual permissions (0666 less the umask), not the
    0600 of a temporary file. Any OSError (unwritable folder, full disk, `path` a folder) is a one-line WriteError.

    >>> write_atomically(Path("/proc/x.txt"), lambda handle: handle.write(b"x"))   # doctest: +SKIP
    ganeval.atomic.WriteError: cannot write /proc/x.txt: no such file or directory
    """
    path = Path(path)
    if path.is_dir():  # os.replace would say "is a directory" too, but only after the whole write
        raise WriteError(path, "is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, path)
    except OSError as exc:
        Path(handle.name).unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException as exc:
        Path(handle.name).unlink(missing_ok=True)
        cause = _os_error_behind(exc) if isinstance(exc, Exception) else None  # Ctrl-C stays an interrupt
        if cause is not None:
            raise write_error(path, cause) from exc
        raise


def staging_folder(parent: Path, name: str, shown: Path) -> Path:
    """A new, empty folder in `parent` (created if missing) named after `name`, to fill and then rename into place:
    on the same file system, so the move is a rename, and readable as a folder made under the umask would be
    (mkdtemp's 0700 would follow it when renamed). A failure is the WriteError of `shown`."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".tmp"))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)
    except OSError as exc:
        raise write_error(shown, exc) from exc
    return staging


def _os_error_behind(error: BaseException) -> OSError | None:
    """The OSError a writer wrapped: torch.save turns a full disk into a RuntimeError raised while handling it."""
    seen = error.__cause__ or error.__context__
    while seen is not None and not isinstance(seen, OSError):
        seen = seen.__cause__ or seen.__context__
    return seen


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda handle: handle.write(text.encode()))


def check_output_folder(folder: str | os.PathLike, label: str = "--out") -> None:
    """Refuse, before any work, a folder that cannot be written: a file in its place (or in a parent's), or the
    nearest existing folder on its path read-only or not ours. One line naming `label` and the path."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise GanevalError(f"{label} {folder}: exists and is not a folder")
    _check_can_create_in(folder, label)


def check_output_file(path: str | os.PathLike, label: str = "--out") -> None:
    """Refuse, before any work, a file path that cannot be written: a folder in its place, a file where a parent
    folder should be, or an unwritable folder. One line naming `label` and the path."""
    path = Path(path)
    if path.is_dir():
        raise GanevalError(f"{label} {path} is a folder; give a file name inside it")
    _check_can_create_in(path.parent, label, shown=path)


def _check_can_create_in(folder: Path, label: str, shown: Path | None = None) -> None:
    """The nearest existing ancestor of `folder` (itself included) must be a folder where files can be created."""
    shown = shown or folder
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise GanevalError(f"{label} {shown}: {existing} is a file, not a folder")
    try:  # create and remove a file: what the write will do (os.access says nothing of full or odd file systems)
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise GanevalError(f"{label} {shown}: {write_error(existing, exc)}") from exc
