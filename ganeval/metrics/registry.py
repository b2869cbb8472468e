"""Metric families: one `Metric` spec each, registered with `@register_metric`; every list of metrics reads them.

A spec says what a family reports (its keys, with the direction and bootstrap interval of each), what it reads
(layers, whether raw feature rows are needed), its options (a dataclass whose fields carry their CLI help) and how it
computes (`compute(context, weights=None) -> MetricResult`). Records, `--metrics`, the CLI flags, the bootstrap,
compare, gate and report read the registry, so a family registered anywhere (a plugin, a test) is a metric
everywhere. The built-in families live in ganeval/metrics/families/, one file each.

This module imports neither torch nor the kernels: the CLI builds its flags from it without loading them.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, UnknownNameError

INTERVAL_KINDS = ("basic", "percentile", "centred")  # see ganeval.metrics.bootstrap
LAYERS = ("features", "logits")
ROWS = ("both", "input", "none")
UNBOUNDED = (-math.inf, math.inf)
SHARE = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)


@dataclass(frozen=True)
class MetricKey:
    """One value a family reports, under this key in records, tables and gates.

    `higher_is_better` None: no direction (a spread such as is_std: never ranked or gated). `interval`: the
    bootstrap interval kind of the key with --ci ('basic', 'percentile' or 'centred'; None: no interval).
    `bounds`: the range the value can take, which intervals are clipped to. `plotted`: reports draw its curve over
    training steps (keys with a direction only)."""

    name: str
    higher_is_better: bool | None = None
    interval: str | None = None
    bounds: tuple[float, float] = UNBOUNDED
    plotted: bool = True

    def __post_init__(self) -> None:
        if self.interval is not None and self.interval not in INTERVAL_KINDS:
            raise ValueError(f"metric key {self.name}: interval kind {self.interval!r} is not one of {INTERVAL_KINDS}")


@dataclass(frozen=True)
class MetricResult:
    """What a family computes: values by key, diagnostics for the record (None: none), and the bootstrap replicate
    values by key (a tensor of one value per resample; empty without resampling weights)."""

    values: dict[str, float]
    diagnostics: dict | None = None
    replicates: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoOptions:
    """The options of a family that has none."""


def option(default: Any, help: str, *, metavar: str | None = None) -> Any:
    """A field of a family's options dataclass: its default and its CLI help. The flag is --FAMILY-FIELD
    (`subset_size` of kid: --kid-subset-size)."""
    return field(default=default, metadata={"help": help, "metavar": metavar})


@dataclass(frozen=True)
class Metric:
    """A metric family, selectable with --metrics NAME.

    `layers`: the extractor outputs it reads ('features', the embedding; 'logits', class scores), `rows`: which
    sides' raw feature rows it needs beyond the streaming mean and covariance ('both', 'input' or 'none'; logits are
    always kept as rows). `needs_logits(reference_info)` overrides whether logits are needed for a reference (modes:
    only without a mixture). `default`: computed when --metrics is left out, where the extractor allows.
    `check(options, num_input, num_reference)` refuses options the sample counts rule out before anything is
    extracted; `status(context)` is the one-line status of its phase. `scored_by`: the command that records the
    family's keys when they are not computed from features (the human study's HYPE rates: 'ganeval human score');
    `--metrics` refuses such a family, while records, compare, report and gate read its keys like any other.
    `train`: it reads the training set (`--train REF`) and is refused without one; `pixels`: it also reads the
    generated and training images as pixel rows (MetricContext.pixels, TrainSide.pixels); `held_out`: it reads the
    reference as a split held out from the training set, and is refused when the two are the same samples;
    `labels`: it reads the class each generated sample was generated for (MetricContext.labels) and the reference's
    class labels, and is refused without them; `images`: it reads the generated and the reference images
    themselves (MetricContext.images, .reference_images: a family that trains a classifier on them, cas)."""

    name: str
    keys: tuple[MetricKey, ...]
    compute: Callable[..., MetricResult]
    options: type = NoOptions
    layers: tuple[str, ...] = ("features",)
    rows: str = "both"
    default: bool = False
    needs_logits: Callable[[Any], bool] | None = None
    check: Callable[[Any, int, int], None] | None = None
    status: Callable[[Any], str] | None = None
    scored_by: str | None = None
    train: bool = False
    pixels: bool = False
    held_out: bool = False
    labels: bool = False
    images: bool = False

    def __post_init__(self) -> None:
        if not set(self.layers) <= set(LAYERS) or self.rows not in ROWS:
            raise ValueError(f"metric {self.name}: layers must be within {LAYERS}, rows one of {ROWS}")
        if not dataclasses.is_dataclass(self.options):
            raise ValueError(f"metric {self.name}: options must be a dataclass (NoOptions when it has none)")

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    @property
    def ranked_keys(self) -> tuple[str, ...]:
        """The keys with a direction: what tables rank, gates compare and reports plot."""
        return tuple(key.name for key in self.keys if key.higher_is_better is not None)

    def logits_needed(self, reference_info: Any) -> bool:
        """Whether this family reads class logits against this reference."""
        if self.needs_logits is not None:
            return self.needs_logits(reference_info)
        return "logits" in self.layers

    def option_fields(self) -> list[dataclasses.Field]:
        return list(dataclasses.fields(self.options))


class _Registry(Mapping):
    """The registered families by name, in registration order (built-ins first, in the order of their list)."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def __getitem__(self, name: str) -> Metric:
        return self._families[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._families)

    def __len__(self) -> int:
        return len(self._families)

    def add(self, metric: Metric) -> None:
        taken = {key for other in self._families.values() if other.name != metric.name for key in other.key_names}
        clash = taken & set(metric.key_names)
        if clash:
            raise ValueError(f"metric {metric.name}: keys {sorted(clash)} belong to another family")
        self._families[metric.name] = metric

    def remove(self, name: str) -> None:
        self._families.pop(name, None)


