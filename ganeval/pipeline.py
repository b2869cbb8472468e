"""score(source, reference, config): one feature pass per side, then every requested metric -> a Record.

The steps, each owned by its module: the input is read (ganeval.data: datasets, files, checkpoints), the reference
parsed once (ganeval.reference.parse_reference) and loaded or extracted through the ReferenceStore (its cache), the
extractor chosen and created (ganeval.features), the input extracted, and the metrics computed on the features
(ganeval.evaluate, which does no I/O). A checkpoint's record is appended to its run's metrics.jsonl.

>>> from ganeval.config import ScoreConfig
>>> record = score("ring8", "ring8", ScoreConfig(metrics=("fid", "prdc"), seed=1, progress=False, use_cache=False))
>>> record["fid"] < 0.01 and record["coverage"] > 0.9
True
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import BootstrapOptions, DataConfig, ExtractorConfig, ScoreConfig
from .data import AtMost, Samples, load_source
from .data.checkpoint import GENERATION_BATCH, CheckpointInfo, CheckpointSource, is_checkpoint
from .data.generator import GeneratorSource, LabelSpec, LatentSpec, labels_at
from .data.samples import warn_if_scales_differ
from .device import resolve_device
from .distributed import world
from .errors import InputError
from .metrics import METRIC_FAMILIES, parse_metrics
from .metrics.context import Extras, TrainSide
from .evaluate import (
    Described,
    MetricOptions,
    Needs,
    Origin,
    check_sample_counts,
    compute_metrics,
    make_record,
    plan,
    select_families,
)
from .features import FeatureExtractor, create
from .features.extract import Features, extract_shared
from .reference import (
    CachedReference,
    MomentsReference,
    ReferenceSpec,
    ReferenceStats,
    ReferenceStore,
    SamplesReference,
    check_card,
    check_comparable,
    check_dimensions,
    check_image_shapes,
    check_rows,
    parse_reference,
    probe_dimension,
    save_moments,
)
from .reference.checks import shape_text, warn_if_foreign_to_classifier
from .progress import showing
from .records import Record, ScoreSettings
from .runs import Checkpoint
from .timing import PhaseTimer
from .trackers import Trackers


@dataclass(frozen=True)
class Scored:
    """A score's record and the input's features it was computed from (to save their moments, say)."""

    record: Record
    features: Features


@dataclass(frozen=True)
class Input:
    """The samples to score and, for a checkpoint, the record fields that say where they came from."""

    samples: Samples
    checkpoint: CheckpointInfo | None = None
    generator: dict | None = None  # a GeneratorSource's provenance (name, file hash, latents, labels, output range)


def score(source: str | Path | Samples, reference: str | Path | Samples | ReferenceSpec,
          config: ScoreConfig | None = None, store: ReferenceStore | None = None) -> Record:
    """Score `source` against `reference` under `config` (default ScoreConfig()); returns the record.

    `source`: a source spec (see ganeval.data), a checkpoint .pt or Samples. `reference`: the same, `ref:KEY`, a
    mean/covariance .npz, or a parsed ReferenceSpec. `store` (default: the cache folder, unless
    config.use_cache is False) keeps reference statistics; a sweep passes one store to every score."""
    return score_in_full(source, reference, config, store).record


def score_in_full(source, reference, config: ScoreConfig | None = None,
                  store: ReferenceStore | None = None) -> Scored:
    """score(), also returning the input's features. One extractor: several are score_all's."""
    config = config or ScoreConfig()
    if len(config.extractor.names) > 1:
        raise InputError(f"--extractor {config.extractor.name} names several extractors: each gives a record of "
                         f"its own (ganeval.pipeline.score_all)")
    return score_all(source, reference, config, store)[0]


def score_all(source, reference, config: ScoreConfig | None = None,
              store: ReferenceStore | None = None) -> list[Scored]:
    """One score per extractor of `config.extractor.names`, in that order, from one read of the input (decoded or
    generated once) and of the reference. Each record's timing holds the shared reading phases and its own."""
    config = config or ScoreConfig()
    store = store or ReferenceStore(enabled=config.use_cache)
    main = world().is_main  # under torchrun, joined or not, rank 0 writes
    shared = PhaseTimer(config.progress if main else False)
    with showing(config.progress if main else False):  # the bars of decoding, generation and extraction
        labels_first = _wants_reference_labels(source)  # a conditional generator drawing the reference's labels
        if labels_first:
            with shared.phase("reference"):
                side = read_reference(reference, config, store)
            source = with_reference_labels(source, side)
        generated = is_checkpoint(source) or isinstance(source, GeneratorSource)
        with shared.phase("generate" if generated else "decode"):  # where the input's time goes
            given = open_input(source, config)
        if not labels_first:  # (a generator drawing the reference's labels has no run whose data is a default)
            with shared.phase("reference"):
                side = read_reference(reference, config, store, default_train(config, given))
        configs = [config.for_extractor(name) for name in config.extractor.names]
        timers = [shared.fork() for _ in configs]
        # every extractor planned (created, its weights found, the reference checked and extracted) before the
        # input is: a second extractor's missing weights then fail the score before the first one's record is written
        plans = [prepare(given.samples, side, each, store, timer) for each, timer in zip(configs, timers)]
        scores = [_score_with(given, planned, reference, each, store, timer)
                  for planned, each, timer in zip(plans, configs, timers)]
    run = given.checkpoint.run_dir if given.checkpoint else None
    if run is not None and main:  # a checkpoint's records go to its run's metrics.jsonl, where tables read them
        for scored in scores:
            run.append(scored.record)
    return scores


