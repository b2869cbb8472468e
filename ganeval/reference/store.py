"""ReferenceStore: the reference cache. It loads and saves entries atomically (features/cache.py's format), extracts
reference samples once per content and extractor, and keeps what is derived from the rows (PRDC's k-NN radii, NDB's
K-means centres) with get_or_compute, written back into the entry as soon as it is computed."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..data import Samples
from ..data.mixtures import MIXTURES
from ..data.samples import SourceInfo
from ..errors import InputError
from ..features import FeatureExtractor
from ..features.cache import (
    DerivedStatistics,
    cache_dir,
    content_sha256,
    load_reference,
    make_card,
    reference_key,
    reference_path,
    save_derived,
    save_reference,
)
from ..distributed import world
from ..features.extract import extract_shared
from .spec import CachedReference, MomentsReference, ReferenceSpec
from .stats import ReferenceStats


class ReferenceStore:
    """Reference statistics by content. `enabled` False (--no-cache) neither reads nor writes the cache folder; a
    store still remembers, in memory, what it extracted or derived, so a sweep over checkpoints extracts its
    reference once either way.

    >>> store = ReferenceStore(enabled=False)      # doctest: +SKIP
    >>> real = store.from_samples(samples, extractor, rows=True, batch_size=64, progress=False)   # doctest: +SKIP
    """

    def __init__(self, folder: Path | None = None, *, enabled: bool = True) -> None:
        self.folder = folder
        self.enabled = enabled
        self._derived: dict[str, DerivedStatistics] = {}  # by cache key
        self._entry_folders: dict[str, Path] = {}  # where each entry read or written lives
        self._loaded: dict[str, ReferenceStats] = {}  # by cache key: the references this store read or extracted

    @property
    def cache_folder(self) -> Path:
        return self.folder or cache_dir()

    def load(self, spec: ReferenceSpec) -> ReferenceStats:
        """A reference that holds statistics already: a cached entry (whatever its extractor) or a moments file."""
        if isinstance(spec, MomentsReference):
            return ReferenceStats(spec.path, spec.mean, spec.covariance, spec.num_samples)
        if isinstance(spec, CachedReference):
            return self._read_entry(spec.spec, reference_path(spec.spec, self.folder).parent, name=None)
        raise TypeError(f"{spec!r} holds samples: extract them with from_samples()")

    def from_samples(self, samples: Samples, extractor: FeatureExtractor, *, rows: bool, batch_size: int,
                     progress: bool | None) -> ReferenceStats:
        """Statistics of reference samples: from this store or the cache when an entry with the same content,
        extractor and N exists (with rows, when `rows`), else extracted and saved."""
        content = content_sha256(samples.data)
        key = reference_key(content, extractor, len(samples))
        known = self._loaded.get(key)
        if known is not None and (known.rows is not None or not rows):
            return known
        if self.enabled and known is None:
            cached = self._usable_entry(key, samples, rows)
            if cached is not None:
                self._loaded[key] = cached  # a sweep reads the entry once, not once per checkpoint
                return cached
        stats = extract_shared(samples, extractor, keep_rows=rows, batch_size=batch_size, progress=progress).embedding
        card = make_card(key, samples.name, content, extractor, stats)
        reference = ReferenceStats.from_stats(samples.name, stats, samples.info, card)
        self._loaded[key] = reference
        self._derived[key] = DerivedStatistics()
        if self.enabled and world().is_main and save_reference(stats, card, self.cache_folder) is not None:
            self._entry_folders[key] = self.cache_folder
        return reference

    def _usable_entry(self, key: str, samples: Samples, rows: bool) -> ReferenceStats | None:
        """The cache entry of `key` when it exists (with rows, when `rows`); the main rank decides for all, so
        that every rank reads it, or none does and all extract together."""
        cached, processes = None, world()
        if processes.decides:
            try:
                cached = self._read_entry(key, self.cache_folder, name=samples.name, info=samples.info)
            except InputError:
                pass  # no entry yet (or a damaged one): compute and (re)write it
            if cached is not None and rows and not cached.card.has_raw_features:
                cached = None
        if not processes.broadcast(cached is not None):
            return None
        return cached or self._read_entry(key, self.cache_folder, name=samples.name, info=samples.info)

    def get_or_compute(self, reference: ReferenceStats, kind: str, parameter: int | float,
                       compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Statistic `kind` (a field of DerivedStatistics: 'knn_radii', 'ndb_centres', 'cmmd_reference_terms') of
        the reference rows for `parameter` (k, the number of bins, CMMD's sigma): remembered, else computed and
        written into the reference's entry."""
        derived = self._derived.setdefault(self._identity(reference), DerivedStatistics())
        table: dict = getattr(derived, kind)
        if parameter not in table:
            table[parameter] = compute()
            self._save(reference, derived)
        return table[parameter]

    def _read_entry(self, key_or_path: str, folder: Path, name: str | None,
                    info: SourceInfo | None = None) -> ReferenceStats:
        stats, card, derived = load_reference(key_or_path, folder)
        self._derived.setdefault(card.key, derived)
        self._entry_folders[card.key] = folder
        if info is None:  # an entry named only by its key: its source's name says whether it is a mixture
            info = SourceInfo(mixture=MIXTURES[card.source]() if card.source in MIXTURES else None)
        return ReferenceStats.from_stats(name or card.source, stats, info, card, from_cache=True)

    def _identity(self, reference: ReferenceStats) -> str:
        return reference.key if reference.key is not None else f"memory:{id(reference)}"

    def _save(self, reference: ReferenceStats, derived: DerivedStatistics) -> None:
        folder = self._entry_folders.get(reference.key) if reference.key else None
        if self.enabled and world().is_main and folder is not None:
            save_derived(reference.key, folder, derived)

