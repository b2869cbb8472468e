"""The torch.distributed glue: the world of this process, shards of a sample set, and the exchange of features.

Launched by torchrun (`torchrun --nproc_per_node=K -m ganeval score ...`), every process finds RANK, WORLD_SIZE and
LOCAL_RANK in its environment; `init_world()` joins the process group (NCCL on CUDA, gloo on CPU) and returns its
World. A single process is a world of size 1, whose operations are the identity, so the rest of the code reads
`world.shard(count)` and `world.extract(samples, extractor, ...)` whatever the launch.

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
from .data import Samples
from .errors import InputError
from .features import FeatureExtractor
from .features.extract import Features, extract
from .features.stats import FeatureStats


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one job: rank, size and the rank within its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The rank that writes records, caches and outputs (the others compute, and write nothing)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, count: int, unit: int = 1) -> range:
        """The rows of `count` this rank handles: a contiguous block of whole `unit`s (batches), the blocks in rank
        order covering all.

        >>> [list(World(rank, 3).shard(7)) for rank in range(3)]
        [[0, 1], [2, 3], [4, 5, 6]]
        >>> [World(rank, 2).shard(10, unit=4) for rank in range(2)]
        [range(0, 4), range(4, 10)]
        """
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

    def extract(self, samples: Samples, extractor: FeatureExtractor, *, keep_rows: bool, logits: str | None = None,
                batch_size: int, progress: bool | None) -> Features:
        """features.extract over this rank's shard, then the whole set's Features on every rank. Shards are whole
        batches, the single process's batches: an extractor's float32 output can depend on its batch's size, and
        so every feature row is bit for bit the one a single process computes."""
        shard = self.shard(len(samples), unit=batch_size) if self.distributed else None
        features = extract(samples, extractor, keep_rows=keep_rows, logits=logits, batch_size=batch_size,
                           progress=progress if self.is_main else False, rows=shard)
        return self.gather_features(features, extractor.device)

    def gather_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Every rank's block of rows (a shard of generated samples), concatenated in rank order, on the CPU."""
        if not self.distributed:
            return rows
        blocks = [None] * self.size
        dist.all_gather_object(blocks, rows.cpu())
        return torch.cat(blocks)

    def gather_features(self, features: Features, device: torch.device) -> Features:
        """Features of the whole sample set, on `device`, from each rank's Features of its shard: merged in rank
        order (rows concatenated in that order), in one exchange. Optional logits count where every rank that saw
        samples has them (a rank with an empty shard, more ranks than batches, cannot tell)."""
        if not self.distributed:
            return features
        shards = [None] * self.size
        dist.all_gather_object(shards, {"embedding": _portable(features.embedding),
                                        "logits": None if features.logits is None else _portable(features.logits)})
        seen = [shard for shard in shards if shard["embedding"]["num_samples"]]
        embedding = _merged([shard["embedding"] for shard in seen], features.embedding.keep_raw, device)
        if any(shard["logits"] is None for shard in seen):
            return Features(embedding)
        return Features(embedding, _merged([shard["logits"] for shard in seen], True, device))


def _portable(stats: FeatureStats) -> dict:
    """A shard's statistics as CPU tensors and plain values (what all_gather_object pickles, on any backend)."""
    state = {key: value.cpu() if isinstance(value, torch.Tensor) else value for key, value in stats.state_dict().items()}
    state["rows"] = stats.raw().cpu() if stats.keep_raw and stats.num_samples else None
    return state


def _merged(states: list[dict], keep_rows: bool, device: torch.device) -> FeatureStats:
    merged = FeatureStats(keep_raw=keep_rows, device=device)
    for state in states:
        merged.merge(_restored(state, device))
    return merged


def _restored(state: dict, device: torch.device | None) -> FeatureStats:
    """A shard's statistics back on `device`."""
    moved = {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in state.items()}
    rows = moved.pop("rows")
    return FeatureStats.from_state_dict(moved, rows)


def world_from_environment() -> World:
    """The World that torchrun's variables describe (size 1 without them); joins nothing."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise InputError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({exc})") from exc
    return World(rank, size, local_rank)


def init_world(device: str = "auto", timeout_s: float = DEFAULT_DIST_TIMEOUT_S) -> World:
    """Join the job's process group when launched by torchrun (NCCL for CUDA devices, gloo otherwise); a world of
    one process otherwise. A rank that waits longer than `timeout_s` for the others fails."""
    world = world_from_environment()
    if not world.distributed or dist.is_initialized():
        return world
    if not timeout_s > 0:
        raise InputError(f"--dist-timeout {timeout_s}: must be a number of seconds above 0")
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=_dt.timedelta(seconds=timeout_s))
    # leave the group before the interpreter exits: a gloo group still up at exit aborts the process (SIGABRT)
    atexit.register(dist.destroy_process_group)
    return world


def current_world() -> World:
    """The World of the process group this process has joined, or a world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()
