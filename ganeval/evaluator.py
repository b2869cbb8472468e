"""Evaluator: score a generator inside a training loop, the way `ganeval score` would, every time it is called.

    evaluator = ganeval.Evaluator("fashion-mnist:train", "fid,kid", num_samples=10_000, latent_dim=64, run="runs/mine")
    for step in range(steps):
        ...                                   # the user's own training step
        if step % 1000 == 0:
            record = evaluator.evaluate(generator, step=step)   # appended to runs/mine/metrics.jsonl
    # or, for images the loop generates itself (torchmetrics' update/compute):
    evaluator.update(images)                  # uint8, or floats in the evaluator's output_range
    record = evaluator.compute(step=step)
    evaluator.reset()

The reference is read and extracted once, at the first call (and cached on disk as any score's), and the extractor
is built once. `evaluate` draws sample i of the generator from (seed, i) alone (ganeval.data.generator), so every
call compares the generator on the same latents. Memory stays bounded: streaming moments per call, feature rows only
where a k-NN metric (PRDC, KID, modes) asks for them (N x d float32 of the input).

Under torch.distributed (a default process group initialised, as torchrun training scripts do) every rank calls
`evaluate` (or `update` with its own images, then `compute`): each generates and extracts its block, the record is
the one a single process computes, and rank 0 appends it. Every call starts with a barrier that names a rank that did
not arrive within `dist_timeout` seconds, rather than hanging.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import os

import torch

from .config import DEFAULT_DIST_TIMEOUT_S
from .data import Samples
from .data.generator import GeneratorSource, check_output, convert_output, labels_at
from .distributed import World, world
from .errors import InputError
from .evaluate import Origin
from .features.extract import FeatureAccumulator, gather_features
from .metrics import METRIC_FAMILIES, parse_metrics
from .pipeline import (
    GENERATOR_KEYWORDS,
    Chosen,
    Input,
    Plan,
    ReferenceSide,
    choose,
    config_from_keywords,
    generator_source,
    prepare,
    read_reference,
    record_of,
    reference_label_weights,
)
from .records import Record, ScoreSettings
from .reference import ReferenceStore
from .runs import RunDir
from .timing import PhaseTimer
from .trackers import Trackers


class Evaluator:
    """Scores of one generator (or of the images a loop gives) against `reference` under fixed settings.

    `reference` and `metrics` as for ganeval.score; `run` a folder whose metrics.jsonl receives each record (so
    `ganeval compare`, `report` and `gate` read the user's own runs); the other keywords are score()'s
    (num_samples, extractor, seed, device, batch_size, ci, ...) and its generator keywords (latent_dim,
    latent_kind, labels, num_classes, label_arg, generator_kwargs, output_range), plus `dist_timeout` (seconds);
    `log` the trackers that receive each record after the run's metrics.jsonl ("tensorboard:DIR", "mlflow:URI",
    "wandb[:PROJECT]", one or a list: docs/trackers.md).

    >>> evaluator = Evaluator("ring8", "fid", num_samples=500, latent_dim=2, use_cache=False)  # doctest: +SKIP
    >>> evaluator.evaluate(lambda z: z * 0.05, step=0)["fid"]   # doctest: +SKIP
    """

    def __init__(self, reference, metrics: str | list[str] | None = None, *, run: str | os.PathLike | None = None,
                 log: str | list[str] | None = None, **keywords) -> None:
        self.trackers = Trackers(log)  # a bad sink fails here, before the reference is read
        self.dist_timeout = float(keywords.pop("dist_timeout", DEFAULT_DIST_TIMEOUT_S))
        self.generator_keywords = {key: keywords.pop(key) for key in GENERATOR_KEYWORDS & set(keywords)}
        self.config = config_from_keywords(metrics, {"progress": False, **keywords})
        if len(self.config.extractor.names) > 1:
            raise InputError(f"an Evaluator scores one feature space; extractor {self.config.extractor.name} names "
                             f"{len(self.config.extractor.names)}: make one Evaluator each")
        _refuse_image_families(self.config.metrics)
        self.reference = reference
        self.run = RunDir(run) if run is not None else None
        self.store = ReferenceStore(enabled=self.config.use_cache)
        self.settings = ScoreSettings.asked(reference if isinstance(reference, (str, os.PathLike)) else None,
                                            self.config)
        self._side: ReferenceSide | None = None
        self._label_weights: tuple[float, ...] | InputError | None = None
        self._chosen: Chosen | None = None  # the extractor and what it keeps: chosen by the first call
        self._plan: Plan | None = None  # and the reference's statistics: made by the first collective call
        self._shape: tuple | None = None
        self._accumulator: FeatureAccumulator | None = None
        self._probe: Samples | None = None
        self._monitor = None
        if world().distributed:
            self._monitor_group()

    # --- a generator -----------------------------------------------------------------------------------------

    def evaluate(self, generator, step: int | None = None, checkpoint: str | None = None) -> Record:
        """Score `generator` (a callable or nn.Module, or a GeneratorSource) on `num_samples` samples; returns the
        record, also appended to the run (with `step`, and `checkpoint` as its label) when the Evaluator has one.

        The samples stream through the extractor a batch at a time (each rank generating its own block), so memory
        holds one batch of images, not N."""
        self._barrier("evaluate")
        count = self.config.num_samples
        if count is None:
            raise InputError("Evaluator.evaluate: say how many samples to generate (num_samples=N)")
        source = generator_source(generator, device=self._device(), **self.generator_keywords)
        if source.labels.kind == "data" and not source.labels.weights:
            source = dataclasses.replace(source, labels=dataclasses.replace(source.labels,
                                                                            weights=self._reference_labels()))
        timer = PhaseTimer(False)
        with timer.phase("generate"):
            first = Samples(source.generate(count, self.config.seed, range(min(count, 2))), source.name)
        plan = self._planned(first, timer, count)
        features = self._streamed(source, count, plan, timer)
        given = Input(first, generator=source.provenance())
        labels = labels_at(range(count), source.labels, self.config.seed)  # what each sample was asked for
        return self._recorded(features, given, plan, timer, step, checkpoint, labels)

    def _streamed(self, source: GeneratorSource, count: int, plan: Plan, timer: PhaseTimer):
        """This rank's block of the `count` samples, generated and extracted a batch at a time, then every rank's
        features. Generation batches are whole extraction batches, so the features are those of one pass over all
        the samples (the extraction cuts the same batches for any number of processes)."""
        processes = world()
        unit = plan.batch_size * max(1, source.batch_size // plan.batch_size)
        block = processes.shard(count, unit=unit)
        accumulator = FeatureAccumulator(plan.extractor, keep_rows=plan.needs.input_rows, logits=plan.needs.logits)
        for start in range(block.start, block.stop, unit):
            with timer.phase("generate"):
                images = source.generate(count, self.config.seed, range(start, min(start + unit, block.stop)))
            with timer.phase("extract_input"):
                for batch in images.split(plan.batch_size):
                    accumulator.add(batch.to(plan.extractor.device))
        return gather_features(processes, accumulator.features(), plan.extractor.device)

    # --- images the loop generates -----------------------------------------------------------------------------

    def update(self, images: torch.Tensor) -> None:
        """Add a batch of generated images: uint8 N x C x H x W, or floats in the Evaluator's output_range (default
        -1,1); under torch.distributed each rank adds its own."""
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            raise InputError(f"Evaluator.update takes a batch of images N x C x H x W, got "
                             f"{getattr(images, 'shape', type(images).__name__)}")
        output_range = "uint8" if images.dtype == torch.uint8 else self.generator_keywords.get("output_range", "-1,1")
        images = images.detach().cpu()
        check_output(images, len(images), output_range, "the images given to Evaluator.update")
        images = convert_output(images, output_range)
        # Samples of at least two images, for the checks made when the Evaluator chooses (a batch may hold one)
        batch = Samples(images if len(images) > 1 else images.repeat(2, 1, 1, 1), "Evaluator.update")
        chosen = self._chose(batch)  # this rank alone: under torch.distributed, ranks add their images apart
        if self._accumulator is None:
            self._accumulator = FeatureAccumulator(chosen.extractor, keep_rows=chosen.needs.input_rows,
                                                   logits=chosen.needs.logits)
        if self._probe is None:
            self._probe = batch
        self._accumulator.add(images.to(chosen.extractor.device))

    def compute(self, step: int | None = None, checkpoint: str | None = None) -> Record:
        """The record of every image added since the last reset(), from every rank; appended to the run (with
        `step` and `checkpoint`) when the Evaluator has one. The images stay added: reset() drops them."""
        self._barrier("compute")
        processes = world()
        added = processes.gather(0 if self._accumulator is None else self._accumulator.count)
        if 0 in added:  # every rank says so, rather than one raising while the others wait in the gather below
            empty = [str(rank) for rank, count in enumerate(added) if count == 0]
            raise InputError("Evaluator.compute: no images were added (call update(images) first)"
                             + (f" on rank {', '.join(empty)} of {processes.size}" if processes.distributed else ""))
        timer = PhaseTimer(False)
        plan = self._planned(self._probe, timer, sum(added))  # the reference's statistics: every rank together
        features = gather_features(processes, self._accumulator.features(), plan.extractor.device)
        return self._recorded(features, Input(self._probe), plan, timer, step, checkpoint)

    def reset(self) -> None:
        """Drop the images added by update(); the reference and the extractor stay ready."""
        self._accumulator = None

    # --- shared ------------------------------------------------------------------------------------------------

    def _reference_side(self) -> ReferenceSide:
        if self._side is None:  # read (and, for samples, subset) once: the statistics follow at the first plan
            self._side = read_reference(self.reference, self.config, self.store)
        return self._side

    def _reference_labels(self) -> tuple[float, ...]:
        """The reference's label histogram (`labels="data"`), taken once, with the reference's samples (which
        the first plan drops); the error of a reference without labels is kept as well."""
        if self._label_weights is None:
            try:
                self._label_weights = reference_label_weights(self._reference_side())
            except InputError as error:
                self._label_weights = error
        if isinstance(self._label_weights, InputError):
            raise self._label_weights
        return self._label_weights

    def _chose(self, samples: Samples) -> Chosen:
        """The extractor, families and Needs, chosen at the first call and kept; later inputs must have the first
        one's shape."""
        shape = tuple(samples.data.shape[1:])
        if self._chosen is None:
            side = self._reference_side()
            if self._label_weights is None:  # the labels' histogram (or why there is none), before the images go
                try:
                    self._reference_labels()
                except InputError:
                    pass  # kept, raised if labels="data" is ever asked
            self._chosen, self._shape = choose(samples, side, self.config), shape
        elif shape != self._shape:
            raise InputError(f"the Evaluator was first given samples of shape {self._shape}, now {shape}: one "
                             f"Evaluator scores one kind of sample")
        return self._chosen

    def _planned(self, samples: Samples, timer: PhaseTimer, count: int) -> Plan:
        """The chosen extractor with the reference's statistics (extracted by every rank together, at the first
        evaluate or compute) and its batch size; the options checked against the input's `count`."""
        chosen = self._chose(samples)
        if self._plan is None:
            self._plan = prepare(samples, self._reference_side(), self.config, self.store, timer, check_counts=False,
                                 chosen=chosen)
            self._side = dataclasses.replace(self._side, samples=None)  # its statistics are in the plan
        self._plan.check_counts(self.config, count)
        return self._plan

    def _recorded(self, features, given: Input, plan: Plan, timer: PhaseTimer, step: int | None,
                  checkpoint: str | None, labels: torch.Tensor | None = None) -> Record:
        """The record of `features` (of samples asked for `labels`, where a conditional generator's), labelled with
        the run, step and checkpoint; appended by rank 0."""
        origin = Origin(None, self.settings, self.config.preset, given.generator)
        record = record_of(features, given.samples, plan, origin, self.config, self.store, timer, labels)
        if self.run is not None or step is not None or checkpoint is not None:
            record = record.labelled(self.run.name if self.run else None, step, checkpoint)
        if self.run is not None and world().is_main:
            self.run.append(record)
        if self.trackers:
            self.trackers.log_record(record, self.run)
        return record

    def _device(self) -> torch.device:
        from .device import resolve_device

        return resolve_device(self.config.device)

    def _barrier(self, call: str) -> None:
        """Under torch.distributed, every rank meets here; a rank that does not arrive within dist_timeout seconds
        is named in the error every rank raises, instead of a hang (a monitored barrier on a gloo group)."""
        processes = world()
        if not processes.distributed:
            return
        monitor = self._monitor_group()
        try:
            torch.distributed.monitored_barrier(monitor, timeout=_dt.timedelta(seconds=self.dist_timeout))
        except RuntimeError as error:
            raise InputError(_missing_rank_message(call, processes, error, self.dist_timeout)) from error

    def _monitor_group(self):
        """A gloo group for the monitored barrier (NCCL has none), made with the same timeout: it is collective
        itself, so it is made where every rank makes it, in __init__ when a process group is up, else at the first
        call."""
        if self._monitor is None:
            self._monitor = torch.distributed.new_group(backend="gloo",
                                                        timeout=_dt.timedelta(seconds=self.dist_timeout))
        return self._monitor


def _refuse_image_families(metrics) -> None:
    """Refuse, before anything is generated, the families that train on the generated images themselves (cas): the
    Evaluator streams its samples through the extractor and keeps none of them."""
    needing = [name for name in parse_metrics(metrics or ()) if METRIC_FAMILIES[name].images]
    if needing:
        raise InputError(f"{', '.join(needing)}: an Evaluator streams its samples and keeps no images to train on; "
                         f"score a checkpoint or a sample folder with `ganeval score` (or ganeval.score)")


def _missing_rank_message(call: str, processes: World, error: RuntimeError, timeout: float) -> str:
    """One line: which rank did not reach Evaluator.CALL in time (torch names it in its message), from this rank."""
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return (f"Evaluator.{call} (rank {processes.rank} of {processes.size}): a process did not reach it within "
            f"{timeout:g} s ({detail})")
