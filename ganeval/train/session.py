"""The run mechanics around the training loop (ganeval.train.loop.train): opening the run folder, resuming, the time
budget, the progress bar, checkpoints and their scores, and stopping on a signal.

`open_run` checks the folder and the config, builds the Trainer (restored from the last checkpoint when resuming)
and writes config.toml. `session(...)` is the context the loop runs in: it installs the SIGINT/SIGTERM handlers and
the bar, and turns a second Ctrl-C into TrainingInterrupted after keeping the finished steps. Under torchrun every
decision that ends or shapes the loop (the clock, a signal) is rank 0's, broadcast, so all ranks stop together.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic, perf_counter

import torch
from tqdm import tqdm

from ..atomic import write_text_atomically
from ..data.checkpoint import load_checkpoint
from ..distributed import World, world
from ..errors import InputError
from ..progress import is_shown
from ..runs import Checkpoint, RunDir, checkpoint_name
from ..training_log import drop_lines_after
from .config import TrainConfig
from .run_folder import check_resumed_config, clear_old_run, prepare_run_folder
from .stop_signals import StopRequest, stop_requests
from .trainer import Trainer, TrainingInterrupted, create_trainer, draw_picture, restore, write_checkpoint

CheckpointHook = Callable[[Path, int, bool], "dict | None"]


def open_run(config: TrainConfig, run: RunDir, *, device: torch.device, resume: bool | Collection[str] = False,
             overwrite: bool = False, data_root: str | None = None) -> tuple[Trainer, Checkpoint | None]:
    """(the Trainer, the checkpoint it resumed from or None): the folder checked (see train()), the trainer built and
    restored, the old run's files removed where `overwrite` replaces it, and config.toml written."""
    resume, changing = _resume_options(resume)
    processes = _training_world(config)
    replaced = prepare_run_folder(run, resume=resume, overwrite=overwrite) if processes.is_main else None
    processes.broadcast(None)  # the others look at the folder once rank 0 has checked it
    saved = run.checkpoints(allow_none=True) if resume else []
    start = load_checkpoint(saved[-1].path, map_location=device) if saved else None
    if start is not None:
        check_resumed_config(run, config, start["config"], changing)  # before loading data, which may take long
    trainer = create_trainer(config, device, data_root)
    trainer.world = processes
    if start is not None:
        restore(trainer, start)
    if processes.is_main:
        if start is not None:  # the steps after the checkpoint are trained again: their old lines go
            drop_lines_after(run.training_file, trainer.step)
        clear_old_run(run, replaced)  # only now: a new run that cannot start (data, networks) leaves the old one
        run.path.mkdir(parents=True, exist_ok=True)
        write_text_atomically(run.config_file, config.to_toml())
    return trainer, saved[-1] if saved else None


@dataclass
class Session:
    """One train() call's mechanics: the clock of `max_minutes`, the bar, checkpoints and the stop requests."""

    trainer: Trainer
    run: RunDir
    on_checkpoint: CheckpointHook | None
    requested: StopRequest
    bar: tqdm
    status: dict[str, str] = field(default_factory=dict)  # the last score, shown on the bar

    def __post_init__(self) -> None:
        self._clock_zero = monotonic() - self.trainer.seconds  # a resumed run's earlier sessions count

    def begin(self, resumed_from: Checkpoint | None) -> bool:
        """Write step 0's checkpoint (the untrained generator: the baseline of every metric curve), or complete the
        one a run resumes from; True when a resumed run has no time left (a new run always takes a step)."""
        trainer = self.trainer
        if resumed_from is None:
            self.checkpoint(last=False)
            return False
        stop = self.out_of_time()
        with _left_out_of_rate(self.bar):
            last = stop or trainer.step >= trainer.config.steps
            self.status.update(_score_summary(complete_checkpoint(trainer, resumed_from, self.on_checkpoint, last)))
        return stop

    def out_of_time(self) -> bool:
        """Whether the time budget is spent (rank 0's clock decides for all)."""
        self.trainer.seconds = monotonic() - self._clock_zero
        budget = self.trainer.config.max_minutes * 60
        return self.trainer.world.broadcast(0 < budget <= self.trainer.seconds)

    def stop_requested(self) -> bool:
        """Whether a signal asked to stop (read where rank 0 reads it, so that every rank stops after one step)."""
        return self.trainer.world.broadcast(self.requested.signum) is not None

    def checkpoint(self, last: bool) -> float:
        """Write the checkpoint of the trainer's step and run the hook on it; returns the seconds it took."""
        started = perf_counter()
        trainer, processes = self.trainer, self.trainer.world
        with _left_out_of_rate(self.bar):
            path = self.run.checkpoint(checkpoint_name(trainer.step)).path
            if processes.is_main:
                write_checkpoint(trainer, self.run)
            processes.broadcast(None)  # written before any rank scores it (the scorer is sharded like a score)
            record = self.on_checkpoint(path, trainer.step, last) if self.on_checkpoint else None
        self.status.update(_score_summary(record))
        return perf_counter() - started

    def show(self, losses: dict[str, float]) -> None:
        self.bar.update(1)
        self.bar.set_postfix(d=f"{losses['d_loss']:.3f}", g=f"{losses['g_loss']:.3f}", **self.status)

    def finish(self, stop: bool) -> None:
        """After the loop: when a signal ended it early, write the checkpoint of the finished steps (unscored: the
        signal asked to stop, and soon) and raise TrainingInterrupted."""
        trainer = self.trainer
        signum = trainer.world.broadcast(self.requested.signum)
        if signum is None or trainer.step >= trainer.config.steps or stop:
            return
        if trainer.world.is_main and not self.run.checkpoint(checkpoint_name(trainer.step)).path.is_file():
            write_checkpoint(trainer, self.run)
        trainer.interrupted = True
        raise TrainingInterrupted(trainer, signum)