def _score_with(given: Input, planned: Plan, reference, config: ScoreConfig, store: ReferenceStore,
                timer: PhaseTimer) -> Scored:
    """The score of the input read once under one planned extractor: the input's features, the metrics."""
    with timer.phase("extract_input"):
        features = extract_shared(given.samples, planned.extractor, keep_rows=planned.needs.input_rows,
                                  logits=planned.needs.logits, batch_size=planned.batch_size,
                                  progress=config.progress)
    settings = ScoreSettings.asked(reference if isinstance(reference, (str, Path)) else None, config)
    origin = Origin(given.checkpoint, settings, config.preset, given.generator)
    return Scored(record_of(features, given.samples, planned, origin, config, store, timer), features)


def record_of(features: Features, samples: Samples, planned: Plan, origin: Origin, config: ScoreConfig,
              store: ReferenceStore, timer: PhaseTimer, labels: torch.Tensor | None = None) -> Record:
    """The record of the input's `features` (of `samples`, which name the input in the record and in messages)
    under a planned extractor: every family's values, diagnostics and timing. `labels`: the class each sample was
    asked for (default: the samples' own class labels, where they have them)."""
    real = planned.reference
    check_dimensions(real, features.embedding.dim, planned.extractor, samples)
    device = features.embedding.device
    derive = _deriver(store, real, device, timer)
    train = None
    if planned.train is not None:
        train = TrainSide(planned.train, _deriver(store, planned.train, device, timer), planned.train_pixels)
    # the Evaluator streams its images through the extractor and keeps only a probe of them: no pixel space there
    streamed = len(samples) != features.embedding.num_samples
    pixels = pixel_rows(samples) if planned.train_pixels is not None and not streamed else None
    if labels is None and not streamed:
        labels = class_labels(samples)
    images = samples.data if planned.reference_images is not None and not streamed else None
    extras = Extras(train, pixels, labels, images, planned.reference_images)
    values, diagnostics = compute_metrics(planned.families, real, features, config, derive, timer, extras)
    diagnostics["timing"] = timer.summary()
    described = Described(samples.name, features.embedding.num_samples, real, planned.extractor, config.seed,
                          planned.train)
    return make_record(described, values, diagnostics, origin)


@dataclass(frozen=True)
class Plan:
    """What a score extracts and computes: the reference's statistics, the extractor, the families, Needs and the
    batch size."""

    reference: ReferenceStats
    extractor: FeatureExtractor
    families: list[str]
    needs: Needs
    batch_size: int  # --batch-size, or what auto found
    num_reference: int | None = None  # the reference's rows, for the sample-count checks (None: moments only)
    train: ReferenceStats | None = None  # --train's statistics (rows kept), for the memorization families
    train_pixels: torch.Tensor | None = None  # its images as pixel rows, for the families that read pixels
    reference_images: Samples | None = None  # the reference's images and labels, for the families that train on them

    def check_counts(self, config: ScoreConfig, num_input: int) -> None:
        """The options the input's sample count rules out (KID's subset size, PRDC's k), as check_sample_counts."""
        check_sample_counts(self.families, config, num_input, self.num_reference)


