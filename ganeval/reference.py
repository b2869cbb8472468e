"""The reference side of a score: samples extracted once and cached, a cached entry, or a mean/covariance .npz.

Forms of `--reference`:
  a source spec (dataset, folder, array file)   extracted with the score's extractor, cached by content hash
  ref:KEY or a cached .pt file                    statistics built by `ganeval ref build`; its card must match
  an .npz holding `mu` and `sigma`                pytorch-fid / torch-fidelity statistics: FID only
"""
from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .data import Samples, load_source
from .data.mixtures import MIXTURES, Mixture
from .atomic import write_atomically, write_text_atomically
from .data.stacked import triple_index
from .errors import ExtractorWarning, InputError, warn_at_caller
from .features import FeatureExtractor, FeatureStats
from .features.cache import (
    DerivedStatistics,
    ReferenceCard,
    cache_dir,
    content_sha256,
    load_reference,
    make_card,
    reference_key,
    reference_path,
    save_reference,
)
from .metrics import METRIC_FAMILIES
from .metrics.modes import kmeans
from .metrics.prdc import knn_radii

FASHION_MNIST_PREFIXES = ("fashion-mnist:", "stacked-fashion-mnist:")
# Extractors that resize every image (and replicate grey to RGB), so the two sides may differ in shape.
RESIZING_EXTRACTORS = ("inception-v3-compat",)
# Feature dimensions whose origin is known: what a mismatched statistics file most likely holds.
KNOWN_DIMENSIONS = {
    2048: ("Inception's pool layer (pytorch-fid, torch-fidelity, clean-fid)", "inception-v3-compat"),
    128: ("fmnist-classifier's pool layer", "fmnist-classifier"),
    384: ("fmnist-classifier's pool layer on stacked (3-channel) images", "fmnist-classifier"),
}


@dataclass
class Reference:
    """Everything the metrics read from the reference side."""

    name: str
    mean: torch.Tensor
    covariance: torch.Tensor
    num_samples: int | None  # None for a mean/covariance file that does not say
    raw: torch.Tensor | None  # the feature rows, for KID, PRDC and the low-rank FID path
    card: ReferenceCard | None = None
    from_cache: bool = False
    stats: FeatureStats | None = None  # what the cache entry holds, to write it back with new derived statistics
    cache_folder: Path | None = None  # where that entry lives
    derived: DerivedStatistics = field(default_factory=DerivedStatistics)  # PRDC radii, NDB centres
    derived_added: bool = False
    labels: torch.Tensor | None = None  # mode labels of the reference samples where the source knows them
    num_label_modes: int = 0  # how many modes those labels index (10 classes, 1,000 stacked triples)
    mixture: Mixture | None = None  # the Gaussian mixture the reference samples come from (ring8, grid25)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def from_stats(cls, name: str, stats: FeatureStats, card=None, from_cache=False, derived=None, folder=None) -> Reference:
        raw = stats.raw() if stats.keep_raw else None
        return cls(name, stats.mean(), stats.covariance(), stats.num_samples, raw, card, from_cache, stats, folder,
                   derived or DerivedStatistics())

    def knn_radii(self, k: int, device: torch.device) -> torch.Tensor:
        """The squared k-NN radii of the reference rows (computed on `device`), once per k."""
        if k not in self.derived.knn_radii:
            self.derived.knn_radii[k] = knn_radii(self.raw.to(device), k)
            self.derived_added = True
        return self.derived.knn_radii[k]

    def ndb_centres(self, bins: int, device: torch.device) -> torch.Tensor:
        """NDB's bins: K-means centres of the reference rows (seed 0, on `device`), once per number of bins."""
        if bins not in self.derived.ndb_centres:
            self.derived.ndb_centres[bins] = kmeans(self.raw.to(device), bins, seed=0)
            self.derived_added = True
        return self.derived.ndb_centres[bins]

    def save_derived(self) -> None:
        """Write statistics derived since loading into this reference's cache entry, so the next score reuses them."""
        if self.derived_added and self.card is not None and self.stats is not None and self.cache_folder is not None:
            save_reference(self.stats, self.card, self.cache_folder, derived=self.derived)
            self.derived_added = False


