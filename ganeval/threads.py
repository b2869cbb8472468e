"""CPU threads for torch: `--threads N` on every command, and one per process under torchrun.

torch starts one intra-op thread per core it sees. On a shared 2-core machine that is the slow choice: threads that
wait for a busy core stall every matrix product (training 12x slower, scoring 2.5x, measured with one other job
running). Several torchrun processes on one machine would each start that many, so there the default is one.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import InputError

TORCHRUN_VARIABLE = "LOCAL_WORLD_SIZE"  # set by torchrun for every process it starts


def default_threads() -> int | None:
    """1 under torchrun, else None (torch's own default: the cores it sees)."""
    return 1 if os.environ.get(TORCHRUN_VARIABLE) else None


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch threads (None: the default above), restoring the previous count after, so
    an in-process caller (tests, notebooks) keeps its own setting."""
    if threads is not None and threads < 1:
        raise InputError(f"--threads {threads}: needs at least 1 thread")
    wanted = threads if threads is not None else default_threads()
    if wanted is None:
        yield
        return
    import torch  # only when asked: commands such as compare and gate never load torch

    previous = torch.get_num_threads()
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