@dataclass(frozen=True)
class ReferenceSide:
    """The reference as read once for every extractor: its parsed spec, and either its samples (a seeded subset)
    or the statistics a cached entry or moments file holds."""

    spec: ReferenceSpec
    samples: Samples | None
    loaded: ReferenceStats | None
    train: ReferenceSide | None = None  # --train, read the same way, when a family asked for reads it


def read_reference(reference, config: ScoreConfig, store: ReferenceStore,
                   train_default: str | None = None) -> ReferenceSide:
    """Parse `reference` once and read it: its samples (subset as config says), or its stored statistics; and
    the training set (`config.train`, else `train_default`: a checkpoint's run data) when a family asked for reads
    it."""
    spec = _parsed(reference)
    if len(config.extractor.names) > 1 and not isinstance(spec, SamplesReference):
        raise InputError(f"reference {spec.name} holds statistics of one feature space, but --extractor "
                         f"{config.extractor.name} names {len(config.extractor.names)}; give the reference's source "
                         f"samples (see `ganeval ref show`) to score several extractors")
    samples, loaded = _reference_side(spec, config, store)
    return ReferenceSide(spec, samples, loaded, read_train(config, store, train_default))


def _parsed(reference) -> ReferenceSpec:
    if isinstance(reference, (SamplesReference, CachedReference, MomentsReference)):
        return reference
    return parse_reference(reference)


def wants_train(config: ScoreConfig) -> bool:
    """Whether a family asked for reads the training set (none of the defaults does)."""
    return config.metrics is not None and any(METRIC_FAMILIES[name].train for name in parse_metrics(config.metrics))


def read_train(config: ScoreConfig, store: ReferenceStore, default: str | None = None) -> ReferenceSide | None:
    """The training set of `config.train` (else `default`), whole (no --reference-samples subset or preset cap),
    when a family asked for reads it. Refused here, before any extraction: a family that needs one without it, and
    --train when no family asked for reads it (never ignored; it would also split a sweep's settings)."""
    if not wants_train(config):
        if config.train is not None:
            raise InputError(f"--train {config.train}: none of the metrics asked reads a training set; it is for "
                             f"{', '.join(name for name, family in METRIC_FAMILIES.items() if family.train)}")
        return None
    train = config.train if config.train is not None else default
    if train is None:
        needing = ", ".join(name for name in parse_metrics(config.metrics) if METRIC_FAMILIES[name].train)
        raise InputError(f"metrics {needing} compare generated samples with the training set: give --train REF "
                         f"(what the generator was trained on, e.g. fashion-mnist:train)")
    spec = _parsed(train)
    if isinstance(spec, MomentsReference):
        raise InputError(f"--train {spec.name}: a mean/covariance file keeps no rows; the memorization metrics need "
                         f"the training samples or a cached reference built from them (ganeval ref build)")
    samples, loaded = _reference_side(spec, config.replace(reference_samples=None, reference_cap=None), store)
    return ReferenceSide(spec, samples, loaded)


def default_train(config: ScoreConfig, given: Input) -> str | None:
    """A ganeval checkpoint's training data, --train when none is given: the run says what it trained on. The
    config keeps train None, so a sweep's settings (what was asked) stay those of the command line."""
    return given.checkpoint.data if given.checkpoint is not None and wants_train(config) else None