def describe_reference(real: Reference, reference: str | Samples) -> None:
    """Attach what mode statistics need: the mixture behind a ring8/grid25 reference, the labels of labelled sources
    (class triples of stacked images as mode indices 0..999)."""
    if isinstance(reference, Samples):
        name = reference.name
        if reference.labels is not None:
            labels = reference.labels
            real.labels = triple_index(labels) if labels.dim() == 2 else labels
            real.num_label_modes = 10 ** labels.shape[1] if labels.dim() == 2 else int(labels.max()) + 1
    else:
        name = str(reference)
    if name in MIXTURES:
        real.mixture = MIXTURES[name]()


def is_cached_reference(reference: str | Samples) -> bool:
    return isinstance(reference, str) and (reference.startswith("ref:") or reference.endswith(".pt"))


def is_moments_file(reference: str | Samples) -> bool:
    """An .npz holding `mu` and `sigma` (pytorch-fid, torch-fidelity, clean-fid statistics)."""
    if not isinstance(reference, str) or not reference.endswith(".npz") or not Path(reference).is_file():
        return False
    try:
        with np.load(reference, allow_pickle=False) as loaded:
            return {"mu", "sigma"} <= set(loaded.keys())
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        return False  # not a statistics file: the samples loader reports what is wrong with it


def check_card(card: ReferenceCard, extractor: FeatureExtractor, source: str) -> None:
    """Refuse a cached reference computed with another extractor, weights, layer or preprocessing: never mix spaces."""
    theirs = (card.extractor, card.weights_sha256, card.layer, card.preprocessing)
    ours = (extractor.name, extractor.weights_sha256, extractor.feature_layer, extractor.preprocessing)
    if theirs != ours:
        raise InputError(
            f"reference {source} was built with extractor {card.extractor} (layer {card.layer}, weights "
            f"{(card.weights_sha256 or 'none')[:12]}) but this score uses {extractor.name} (layer "
            f"{extractor.feature_layer}, weights {(extractor.weights_sha256 or 'none')[:12]}); rebuild it or match --extractor"
        )


def load_moments(path: str) -> Reference:
    """A pytorch-fid / torch-fidelity style .npz: `mu` (d,), `sigma` (d, d), optionally `num_samples` or `n`."""
    try:
        with np.load(path, allow_pickle=False) as loaded:
            mean, covariance = torch.from_numpy(loaded["mu"]).double(), torch.from_numpy(loaded["sigma"]).double()
            count = next((int(loaded[key]) for key in ("num_samples", "n") if key in loaded), None)
    except (ValueError, TypeError, OSError) as exc:
        raise InputError(f"{path}: mu, sigma (and n) must be numeric arrays ({type(exc).__name__})") from exc
    if mean.dim() != 1 or covariance.shape != (len(mean), len(mean)):
        raise InputError(f"{path}: mu must be (d,) and sigma (d, d), got {tuple(mean.shape)} and {tuple(covariance.shape)}")
    return Reference(path, mean, covariance, count, None)


def needs_raw_features(families: list[str]) -> bool:
    return any(METRIC_FAMILIES[name].needs_raw_features and METRIC_FAMILIES[name].layer == "features" for name in families)


def reference_from_samples(
    samples: Samples,
    extractor: FeatureExtractor,
    families: list[str],
    *,
    batch_size: int,
    progress: bool | None,
    use_cache: bool = True,
) -> Reference:
    """Statistics of reference samples: from the cache when an entry with the same content and extractor exists."""
    keep_raw = needs_raw_features(families)
    content = content_sha256(samples.data)
    key = reference_key(content, extractor, len(samples))
    if use_cache:
        try:
            stats, card, derived = load_reference(key)
            if card.has_raw_features or not keep_raw:
                return Reference.from_stats(samples.name, stats, card, from_cache=True, derived=derived, folder=cache_dir())
        except InputError:
            pass  # no entry yet (or a damaged one): compute and (re)write it
    stats = extract_features(samples, extractor, keep_raw=keep_raw, batch_size=batch_size, progress=progress)["features"]
    card = make_card(key, samples.name, content, extractor, stats)
    if use_cache:
        save_reference(stats, card)
        return Reference.from_stats(samples.name, stats, card, folder=cache_dir())
    return Reference.from_stats(samples.name, stats, card)


