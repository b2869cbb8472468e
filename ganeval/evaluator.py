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

import datetime as _dt
import os

import torch

from .config import DEFAULT_DIST_TIMEOUT_S
from .data import Samples
from .data.generator import check_output, convert_output
from .distributed import World, world
from .errors import InputError
from .evaluate import Origin
from .features.extract import FeatureAccumulator, extract_shared, gather_features
from .pipeline import (
    GENERATOR_KEYWORDS,
    Input,
    Plan,
    ReferenceSide,
    config_from_keywords,
    generator_source,
    open_input,
    prepare,
    read_reference,
    record_of,
    with_reference_labels,
)
from .records import Record, ScoreSettings
from .reference import ReferenceStore
from .runs import RunDir
from .timing import PhaseTimer


class Evaluator:
    """Scores of one generator (or of the images a loop gives) against `reference` under fixed settings.

    `reference` and `metrics` as for ganeval.score; `run` a folder whose metrics.jsonl receives each record (so
    `ganeval compare`, `report` and `gate` read the user's own runs); the other keywords are score()'s
    (num_samples, extractor, seed, device, batch_size, ci, ...) and its generator keywords (latent_dim,
    latent_kind, labels, num_classes, label_arg, generator_kwargs, output_range), plus `dist_timeout` (seconds).

    >>> evaluator = Evaluator("ring8", "fid", num_samples=500, latent_dim=2, use_cache=False)  # doctest: +SKIP
    >>> evaluator.evaluate(lambda z: z * 0.05, step=0)["fid"]   # doctest: +SKIP
    """

    def __init__(self, reference, metrics: str | list[str] | None = None, *, run: str | os.PathLike | None = None,
                 **keywords) -> None:
        self.dist_timeout = float(keywords.pop("dist_timeout", DEFAULT_DIST_TIMEOUT_S))
        self.generator_keywords = {key: keywords.pop(key) for key in GENERATOR_KEYWORDS & set(keywords)}
        self.config = config_from_keywords(metrics, {"progress": False, **keywords})
        if len(self.config.extractor.names) > 1:
            raise InputError(f"an Evaluator scores one feature space; extractor {self.config.extractor.name} names "
                             f"{len(self.config.extractor.names)}: make one Evaluator each")
        self.reference = reference
        self.run = RunDir(run) if run is not None else None
        self.store = ReferenceStore(enabled=self.config.use_cache)
        self.settings = ScoreSettings.asked(reference if isinstance(reference, (str, os.PathLike)) else None,
                                            self.config)
        self._side: ReferenceSide | None = None
        self._plan: Plan | None = None
        self._shape: tuple | None = None
        self._accumulator: FeatureAccumulator | None = None
        self._probe: Samples | None = None
        self._monitor = None

    # --- a generator -----------------------------------------------------------------------------------------

    def evaluate(self, generator, step: int | None = None, checkpoint: str | None = None) -> Record:
        """Score `generator` (a callable or nn.Module, or a GeneratorSource) on `num_samples` samples; returns the
        record, also appended to the run (with `step`, and `checkpoint` as its label) when the Evaluator has one."""
        self._barrier("evaluate")
        if self.config.num_samples is None:
            raise InputError("Evaluator.evaluate: say how many samples to generate (num_samples=N)")
        source = generator_source(generator, device=self._device(), **self.generator_keywords)
        side = self._reference_side()
        if source.labels.kind == "data" and not source.labels.weights:
            source = with_reference_labels(source, side)
        timer = PhaseTimer(False)
        with timer.phase("generate"):
            given = open_input(source, self.config)
        plan = self._planned(given.samples, timer)
        with timer.phase("extract_input"):
            features = extract_shared(given.samples, plan.extractor, keep_rows=plan.needs.input_rows,
                                      logits=plan.needs.logits, batch_size=plan.batch_size, progress=False)
        return self._recorded(features, given, plan, timer, step, checkpoint)

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
        # Samples of at least two images, for the checks made when the Evaluator plans (a batch may hold one)
        batch = Samples(images if len(images) > 1 else images.repeat(2, 1, 1, 1), "Evaluator.update")
        plan = self._planned(batch, PhaseTimer(False))
        if self._probe is None:
            self._probe = batch
        if self._accumulator is None:
            self._accumulator = self._accumulator_of(plan)
        self._accumulator.add(images.to(plan.extractor.device))

    def compute(self, step: int | None = None, checkpoint: str | None = None) -> Record:
        """The record of every image added since the last reset(), from every rank; appended to the run (with
        `step` and `checkpoint`) when the Evaluator has one. The images stay added: reset() drops them."""
        self._barrier("compute")
        if self._accumulator is None:
            raise InputError("Evaluator.compute: no images were added (call update(images) first)")
        features = gather_features(world(), self._accumulator.features(), self._plan.extractor.device)
        given = Input(Samples(self._probe.data, "Evaluator.update"))
        return self._recorded(features, given, self._plan, PhaseTimer(False), step, checkpoint)

    def reset(self) -> None:
        """Drop the images added by update(); the reference and the extractor stay ready."""
        self._accumulator = None

    # --- shared ------------------------------------------------------------------------------------------------

    def _reference_side(self) -> ReferenceSide:
        if self._side is None:  # read (and, for samples, subset) once: the statistics follow at the first plan
            self._side = read_reference(self.reference, self.config, self.store)
        return self._side

    def _planned(self, samples: Samples, timer: PhaseTimer) -> Plan:
        """The extractor, families and reference statistics, made at the first call and kept; later inputs must
        have the first one's shape."""
        shape = tuple(samples.data.shape[1:])
        if self._plan is None:
            self._plan = prepare(samples, self._reference_side(), self.config, self.store, timer)
            self._shape = shape
        elif shape != self._shape:
            raise InputError(f"the Evaluator was first given samples of shape {self._shape}, now {shape}: one "
                             f"Evaluator scores one kind of sample")
        return self._plan

    def _accumulator_of(self, plan: Plan) -> FeatureAccumulator:
        return FeatureAccumulator(plan.extractor, keep_rows=plan.needs.input_rows, logits=plan.needs.logits)

    def _recorded(self, features, given: Input, plan: Plan, timer: PhaseTimer, step: int | None,
                  checkpoint: str | None) -> Record:
        """The record of `features`, labelled with the run, step and checkpoint; appended by rank 0."""
        origin = Origin(None, self.settings, self.config.preset, given.generator)
        record = record_of(features, given.samples, plan, origin, self.config, self.store, timer)
        if self.run is not None or step is not None or checkpoint is not None:
            record = record.labelled(self.run.name if self.run else None, step, checkpoint)
        if self.run is not None and world().is_main:
            self.run.append(record)
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
        if self._monitor is None:
            self._monitor = torch.distributed.new_group(backend="gloo")
        return self._monitor


def _missing_rank_message(call: str, processes: World, error: RuntimeError, timeout: float) -> str:
    """One line: which rank did not reach Evaluator.CALL in time (torch names it in its message), from this rank."""
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return (f"Evaluator.{call} (rank {processes.rank} of {processes.size}): a process did not reach it within "
            f"{timeout:g} s ({detail})")