def prepare(samples: Samples, side: ReferenceSide, config: ScoreConfig, store: ReferenceStore,
            timer: PhaseTimer, *, check_counts: bool = True, chosen: Chosen | None = None) -> Plan:
    """Everything between reading the reference and the input's extraction, each check as early as it can be
    made: the extractor chosen (or `chosen` already), the families and sample counts checked (`check_counts`
    False: `samples` are not all the input, whose count the caller checks with Plan.check_counts), the
    reference's statistics extracted or found (under torchrun, by every rank together)."""
    spec, real_samples, loaded = side.spec, side.samples, side.loaded
    with timer.phase("extractor"):
        chosen = chosen or choose(samples, side, config)
        batch_size = tune(chosen.extractor, config, samples)
    num_reference = len(real_samples) if real_samples is not None else None if loaded.rows is None else len(loaded.rows)
    if check_counts:  # fail before extracting (and caching) anything; a moments file has no rows to count
        check_sample_counts(chosen.families, config, len(samples), num_reference)
    with timer.phase("reference"):
        real = _reference_stats(spec, real_samples, loaded, chosen.extractor, chosen.needs, batch_size, config, store)
    if isinstance(spec, MomentsReference):  # fail before a long extraction, not after it
        check_dimensions(real, probe_dimension(samples, chosen.extractor), chosen.extractor, samples)
    train, pixels = None, None
    if side.train is not None:
        with timer.phase("train"):
            train = _reference_stats(side.train.spec, side.train.samples, side.train.loaded, chosen.extractor,
                                     dataclasses.replace(chosen.needs, reference_rows=True), batch_size, config, store)
        check_held_out(real, train, side.train.spec.name, chosen.families)
        pixels = train_pixels(samples, side.train.samples, chosen.families)
    images = reference_images(side, chosen.families)
    return Plan(real, chosen.extractor, chosen.families, chosen.needs, batch_size, num_reference, train, pixels,
                images)


def reference_images(side: ReferenceSide, families: list[str]) -> Samples | None:
    """The reference's images, for a family that trains on them (cas); refused in one line for statistics."""
    if not any(METRIC_FAMILIES[name].images for name in families):
        return None
    if side.samples is None or side.samples.kind != "images":
        needing = ", ".join(name for name in families if METRIC_FAMILIES[name].images)
        raise InputError(f"{needing}: reference {side.spec.name} holds no images (statistics or points); give the "
                         f"labelled images it came from (e.g. fashion-mnist:test)")
    return side.samples


def class_labels(samples: Samples) -> torch.Tensor | None:
    """The samples' class labels (one per sample), or None: none, or the class triples of stacked images."""
    labels = samples.labels
    return labels if labels is not None and labels.dim() == 1 else None


def check_held_out(real: ReferenceStats, train: ReferenceStats, train_name: str, families: list[str]) -> None:
    """Refuse a reference that is the training set itself for the families that read it as a held-out split (C_T,
    FLD): they would compare the training set with itself. (A reference that is a subset of the training set, a
    --reference-samples cut of it, is not detected: its content differs.)"""
    needing = [name for name in families if METRIC_FAMILIES[name].held_out]
    same = None not in (real.card, train.card) and real.card.content_sha256 == train.card.content_sha256
    if needing and same:
        raise InputError(f"--train {train_name} and reference {real.name} are the same samples: {', '.join(needing)} "
                         f"compare the training set with a split held out from it; give one the generator did not "
                         f"train on (e.g. fashion-mnist:test)")


def train_pixels(samples: Samples, train: Samples | None, families: list[str]) -> torch.Tensor | None:
    """The training images as float32 pixel rows, when a family reads pixel space and both sides are images of
    one shape (None otherwise: the family reports its pixel keys as not computed)."""
    if train is None or samples.kind != "images" or not any(METRIC_FAMILIES[name].pixels for name in families):
        return None
    if tuple(train.data.shape[1:]) != tuple(samples.data.shape[1:]):
        raise InputError(f"--train {train.name} holds {shape_text(train)} images but input {samples.name} holds "
                         f"{shape_text(samples)}: pixel-space copies compare images of one shape")
    return pixel_rows(train)


def pixel_rows(samples: Samples) -> torch.Tensor:
    """Images as float32 rows of their pixels on the [0, 255] scale."""
    return samples.data.reshape(len(samples), -1).to(torch.float32)


@dataclass(frozen=True)
class Chosen:
    """The extractor for an input, with its speed knobs applied, the families it computes and what they need."""

    extractor: FeatureExtractor
    families: list[str]
    needs: Needs


