"""score(): one feature pass per input and extractor, then every requested metric on those features -> a record."""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from . import __version__
from .data import Samples, load_source
from .data.samples import warn_if_scales_differ
from .device import resolve_device
from .errors import InputError
from .features import FeatureExtractor, FeatureStats, create
from .features.cache import fidelity_version, read_card
from .metrics import METRIC_FAMILIES, parse_metrics
from .metrics.registry import DEFAULT_FAMILIES, DEFAULT_SEED  # noqa: F401 (evaluate.DEFAULT_SEED stays importable)
from .reference import (
    Reference,
    check_comparable,
    check_dimensions,
    check_image_shapes,
    check_stats_path,
    describe_reference,
    extract_features,
    is_cached_reference,
    is_moments_file,
    needs_raw_features,
    probe_dimension,
    resolve_reference,
    save_moments,
    warn_if_foreign_to_classifier,
)
from .metrics.bootstrap import BootstrapOptions, interval, resampling_weights, standard_error
from .metrics.fid import CovarianceFactor, frechet_distance, frechet_replicates, samples_factor, warn_if_few_samples
from .metrics.inception_score import inception_score, inception_score_replicates
from .metrics.infinity import fid_infinity, is_infinity
from .metrics.kid import kid_with_replicates
from .metrics.modes import label_modes, mixture_modes, ndb
from .metrics.prdc import prdc, prdc_replicates
from .runs import append_record
from .timing import PhaseTimer
from .train.loop import checkpoint_samples

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class MetricOptions:
    """Parameters of the metrics; defaults follow torch-fidelity (KID, IS) and prdc (k = 5)."""

    kid_subsets: int = 100
    kid_subset_size: int | None = None  # None: 1000, or the smaller sample count when there are fewer
    prdc_k: int = 5
    is_splits: int = 10
    ndb_bins: int = 100  # K of the K-means bins (Richardson & Weiss)
    ndb_alpha: float = 0.05


