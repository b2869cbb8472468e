"""What a score is asked to do: `ScoreConfig`, a tree of frozen dataclasses whose fields carry their CLI flags.

`ganeval score`'s flags are built from these fields (and from each metric family's options, see
ganeval.metrics.registry), so a default or a help text is written once. Torch-free: the CLI imports it to build its
parser.

>>> config = ScoreConfig(metrics=("fid", "kid"), num_samples=500)
>>> config.seed, config.batch_size
(2020, 64)
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError

DEFAULT_SEED = 2020  # torch-fidelity's rng_seed: default KID subsets and IS splits match it
DEFAULT_REPLICATES = 200  # bootstrap replicates of --ci
DEFAULT_BATCH_SIZE = 64
DEFAULT_DIST_TIMEOUT_S = 300  # torchrun: how long a process waits for the others before the job gives up
LATENT_KINDS = ("normal", "sobol")  # checkpoints: a normal latent stream, or a scrambled Sobol sequence
GENERATOR_LATENT_KINDS = ("normal", "uniform", "sobol")  # a user's generator: also uniform in [-1, 1]
OUTPUT_RANGES = ("-1,1", "0,1", "uint8")  # what a user's generator returns
FID_BOOTSTRAP_METHODS = ("auto", "exact", "expansion")


def flag(name: str, help: str, *, metavar: str | None = None, choices: tuple[str, ...] | None = None,
         parse: Any = None) -> dict:
    """The metadata of a field that is a CLI flag: its name, help, metavar, choices, and `parse` (text -> value)
    where the field's annotation alone does not say how to read it."""
    return {"flag": name, "help": help, "metavar": metavar, "choices": choices, "parse": parse}


def batch_size_value(text: str) -> int | str:
    """--batch-size: a whole number, or 'auto' (argparse reports a bad value in its one line)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a whole number or auto, not {text!r}") from None


@dataclass(frozen=True)
class BootstrapOptions:
    """What `--ci LEVEL` asks for: the interval's level, the number of replicates, and the FID method."""

    level: float = 0.95
    replicates: int = DEFAULT_REPLICATES
    fid_method: str = "auto"  # 'exact', 'expansion' or 'auto' (see metrics.fid.frechet_replicates)

    def __post_init__(self) -> None:
        if not 0 < self.level < 1:
            raise InputError(f"--ci {self.level}: the confidence level must lie strictly between 0 and 1, e.g. 0.95")
        if self.replicates < 10:
            raise InputError(f"--ci-replicates {self.replicates}: use at least 10 bootstrap replicates (200 is usual)")


@dataclass(frozen=True)
class ExtractorConfig:
    """The feature extractor ('auto' picks one from the data; several comma-separated names score once per
    extractor from one read of the data) and options keyed by extractor name ({"inception-v3-compat": {"weights":
    PATH}}); options for an extractor not used are an error. `instance`: an extractor object of the caller's own
    (a ganeval.features.FeatureExtractor), used instead of creating one. `also`: the other extractors of the same
    score, whose options are not foreign to this one."""

    name: str = "auto"
    options: dict[str, dict] = field(default_factory=dict)
    instance: Any = field(default=None, compare=False, repr=False)
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [part.strip() for part in self.name.split(",")]
        if not all(names):
            raise InputError(f"--extractor {self.name!r}: an empty name in the list")
        if len(set(names)) < len(names):
            raise InputError(f"--extractor {self.name}: an extractor is named twice")
        if "auto" in names and len(names) > 1:
            raise InputError(f"--extractor {self.name}: 'auto' picks one extractor; name each one in a list")

    @property
    def names(self) -> tuple[str, ...]:
        """The extractors asked, in order."""
        return tuple(part.strip() for part in self.name.split(","))

    @property
    def asked(self) -> tuple[str, ...]:
        """These and the score's other extractors: the names whose options are expected."""
        return self.names + tuple(name for name in self.also if name not in self.names)