def choose(samples: Samples, side: ReferenceSide, config: ScoreConfig) -> Chosen:
    """The extractor, families and Needs for `samples` against the reference `side`, after the checks that need
    no features (sizes, scales, shapes). Local to this process: ganeval.Evaluator.update calls it on one rank's
    own images, where nothing may wait for the other ranks."""
    spec, real_samples, loaded = side.spec, side.samples, side.loaded
    check_comparable(samples, real_samples)
    if real_samples is not None:
        warn_if_scales_differ(samples, real_samples)  # [0, 1] against [0, 255]: a scale, not a difference
    extractor = choose_extractor(config, samples, spec, loaded)
    apply_knobs(extractor, config)
    check_image_shapes(samples, real_samples, extractor)
    if side.train is not None:
        check_train(samples, side.train, extractor)
    families = select_families(config.metrics, extractor, moments_only=isinstance(spec, MomentsReference))
    info = real_samples.info if real_samples is not None else loaded.info
    return Chosen(extractor, families, plan(families, info, explicit=config.metrics is not None, ci=config.ci))


def check_train(samples: Samples, train: ReferenceSide, extractor: FeatureExtractor) -> None:
    """The training set compares like the reference: samples of the input's kind and shape, or a cached entry of
    the input's extractor."""
    try:
        check_comparable(samples, train.samples)
        check_image_shapes(samples, train.samples, extractor)
    except InputError as error:  # the same checks as the reference's, said of --train
        raise InputError(f"--train {train.spec.name}: {error}") from None
    if train.loaded is not None and train.loaded.card is not None:
        check_card(train.loaded.card, extractor, f"--train {train.spec.name}")
    elif train.loaded is not None:
        raise InputError(f"--train {train.spec.name} keeps no rows; give the training samples")


def apply_knobs(extractor: FeatureExtractor, config: ScoreConfig) -> None:
    """`config`'s speed knobs on `extractor`: the fast path (channels_last, cuDNN autotuning on CUDA) unless
    `config.exact`, TF32 where asked."""
    from .features.speed import apply_fast_path

    if not config.exact:
        apply_fast_path(extractor)
    extractor.allow_tf32 = config.allow_tf32


def tune(extractor: FeatureExtractor, config: ScoreConfig, samples: Samples) -> int:
    """Apply `config`'s speed knobs to `extractor` (the fast path or --exact, TF32: apply_knobs) and return the extraction
    batch size: the configured one, or for `--batch-size auto` the largest that fits on the device (rank 0's under
    torchrun, since every rank must cut the same batches)."""
    from .features.speed import largest_batch

    apply_knobs(extractor, config)
    if config.batch_size != "auto":
        return config.batch_size
    processes = world()
    return processes.broadcast(largest_batch(extractor, samples.data[:1]) if processes.decides else None)


def open_input(source, config: ScoreConfig) -> Input:
    """The samples to score: a seeded subset of `config.num_samples` (seed + 1: never the reference's subset), or
    the samples a checkpoint or a GeneratorSource generates from the latent stream of `config.seed` (under
    torchrun each rank generates a block of whole batches)."""
    if isinstance(source, GeneratorSource):
        if config.num_samples is None:
            raise InputError(f"generator {source.name}: say how many samples to generate (--num-samples N)")
        if config.latents != "normal" or config.ema:
            flag = f"--latents {config.latents}" if config.latents != "normal" else "--ema"
            raise InputError(f"{flag} applies to ganeval checkpoints; a generator of your own is sampled as given "
                             f"(its latents: --latent-kind)")
        count, processes = config.num_samples, world()
        block = source.generate(count, config.seed, processes.shard(count, unit=source.batch_size))
        labels = labels_at(range(count), source.labels, config.seed)  # a function of (seed, i): no gather needed
        return Input(Samples(processes.gather_rows(block), source.name, labels), generator=source.provenance())
    if is_checkpoint(source):
        checkpoint = CheckpointSource(source, ema=config.ema, latents=config.latents,
                                      device=resolve_device(config.device))
        count, processes = checkpoint.count(config.num_samples), world()
        block = checkpoint.generate(count, config.seed, processes.shard(count, unit=GENERATION_BATCH))
        labels = checkpoint.labels(count, config.seed)  # the class of each sample (None: unconditional)
        # each rank generated whole batches of its own
        samples = Samples(processes.gather_rows(block), checkpoint.name, labels)
        return Input(samples, checkpoint.info)
    if config.latents != "normal":
        raise InputError(f"--latents {config.latents} applies to checkpoints; {source} is not one")
    if isinstance(source, Samples):
        return Input(source.subset(config.num_samples, config.seed + 1))
    data = config.data
    return Input(load_source(source, num_samples=config.num_samples, seed=config.seed + 1, data_root=data.data_root,
                             download=data.download, max_image_pixels=data.max_image_pixels,
                             workers=data.workers))