def score(
    samples: str | Samples,
    reference: str | Samples,
    metrics: str | list[str] | None = None,
    *,
    extractor: str | FeatureExtractor = "auto",
    extractor_options: dict[str, dict] | None = None,
    num_samples: int | None = None,
    reference_samples: int | None = None,
    seed: int = DEFAULT_SEED,
    batch_size: int = 64,
    device: str | torch.device | None = "auto",
    options: MetricOptions = MetricOptions(),
    progress: bool | None = None,
    use_cache: bool = True,
    data_root: str | None = None,
    download: bool = False,
    ema: bool = False,
    ci: float | BootstrapOptions | None = None,
    latents: str = "normal",
    save_stats: str | Path | None = None,
    max_image_pixels: int | None = None,
) -> dict:
    """Score `samples` (a generator's output) against `reference` and return a record (a JSON-ready dict).

    `samples` takes a source spec (see ganeval.data) or a Samples object; `reference` also takes a cached reference
    (`ref:KEY`) or a mean/covariance .npz (see ganeval.reference). `metrics` takes family names ('fid,is,kid,prdc');
    None means every family the extractor supports. Reference statistics are cached by content (`use_cache`).
    `extractor_options` maps extractor names to their options, e.g. {"inception-v3-compat": {"weights": PATH}}.
    `num_samples` takes a seeded subset of the generated side only (as pytorch-fid and torch-fidelity do);
    `reference_samples` a seeded subset of the reference (default: all of it).
    A checkpoint (.pt) as `samples` is sampled with a seeded latent stream (`ema` picks its EMA weights); the record
    then names the run, checkpoint and step, and is appended to the run's metrics.jsonl; `latents='sobol'` draws
    its latents from a scrambled Sobol sequence.
    `ci` (a level such as 0.95, or BootstrapOptions) adds bootstrap intervals `<key>_ci_low` / `<key>_ci_high`
    computed from the features already extracted (see ganeval.metrics.bootstrap).
    `save_stats` writes the input's feature mean and covariance as a pytorch-fid statistics .npz (`mu`, `sigma`).
    `max_image_pixels` refuses larger images in folders and zips before decoding (default:
    ganeval.data.files.MAX_IMAGE_PIXELS).
    `progress` shows the feature bars and a status line per later phase on stderr (None: when it is a terminal);
    the record's `diagnostics.timing` holds the seconds per phase either way.

    >>> record = score("ring8", "ring8", "fid,prdc", seed=1, progress=False, use_cache=False)
    >>> record["fid"] < 0.01 and record["coverage"] > 0.9
    True
    """
    if not 0 <= seed < 2**32 - 1:
        raise InputError(f"--seed {seed} must be between 0 and 2^32 - 2")
    if ci is not None and not isinstance(ci, BootstrapOptions):
        ci = BootstrapOptions(level=float(ci))
    if save_stats is not None:
        check_stats_path(save_stats)
    timer = PhaseTimer(progress)
    with timer.phase("input"):
        fake, checkpoint_info = _input_samples(samples, num_samples, seed, ema, device, data_root, download, latents,
                                               max_image_pixels)
    if checkpoint_info:  # what a sweep compares to skip checkpoints already scored with the same settings
        checkpoint_info.update(
            reference_argument=str(reference) if isinstance(reference, (str, Path)) else None,
            requested_num_samples=num_samples,
            requested_reference_samples=reference_samples,
            metrics=metrics if metrics is None or isinstance(metrics, str) else ",".join(metrics),
        )
    if ci is not None:
        checkpoint_info["ci_level"] = ci.level  # the record says its intervals' level (and a sweep compares it)
    moments_only = is_moments_file(reference)
    with timer.phase("reference"):
        reference = _reference_source(reference, reference_samples, seed, data_root, download, max_image_pixels)
    check_comparable(fake, reference)
    if isinstance(reference, Samples):
        warn_if_scales_differ(fake, reference)  # [0, 1] against [0, 255]: a scale, not a difference
    with timer.phase("extractor"):
        if isinstance(extractor, str):
            extractor = create_for(resolve_extractor_name(extractor, fake, reference), extractor_options, device)
    check_image_shapes(fake, reference, extractor)
    families = select_families(metrics, extractor, moments_only=moments_only)
    if isinstance(reference, Samples):  # fail before extracting (and caching) anything
        check_sample_counts(families, options, len(fake), len(reference))
    with timer.phase("reference"):
        real = resolve_reference(
            reference, extractor, families, batch_size=batch_size, progress=progress, use_cache=use_cache,
            num_samples=None, seed=seed, data_root=data_root, download=download,
        )
    describe_reference(real, reference)
    if moments_only:  # fail before a long extraction, not after it
        check_dimensions(real, probe_dimension(fake, extractor), extractor, fake)
    with timer.phase("extract_input"):
        fake_features = extract_features(fake, extractor, keep_raw=_keep_raw(families, ci),
                                         logits=_logits_need(metrics, families, real), batch_size=batch_size,
                                         progress=progress)
    check_dimensions(real, fake_features["features"].dim, extractor, fake)
    if save_stats is not None:
        save_moments(save_stats, fake_features["features"])
    values, diagnostics = compute_metrics(families, real, fake_features, seed, options, ci, timer)
    if use_cache:
        real.save_derived()
    diagnostics["timing"] = timer.summary()
    run_dir = checkpoint_info.pop("run_dir", None)
    record = make_record(fake, real, extractor, seed, values, diagnostics, checkpoint_info)
    if run_dir is not None:
        append_record(run_dir, record)
    return record


def _reference_source(reference: str | Samples, reference_samples: int | None, seed: int, data_root,
                      download: bool, max_image_pixels: int | None = None) -> str | Samples:
    """The reference as Samples (a seeded subset with `reference_samples`), or as given when it holds statistics."""
    if isinstance(reference, Samples):
        return reference.subset(reference_samples, seed)
    if is_cached_reference(reference) or is_moments_file(reference):
        if reference_samples is not None:
            raise InputError(f"--reference-samples {reference_samples}: reference {reference} holds statistics, not "
                             f"samples; give the source it came from (see `ganeval ref show`) to take a subset")
        return reference
    if reference_samples is not None and reference_samples < 2:
        raise InputError(f"--reference-samples {reference_samples}: needs at least 2 samples")
    return load_source(reference, num_samples=reference_samples, seed=seed, data_root=data_root, download=download,
                       max_image_pixels=max_image_pixels)


def _logits_need(metrics, families: list[str], real: Reference) -> str | None:
    """What extraction does about logits: IS chosen by default is dropped when the extractor turns out to give
    none; asked for (or needed by is_inf, image modes: the classes the logits give), they are required."""
    logits = ("required" if metrics is not None else "optional") if "is" in families else None
    if "is_inf" in families or ("modes" in families and real.mixture is None):
        logits = "required"
    return logits


