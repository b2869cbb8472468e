"""score(): one feature pass per input and extractor, then every requested metric on those features -> a record."""
from __future__ import annotations

import datetime as _dt
import sys
from dataclasses import dataclass

import torch
from tqdm import tqdm

from . import __version__
from .data import Samples, load_source
from .device import resolve_device
from .errors import InputError
from .features import FeatureExtractor, FeatureStats, create
from .metrics import METRIC_FAMILIES, parse_metrics
from .metrics.fid import frechet_distance, samples_factor, warn_if_few_samples
from .metrics.inception_score import inception_score
from .metrics.kid import kid
from .metrics.prdc import prdc

SCHEMA_VERSION = 1
DEFAULT_SEED = 2020  # torch-fidelity's rng_seed: default KID subsets and IS splits match it


@dataclass(frozen=True)
class MetricOptions:
    """Parameters of the metrics; defaults follow torch-fidelity (KID, IS) and prdc (k = 5)."""

    kid_subsets: int = 100
    kid_subset_size: int | None = None  # None: 1000, or the smaller sample count when there are fewer
    prdc_k: int = 5
    is_splits: int = 10


def score(
    samples: str | Samples,
    reference: str | Samples,
    metrics: str | list[str] | None = None,
    *,
    extractor: str | FeatureExtractor = "auto",
    extractor_options: dict | None = None,
    num_samples: int | None = None,
    seed: int = DEFAULT_SEED,
    batch_size: int = 64,
    device: str | torch.device | None = "auto",
    options: MetricOptions = MetricOptions(),
    progress: bool | None = None,
) -> dict:
    """Score `samples` (a generator's output) against `reference` samples and return a record (a JSON-ready dict).

    Both take a source spec (see ganeval.data.load_source) or a Samples object.

    `metrics` takes family names ('fid,is,kid,prdc'); None means every family the extractor supports.

    >>> record = score("ring8", "ring8", "fid,prdc", seed=1, progress=False)
    >>> record["fid"] < 0.01 and record["coverage"] > 0.9
    True
    """
    fake = samples if isinstance(samples, Samples) else load_source(samples, num_samples=num_samples, seed=seed + 1)
    real = reference if isinstance(reference, Samples) else load_source(reference, num_samples=num_samples, seed=seed)
    if fake.kind != real.kind:
        raise InputError(f"{fake.name} holds {fake.kind} but {real.name} holds {real.kind}; compare like with like")
    if isinstance(extractor, str):
        extractor = create(resolve_extractor_name(extractor, fake), device=resolve_device(device), **(extractor_options or {}))
    families = select_families(metrics, extractor)

    fake_features = extract(fake, extractor, families, batch_size, progress, logits=True)
    real_features = extract(real, extractor, families, batch_size, progress, logits=False)
    values, diagnostics = compute_metrics(families, real_features, fake_features, seed, options)
    return {
        "schema": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": fake.name,
        "reference": real.name,
        "extractor": extractor.name,
        "num_samples": len(fake),
        "num_reference": len(real),
        "seed": seed,
        **values,
        "diagnostics": diagnostics,
        "provenance": {
            "ganeval": __version__,
            "torch": torch.__version__,
            "torch_fidelity": _fidelity_version(),
            "extractor_weights_sha256": extractor.weights_sha256,
            "preprocessing": extractor.preprocessing,
            "device": str(extractor.device),
        },
    }


def resolve_extractor_name(name: str, samples: Samples) -> str:
    """'auto' picks `identity` for vectors and `inception-v3-compat` for images."""
    if name != "auto":
        return name
    return "identity" if samples.kind == "vectors" else "inception-v3-compat"


def select_families(metrics: str | list[str] | None, extractor: FeatureExtractor) -> list[str]:
    """The requested families, or all that the extractor supports; IS needs an extractor with logits."""
    if metrics is None:
        return [name for name in METRIC_FAMILIES if name != "is" or extractor.logits_layer]
    families = parse_metrics(metrics)
    if "is" in families and not extractor.logits_layer:
        raise InputError(f"metric 'is' needs class logits, which extractor '{extractor.name}' does not produce")
    return families


def extract(
    samples: Samples,
    extractor: FeatureExtractor,
    families: list[str],
    batch_size: int,
    progress: bool | None,
    *,
    logits: bool,
) -> dict[str, FeatureStats]:
    """One pass over `samples`: streaming statistics per layer, raw rows kept only where a metric needs them."""
    keep_raw = any(METRIC_FAMILIES[name].needs_raw_features and METRIC_FAMILIES[name].layer == "features" for name in families)
    wanted = {extractor.feature_layer: FeatureStats(keep_raw=keep_raw)}
    if logits and "is" in families:
        wanted[extractor.logits_layer] = FeatureStats(keep_raw=True)
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(samples), desc=f"features {samples.name}", unit="sample", disable=not show, leave=False) as bar:
        for batch in samples.batches(batch_size):
            outputs = extractor(batch)
            for layer, stats in wanted.items():
                if layer not in outputs:
                    raise InputError(f"extractor '{extractor.name}' returned no '{layer}' output")
                stats.update(outputs[layer].reshape(outputs[layer].shape[0], -1))
            bar.update(len(batch))
    return {("logits" if layer == extractor.logits_layer else "features"): stats for layer, stats in wanted.items()}


def compute_metrics(
    families: list[str],
    real: dict[str, FeatureStats],
    fake: dict[str, FeatureStats],
    seed: int,
    options: MetricOptions,
) -> tuple[dict[str, float], dict]:
    """Every requested metric from the extracted features; returns (values by key, diagnostics)."""
    values: dict[str, float] = {}
    diagnostics: dict = {}
    real_features, fake_features = real["features"], fake["features"]
    if real_features.dim != fake_features.dim:
        raise InputError(f"feature dimensions differ: reference has {real_features.dim}, input has {fake_features.dim}")
    if "fid" in families:
        result = fid_of_stats(real_features, fake_features)
        values["fid"] = result.value
        diagnostics["fid"] = result.diagnostics()
    if "is" in families:
        values["is_mean"], values["is_std"] = inception_score(fake["logits"].raw(), splits=options.is_splits, seed=seed)
    if "kid" in families:
        subset_size = options.kid_subset_size or min(1000, real_features.num_samples, fake_features.num_samples)
        values["kid_mean"], values["kid_std"] = kid(
            real_features.raw(), fake_features.raw(), options.kid_subsets, subset_size, seed
        )
        diagnostics["kid"] = {"subsets": options.kid_subsets, "subset_size": subset_size}
    if "prdc" in families:
        values.update(prdc(real_features.raw(), fake_features.raw(), k=options.prdc_k))
        diagnostics["prdc"] = {"k": options.prdc_k}
    return values, diagnostics


def fid_of_stats(real: FeatureStats, fake: FeatureStats):
    """FID from streaming statistics, using raw rows for the exact low-rank path where they were kept."""
    dim = real.dim
    warn_if_few_samples(real.num_samples, dim, "reference")
    warn_if_few_samples(fake.num_samples, dim, "input")
    mu1, mu2 = real.mean(), fake.mean()
    factor = samples_factor(real.raw(), mu1) if real.keep_raw and real.num_samples <= dim else None
    return frechet_distance(
        mu1,
        real.covariance(),
        mu2,
        fake.covariance(),
        factor1=factor,
        fake_features=fake.raw() if fake.keep_raw else None,
        num_real=real.num_samples,
        num_fake=fake.num_samples,
    )


def _fidelity_version() -> str | None:
    try:
        from torch_fidelity.version import __version__ as version
    except ImportError:
        return None
    return version
