"""Decoding the rows of an image array in worker processes (torch's DataLoader), each image placed by its row.

The caller gives a function that decodes one named image (its checks included) and fills an array from row_array;
this module only decides serial or parallel. Forked workers write their rows straight into that array, which lives in
memory shared with them (sending decoded images back through pipes cost more than decoding 256x256 JPEGs), so rows
land by index and the array is the same for any worker count. An exception of a worker reaches the caller as the
serial loop would have raised it: the one of the lowest row, unchanged (no DataLoader traceback around its line).
"""
from __future__ import annotations

import math
import mmap
import multiprocessing
import os
import pickle
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import InputError
from ..progress import bar

DEFAULT_MOST_WORKERS = 4
PARALLEL_FROM = 64  # fewer images decode in this process: starting workers costs more than they would save
CHUNK_ROWS = 64  # rows a worker decodes per task: few enough tasks to keep the pipes quiet, enough to share out

ImageDecoder = Callable[[str], np.ndarray]  # an image's name -> its uint8 C x H x W pixels; raises on a bad image


def worker_count(workers: int | None) -> int:
    """The decoding processes in force: `workers`, or min(4, the cores this process may use) for None."""
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return min(DEFAULT_MOST_WORKERS, cores)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise InputError(f"--workers {workers}: must be a whole number, 0 or more (0 decodes in this process)")
    return workers


def row_array(shape: tuple[int, ...], workers: int, first: int = 0) -> np.ndarray:
    """An uninitialised uint8 array of `shape` for decode_rows (rows from `first` on decoded there): in anonymous
    memory shared with forked workers where they will be used, else ordinary memory."""
    if not _parallel(shape[0] - first, workers):
        return np.empty(shape, np.uint8)
    shared = mmap.mmap(-1, max(1, math.prod(shape)))  # MAP_SHARED | MAP_ANONYMOUS: not bounded by /dev/shm's size
    return np.frombuffer(shared, np.uint8).reshape(shape)


def decode_rows(images: np.ndarray, names: list[str], decode: ImageDecoder, workers: int, first: int = 0,
                description: str = "decode", rows: Sequence[int] | None = None) -> None:
    """images[row] = decode(names[row]) for each row from `first` on (or each of `rows`, ascending, where given), in
    `workers` processes where there are enough rows to be worth them and `images` came from row_array (else in this
    one); the first error, by row, is raised as `decode` raised it. A progress bar headed `description` counts the
    rows (see ganeval.progress)."""
    rows = range(first, len(names)) if rows is None else rows
    with bar(len(rows), description) as shown:
        if not (_parallel(len(rows), workers) and _shared(images)):
            for row in rows:
                images[row] = decode(names[row])
                shown.update()
            return
        chunks = _Chunks(images, names, decode, rows)
        loader = DataLoader(chunks, batch_size=None, num_workers=min(workers, len(chunks)), collate_fn=_as_is,
                            multiprocessing_context="fork", generator=torch.Generator())  # the global RNG left alone
        batches = iter(loader)
        try:
            for index, error in enumerate(batches):
                if error is not None:
                    raise error
                shown.update(len(chunks.chunk(index)))
        finally:
            del batches  # its workers shut down now, not when this frame's traceback is freed


def _parallel(count: int, workers: int) -> bool:
    # Workers are forked: they inherit the decode function (closures over open files, PIL's pixel limit as set now)
    # without pickling. Where fork is missing, images decode in this process.
    return workers > 0 and count >= PARALLEL_FROM and "fork" in multiprocessing.get_all_start_methods()


def _shared(images: np.ndarray) -> bool:
    """Whether `images` views a shared mapping of row_array's, so that workers' writes reach this process."""
    base = images
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)  # np.frombuffer keeps a memoryview


def _as_is(item):
    """The collate function: a chunk comes back as the worker made it (no conversion to tensors)."""
    return item


class _Chunks(Dataset):
    """The rows to decode in runs of CHUNK_ROWS, written into the shared `images`; item i is None once its run is
    written, or the exception of its first image that fails, which the main process raises."""

    def __init__(self, images: np.ndarray, names: list[str], decode: ImageDecoder, rows: Sequence[int]):
        self.images, self.names, self.decode, self.rows = images, names, decode, rows

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / CHUNK_ROWS)

    def chunk(self, index: int) -> Sequence[int]:
        """The rows of item `index`."""
        return self.rows[index * CHUNK_ROWS:(index + 1) * CHUNK_ROWS]

    def __getitem__(self, index: int) -> Exception | None:
        for row in self.chunk(index):
            try:
                self.images[row] = self.decode(self.names[row])
            except Exception as exc:  # noqa: BLE001 - any error goes to the main process, raised there as serially
                return _portable(exc)
        return None


def _portable(exc: Exception) -> Exception:
    """`exc`, or where it would not survive the pipe back (an exception class whose arguments are not its args),
    a RuntimeError of its message: the main process must get an exception to raise, not a failed unpickling."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - whatever pickling raises
        return RuntimeError(f"{type(exc).__name__}: {exc}")