def _keep_raw(families: list[str], ci: BootstrapOptions | None) -> bool:
    """Whether the input's feature rows are kept, not just their moments."""
    return needs_raw_features(families) or ci is not None or "fid_inf" in families


def _input_samples(samples, num_samples, seed, ema, device, data_root, download, latents,
                   max_image_pixels=None) -> tuple[Samples, dict]:
    """The samples to score, and {run, checkpoint, step, ema, run_dir} when they come from a checkpoint."""
    if isinstance(samples, (str, Path)) and str(samples).endswith(".pt"):
        generated, info = checkpoint_samples(samples, num_samples, seed, ema=ema, device=resolve_device(device),
                                             latents=latents)
        return Samples(generated, str(samples)), info
    if latents != "normal":
        raise InputError(f"--latents {latents} applies to checkpoints; {samples} is not one")
    if isinstance(samples, Samples):
        return samples.subset(num_samples, seed + 1), {}
    return load_source(samples, num_samples=num_samples, seed=seed + 1, data_root=data_root, download=download,
                       max_image_pixels=max_image_pixels), {}


def make_record(fake: Samples, real: Reference, extractor: FeatureExtractor, seed: int, values: dict,
                diagnostics: dict, extra: dict) -> dict:
    """One self-describing JSON-ready record: what was compared, the metric values, diagnostics and provenance."""
    return {
        "schema": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
        "input": fake.name,
        "reference": real.name,
        "extractor": extractor.name,
        "num_samples": len(fake),
        "num_reference": real.num_samples,
        "seed": seed,
        # NaN / infinity (an empty mode histogram, a KL against an empty bin) are not JSON: null instead
        **{key: value if not isinstance(value, float) or math.isfinite(value) else None for key, value in values.items()},
        "diagnostics": diagnostics,
        "provenance": {
            "ganeval": __version__,
            "torch": torch.__version__,
            "torch_fidelity": fidelity_version(),
            "extractor_weights_sha256": extractor.weights_sha256,
            "preprocessing": extractor.preprocessing,
            "reference_key": real.card.key if real.card else None,
            "reference_content_sha256": real.card.content_sha256 if real.card else None,
            "reference_from_cache": real.from_cache,
            "device": str(extractor.device),
        },
    }


def create_for(name: str, extractor_options: dict[str, dict] | None, device) -> FeatureExtractor:
    """Create extractor `name` with its options; options meant for another extractor are an error, not ignored."""
    extractor_options = extractor_options or {}
    for other in extractor_options:
        if other != name and extractor_options[other]:
            raise InputError(f"options for {other} were given, but the extractor is {name}; choose it with --extractor {other}")
    return create(name, device=resolve_device(device), **extractor_options.get(name, {}))


def resolve_extractor_name(name: str, samples: Samples, reference: str | Samples | None = None) -> str:
    """'auto': the extractor a cached reference was built with; else `identity` for vectors, `fmnist-classifier`
    for 28x28 images (grey or stacked) and `inception-v3-compat` for other images."""
    if name != "auto":
        return name
    if reference is not None and is_cached_reference(reference):
        return read_card(reference).extractor
    if samples.kind == "vectors":
        return "identity"
    if tuple(samples.data.shape[2:]) != (28, 28):
        return "inception-v3-compat"
    if reference is not None:
        warn_if_foreign_to_classifier(reference)
    return "fmnist-classifier"


def select_families(metrics: str | list[str] | None, extractor: FeatureExtractor, moments_only: bool = False) -> list[str]:
    """The requested families, or all that the extractor supports; IS needs logits, a mean/covariance file FID only."""
    if metrics is None:
        families = [name for name in DEFAULT_FAMILIES if name != "is" or extractor.logits_layer]
        return ["fid"] + (["is"] if "is" in families else []) if moments_only else families
    families = parse_metrics(metrics)
    for name in ("is", "is_inf"):
        if name in families and not extractor.logits_layer:
            raise InputError(f"metric '{name}' needs class logits, which extractor '{extractor.name}' does not produce")
    if moments_only and needs_raw_features(families):
        wanted = ", ".join(name for name in families if METRIC_FAMILIES[name].needs_raw_features and name != "is")
        raise InputError(f"metrics {wanted} need raw reference features; a mu/sigma .npz reference supports fid only")
    return families


