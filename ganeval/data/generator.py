"""A user's own generator as a sample source: any callable or nn.Module mapping latents (and class labels, and keyword
arguments such as `truncation_psi`) to images.

Sample i depends only on (seed, i): its latent is row i % LATENT_BLOCK of a block of latents drawn from a stream
seeded by (seed, i // LATENT_BLOCK) (Sobol latents: point i of one scrambled sequence), and its label likewise. So the
samples are the same whatever the batch size, the number of processes sharing the work or the number of samples
asked (N samples are the first N of any longer draw), and two checkpoints of one run are compared on the same
latents. (clean-fid draws from the global RNG; stylegan's metrics continue the training RNG, so its scores change
with the GPU count.)

The generator's output is declared (`output_range`): '-1,1' (tanh, DCGAN's and StyleGAN's), '0,1' or 'uint8', and
turned into uint8 as ganeval's own checkpoints are: (x + 1) * 127.5 rounded half to even, clamped to [0, 255]
('0,1': x * 255). StyleGAN writes `(x * 127.5 + 128).clamp(0, 255).to(uint8)`, which rounds halves up: the two agree
but on exact halves. A generator of points (N x d floats: a 2D mixture's) is scored as vectors, unscaled. The first
batch is checked: a shape, dtype or range the declared output cannot have, or NaN, is one line naming the generator.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import GENERATOR_LATENT_KINDS, OUTPUT_RANGES
from ..errors import InputError, UnknownNameError
from ..nets.dcgan import to_uint8
from ..progress import bar
from .samples import Samples

GENERATION_BATCH = 500  # latents per generator call (a shard of a distributed score is whole batches of these)
LABEL_KINDS = ("none", "uniform", "data", "file")
LATENT_BLOCK = 1024  # latents are drawn in blocks of this many sample indices, each from its own seeded stream
RANGE_SLACK = 0.1  # an output beyond its declared range by more than this share of the range is refused


@dataclass(frozen=True)
class LatentSpec:
    """The latents a generator takes: `dim` values per sample, standard normal ('normal'), uniform in [-1, 1]
    ('uniform') or a scrambled Sobol sequence through the inverse normal CDF ('sobol', quasi-Monte Carlo)."""

    dim: int
    kind: str = "normal"

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or isinstance(self.dim, bool) or self.dim < 1:
            raise InputError(f"--latent-dim {self.dim!r}: must be a whole number of at least 1")
        if self.kind not in GENERATOR_LATENT_KINDS:
            raise UnknownNameError("latent kind", self.kind, GENERATOR_LATENT_KINDS)
        if self.kind == "sobol" and self.dim > torch.quasirandom.SobolEngine.MAXDIM:
            raise InputError(f"--latent-kind sobol supports up to {torch.quasirandom.SobolEngine.MAXDIM} latent "
                             f"dimensions, not {self.dim}")


@dataclass(frozen=True)
class LabelSpec:
    """The class labels a conditional generator takes: none; 'uniform' over `num_classes`; 'data', drawn from
    `weights` (the reference's label histogram, as stylegan does: a score fills them in once it has read the
    reference); or 'file', sample i taking `values[i]`. They go to the generator as its second positional argument,
    or as the keyword `argument` when given."""

    kind: str = "none"
    num_classes: int | None = None
    weights: tuple[float, ...] | None = None
    values: tuple[int, ...] | None = None
    argument: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise UnknownNameError("labels", self.kind, LABEL_KINDS)
        if self.kind == "uniform" and not (isinstance(self.num_classes, int) and self.num_classes >= 2):
            raise InputError(f"--labels uniform needs --num-classes K (at least 2), got {self.num_classes}")
        if self.kind == "file" and not self.values:
            raise InputError("--labels FILE needs a file of integer labels, one per sample")
        if self.kind == "file" and self.num_classes is not None and max(self.values) >= self.num_classes:
            raise InputError(f"--labels: the file holds label {max(self.values)}, but --num-classes is "
                             f"{self.num_classes}")
        if self.kind == "none" and (self.num_classes is not None or self.argument is not None):
            raise InputError("--num-classes and --label-arg describe the labels: give --labels uniform|data|FILE")

    @classmethod
    def of(cls, labels=None, num_classes: int | None = None, argument: str | None = None) -> LabelSpec:
        """The labels as users give them: None or 'none', 'uniform' (with `num_classes`), 'data', a file of labels
        (.npy or text), or a sequence of integers (sample i takes labels[i])."""
        if labels is None or isinstance(labels, str) and labels in ("none", "uniform", "data"):
            return cls(labels or "none", num_classes, argument=argument)
        values = read_label_file(labels) if isinstance(labels, (str, Path)) else tuple(int(value) for value in labels)
        return cls("file", num_classes, values=values, argument=argument)

    def describe(self) -> str | None:
        """The labels as a record names them: None, 'uniform over 10', 'data (10 classes)', 'file (N labels)'."""
        return {"none": None, "uniform": f"uniform over {self.num_classes}",
                "data": f"data ({len(self.weights or ())} classes)",
                "file": f"file ({len(self.values or ())} labels)"}[self.kind]


def read_label_file(path: str | Path) -> tuple[int, ...]:
    """Integer labels from a .npy file or a text file with one label per line (or whitespace-separated)."""
    path = Path(path)
    try:
        values = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, dtype=np.int64, ndmin=1)
    except (OSError, ValueError) as exc:
        raise InputError(f"--labels {path}: cannot read integer labels ({type(exc).__name__}: {exc})") from exc
    values = np.asarray(values).reshape(-1)
    if values.size == 0 or not np.issubdtype(values.dtype, np.integer) or values.min() < 0:
        raise InputError(f"--labels {path}: must hold non-negative integer labels, one per sample")
    return tuple(int(value) for value in values)


def _block_generator(seed: int, block: int, stream: int) -> torch.Generator:
    """The CPU stream of block `block` of sample indices (`stream` 0: latents, 1: labels), from (seed, block)."""
    state = np.random.SeedSequence([seed & 0xFFFFFFFFFFFFFFFF, block, stream]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def _by_blocks(indices: range, draw: Callable[[torch.Generator], torch.Tensor], seed: int, stream: int) -> torch.Tensor:
    """The rows `indices` of the concatenated blocks draw(stream of block b), block b covering the sample indices
    [b * LATENT_BLOCK, (b + 1) * LATENT_BLOCK): each row a function of (seed, index) alone."""
    rows = []
    for block in range(indices.start // LATENT_BLOCK, -(-indices.stop // LATENT_BLOCK)):
        values = draw(_block_generator(seed, block, stream))
        first = block * LATENT_BLOCK
        rows.append(values[max(indices.start - first, 0):min(indices.stop - first, LATENT_BLOCK)])
    return torch.cat(rows)


def latents_at(indices: range, spec: LatentSpec, seed: int) -> torch.Tensor:
    """len(indices) x dim float32 latents of the sample indices `indices` (a contiguous range), each a function of
    (seed, index) alone.

    >>> spec = LatentSpec(4)
    >>> torch.equal(latents_at(range(3, 5), spec, seed=0), latents_at(range(10), spec, seed=0)[3:5])
    True
    """
    if not indices:
        return torch.empty(0, spec.dim)
    if spec.kind == "sobol":
        engine = torch.quasirandom.SobolEngine(spec.dim, scramble=True, seed=seed)
        engine.fast_forward(indices.start)
        uniform = engine.draw(len(indices), dtype=torch.float64)
        tiny = torch.finfo(torch.float32).eps  # keeps the inverse CDF finite at the sequence's 0
        return torch.special.ndtri(uniform.clamp(tiny, 1 - tiny)).float()
    if spec.kind == "normal":
        return _by_blocks(indices, lambda stream: torch.randn(LATENT_BLOCK, spec.dim, generator=stream), seed, 0)
    return _by_blocks(indices, lambda stream: torch.rand(LATENT_BLOCK, spec.dim, generator=stream) * 2 - 1, seed, 0)


def labels_at(indices: range, spec: LabelSpec, seed: int) -> torch.Tensor | None:
    """The int64 labels of the sample indices `indices`, each a function of (seed, index) alone; None without
    labels."""
    if spec.kind == "none":
        return None
    if spec.kind == "file":
        if indices.stop > len(spec.values):
            raise InputError(f"--labels: the file holds {len(spec.values)} labels, but {indices.stop} samples were asked")
        return torch.tensor(spec.values[indices.start:indices.stop], dtype=torch.int64)
    if not indices:
        return torch.empty(0, dtype=torch.int64)
    if spec.kind == "data" and not spec.weights:
        raise InputError("--labels data draws from the reference's label histogram, which this score has not read")
    uniform = _by_blocks(indices, lambda stream: torch.rand(LATENT_BLOCK, generator=stream, dtype=torch.float64), seed, 1)
    if spec.kind == "uniform":
        return (uniform * spec.num_classes).long().clamp(max=spec.num_classes - 1)
    cumulative = torch.tensor(spec.weights, dtype=torch.float64).cumsum(0)  # 'data': the histogram's inverse CDF
    return torch.searchsorted(cumulative / cumulative[-1], uniform, right=True).clamp(max=len(spec.weights) - 1)


@dataclass
class GeneratorSource:
    """`generator` (a callable or nn.Module taking latents, and optionally labels and keyword arguments, and
    returning images) as a sample source.

    `name` says what it is in records and messages (a module's class name by default); `sha256` the file it came
    from, where it came from one; `device` where the latents go (a module's own device where it has parameters or
    buffers: it is never moved); samples come back on the CPU. A module generates in eval mode without gradients
    (torch.no_grad, not inference_mode: tensors a module creates lazily stay usable for training) and is left in
    the mode it was in.

    >>> source = GeneratorSource(lambda z: torch.tanh(z[:, :2]), LatentSpec(8), name="toy")
    >>> source.samples(4, seed=0).data.shape
    torch.Size([4, 2])
    """

    generator: Callable
    latent: LatentSpec
    labels: LabelSpec = field(default_factory=LabelSpec)
    kwargs: Mapping[str, object] = field(default_factory=dict)
    output_range: str = "-1,1"
    device: torch.device = torch.device("cpu")
    name: str | None = None
    sha256: str | None = None
    batch_size: int = GENERATION_BATCH

    def __post_init__(self) -> None:
        if not callable(self.generator):
            raise InputError(f"{self.generator!r} is not a generator: give a callable or an nn.Module")
        if self.output_range not in OUTPUT_RANGES:
            raise UnknownNameError("output range", self.output_range, OUTPUT_RANGES)
        if self.name is None:
            self.name = getattr(self.generator, "__qualname__", None) or type(self.generator).__name__
        if isinstance(self.generator, torch.nn.Module):  # the module stays where the caller put it: latents go there
            placed = next(iter([*self.generator.parameters(), *self.generator.buffers()]), None)
            self.device = placed.device if placed is not None else self.device

    def samples(self, count: int, seed: int) -> Samples:
        """`count` samples from the latent stream of `seed`."""
        return Samples(self.generate(count, seed), self.name)

    def generate(self, count: int, seed: int, rows: range | None = None) -> torch.Tensor:
        """Samples `rows` (default: all) of `count` from the latent stream of `seed`: uint8 N x C x H x W images,
        or float64 N x d points, on the CPU."""
        if count < 2:
            raise InputError(f"--num-samples {count}: needs at least 2 samples")
        rows = range(count) if rows is None else rows
        outputs = []
        with _evaluating(self.generator), torch.no_grad(), \
                bar(len(rows), f"generate {self.name}", unit="sample") as shown:
            for start in range(rows.start, rows.stop, self.batch_size):
                batch = range(start, min(start + self.batch_size, rows.stop))
                outputs.append(self._converted(self._call(batch, seed), len(batch), checked=not outputs))
                shown.update(len(batch))
            if not outputs:  # an empty shard: the shape of one sample, none of them
                return self._converted(self._call(range(0, 1), seed), 1, checked=True)[:0]
        return torch.cat(outputs)

    def _call(self, batch: range, seed: int):
        latents = latents_at(batch, self.latent, seed).to(self.device)
        labels = labels_at(batch, self.labels, seed)
        if labels is None:
            return self.generator(latents, **self.kwargs)
        labels = labels.to(self.device)
        if self.labels.argument:
            return self.generator(latents, **{self.labels.argument: labels}, **self.kwargs)
        return self.generator(latents, labels, **self.kwargs)

    def _converted(self, output, count: int, checked: bool) -> torch.Tensor:
        """The generator's output as ganeval's samples (the first batch checked)."""
        if not isinstance(output, torch.Tensor):
            if not isinstance(output, np.ndarray):
                raise InputError(f"generator {self.name}: returned {type(output).__name__}, not a tensor of images")
            output = torch.from_numpy(output)
        output = output.detach().cpu()
        if checked:
            check_output(output, count, self.output_range, f"generator {self.name}")
        return convert_output(output, self.output_range)

    def provenance(self) -> dict:
        """What a record says of the generator: its name (and file hash), latents, labels and output range."""
        described = {"generator": self.name, "sha256": self.sha256, "latent_dim": self.latent.dim,
                     "latent_kind": self.latent.kind, "labels": self.labels.describe(),
                     "output_range": self.output_range}
        if self.kwargs:
            described["kwargs"] = {key: repr(value) if not isinstance(value, (int, float, str, bool)) else value
                                   for key, value in self.kwargs.items()}
        return {key: value for key, value in described.items() if value is not None}


@contextlib.contextmanager
def _evaluating(generator) -> Iterator[None]:
    """An nn.Module in eval mode for the block (BatchNorm's running statistics, no dropout: samples that do not
    depend on the batch), then back in the mode it was in: a training loop's generator goes on training."""
    if not isinstance(generator, torch.nn.Module):
        yield
        return
    training = generator.training
    generator.eval()
    try:
        yield
    finally:
        generator.train(training)


def convert_output(output: torch.Tensor, output_range: str) -> torch.Tensor:
    """Generated images in `output_range` as uint8 images, as ganeval's own checkpoints are converted (see the
    module docstring); points (N x d) as float64, unscaled."""
    if output.dim() == 2:
        return output.double()
    if output_range == "uint8":  # integers clamped too: an int32 256 must not wrap to 0
        return (output.round() if output.is_floating_point() else output).clamp(0, 255).to(torch.uint8)
    if output_range == "0,1":
        return (output.float().clamp(0, 1) * 255).round().to(torch.uint8)
    return to_uint8(output.float())


def check_output(output: torch.Tensor, count: int, output_range: str, who: str) -> None:
    """Refuse, in one line naming `who` ('generator NAME'), an output that cannot be `count` samples of the declared
    range: another batch size, a shape that is neither N x C x H x W (C 1 or 3) nor N x d, NaN or infinity, a dtype
    the range cannot have, values beyond the range by more than 10% of it."""
    shape = tuple(output.shape)
    if not shape or shape[0] != count:
        raise InputError(f"{who}: shape {shape} for a batch of {count}; the first dimension must be the batch")
    if output.dim() not in (2, 4) or output.dim() == 4 and shape[1] not in (1, 3):
        raise InputError(f"{who}: shape {shape}; images must be N x C x H x W with 1 or 3 channels (or points N x d)")
    if output.dtype == torch.bool or output.is_complex():
        raise InputError(f"{who}: {output.dtype} values, not images")
    if output.is_floating_point() and not torch.isfinite(output).all():
        raise InputError(f"{who}: NaN or infinite values")
    if output.dim() == 2:
        return
    if output_range != "uint8" and not output.is_floating_point():
        raise InputError(f"{who}: {output.dtype} images, but the output range is {output_range}; integer images "
                         f"are --output-range uint8")
    low, high = {"-1,1": (-1.0, 1.0), "0,1": (0.0, 1.0), "uint8": (0.0, 255.0)}[output_range]
    slack = RANGE_SLACK * (high - low)
    seen_low, seen_high = float(output.min()), float(output.max())
    if output_range == "uint8" and output.is_floating_point() and seen_high <= 1:
        raise InputError(f"{who}: values in [{seen_low:.3g}, {seen_high:.3g}], but the output range is uint8 "
                         f"(0-255): images this dark are a range of -1,1 or 0,1 (--output-range)")
    if seen_low < low - slack or seen_high > high + slack:
        guess = ("; it looks like 0,1" if 0 <= seen_low and seen_high <= 1 else
                 "; it looks like uint8 (0-255)" if 0 <= seen_low and seen_high <= 255 else "")
        raise InputError(f"{who}: values in [{seen_low:.3g}, {seen_high:.3g}], outside the declared output range "
                         f"{output_range}{guess}: declare the range it produces (--output-range)")