METRIC_FAMILIES = _Registry()


def register_metric(metric: Metric) -> Metric:
    """Register a family (replacing one of the same name); returns it, so a module can keep it as a name.

    >>> from ganeval.metrics.registry import Metric, MetricKey, MetricResult, register_metric
    >>> toy = register_metric(Metric("toy", (MetricKey("toy", higher_is_better=False),),
    ...                              compute=lambda context, weights=None: MetricResult({"toy": 0.0})))
    >>> "toy" in METRIC_FAMILIES
    True
    >>> unregister_metric("toy")
    """
    METRIC_FAMILIES.add(metric)
    return metric


def unregister_metric(name: str) -> None:
    METRIC_FAMILIES.remove(name)


def metric_keys() -> tuple[str, ...]:
    """Every registered key, family by family."""
    return tuple(key for family in METRIC_FAMILIES.values() for key in family.key_names)


def key_spec(name: str) -> MetricKey | None:
    """The MetricKey registered under `name`, or None."""
    for family in METRIC_FAMILIES.values():
        for key in family.keys:
            if key.name == name:
                return key
    return None


class _Directions(Mapping):
    """key -> True when higher is better, False when lower is; keys without a direction are absent. A live view of
    the registry (a family registered later is in it), read like the dict it replaces."""

    def _items(self) -> dict[str, bool]:
        return {key.name: key.higher_is_better for family in METRIC_FAMILIES.values() for key in family.keys
                if key.higher_is_better is not None}

    def __getitem__(self, key: str) -> bool:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


HIGHER_IS_BETTER: Mapping[str, bool] = _Directions()


def computed_families() -> tuple[str, ...]:
    """The families a score can compute from features: all but those another command records (`scored_by`)."""
    return tuple(name for name, family in METRIC_FAMILIES.items() if family.scored_by is None)


def default_families() -> tuple[str, ...]:
    """What --metrics left out computes (where the extractor allows): fid, is, kid, prdc."""
    return tuple(name for name, family in METRIC_FAMILIES.items() if family.default)


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
            raise UnknownNameError("metric", name, computed_families())
        if METRIC_FAMILIES[name].scored_by is not None:  # people, not features, give these numbers
            raise InputError(f"metric '{name}' is not computed from features; `{METRIC_FAMILIES[name].scored_by}` "
                             f"records it; choose from {', '.join(computed_families())}")
        if name not in families:
            families.append(name)
    if not families:
        raise InputError(f"--metrics is empty; choose from {', '.join(sorted(computed_families()))}")
    return families