def _wants_reference_labels(source) -> bool:
    return isinstance(source, GeneratorSource) and source.labels.kind == "data" and not source.labels.weights


def with_reference_labels(source: GeneratorSource, side: ReferenceSide) -> GeneratorSource:
    """`source` drawing its labels from the reference's label histogram (`--labels data`, as stylegan does)."""
    weights = reference_label_weights(side)
    return dataclasses.replace(source, labels=dataclasses.replace(source.labels, weights=weights))


def reference_label_weights(side: ReferenceSide) -> tuple[float, ...]:
    """The reference's label histogram (class i's count at i), what `--labels data` draws from."""
    labels = side.samples.labels if side.samples is not None else None
    if side.samples is None:
        raise InputError(f"--labels data: reference {side.spec.name} holds statistics, which keep no labels; give "
                         f"the labelled source it came from (see `ganeval ref show`)")
    if labels is None or labels.dim() != 1:
        raise InputError(f"--labels data: reference {side.spec.name} has no class labels to draw from; give "
                         f"--labels uniform --num-classes K, or a labelled reference (fashion-mnist:train)")
    return tuple(torch.bincount(labels.long()).double().tolist())


def _reference_side(spec: ReferenceSpec, config: ScoreConfig, store: ReferenceStore):
    """(reference Samples, None) for samples, a seeded subset with `reference_samples` (or of at most
    `reference_cap`, a preset's: only those decoded); (None, ReferenceStats) for a cached entry or a moments file,
    read once here."""
    if isinstance(spec, SamplesReference):
        cap = config.reference_cap
        count = AtMost(cap) if cap is not None and config.reference_samples is None else config.reference_samples
        return _reference_samples(spec, config, count), None
    if config.reference_samples is not None:
        raise InputError(f"--reference-samples {config.reference_samples}: reference {spec.name} holds statistics, "
                         f"not samples; give the source it came from (see `ganeval ref show`) to take a subset")
    loaded = store.load(spec)
    if None not in (config.reference_cap, loaded.num_samples) and loaded.num_samples > config.reference_cap:
        raise InputError(f"--preset {config.preset} takes at most {config.reference_cap} reference samples, but "
                         f"{spec.name} holds statistics of {loaded.num_samples}; build it with --num-samples "
                         f"{config.reference_cap} or give the source it came from")
    return None, loaded


def _reference_samples(spec: SamplesReference, config: ScoreConfig, count: int | AtMost | None) -> Samples:
    if isinstance(spec.source, Samples):
        return spec.source.subset(count, config.seed)
    if isinstance(count, int) and count < 2:
        raise InputError(f"--reference-samples {count}: needs at least 2 samples")
    data = config.data
    return load_source(spec.source, num_samples=count, seed=config.seed, data_root=data.data_root,
                       download=data.download, max_image_pixels=data.max_image_pixels, workers=data.workers)


def _reference_stats(spec: ReferenceSpec, samples: Samples | None, loaded: ReferenceStats | None,
                     extractor: FeatureExtractor, needs: Needs, batch_size: int, config: ScoreConfig,
                     store: ReferenceStore) -> ReferenceStats:
    """The reference's statistics in the extractor's space: extracted (or found in the store) for samples; a cached
    entry checked against the extractor and the rows the metrics need."""
    if samples is not None:
        return store.from_samples(samples, extractor, rows=needs.reference_rows, batch_size=batch_size,
                                  progress=config.progress)
    if isinstance(spec, CachedReference):
        check_card(loaded.card, extractor, spec.spec)
        if needs.reference_rows:
            check_rows(loaded, spec.spec)
    return loaded


