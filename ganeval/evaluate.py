"""Metrics on extracted features: plan what a score must extract, compute every requested family, make the record.

Pure: no file I/O and no sources (ganeval.pipeline reads the inputs, the reference store and the extractor, then
calls these). Every family is a Metric spec of ganeval.metrics.registry; nothing here lists metrics.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import torch

from . import __version__
from .config import BootstrapOptions, ScoreConfig
from .data.checkpoint import CheckpointInfo
from .errors import InputError
from .features import FeatureExtractor
from .features.cache import fidelity_version
from .features.extract import Features
from .features.speed import extraction_path
from .metrics import METRIC_FAMILIES, parse_metrics
from .metrics.bootstrap import interval, resampling_weights, standard_error
from .metrics.context import Derive, Extras, MetricContext
from .metrics.registry import Metric, default_families, key_spec
from .records import Record, ScoreSettings
from .reference.stats import ReferenceStats
from .timing import PhaseTimer


class MetricOptions:
    """The families' options in today's flat keyword form: MetricOptions(kid_subsets=10, prdc_k=3) sets KID's
    `subsets` and PRDC's `k` (FAMILY_FIELD for every registered family). `by_family()` gives ScoreConfig's
    metric_options."""

    def __init__(self, **values) -> None:
        self._by_family: dict[str, dict] = {}
        for name, value in values.items():
            family, field_name = _split_option(name)
            self._by_family.setdefault(family, {})[field_name] = value

    def by_family(self) -> dict[str, object]:
        return {family: METRIC_FAMILIES[family].options(**values) for family, values in self._by_family.items()}


def _split_option(name: str) -> tuple[str, str]:
    """'kid_subset_size' -> ('kid', 'subset_size'), for the family whose options have that field."""
    for family in METRIC_FAMILIES.values():
        prefix = f"{family.name}_"
        if name.startswith(prefix) and name[len(prefix):] in {item.name for item in family.option_fields()}:
            return family.name, name[len(prefix):]
    raise TypeError(f"MetricOptions got an unexpected option {name!r} (FAMILY_FIELD, e.g. kid_subsets)")


@dataclass(frozen=True)
class Needs:
    """What extraction must keep: the reference's and the input's feature rows (beyond their moments), and the
    class logits: None, 'required' or 'optional' (IS chosen by default is dropped when an extractor gives none)."""

    reference_rows: bool
    input_rows: bool
    logits: str | None


def select_families(metrics: tuple[str, ...] | None, extractor: FeatureExtractor, moments_only: bool = False) -> list[str]:
    """The requested families, or the defaults the extractor supports; a family reading logits needs an extractor
    that gives them, and a mean/covariance file serves only families that need no reference rows."""
    if metrics is None:
        names = [name for name in default_families()
                 if "logits" not in METRIC_FAMILIES[name].layers or extractor.logits_layer]
        return [name for name in names if METRIC_FAMILIES[name].rows != "both"] if moments_only else names
    names = parse_metrics(metrics)
    for name in names:
        if "logits" in METRIC_FAMILIES[name].layers and not extractor.logits_layer:
            raise InputError(f"metric '{name}' needs class logits, which extractor '{extractor.name}' does not produce")
    if moments_only and _reference_rows(names):
        wanted = ", ".join(name for name in names if METRIC_FAMILIES[name].rows == "both")
        raise InputError(f"metrics {wanted} need raw reference features; a mu/sigma .npz reference supports fid only")
    return names


def _reference_rows(families: list[str]) -> bool:
    return any(METRIC_FAMILIES[name].rows == "both" for name in families)


def plan(families: list[str], reference_info, *, explicit: bool, ci: BootstrapOptions | None) -> Needs:
    """What to extract for `families` against a reference whose data says `reference_info` (a mixture needs no
    logits for its modes); `explicit`: the families were asked for (a missing logits output is then an error)."""
    logits = None
    for name in families:
        family = METRIC_FAMILIES[name]
        if family.logits_needed(reference_info):
            logits = "required" if explicit or not family.default or logits == "required" else "optional"
    reference_rows = _reference_rows(families)
    input_rows = reference_rows or ci is not None or any(METRIC_FAMILIES[name].rows == "input" for name in families)
    return Needs(reference_rows, input_rows, logits)


def check_sample_counts(families: list[str], config: ScoreConfig, num_input: int, num_reference: int | None) -> None:
    """The options that the sample counts rule out (KID's subset size, PRDC's k, NDB's bins), checked as soon as
    both counts are known: before any extraction when the reference is samples. `num_reference` None: moments only."""
    if num_reference is None:
        return
    for name in families:
        family = METRIC_FAMILIES[name]
        if family.check is not None:
            family.check(config.options_for(name, family.options), num_input, num_reference)


def compute_metrics(families: list[str], reference: ReferenceStats, features: Features, config: ScoreConfig,
                    derive: Derive, timer: PhaseTimer | None = None,
                    extras: Extras = Extras()) -> tuple[dict[str, float], dict]:
    """Every requested family on the extracted features: (values by key, diagnostics by family).

    With `config.ci`, every key with an interval kind also gets `<key>_ci_low` / `<key>_ci_high`, from one set of
    resampling weights shared by all families, seeded by the score's seed. `derive` computes and keeps statistics
    of the reference rows (see MetricContext); `timer` times each phase and shows its status line. `extras`: the
    training set, pixel rows and asked labels of the memorization and class-conditional families."""
    embedding, ci, seed = features.embedding, config.ci, config.seed
    if reference.dim != embedding.dim:
        raise InputError(f"feature dimensions differ: reference has {reference.dim}, input has {embedding.dim}")
    timer = timer or PhaseTimer(progress=False)
    weights = None
    if ci is not None:
        with timer.phase("bootstrap", f"bootstrap: {ci.replicates} resamples of {embedding.num_samples}"):
            weights = resampling_weights(embedding.num_samples, ci.replicates, seed, embedding.device)
    values: dict[str, float] = {}
    diagnostics: dict = {}
    replicates: dict[str, torch.Tensor] = {}
    memo: dict = {}  # one score's shared searches (the nearest training rows of the generated samples)
    for name in families:
        family = METRIC_FAMILIES[name]
        context = MetricContext(reference, embedding, features.logits, config.options_for(name, family.options), seed,
                                derive, ci.fid_method if ci else "auto", ci.replicates if ci else 0, extras.train,
                                extras.pixels, memo, extras.labels, extras.images, extras.reference_images)
        resampled = weights if _has_intervals(family) else None
        with timer.phase(name, status_line(family, context, resampled is not None)):
            result = family.compute(context, resampled)
        values.update(result.values)
        replicates.update(result.replicates)
        if result.diagnostics is not None:
            diagnostics[name] = result.diagnostics
    if ci is not None:
        with timer.phase("bootstrap"):
            values.update(intervals(values, replicates, ci.level))
        diagnostics["ci"] = {"level": ci.level, "replicates": ci.replicates, "resampled": "generated samples",
                             "standard_errors": {key: standard_error(value) for key, value in replicates.items()}}
    return values, diagnostics


def _has_intervals(family: Metric) -> bool:
    return any(key.interval for key in family.keys)


def status_line(family: Metric, context: MetricContext, resampled: bool) -> str:
    """The status line of a family's phase: what it computes, at what size."""
    text = family.status(context) if family.status else f"{family.name}: N={context.num_samples}"
    return text + (f", {context.replicates} bootstrap replicates" if resampled else "")


def intervals(values: dict[str, float], replicates: dict[str, torch.Tensor], level: float) -> dict[str, float]:
    """`<key>_ci_low` and `<key>_ci_high` for every metric with replicate values, in the order of `values`."""
    bounds = {}
    for key in [key for key in values if key in replicates]:
        bounds[f"{key}_ci_low"], bounds[f"{key}_ci_high"] = key_interval(key, float(values[key]), replicates[key], level)
    return bounds


def key_interval(key: str, estimate: float, replicates: torch.Tensor, level: float) -> tuple[float, float]:
    """The bootstrap interval of metric `key`, of the kind and within the bounds its family's spec declares
    (a key no family declares: a percentile interval, unbounded)."""
    spec = key_spec(key)
    if spec is None:
        return interval(estimate, replicates, level)
    return interval(estimate, replicates, level, spec.interval or "percentile", spec.bounds)


@dataclass(frozen=True)
class Described:
    """What a record says was compared, besides the values: the input's name and N, the reference, the extractor."""

    input_name: str
    num_samples: int
    reference: ReferenceStats
    extractor: FeatureExtractor
    seed: int
    train: ReferenceStats | None = None  # the training set of the memorization families


def make_record(described: Described, values: dict, diagnostics: dict, origin: Origin) -> Record:
    """One self-describing record: what was compared, the metric values, diagnostics and provenance."""
    real, extractor = described.reference, described.extractor
    return Record(
        input=described.input_name, reference=real.name, extractor=extractor.label,
        num_samples=described.num_samples, num_reference=real.num_samples, seed=described.seed,
        values=values,  # NaN / infinity (an empty histogram, a KL against an empty bin) become null
        diagnostics=diagnostics,
        provenance={
            "ganeval": __version__,
            "torch": torch.__version__,
            "torch_fidelity": fidelity_version(),
            "extractor_weights_sha256": extractor.weights_sha256,
            "preprocessing": extractor.preprocessing,
            "reference_key": real.card.key if real.card else None,
            "reference_content_sha256": real.card.content_sha256 if real.card else None,
            "reference_from_cache": real.from_cache,
            "device": str(extractor.device),
            # the arithmetic of this side's extraction; a cached reference may have come from the other path
            "extraction_path": extraction_path(extractor),
            **({"generator": origin.generator} if origin.generator else {}),
            **({"train": _train_provenance(described.train)} if described.train is not None else {}),
        },
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        ci_level=origin.settings.ci_level, preset=origin.preset, **_checkpoint_fields(origin),
    )


def _train_provenance(train: ReferenceStats) -> dict:
    """What the memorization metrics compared with: the training set's name, size and cache key."""
    return {"name": train.name, "num_samples": train.num_samples, "reference_key": train.key,
            "content_sha256": train.card.content_sha256 if train.card else None}


def _checkpoint_fields(origin: Origin) -> dict:
    """A checkpoint's record fields: which samples (run, file, step, weights, latents) and what was asked."""
    info = origin.checkpoint
    if info is None:
        return {}
    return {"run": info.run, "checkpoint": info.checkpoint, "step": info.step, "ema": info.ema,
            "latents": info.latents, "settings": origin.settings}


@dataclass(frozen=True)
class Origin:
    """Where the input came from and what was asked: a checkpoint's run, file, step, ema and latents (None for other
    inputs), the settings a sweep compares (recorded for checkpoints; ci_level for every record), the preset, and a
    user's generator (recorded in the provenance)."""

    checkpoint: CheckpointInfo | None
    settings: ScoreSettings
    preset: str | None = None  # the protocol the score followed (--preset)
    generator: dict | None = None  # a user's generator: its name, file hash, latents, labels and output range
