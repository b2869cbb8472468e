"""The reference side of a score: a --reference argument parsed once (spec), the statistics the metrics read
(stats), the cache that holds them (store), the checks that both sides compare, and pytorch-fid statistics files.

>>> from ganeval.reference import parse_reference
>>> type(parse_reference("grid25")).__name__
'SamplesReference'
"""
from __future__ import annotations

from pathlib import Path

from ..features.cache import reference_path
from .checks import check_card, check_comparable, check_dimensions, check_image_shapes, check_rows, probe_dimension
from .moments import check_stats_path, export_moments, save_moments
from .spec import (
    CachedReference,
    MomentsReference,
    ReferenceSpec,
    SamplesReference,
    is_cached_spec,
    parse_reference,
    read_moments,
)
from .stats import ReferenceStats
from .store import ReferenceStore


def cached_reference_spec(spec: str) -> str | None:
    """`ref:KEY` or a cached .pt as given, a bare KEY of `ganeval ref list` as `ref:KEY`; None for a source spec."""
    if is_cached_spec(spec):
        return spec
    if spec and "/" not in spec and ":" not in spec and not Path(spec).suffix and not Path(spec).exists():
        if reference_path(spec).with_suffix(".json").is_file():
            return f"ref:{spec}"
    return None


__all__ = [
    "CachedReference", "MomentsReference", "ReferenceSpec", "ReferenceStats", "ReferenceStore", "SamplesReference",
    "cached_reference_spec", "check_card", "check_comparable", "check_dimensions", "check_image_shapes", "check_rows",
    "check_stats_path", "export_moments", "parse_reference", "probe_dimension", "read_moments", "save_moments",
]