def _deriver(store: ReferenceStore, real: ReferenceStats, device, timer: PhaseTimer):
    """MetricContext.derive: the store's get_or_compute, on the input's `device` (a cached reference arrives on the
    CPU), timed as a phase of its own when it computes (over 60,000 rows the radii take longer than the metrics)."""
    def derive(kind: str, parameter: int, compute, status: str, phase: str | None = None):
        def timed():
            with timer.phase(phase or f"reference_{kind}", status):
                return compute(real.rows.to(device))
        return store.get_or_compute(real, kind, parameter, timed)

    return derive


def choose_extractor(config: ScoreConfig, samples: Samples, spec: ReferenceSpec | None = None,
                     loaded: ReferenceStats | None = None) -> FeatureExtractor:
    """The configured extractor, created on the configured device ('auto': see resolve_extractor_name), or the
    caller's own extractor object."""
    if config.extractor.instance is not None:
        return config.extractor.instance
    name = resolve_extractor_name(config.extractor.name, samples, spec, loaded)
    return create_for(name, config.extractor.options, config.device, config.extractor.asked)


def create_for(name: str, extractor_options: dict[str, dict] | None, device,
               asked: tuple[str, ...] | None = None) -> FeatureExtractor:
    """Create extractor `name` with its options; options meant for an extractor not `asked` (default: `name`
    alone) are an error, not ignored."""
    extractor_options = extractor_options or {}
    asked = asked or (name,)
    for other in extractor_options:
        if other not in asked and other != name and extractor_options[other]:
            shown = name if len(asked) == 1 else ", ".join(asked)  # 'auto' resolved: say what it picked
            raise InputError(f"options for {other} were given, but the extractor is {shown}; choose it with "
                             f"--extractor {other}")
    return create(name, device=resolve_device(device), **extractor_options.get(name, {}))


def resolve_extractor_name(name: str, samples: Samples, spec: ReferenceSpec | None = None,
                           loaded: ReferenceStats | None = None) -> str:
    """'auto': the extractor a cached reference was built with; else `identity` for vectors, `fmnist-classifier`
    for 28x28 images (grey or stacked) and `inception-v3-compat` for other images."""
    if name != "auto":
        return name
    if loaded is not None and loaded.card is not None:
        return loaded.card.extractor
    if samples.kind == "vectors":
        return "identity"
    if tuple(samples.data.shape[2:]) != (28, 28):
        return "inception-v3-compat"
    if spec is not None:
        warn_if_foreign_to_classifier(spec)
    return "fmnist-classifier"


# The keyword form of score() (ganeval.score): today's calls, e.g. score("ring8", "ring8", "fid,prdc", seed=1).
_CONFIG_KEYWORDS = {"num_samples", "reference_samples", "seed", "batch_size", "device", "ema", "latents", "use_cache",
                    "progress", "train", "exact"}
_DATA_KEYWORDS = {"data_root", "download", "max_image_pixels", "workers"}


GENERATOR_KEYWORDS = {"latent_dim", "latent_kind", "labels", "num_classes", "label_arg", "generator_kwargs",
                       "output_range"}