def compute_metrics(
    families: list[str],
    real: Reference,
    fake: dict[str, FeatureStats],
    seed: int,
    options: MetricOptions,
    ci: BootstrapOptions | None = None,
    timer: PhaseTimer | None = None,
) -> tuple[dict[str, float], dict]:
    """Every requested metric from the extracted features; returns (values by key, diagnostics).

    With `ci`, every metric that supports it also gets its bootstrap interval (`<key>_ci_low`, `<key>_ci_high`),
    from one set of resampling weights shared by all metrics, seeded by `seed`. `timer` times each phase (a family
    includes its bootstrap replicates; 'bootstrap' is drawing the weights and the intervals) and shows its status."""
    features = fake["features"]
    if real.dim != features.dim:
        raise InputError(f"feature dimensions differ: reference has {real.dim}, input has {features.dim}")
    timer = timer or PhaseTimer(progress=False)
    device = features.device  # a cached reference arrives on the CPU: compute where the features are
    weights = None
    if ci is not None:
        with timer.phase("bootstrap", f"bootstrap: {ci.replicates} resamples of {features.num_samples}"):
            weights = resampling_weights(features.num_samples, ci.replicates, seed, device)
    inputs = MetricInputs(real, fake, seed, options, weights, ci.fid_method if ci else "auto")
    prepare_reference(families, inputs, timer)
    values: dict[str, float] = {}
    diagnostics: dict = {}
    replicates: dict[str, torch.Tensor] = {}
    for family in families:
        with timer.phase(family, family_status(family, inputs)):
            family_values, family_diagnostics, family_replicates = FAMILY_COMPUTATIONS[family](inputs)
        values.update(family_values)
        replicates.update(family_replicates)
        if family_diagnostics is not None:
            diagnostics[family] = family_diagnostics
    if ci is not None:
        with timer.phase("bootstrap"):
            values.update(intervals(values, replicates, ci.level))
        diagnostics["ci"] = {"level": ci.level, "replicates": ci.replicates, "resampled": "generated samples",
                             "standard_errors": {key: standard_error(value) for key, value in replicates.items()}}
    return values, diagnostics


@dataclass(frozen=True)
class MetricInputs:
    """What each metric family reads: both sides' features, the seed, the options and the bootstrap weights."""

    real: Reference
    fake: dict[str, FeatureStats]
    seed: int
    options: MetricOptions
    weights: torch.Tensor | None  # replicates x N resampling counts, None without --ci
    fid_method: str = "auto"

    @property
    def features(self) -> FeatureStats:
        return self.fake["features"]

    @property
    def device(self) -> torch.device:
        return self.features.device


Computed = tuple[dict, "dict | None", dict]  # (values, diagnostics, replicate values by key)


def _fid(inputs: MetricInputs) -> Computed:
    real, features, weights = inputs.real, inputs.features, inputs.weights
    eigenbasis = {} if weights is not None else None
    result = fid_of_stats(real, features, eigenbasis)
    diagnostics, replicates = result.diagnostics(), {}
    if weights is not None:
        replicates["fid"], diagnostics["bootstrap_method"] = frechet_replicates(
            real.mean, real.covariance, features.raw(), weights, factor1=reference_factor(real),
            sigma2=features.covariance(), method=inputs.fid_method, eigenbasis=eigenbasis,
        )
    return {"fid": result.value}, diagnostics, replicates


def _fid_infinity(inputs: MetricInputs) -> Computed:
    real, device = inputs.real, inputs.device
    extrapolation = fid_infinity(real.mean.to(device), real.covariance.to(device), inputs.features.raw(),
                                 seed=inputs.seed, factor1=reference_factor(real))
    return {"fid_inf": extrapolation.value}, extrapolation.diagnostics(), {}


def _inception_score(inputs: MetricInputs) -> Computed:
    if "logits" not in inputs.fake:  # IS chosen by default, and the extractor gives no logits
        return {}, None, {}
    logits, splits, seed = inputs.fake["logits"].raw(), inputs.options.is_splits, inputs.seed
    mean, std = inception_score(logits, splits=splits, seed=seed)
    replicates = {}
    if inputs.weights is not None:
        replicates["is_mean"] = inception_score_replicates(logits, inputs.weights, splits=splits, seed=seed)
    return {"is_mean": mean, "is_std": std}, None, replicates