def extract_features(
    samples: Samples,
    extractor: FeatureExtractor,
    *,
    keep_raw: bool,
    logits: str | None = None,
    batch_size: int,
    progress: bool | None,
) -> dict[str, FeatureStats]:
    """One pass over `samples`: {'features': stats[, 'logits': stats with raw rows]}.

    `logits`: None, 'required' (a missing logits output is an error) or 'optional' (dropped when missing)."""
    wanted = {"features": (extractor.feature_layer, FeatureStats(keep_raw=keep_raw))}
    if logits and extractor.logits_layer:
        wanted["logits"] = (extractor.logits_layer, FeatureStats(keep_raw=True))
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(samples), desc=f"features {samples.name}", unit="sample", disable=not show, leave=False) as bar:
        for batch in samples.batches(batch_size):
            outputs = extractor(batch)
            if logits == "optional" and "logits" in wanted and wanted["logits"][0] not in outputs:
                del wanted["logits"]
            for layer, stats in wanted.values():
                if layer not in outputs:
                    raise InputError(f"extractor '{extractor.name}' returned no '{layer}' output")
                stats.update(outputs[layer].reshape(outputs[layer].shape[0], -1))
            bar.update(len(batch))
    return {name: stats for name, (_, stats) in wanted.items()}


def resolve_reference(
    reference: str | Samples,
    extractor: FeatureExtractor,
    families: list[str],
    *,
    batch_size: int,
    progress: bool | None,
    use_cache: bool,
    num_samples: int | None,
    seed: int,
    data_root: str | None,
    download: bool,
) -> Reference:
    """Any form of --reference (see the module docstring) -> Reference, checked against the extractor."""
    if is_cached_reference(reference):
        stats, card, derived = load_reference(reference)
        check_card(card, extractor, reference)
        if needs_raw_features(families) and not card.has_raw_features:
            raise InputError(f"reference {reference} holds only mean and covariance (FID); rebuild it with "
                             f"`ganeval ref build {card.source}` for KID and PRDC")
        folder = reference_path(reference).parent
        return Reference.from_stats(card.source, stats, card, from_cache=True, derived=derived, folder=folder)
    if is_moments_file(reference):
        return load_moments(reference)
    samples = reference if isinstance(reference, Samples) else load_source(
        reference, num_samples=num_samples, seed=seed, data_root=data_root, download=download
    )
    return reference_from_samples(samples, extractor, families, batch_size=batch_size, progress=progress, use_cache=use_cache)


def cached_reference_spec(spec: str) -> str | None:
    """`ref:KEY` or a cached .pt as given, a bare KEY of `ganeval ref list` as `ref:KEY`; None for a source spec."""
    if is_cached_reference(spec):
        return spec
    if spec and "/" not in spec and ":" not in spec and not Path(spec).suffix and not Path(spec).exists():
        if reference_path(spec).with_suffix(".json").is_file():
            return f"ref:{spec}"
    return None


def load_cached(spec: str) -> Reference:
    """A cached reference (`ref:KEY` or its .pt) as a Reference, whatever extractor it was built with."""
    stats, card, derived = load_reference(spec)
    return Reference.from_stats(card.source, stats, card, from_cache=True, derived=derived,
                                folder=reference_path(spec).parent)