def score_keywords(samples, reference, metrics: str | list[str] | None = None, **keywords) -> dict:
    """score() with keywords: `extractor` (a name, or an extractor object), `extractor_options` ({name: options}),
    `options` (MetricOptions), `ci` (a level such as 0.95, or BootstrapOptions), `save_stats` (write the input's
    feature mean and covariance as a pytorch-fid .npz), and ScoreConfig's and DataConfig's fields (num_samples,
    reference_samples, seed, batch_size, device, ema, latents, use_cache, progress, exact, data_root, download,
    max_image_pixels, workers, and `train`: the training set of the memorization metrics), and `log`: trackers
    that receive the record ("tensorboard:DIR", "mlflow:URI", "wandb[:PROJECT]", one or a list; docs/trackers.md).
    Returns the record.

    `samples` may be a generator (a callable or nn.Module: latents [, labels] -> images), scored on `num_samples`
    samples drawn with `latent_dim` (required), `latent_kind` ('normal', 'uniform', 'sobol'), `labels` ('uniform'
    with `num_classes`, 'data', or a sequence of labels), `label_arg` (the keyword the labels go to; default: the
    second positional argument), `generator_kwargs` (more keyword arguments) and `output_range` ('-1,1', '0,1',
    'uint8'); see ganeval.data.generator.

    >>> record = score_keywords("ring8", "ring8", "fid,prdc", seed=1, progress=False, use_cache=False)
    >>> record["fid"] < 0.01 and record["coverage"] > 0.9
    True
    """
    save_stats = keywords.pop("save_stats", None)
    trackers = Trackers(keywords.pop("log", None))  # a bad sink fails before any work
    generator_keywords = {key: keywords.pop(key) for key in GENERATOR_KEYWORDS & set(keywords)}
    config = config_from_keywords(metrics, keywords)
    if save_stats is not None:
        from .reference import check_stats_path

        check_stats_path(save_stats)
    if _is_generator(samples):
        samples = generator_source(samples, device=resolve_device(config.device), **generator_keywords)
    elif generator_keywords:
        raise TypeError(f"score() got generator keyword arguments ({', '.join(sorted(generator_keywords))}) for "
                        f"samples that are not a generator")
    scored = score_in_full(samples, reference, config)
    if save_stats is not None:
        save_moments(save_stats, scored.features.embedding)
    if trackers:  # after score_in_full appended a checkpoint's record to its run
        checkpoint = isinstance(samples, (str, Path)) and is_checkpoint(str(samples))
        trackers.log_record(scored.record, Checkpoint(samples).run if checkpoint else None)
    return scored.record.to_json()


def _is_generator(samples) -> bool:
    return isinstance(samples, GeneratorSource) or callable(samples) and not isinstance(samples, (str, Path, Samples))


def generator_source(generator, device: torch.device, **keywords) -> GeneratorSource:
    """A GeneratorSource of `generator` (returned as it is when it is one) from score()'s generator keywords
    (GENERATOR_KEYWORDS: latent_dim, required, latent_kind, labels, num_classes, label_arg, generator_kwargs,
    output_range)."""
    if isinstance(generator, GeneratorSource):
        return generator
    if keywords.get("latent_dim") is None:
        raise InputError(f"{getattr(generator, '__qualname__', type(generator).__name__)}: a generator needs "
                         f"latent_dim (the size of its latent vectors)")
    labels = LabelSpec.of(keywords.get("labels"), keywords.get("num_classes"), keywords.get("label_arg"))
    return GeneratorSource(generator, LatentSpec(keywords["latent_dim"], keywords.get("latent_kind", "normal")), labels,
                           dict(keywords.get("generator_kwargs") or {}), keywords.get("output_range", "-1,1"), device)


def config_from_keywords(metrics, keywords: dict) -> ScoreConfig:
    """The ScoreConfig of score_keywords' arguments; an unknown keyword is a TypeError, as for any function."""
    unknown = set(keywords) - _CONFIG_KEYWORDS - _DATA_KEYWORDS - {"extractor", "extractor_options", "options", "ci"}
    if unknown:
        raise TypeError(f"score() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    ci = keywords.get("ci")
    if ci is not None and not isinstance(ci, BootstrapOptions):
        ci = BootstrapOptions(level=float(ci))
    extractor = keywords.get("extractor", "auto")
    options = keywords.get("options") or MetricOptions()
    return ScoreConfig(
        metrics=None if metrics is None else tuple(metrics.split(",") if isinstance(metrics, str) else metrics),
        metric_options=options.by_family(),
        extractor=ExtractorConfig(extractor, keywords.get("extractor_options") or {}) if isinstance(extractor, str)
        else ExtractorConfig(extractor.name, instance=extractor),
        ci=ci,
        data=DataConfig(**{key: keywords[key] for key in _DATA_KEYWORDS if key in keywords}),
        **{key: keywords[key] for key in _CONFIG_KEYWORDS if key in keywords},
    )