def _inception_score_infinity(inputs: MetricInputs) -> Computed:
    if "logits" not in inputs.fake:
        raise InputError("metric 'is_inf' needs class logits, which this extractor does not produce")
    extrapolation = is_infinity(inputs.fake["logits"].raw(), seed=inputs.seed)
    return {"is_inf": extrapolation.value}, extrapolation.diagnostics(), {}


def _kid_subset_size(inputs: MetricInputs) -> int:
    """The explicit size, else torch-fidelity's 1000 or the smaller side when there are fewer."""
    if inputs.options.kid_subset_size is not None:
        return inputs.options.kid_subset_size
    return min(1000, len(inputs.real.raw), inputs.features.num_samples)


def _kid(inputs: MetricInputs) -> Computed:
    real, features, options = inputs.real.raw.to(inputs.device), inputs.features, inputs.options
    subset_size = _kid_subset_size(inputs)
    mean, std, replicates = kid_with_replicates(real, features.raw(), inputs.weights, options.kid_subsets,
                                                subset_size, inputs.seed, device=inputs.device)
    replicates = {} if replicates is None else {"kid_mean": replicates}
    return {"kid_mean": mean, "kid_std": std}, {"subsets": options.kid_subsets, "subset_size": subset_size}, replicates


def _prdc(inputs: MetricInputs) -> Computed:
    real, features, k = inputs.real, inputs.features, inputs.options.prdc_k
    arguments = dict(k=k, real_radii=real.knn_radii(k, inputs.device), device=inputs.device)
    if inputs.weights is None:
        return prdc(real.raw, features.raw(), **arguments), {"k": k}, {}
    values, replicates = prdc_replicates(real.raw, features.raw(), inputs.weights, **arguments)
    return values, {"k": k}, replicates


def _modes(inputs: MetricInputs) -> Computed:
    values, diagnostics = mode_statistics(inputs.real, inputs.fake, inputs.weights)
    replicates = values.pop("replicates", {})
    return values, diagnostics, replicates


def _ndb(inputs: MetricInputs) -> Computed:
    real, options = inputs.real, inputs.options
    bins = options.ndb_bins
    result = ndb(real.raw.to(inputs.device), inputs.features.raw(), k=bins, alpha=options.ndb_alpha,
                 centres=real.ndb_centres(bins, inputs.device), weights=inputs.weights)
    diagnostics = {"bins": bins, "alpha": options.ndb_alpha, "bin_proportions": result["bin_proportions"],
                   "reference_proportions": result["reference_proportions"]}
    return {key: result[key] for key in ("ndb", "ndb_fraction", "ndb_js")}, diagnostics, result.get("replicates", {})


def prepare_reference(families: list[str], inputs: MetricInputs, timer: PhaseTimer) -> None:
    """Check the k-NN and binning options, then compute what the reference side needs once and its cache keeps
    (PRDC's k-NN radii, NDB's K-means centres), each a phase of its own: over 60,000 rows they take longer than
    the metrics."""
    real, features, options = inputs.real, inputs.features, inputs.options
    check_sample_counts(families, options, features.num_samples, len(real.raw) if real.raw is not None else None)
    if "prdc" in families:
        k = options.prdc_k
        if k not in real.derived.knn_radii:
            with timer.phase("reference_knn_radii", f"reference k-NN radii: k={k} over {len(real.raw)} rows"):
                real.knn_radii(k, inputs.device)
    if "ndb" in families:
        bins = options.ndb_bins
        if bins not in real.derived.ndb_centres:
            with timer.phase("ndb_kmeans", f"ndb K-means: {bins} bins over {len(real.raw)} reference rows"):
                real.ndb_centres(bins, inputs.device)


def check_sample_counts(families: list[str], options: MetricOptions, num_fake: int, num_real: int | None) -> None:
    """The options that depend on the sample counts (KID's subset size, PRDC's k, NDB's bins), checked as soon as
    both counts are known: before any extraction when the reference is samples. `num_real` None: moments only."""
    if num_real is None:
        return
    size = options.kid_subset_size
    if "kid" in families and size is not None and not 2 <= size <= min(num_real, num_fake):
        raise InputError(f"kid: subset size {size} must be between 2 and the number of samples (real {num_real}, "
                         f"fake {num_fake}); lower --kid-subset-size or use more samples")
    k = options.prdc_k
    if "prdc" in families and not 1 <= k < min(num_real, num_fake):
        raise InputError(f"prdc: k={k} must be at least 1 and below the number of samples "
                         f"(reference {num_real}, input {num_fake})")
    if "ndb" in families and not 2 <= options.ndb_bins <= num_real:
        raise InputError(f"ndb: {options.ndb_bins} bins need at least as many reference samples (have {num_real})")


