"""Reference statistics cached on disk, keyed by what they were computed from, each with a provenance card.

The key hashes the content of the reference samples (never their path), the extractor and the SHA256 of its weights,
the layer, the preprocessing and N, so a changed image, network or sample count gives a new entry instead of a stale
one (stylegan3 issue #174). Entries are `<key>.pt` (tensors and plain values: torch.load(weights_only=True)) and
`<key>.json` (the card), both written to a temporary name and renamed. A cache that cannot be written (read-only,
full) costs only the reuse: scores are computed as without a cache, with a CacheWarning naming the folder.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .. import __version__
from ..atomic import WriteError, write_atomically, write_error, write_text_atomically
from ..errors import InputError, warn_at_caller
from .registry import FeatureExtractor
from .stats import FeatureStats

CACHE_ENV = "GANEVAL_CACHE"
CARD_VERSION = 1


class CacheWarning(UserWarning):
    """The reference cache could not be written: the score is right, but its reference will be computed again."""


def cache_dir() -> Path:
    """$GANEVAL_CACHE, else ~/.cache/ganeval; reference statistics live in its references/ folder."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ganeval") / "references"


def content_sha256(data: torch.Tensor) -> str:
    """SHA256 of a tensor's dtype, shape and bytes: the identity of a set of samples, wherever it came from."""
    digest = hashlib.sha256(f"{data.dtype}|{tuple(data.shape)}|".encode())
    digest.update(data.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ReferenceCard:
    """Provenance of one cached reference: what went in, and with which software."""

    key: str
    source: str
    content_sha256: str
    extractor: str
    weights_sha256: str | None
    layer: str
    preprocessing: str
    num_samples: int
    dim: int
    has_raw_features: bool
    ganeval: str
    torch: str
    torch_fidelity: str | None
    created: str
    card_version: int = CARD_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def reference_key(content: str, extractor: FeatureExtractor, num_samples: int) -> str:
    """The cache key of a reference: a hash of everything its statistics depend on."""
    parts = [content, extractor.name, extractor.weights_sha256 or "", extractor.feature_layer, extractor.preprocessing, str(num_samples)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


@dataclass
class DerivedStatistics:
    """What scores compute from the reference rows on first use; the cache keeps it beside them."""

    knn_radii: dict[int, torch.Tensor] = field(default_factory=dict)  # PRDC's squared k-NN radii, by k
    ndb_centres: dict[int, torch.Tensor] = field(default_factory=dict)  # NDB's K-means centres, by K
    cmmd_reference_terms: dict[float, torch.Tensor] = field(default_factory=dict)  # CMMD's mean K_xx, by sigma

    # Radii are stored as "exact_radii" since they are tie-exact (metrics/knn.py): the "radii" of older entries were
    # rounded by the block they fell in, so they are left unread and computed again on first use.
    def to_payload(self) -> dict:
        return {"exact_radii": _by_name(self.knn_radii), "ndb_centres": _by_name(self.ndb_centres),
                "cmmd_reference_terms": _by_name(self.cmmd_reference_terms)}

    @classmethod
    def from_payload(cls, payload: dict) -> DerivedStatistics:
        """Entries written before a field existed simply lack it."""
        return cls(knn_radii=_by_number(payload.get("exact_radii")), ndb_centres=_by_number(payload.get("ndb_centres")),
                   cmmd_reference_terms=_by_number(payload.get("cmmd_reference_terms"), float))


def _by_name(tensors: dict[int | float, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Number keys as strings (repr: a float reads back exactly), tensors on the CPU: what the cache file stores."""
    return {repr(k): value.cpu() for k, value in tensors.items()}


def _by_number(tensors: dict[str, torch.Tensor] | None, kind: type = int) -> dict:
    return {kind(k): value for k, value in (tensors or {}).items()}


def save_reference(
    stats: FeatureStats, card: ReferenceCard, folder: Path | None = None, derived: DerivedStatistics | None = None
) -> Path | None:
    """Write `<key>.pt` and `<key>.json` atomically; returns the .pt path, or None (with a CacheWarning naming the
    folder and the reason) when the cache cannot be written: caching is an optimisation, never a reason to fail."""
    folder = folder or cache_dir()
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(folder, exc) from exc
        return _write_entry(stats, card, folder, derived)
    except WriteError as error:
        warn_at_caller(f"reference cache {folder} is not writable ({error.reason}): scoring without caching; "
                       f"set {CACHE_ENV} to a writable folder to reuse reference statistics", CacheWarning)
        return None


def _write_entry(stats: FeatureStats, card: ReferenceCard, folder: Path, derived: DerivedStatistics | None) -> Path:
    payload = {
        "card_version": CARD_VERSION,
        "stats": stats.state_dict(),
        "raw": stats.raw().cpu() if stats.keep_raw else None,
        **(derived or DerivedStatistics()).to_payload(),
    }
    path = folder / f"{card.key}.pt"
    write_atomically(path, lambda handle: torch.save(payload, handle))
    write_text_atomically(folder / f"{card.key}.json", card.to_json())
    return path


def save_derived(key: str, folder: Path, derived: DerivedStatistics) -> Path | None:
    """Write the statistics derived from an entry's rows beside it (`<key>.derived.pt`), atomically: small, so
    the entry's rows are never written again for them. None (with a CacheWarning) when the folder is not writable."""
    path = folder / f"{key}.derived.pt"
    try:
        write_atomically(path, lambda handle: torch.save(derived.to_payload(), handle))
    except WriteError as error:
        warn_at_caller(f"reference cache {folder} is not writable ({error.reason}): the reference's derived "
                       f"statistics will be computed again next time", CacheWarning)
        return None
    return path


def _derived_beside(path: Path, derived: DerivedStatistics) -> DerivedStatistics:
    """The entry's own derived statistics, completed by those saved beside it since (save_derived)."""
    beside = path.with_name(f"{path.stem}.derived.pt")
    if not beside.is_file():
        return derived
    try:
        later = DerivedStatistics.from_payload(torch.load(beside, map_location="cpu", weights_only=True))
    except Exception:  # a damaged file of derived statistics costs their recomputation, nothing else
        return derived
    return DerivedStatistics({**derived.knn_radii, **later.knn_radii}, {**derived.ndb_centres, **later.ndb_centres},
                             {**derived.cmmd_reference_terms, **later.cmmd_reference_terms})


def reference_path(key_or_path: str | os.PathLike, folder: Path | None = None) -> Path:
    """The .pt file of a cached reference given its key (`ref:` prefix optional) or its path."""
    text = str(key_or_path)
    text = text[4:] if text.startswith("ref:") else text
    path = Path(text)
    return path if path.suffix else (folder or cache_dir()) / f"{text}.pt"


def read_card(key_or_path: str | os.PathLike, folder: Path | None = None) -> ReferenceCard:
    """The provenance card of a cached reference (the small JSON file only)."""
    path = reference_path(key_or_path, folder).with_suffix(".json")
    if not path.is_file():
        raise InputError(f"reference '{key_or_path}': no cached statistics at {path.with_suffix('.pt')} (see `ganeval ref list`)")
    try:
        values = json.loads(path.read_text())
        card = ReferenceCard(**values)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: unreadable reference card ({type(exc).__name__}); delete it and rebuild") from exc
    if card.card_version != CARD_VERSION:
        raise InputError(f"{path}: reference card version {card.card_version} is not supported (expected {CARD_VERSION}); rebuild it")
    return card


def load_reference(key_or_path: str | os.PathLike, folder: Path | None = None):
    """Read a cached reference by key or .pt path: (stats, card, DerivedStatistics)."""
    card = read_card(key_or_path, folder)
    path = reference_path(key_or_path, folder)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        stats = FeatureStats.from_state_dict(payload["stats"], payload.get("raw"))
        derived = DerivedStatistics.from_payload(payload)
    except Exception as exc:  # a damaged or foreign file: torch, pickle and key errors of several types
        raise InputError(f"{path}: unreadable reference statistics ({type(exc).__name__}); delete it and rebuild") from exc
    return stats, card, _derived_beside(path, derived)


def list_references(folder: Path | None = None) -> list[ReferenceCard]:
    """Cards of every cached reference, newest first (unreadable cards are skipped)."""
    cards = []
    for card_path in sorted((folder or cache_dir()).glob("*.json")):
        try:
            cards.append(ReferenceCard(**json.loads(card_path.read_text())))
        except (ValueError, TypeError):
            continue
    return sorted(cards, key=lambda card: card.created, reverse=True)


def fidelity_version() -> str | None:
    """The installed torch-fidelity's version, from its metadata (importing the package would take seconds)."""
    try:
        return importlib.metadata.version("torch-fidelity")
    except importlib.metadata.PackageNotFoundError:
        return None


def make_card(key: str, source: str, content: str, extractor: FeatureExtractor, stats: FeatureStats) -> ReferenceCard:
    return ReferenceCard(
        key=key,
        source=source,
        content_sha256=content,
        extractor=extractor.name,
        weights_sha256=extractor.weights_sha256,
        layer=extractor.feature_layer,
        preprocessing=extractor.preprocessing,
        num_samples=stats.num_samples,
        dim=int(stats.dim),
        has_raw_features=stats.keep_raw,
        ganeval=__version__,
        torch=torch.__version__,
        torch_fidelity=fidelity_version(),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