@dataclass(frozen=True)
class DataConfig:
    """How sources are read."""

    data_root: str | None = field(default=None, metadata=flag(
        "--data-root", "folder holding datasets (default: $GANEVAL_DATA, system folders)", metavar="DIR"))
    download: bool = field(default=False, metadata=flag(
        "--download", "download datasets through torchvision if missing"))
    max_image_pixels: int | None = field(default=None, metadata=flag(
        "--max-image-pixels", "refuse images of more than N pixels (width x height), read from their headers before "
        "decoding (default 67108864 = 8192x8192)", metavar="N"))
    workers: int | None = field(default=None, metadata=flag(
        "--workers", "processes decoding image folders and zips (default: min(4, the cores); 0 decodes in this "
        "process)", metavar="N"))

    def __post_init__(self) -> None:  # every source, not only the folders that use it
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers < 0):
            raise InputError(f"--workers {self.workers}: must be a whole number, 0 or more (0 decodes in this process)")


@dataclass(frozen=True)
class GeneratorOptions:
    """How a user's own generator (`ganeval score MODEL ...`: python:MODULE:FUNCTION, an ONNX file, a trusted
    TorchScript or torch.export file) is sampled; see ganeval.data.generator."""

    latent_dim: int | None = field(default=None, metadata=flag(
        "--latent-dim", "generators: the size of the latent vector (required for a generator)", metavar="D"))
    latent_kind: str = field(default="normal", metadata=flag(
        "--latent-kind", "generators: latents from a standard normal, uniform in [-1, 1], or a scrambled Sobol "
        "sequence (default normal)", choices=GENERATOR_LATENT_KINDS))
    labels: str | None = field(default=None, metadata=flag(
        "--labels", "generators: class labels: uniform (over --num-classes), data (the reference's label histogram) "
        "or a FILE of integer labels (.npy or text); default none", metavar="uniform|data|FILE"))
    num_classes: int | None = field(default=None, metadata=flag(
        "--num-classes", "generators: the number of classes of --labels uniform", metavar="K"))
    label_arg: str | None = field(default=None, metadata=flag(
        "--label-arg", "generators: the keyword the labels are passed as (default: the second positional argument)",
        metavar="NAME"))
    output_range: str = field(default="-1,1", metadata=flag(
        "--output-range", "generators: what the generator returns: -1,1 (tanh, the default), 0,1 or uint8",
        choices=OUTPUT_RANGES))
    trust_generator: bool = field(default=False, metadata=flag(
        "--trust-generator", "load a TorchScript or torch.export generator file: a program that runs with your "
        "permissions"))
    checkpoints: str | None = field(default=None, metadata=flag(
        "--checkpoints", "generators: a glob or folder of your checkpoint files: the python: factory is called once "
        "per file, in step order (the number in its name), with the file as the --generator-arg given {}; each "
        "record goes to --append RUN, and files scored alike are skipped", metavar="GLOB|FOLDER"))