@contextmanager
def session(trainer: Trainer, run: RunDir, on_checkpoint: CheckpointHook | None,
            progress: bool | None) -> Iterator[Session]:
    """The Session the loop runs in, with the signal handlers and the bar; a KeyboardInterrupt (a second signal, or
    Ctrl-C where no handler could be installed) keeps the finished steps and becomes TrainingInterrupted."""
    config = trainer.config
    show = is_shown(progress) and trainer.world.is_main
    with stop_requests() as requested, tqdm(total=config.steps, initial=trainer.step, desc=config.name, unit="step",
                                            disable=not show) as bar:
        try:
            yield Session(trainer, run, on_checkpoint, requested, bar)
        except TrainingInterrupted:
            raise
        except KeyboardInterrupt as interrupt:
            keep_finished_steps(trainer, run)
            trainer.interrupted = True
            raise TrainingInterrupted(trainer, requested.signum) from interrupt


def _training_world(config: TrainConfig) -> World:
    """The processes that train together: a torchrun job's (the image GANs only), or this one."""
    processes = world()
    if not processes.distributed:
        return processes
    if config.model == "mlp":
        raise InputError(f"config {config.name}: the PacGAN 2D networks train in one process (they take seconds); "
                         f"launch it without torchrun")
    if config.batch_size % processes.size:
        raise InputError(f"config {config.name}: batch_size = {config.batch_size} must divide among the "
                         f"{processes.size} processes (each takes batch_size / {processes.size})")
    return processes


def _resume_options(resume: bool | Collection[str]) -> tuple[bool, frozenset[str] | None]:
    """train()'s `resume` as (whether to resume, the keys the resumed config may change; None: any resumable key).

    A collection always means resuming, an empty one too (nothing may change): its truth value does not count."""
    if isinstance(resume, bool):
        return resume, None
    if isinstance(resume, str):  # a str is a collection of characters: refuse rather than allow "s", "t", ...
        raise TypeError(f"train(resume={resume!r}): give True or a collection of config keys, not one string")
    return True, frozenset(resume)


def keep_finished_steps(trainer: Trainer, run: RunDir) -> None:
    """After a KeyboardInterrupt: write the checkpoint of the finished steps if the trainer holds them and it is not
    written yet; roll the trainer back to the last checkpoint if a step was cut short (its state is no step's)."""
    if trainer.in_step:
        written = run.checkpoints(allow_none=True)
        if written:
            restore(trainer, load_checkpoint(written[-1].path, map_location=trainer.device))
        trainer.in_step = False
    elif trainer.world.is_main and not run.checkpoint(checkpoint_name(trainer.step)).path.is_file():
        write_checkpoint(trainer, run)


def complete_checkpoint(trainer: Trainer, checkpoint: Checkpoint,
                        on_checkpoint: Callable[[Path, int, bool], dict | None] | None, last: bool) -> dict | None:
    """Draw the picture of the checkpoint a run resumes from, and score it, when a kill right after its rename left
    it without them; returns the new record, if any. The trainer holds that checkpoint's state, which drawing leaves
    as it is."""
    picture = checkpoint.run.picture(checkpoint)
    if trainer.world.is_main and not picture.is_file():
        draw_picture(trainer, picture)
    missing = getattr(on_checkpoint, "missing", None)
    if missing is not None and missing(checkpoint.path, trainer.step, last):
        return on_checkpoint(checkpoint.path, trainer.step, last)
    return None


@contextmanager
def _left_out_of_rate(bar: tqdm) -> Iterator[None]:
    """Time spent inside does not count in the bar's elapsed time, rate and estimate (scoring is not training).

    tqdm's own unpause() would also drop the steps since its last redraw; shifting both of its clocks by the time
    measured here leaves those in."""
    started = perf_counter()
    try:
        yield
    finally:
        if not bar.disable:
            spent = perf_counter() - started
            bar.start_t += spent
            bar.last_print_t += spent


def _score_summary(record: dict | None) -> dict[str, str]:
    """The first metric of a record for the progress bar, e.g. {'fid': '12.3'}."""
    if not record:
        return {}
    for key in ("fid", "kid_mean", "precision", "is_mean"):
        if key in record:
            return {key.removesuffix("_mean"): f"{record[key]:.4g}"}
    return {}