def family_status(family: str, inputs: MetricInputs) -> str:
    """The status line of a metric family's phase: what it computes, at what size."""
    options, count = inputs.options, inputs.features.num_samples
    if family == "kid":
        text = f"kid: {options.kid_subsets} subsets of {_kid_subset_size(inputs)}"
    elif family == "prdc":
        text = f"prdc: k={options.prdc_k}, {count} x {len(inputs.real.raw)} samples"
    elif family == "ndb":
        text = f"ndb: {count} samples into {options.ndb_bins} bins"
    elif family in ("fid", "fid_inf"):
        text = f"{family}: d={inputs.real.dim}, N={count}"
    else:
        text = f"{family}: N={count}"
    if inputs.weights is not None and family not in ("fid_inf", "is_inf"):
        text += f", {len(inputs.weights)} bootstrap replicates"
    return text


FAMILY_COMPUTATIONS = {"fid": _fid, "fid_inf": _fid_infinity, "is": _inception_score, "is_inf": _inception_score_infinity,
                       "kid": _kid, "prdc": _prdc, "modes": _modes, "ndb": _ndb}


def intervals(values: dict[str, float], replicates: dict[str, torch.Tensor], level: float) -> dict[str, float]:
    """`<key>_ci_low` and `<key>_ci_high` for every metric with replicate values, in the order of `values`."""
    bounds = {}
    for key in [key for key in values if key in replicates]:
        bounds[f"{key}_ci_low"], bounds[f"{key}_ci_high"] = interval(key, float(values[key]), replicates[key], level)
    return bounds


def mode_statistics(real: Reference, fake: dict[str, FeatureStats], weights: torch.Tensor | None = None) -> tuple[dict, dict]:
    """Mode coverage of the samples: against the mixture's centres for a ring8/grid25 reference, else over the
    classes the extractor's logits give (10 Fashion-MNIST classes, 1,000 stacked triples). Returns (values,
    diagnostics with the per-mode histogram); values hold 'replicates' when bootstrap `weights` are given."""
    if real.mixture is not None:
        result = mixture_modes(fake["features"].raw(), real.mixture.means, real.mixture.std, weights=weights)
        source = f"mixture {real.mixture.name}"
    elif "logits" in fake:
        logits = fake["logits"].raw()
        num_modes = logits.shape[1]
        labels = real.labels if real.num_label_modes == num_modes else None  # not ImageNet classes vs CIFAR labels
        result = label_modes(logits.argmax(1), num_modes, labels, weights=weights)
        result["reverse_kl"] = result.pop("kl_uniform")  # KL(p_hat || uniform), the same key as for mixtures
        if "replicates" in result:
            result["replicates"]["reverse_kl"] = result["replicates"].pop("kl_uniform")
        source = "classes of the extractor's logits"
    else:
        raise InputError("metric 'modes' needs a ring8/grid25 reference or an extractor with class logits")
    counts = result.pop("mode_counts")
    return result, {"source": source, "num_modes": len(counts), "mode_counts": counts}


def reference_factor(real: Reference) -> CovarianceFactor | None:
    """The exact factor of a reference with no more rows than dimensions (its covariance is then singular);
    None lets frechet_distance factor the covariance itself."""
    if real.raw is not None and len(real.raw) <= real.dim:
        return samples_factor(real.raw.to(real.mean.device), real.mean)
    return None


def fid_of_stats(real: Reference, fake: FeatureStats, eigenbasis: dict | None = None):
    """FID from the reference and streaming statistics, using raw rows for the exact low-rank path where kept
    (`eigenbasis`: see frechet_distance)."""
    dim = real.dim
    if real.num_samples is not None:
        warn_if_few_samples(real.num_samples, dim, "reference")
    warn_if_few_samples(fake.num_samples, dim, "input")
    mu2 = fake.mean().to(real.mean.device)
    return frechet_distance(
        real.mean,
        real.covariance,
        mu2,
        fake.covariance(),
        factor1=reference_factor(real),
        fake_features=fake.raw() if fake.keep_raw else None,
        num_real=real.num_samples,
        num_fake=fake.num_samples,
        device=fake.device,
        eigenbasis=eigenbasis,
    )