@dataclass(frozen=True)
class ScoreConfig:
    """Everything a score depends on besides its two inputs.

    `metrics`: family names (None: every default family the extractor supports); `metric_options`: options
    dataclasses by family (a family left out uses its defaults). `num_samples` takes a seeded subset of the
    generated side only (as pytorch-fid and torch-fidelity do), `reference_samples` of the reference. `ci` adds
    bootstrap intervals. `ema` and `latents` apply to checkpoints. `progress` None: bars when stderr is a terminal."""

    metrics: tuple[str, ...] | None = None
    metric_options: dict[str, Any] = field(default_factory=dict)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    num_samples: int | None = field(default=None, metadata=flag(
        "--num-samples", "use a seeded random subset of N samples", metavar="N"))
    reference_samples: int | None = field(default=None, metadata=flag(
        "--reference-samples", "use a seeded random subset of N reference samples (default: all; --num-samples cuts "
        "the input only)", metavar="N"))
    seed: int = field(default=DEFAULT_SEED, metadata=flag(
        "--seed", f"seed for subsets and resampling (default {DEFAULT_SEED})"))
    batch_size: int | str = field(default=DEFAULT_BATCH_SIZE, metadata=flag(
        "--batch-size", f"extraction batch size, or auto: the largest that fits on a GPU (default "
        f"{DEFAULT_BATCH_SIZE}; auto is {DEFAULT_BATCH_SIZE} on a CPU)", metavar="N|auto", parse=batch_size_value))
    exact: bool = field(default=False, metadata=flag(
        "--exact", "extract with the exact arithmetic: contiguous NCHW, no cuDNN autotuning, for bit-level "
        "comparisons; default: the fast path (channels_last, cuDNN autotuning on CUDA), whose FID, IS and KID are "
        "within 1e-5 relative of it (a reference cached on either path serves both)"))
    # The fast path has been the default since --exact came; the flag stays so that command lines written for it
    # keep working, and asks for nothing the default does not do.
    channels_last: bool = field(default=False, metadata=flag(
        "--channels-last", "the default now (kept for existing command lines): convolutional extractors run "
        "channels_last; --exact turns it off"))
    allow_tf32: bool = field(default=False, metadata=flag(
        "--allow-tf32", "let CUDA matrix products and convolutions of extraction run in TF32 (Ampere and later): "
        "faster, but features move by ~1e-3 relative; off by default, even where the process enabled it"))
    device: str = field(default="auto", metadata=flag("--device", "auto, cpu, cuda or cuda:N (default auto)"))
    ci: BootstrapOptions | None = None
    ema: bool = field(default=False, metadata=flag("--ema", "checkpoints: use the generator's EMA weights"))
    latents: str = field(default="normal", metadata=flag(
        "--latents", "checkpoints: latents from a normal stream or a scrambled Sobol sequence (default normal)",
        choices=LATENT_KINDS))
    train: str | None = field(default=None, metadata=flag(
        "--train", "what the generator was trained on (any reference form: fashion-mnist:train, ref:KEY, a folder), "
        "for the memorization metrics (authpct, ct, fld, mifid, copies); --reference stays the held-out set. "
        "Default for ganeval checkpoints: the run's training data", metavar="REF"))
    data: DataConfig = field(default_factory=DataConfig)
    use_cache: bool = True
    progress: bool | None = None
    # set by ganeval.presets.apply_preset, which also sets the fields the preset fixes: the record names the preset
    preset: str | None = None
    reference_cap: int | None = None  # a preset's most reference samples (stylegan's max_real); None: no cap

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**32 - 1:
            raise InputError(f"--seed {self.seed} must be between 0 and 2^32 - 2")
        if self.latents not in LATENT_KINDS:
            raise InputError(f"--latents {self.latents}: choose {' or '.join(LATENT_KINDS)}")
        if self.exact and self.channels_last:
            raise InputError("--exact and --channels-last contradict each other: --exact runs contiguous NCHW")
        if self.batch_size != "auto" and (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)):
            raise InputError(f"--batch-size {self.batch_size}: give a whole number or auto")

    def options_for(self, family: str, default_factory: type) -> Any:
        """The options of `family`: those given, else `default_factory()` (the family's options class)."""
        return self.metric_options.get(family) or default_factory()

    def for_extractor(self, name: str) -> ScoreConfig:
        """This config for one of its extractors, or some of them comma-separated (a score of several gives a record
        per extractor); the others' options stay expected."""
        extractor = self.extractor
        return self.replace(extractor=ExtractorConfig(name, extractor.options, extractor.instance, extractor.asked))

    def replace(self, **changes: Any) -> ScoreConfig:
        return dataclasses.replace(self, **changes)


def flag_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of a config dataclass that are CLI flags (they carry flag metadata)."""
    return [item for item in dataclasses.fields(cls) if "flag" in item.metadata]