def check_stats_path(path: str | Path) -> Path:
    """Statistics files are .npz (pytorch-fid's format); say so before anything is extracted."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise InputError(f"{path}: statistics are written as .npz (pytorch-fid's mu/sigma format); name it STATS.npz")
    return path


def save_moments(path: str | Path, stats: FeatureStats) -> Path:
    """Write `stats` as pytorch-fid writes them with --save-stats: an .npz of float64 `mu` (d,) and `sigma` (d, d),
    nothing else, which pytorch-fid, torch-fidelity, clean-fid and ganeval (`--reference STATS.npz`) read back."""
    path = check_stats_path(path)
    mean = stats.mean().cpu().numpy().astype(np.float64)
    covariance = stats.covariance().cpu().numpy().astype(np.float64)
    write_atomically(path, lambda handle: np.savez_compressed(handle, mu=mean, sigma=covariance))
    return path


def export_moments(reference: Reference, path: str | Path) -> tuple[Path, Path]:
    """A cached reference's mean and covariance as pytorch-fid statistics, and its provenance card as JSON beside
    them (stats.npz -> stats.json); returns both paths."""
    card_path = Path(path).with_suffix(".json")
    write_text_atomically(card_path, reference.card.to_json())  # the small file first: a full disk fails here
    try:
        path = save_moments(path, reference.stats)
    except BaseException:
        card_path.unlink(missing_ok=True)  # never a card without its statistics
        raise
    return path, card_path


def warn_if_foreign_to_classifier(reference: str | Samples) -> None:
    """--extractor auto gives 28x28 images fmnist-classifier: say so when the reference is not a Fashion-MNIST
    source, since digits (or anything else) measured in a clothing classifier's features give numbers that mean
    little. A statistics file is left to the dimension check."""
    name = reference.name if isinstance(reference, Samples) else str(reference)
    if name.startswith(FASHION_MNIST_PREFIXES) or is_moments_file(reference):
        return
    warn_at_caller(
        f"--extractor auto chose fmnist-classifier for 28x28 images, a Fashion-MNIST feature space; if {name} is not "
        f"Fashion-MNIST, add --extractor inception-v3-compat (--extractor fmnist-classifier keeps it, silently)",
        ExtractorWarning,
    )


def check_comparable(fake: Samples, reference: str | Samples) -> None:
    """Images against images, vectors against vectors."""
    if isinstance(reference, Samples) and reference.kind != fake.kind:
        raise InputError(f"{fake.name} holds {fake.kind} but {reference.name} holds {reference.kind}; compare like with like")


def check_image_shapes(fake: Samples, reference: str | Samples, extractor: FeatureExtractor) -> None:
    """Images of two shapes compare only through an extractor that resizes them (or one of the user's own)."""
    if not isinstance(reference, Samples) or fake.kind != "images" or extractor.name in RESIZING_EXTRACTORS:
        return
    if extractor.name.startswith("torchscript:"):
        return  # a module of the user's own may well resize: its own error, if any, says what it takes
    ours, theirs = _shape_text(fake), _shape_text(reference)
    if ours != theirs:
        raise InputError(
            f"input {fake.name} holds {ours} images but reference {reference.name} holds {theirs}; extractor "
            f"{extractor.name} needs one shape on both sides: resize one, or add --extractor inception-v3-compat "
            f"(it resizes both to 299x299)"
        )


def probe_dimension(fake: Samples, extractor: FeatureExtractor) -> int:
    """The feature dimension `extractor` gives the input, from two samples (before extracting all of them)."""
    outputs = extractor(fake.data[:2])
    if extractor.feature_layer not in outputs:
        raise InputError(f"extractor '{extractor.name}' returned no '{extractor.feature_layer}' output")
    return int(outputs[extractor.feature_layer][0].numel())


def check_dimensions(real: Reference, dim: int, extractor: FeatureExtractor, fake: Samples) -> None:
    """The reference's features and the input's must live in one space: name both, and the likely fix."""
    if real.dim == dim:
        return
    what = f"{_shape_text(fake)} images" if fake.kind == "images" else f"{fake.data.shape[1]}-dim vectors"
    message = (f"feature dimensions differ: reference {real.name} holds {real.dim}-dim features, but extractor "
               f"{extractor.name} gives {dim} for the input's {what}")
    known = KNOWN_DIMENSIONS.get(real.dim)
    if known is not None and known[1] != extractor.name and fake.kind == "images":
        message += f"; {real.dim}-dim features are {known[0]}: add --extractor {known[1]}"
    elif extractor.name == "identity":
        message += "; identity compares the vectors themselves, so both sides need one dimension"
    else:
        message += ("; compute both sides with one extractor (`ganeval ref export SPEC --extractor NAME --out "
                    "stats.npz` writes a reference's statistics)")
    raise InputError(message)


def _shape_text(samples: Samples) -> str:
    """'1x28x28' for images."""
    return "x".join(str(size) for size in samples.data.shape[1:])
