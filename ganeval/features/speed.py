"""Speed knobs for feature extraction that keep parity: channels_last convolutions, cuDNN autotuning, TF32 kept off,
the largest batch that fits on a GPU.

The fast path (apply_fast_path: channels_last, with cuDNN autotuning on CUDA) is what scores run unless asked for
`--exact`, the arithmetic of a freshly built extractor (contiguous NCHW, cuDNN's heuristics), for bit-level comparisons.

Each knob either leaves the features unchanged up to float rounding (channels_last, batch size) or is off unless
asked for (TF32, which changes features by about 1e-3 relative). They act on a FeatureExtractor through its
`modules` (the networks its forward runs), `memory_format` and `allow_tf32` fields, so no extractor file needs to know
about them. (TF32 itself is switched by ganeval.device.tf32, which the extractor's forward enters.)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # only named: the knobs need no registry at run time
    from .registry import FeatureExtractor

DEFAULT_BATCH = 64  # what --batch-size auto means where there is no device memory to probe
MOST_BATCH = 2048  # the largest --batch-size auto tries: a GPU's images/s stop growing long before


def to_channels_last(module: torch.nn.Module) -> torch.nn.Module:
    """`module` with its 4-D weights (convolutions) stored channels_last, in place; returns it.

    Other parameters (linear layers, norms, position embeddings) have no such layout and are left as they are."""
    return module.to(memory_format=torch.channels_last)


def apply_channels_last(extractor: FeatureExtractor) -> FeatureExtractor:
    """Have `extractor` run its networks channels_last, in place; returns it.

    Its `modules` are converted and its input batches are laid out channels_last before its forward (convolutions
    then keep that layout through the network, cuDNN and oneDNN picking their NHWC kernels). Features are the
    default's up to float rounding: on a CPU, 5e-5 of the largest Inception feature and 2e-6 of VGG16's, which moved a
    FID of 347 by 1e-4. An extractor that names no modules (identity, or a factory that does not pass
    its network) is left unchanged: returns it as it is.
    """
    if not extractor.modules:
        return extractor
    for module in extractor.modules:
        to_channels_last(module)
    extractor.memory_format = torch.channels_last
    return extractor


# What a record's provenance.extraction_path says (extraction_path below).
EXACT_PATH = "exact"
CHANNELS_LAST_PATH = "channels_last"
AUTOTUNE_SUFFIX = "+cudnn_autotune"
TF32_SUFFIX = "+tf32"


def apply_fast_path(extractor: FeatureExtractor) -> FeatureExtractor:
    """Have `extractor` run the fast path, in place; returns it: channels_last (apply_channels_last) and, on a CUDA
    device, cuDNN autotuning. Both change only the order of float sums, never the precision (TF32 stays as asked):
    FID, IS and KID stay within 1e-5 relative of the exact path's (docs/scale-out.md has the measured difference).
    An extractor that names no modules has no convolutions to speed up and keeps the exact path."""
    apply_channels_last(extractor)
    extractor.cudnn_autotune = bool(extractor.modules) and _is_cuda(extractor.device)
    return extractor


def extraction_path(extractor: FeatureExtractor) -> str:
    """Which arithmetic `extractor` runs, as records say it (provenance.extraction_path): 'exact' (contiguous
    NCHW, cuDNN heuristics) or 'channels_last', with '+cudnn_autotune' where cuDNN times its algorithms and
    '+tf32' where CUDA runs TF32 (a CPU has neither)."""
    path = CHANNELS_LAST_PATH if extractor.memory_format is torch.channels_last else EXACT_PATH
    if _is_cuda(extractor.device):
        path += (AUTOTUNE_SUFFIX if extractor.cudnn_autotune else "") + (TF32_SUFFIX if extractor.allow_tf32 else "")
    return path


def _is_cuda(device: torch.device | str) -> bool:
    return torch.device(device).type == "cuda"


def largest_batch(extractor: FeatureExtractor, sample: torch.Tensor, device: torch.device | str | None = None,
                  start: int = DEFAULT_BATCH, most: int = MOST_BATCH) -> int:
    """The batch size `--batch-size auto` means: on CUDA, the largest of start, 2 start, 4 start, ... <= `most` whose
    forward pass of `extractor` fits in memory, one step smaller when memory (not `most`) stopped the doubling; on
    any other device, `start`.

    `sample` is a batch of the samples to extract (its first row is repeated to each size tried). The step back
    leaves room for what extraction holds beside the forward (kept feature rows, other tensors of the process,
    allocator fragmentation); a GPU's images/s stop growing well below the largest batch, so it costs next to no
    speed. A CPU is not probed: its memory has no limit that raises an error (the system swaps, or kills the
    process), and larger batches do not speed up CPU inference, whose matrix products keep every core busy from a
    few images on: larger ones only leave the caches (Inception, 2 threads: 14.8 images/s at batch 16, 10.9 at 64,
    9.3 at 256).
    """
    device = torch.device(device) if device is not None else extractor.device
    if not _probes_memory(device):
        return start
    row = sample[:1].to(device)
    return search_batch(lambda size: _fits(extractor, row, size), start, most)


def search_batch(fits: Callable[[int], bool], start: int, most: int) -> int:
    """The batch size largest_batch returns, given `fits(size)`: doubling from `start` (halving first when `start`
    itself does not fit) up to `most`; one step back from the largest that fit when a larger one did not fit.
    At least 1: a batch of one that does not fit is left for the extraction itself to report."""
    size = start
    while size > 1 and not fits(size):
        size //= 2
    if size < start:  # memory stopped it already: twice this size did not fit
        return max(1, size // 2)
    while size * 2 <= most:
        if not fits(size * 2):
            return max(1, size // 2)
        size *= 2
    return size


def _probes_memory(device: torch.device) -> bool:
    """Whether `device` has a memory limit that an out-of-memory error reports: CUDA's."""
    return device.type == "cuda"


def _fits(extractor: FeatureExtractor, row: torch.Tensor, size: int) -> bool:
    """Whether one forward of `size` copies of `row` runs without running out of device memory."""
    try:
        extractor(row.expand(size, *row.shape[1:]).contiguous())
        fitted = True
    except torch.cuda.OutOfMemoryError:
        fitted = False
    # past the except clause, the error and its traceback (which holds the batch's tensors) are gone: the cache
    # emptied now, the next size starts from the memory of the process alone
    torch.cuda.empty_cache()
    return fitted
