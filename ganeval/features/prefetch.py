"""Batches made ready ahead of the network: the next batch is sliced, pinned and copied to the GPU while the current
one runs.

On CUDA the network runs asynchronously, so the host is idle while it waits for a result; a background thread uses
that time to prepare the next batch in page-locked memory, and the copy to the device is issued without blocking.
On a CPU there is nothing to overlap (the network already uses every core; bench_throughput.py measures it), so the
batches pass through unchanged and the extractor moves them itself.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

import torch

DEPTH = 2  # batches held ready: one being copied while one waits; more only holds memory


def ahead(batches: Iterable[torch.Tensor], device: torch.device | str, *, threaded: bool | None = None,
          depth: int = DEPTH) -> Iterator[torch.Tensor]:
    """`batches` in order, on `device` where prepared ahead. `threaded` None: prepare ahead on CUDA only; True
    forces the background thread (the tests check it changes nothing on a CPU). An exception of the source is
    raised here, where the batch it failed on would have been."""
    device = torch.device(device)
    if threaded is None:
        threaded = device.type == "cuda"
    if not threaded:
        yield from batches
        return
    yield from _Prefetcher(batches, device, depth)


class _Prefetcher:
    """A thread that fills a bounded queue with device batches; iterating takes them in order. Closing the iterator
    early (an error in the network, an interrupt) stops the thread at its next batch."""

    _END = object()

    def __init__(self, batches: Iterable[torch.Tensor], device: torch.device, depth: int) -> None:
        if device.type == "cuda" and device.index is None:  # a new thread starts on cuda:0, not on this one's GPU
            device = torch.device("cuda", torch.cuda.current_device())
        self.device = device
        # the stream the network will run on, as this (the consuming) thread sees it: the copies are queued on it
        self.stream = torch.cuda.current_stream(device) if device.type == "cuda" else None
        self.ready: queue.Queue = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._fill, args=(iter(batches),), name="ganeval-prefetch",
                                       daemon=True)
        self.thread.start()

    def __iter__(self) -> Iterator[torch.Tensor]:
        try:
            while True:
                item = self.ready.get()
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stopped.set()
            self._drain()
            self.thread.join()

    def _fill(self, batches: Iterator[torch.Tensor]) -> None:
        try:
            for batch in batches:
                if self.stopped.is_set():
                    return
                self._put(self._prepared(batch))
            self._put(self._END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(exc)

    def _prepared(self, batch: torch.Tensor) -> torch.Tensor:
        if self.device.type != "cuda" or batch.device.type != "cpu":  # already on a device: nothing to pin
            return batch.to(self.device)
        # Page-locked memory lets the copy run without blocking this thread; the caching host allocator keeps the
        # pinned block alive until the copy has finished. The copy is queued on the stream the network runs on, so
        # it is ordered before every kernel that reads the batch: no event is needed. (A side stream would overlap
        # the copy with compute too, at the price of an event and record_stream; at 32x32 uint8 a batch of 256 is
        # 786 kB, a few microseconds of PCIe.)
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            return batch.pin_memory().to(self.device, non_blocking=True)

    def _put(self, item) -> None:
        """Put, waking up now and then to see whether the consumer has gone (a full queue would block forever)."""
        while not self.stopped.is_set():
            try:
                self.ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _drain(self) -> None:
        while True:
            try:
                self.ready.get_nowait()
            except queue.Empty:
                return
