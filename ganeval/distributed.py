"""The torch.distributed glue: the world of this process, shards of a sample set, and the exchange of values.

Launched by torchrun (`torchrun --nproc_per_node=K -m ganeval score ...`), every process finds RANK, WORLD_SIZE and
LOCAL_RANK in its environment; `init_world()` joins the process group (NCCL on CUDA, gloo on CPU) and returns its
World; `world()` is how every other module finds it. A single process is a world of size 1, whose operations are
the identity, so the rest of the code reads `world().shard(count)` and `world().gather(value)` whatever the launch
(ganeval.features.extract.extract_shared is the extraction built on them). A process that torchrun started but that
has not joined the group (a command that refuses torchrun, a Python caller that never called init_world) computes
alone (it `decides` for itself) and knows its rank, so that only rank 0 writes.

Shards are blocked (rank r takes rows [r N / K, (r + 1) N / K)), so the rows gathered in rank order are the
single-process rows in their order: k-NN metrics, histograms and bootstrap resamples see exactly the same data, and
the streaming moments merge exactly (FeatureStats.merge) up to float64 rounding.
"""
from __future__ import annotations

import atexit
import datetime as _dt
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .config import DEFAULT_DIST_TIMEOUT_S
from .errors import InputError


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one job: rank, size and the rank within its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    joined: bool = True  # False: torchrun started this process, but it has not joined the process group

    @property
    def is_main(self) -> bool:
        """The rank that writes records, caches and outputs (the others compute, and write nothing)."""
        return self.rank == 0

    @property
    def decides(self) -> bool:
        """Whether this process makes the choices the processes then follow through broadcast (which checkpoints,
        the batch size, whether a cache entry is read): rank 0 of a joined group, or a process computing alone."""
        return self.is_main or not self.distributed

    @property
    def launched(self) -> bool:
        """Whether torchrun started this process as one of several (joined or not)."""
        return self.size > 1

    @property
    def distributed(self) -> bool:
        """Whether this process computes together with others: launched as one of several, and joined."""
        return self.size > 1 and self.joined

    def shard(self, count: int, unit: int = 1) -> range:
        """The rows of `count` this rank handles: a contiguous block of whole `unit`s (batches), the blocks in rank
        order covering all; every row where the process computes alone.

        >>> [list(World(rank, 3).shard(7)) for rank in range(3)]
        [[0, 1], [2, 3], [4, 5, 6]]
        >>> [World(rank, 2).shard(10, unit=4) for rank in range(2)]
        [range(0, 4), range(4, 10)]
        """
        if not self.distributed:
            return range(count)
        units = -(-count // unit)
        start, stop = units * self.rank // self.size * unit, units * (self.rank + 1) // self.size * unit
        return range(min(start, count), min(stop, count))

    def broadcast(self, value):
        """The main rank's `value` (any picklable plain value), on every rank."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value) -> list:
        """Every rank's `value` (any picklable value: CPU tensors, plain values), in rank order, on every rank."""
        if not self.distributed:
            return [value]
        values = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def gather_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Every rank's block of rows (a shard of generated samples), concatenated in rank order, on the CPU."""
        if not self.distributed:
            return rows
        return torch.cat(self.gather(rows.cpu()))


def world() -> World:
    """This process's World: the process group it joined (init_world), else what torchrun's variables say (a world
    of one without them)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return _launched()


def _launched() -> World:
    """The World torchrun's variables describe, not joined (size 1 without them)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise InputError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({exc})") from exc
    return World(rank, size, local_rank, joined=size == 1)


def init_world(device: str = "auto", timeout_s: float = DEFAULT_DIST_TIMEOUT_S) -> World:
    """Join the job's process group when launched by torchrun (NCCL for CUDA devices, gloo otherwise); a world of
    one process otherwise. A rank that waits longer than `timeout_s` for the others fails."""
    launched = world()
    if not launched.launched or dist.is_initialized():
        return launched
    if not timeout_s > 0:
        raise InputError(f"--dist-timeout {timeout_s}: must be a number of seconds above 0")
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(launched.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=_dt.timedelta(seconds=timeout_s))
    # leave the group before the interpreter exits: a gloo group still up at exit aborts the process (SIGABRT)
    atexit.register(dist.destroy_process_group)
    return world()
