"""Metric families, the keys they report and which way is better: the names shared by records, tables and gates."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError, UnknownNameError


@dataclass(frozen=True)
class MetricFamily:
    """A family selectable with --metrics, the record keys it fills and the feature layer it reads."""

    name: str
    keys: tuple[str, ...]
    layer: str  # 'features' (the embedding) or 'logits' (class scores)
    needs_raw_features: bool  # False when streaming mean/covariance suffice


METRIC_FAMILIES: dict[str, MetricFamily] = {
    family.name: family
    for family in (
        MetricFamily("fid", ("fid",), "features", needs_raw_features=False),
        MetricFamily("is", ("is_mean", "is_std"), "logits", needs_raw_features=True),
        MetricFamily("kid", ("kid_mean", "kid_std"), "features", needs_raw_features=True),
        MetricFamily("prdc", ("precision", "recall", "density", "coverage"), "features", needs_raw_features=True),
        # mixtures: the points themselves; images: the classes the extractor's logits give (see metrics/modes.py)
        MetricFamily("modes", ("modes", "high_quality", "reverse_kl", "kl_reference"), "features", needs_raw_features=True),
        MetricFamily("ndb", ("ndb", "ndb_fraction", "ndb_js"), "features", needs_raw_features=True),
        # Chong & Forsyth's extrapolations to N = infinity (metrics/infinity.py): raw generated rows, reference moments
        MetricFamily("fid_inf", ("fid_inf",), "features", needs_raw_features=False),
        MetricFamily("is_inf", ("is_inf",), "logits", needs_raw_features=True),
    )
}
DEFAULT_FAMILIES = ("fid", "is", "kid", "prdc")  # what `--metrics` left out computes (where the extractor allows)
DEFAULT_SEED = 2020  # torch-fidelity's rng_seed: default KID subsets and IS splits match it
DEFAULT_REPLICATES = 200  # bootstrap replicates of --ci

# Direction of every metric key, so tables can rank and gates can compare (std columns have no direction).
HIGHER_IS_BETTER: dict[str, bool] = {
    "fid": False,
    "is_mean": True,
    "kid_mean": False,
    "precision": True,
    "recall": True,
    "density": True,
    "coverage": True,
    "modes": True,
    "high_quality": True,
    "reverse_kl": False,
    "kl_reference": False,
    "ndb": False,
    "ndb_fraction": False,
    "ndb_js": False,
    "fid_inf": False,
    "is_inf": True,
}

METRIC_KEYS: tuple[str, ...] = tuple(key for family in METRIC_FAMILIES.values() for key in family.keys)


def parse_metrics(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """Parse 'fid,kid' (or a list) into family names, keeping order and dropping repeats.

    >>> parse_metrics("fid, kid,fid")
    ['fid', 'kid']
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    families: list[str] = []
    for name in (name.strip().lower() for name in names):
        if not name:
            continue
        if name not in METRIC_FAMILIES:
            raise UnknownNameError("metric", name, METRIC_FAMILIES)
        if name not in families:
            families.append(name)
    if not families:
        raise InputError(f"--metrics is empty; choose from {', '.join(sorted(METRIC_FAMILIES))}")
    return families
