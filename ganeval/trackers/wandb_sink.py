"""Weights & Biases: one W&B run per command and ganeval run, offline unless WANDB_MODE or WANDB_API_KEY is set.

Every value is logged with its ganeval step as the x-axis (`step`, via define_metric), not W&B's own step counter,
which refuses a step lower than one already logged (two settings scored one after the other, or the signals sent
at a checkpoint after a record). Parameters go to the run's config, pictures are wandb.Image under `samples`. An
offline run cannot be read back, so `existing` says nothing is there and a replay makes a new run.
"""
from __future__ import annotations

import os
from itertools import groupby

from .points import Picture, Scalar
from .sinks import Existing

STEP_KEY = "step"


class WandbRun:
    def __init__(self, run) -> None:
        self.run = run

    def write_scalars(self, scalars: list[Scalar]) -> None:
        ordered = sorted(scalars, key=lambda scalar: scalar.step)
        for step, values in groupby(ordered, key=lambda scalar: scalar.step):
            self.run.log({STEP_KEY: step, **{scalar.name: scalar.value for scalar in values}})

    def write_params(self, params: dict[str, str]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def write_pictures(self, pictures: list[Picture]) -> None:
        import wandb

        for picture in pictures:
            self.run.log({STEP_KEY: picture.step, picture.tag: wandb.Image(str(picture.path))})

    def existing(self, names: set[str]) -> Existing:
        return Existing()  # an offline run holds nothing ganeval can read back

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.run.finish()


def open_run(project: str, run_name: str) -> WandbRun:
    import wandb

    configured = os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY")
    # WANDB_DIR is read at each run (wandb's own settings keep the first one for the whole process)
    run = wandb.init(project=project, name=run_name, mode=None if configured else "offline", reinit="create_new",
                     dir=os.environ.get("WANDB_DIR"), tags=["ganeval"],
                     settings=wandb.Settings(silent=True, console="off"))
    run.define_metric(STEP_KEY, hidden=True)
    run.define_metric("*", step_metric=STEP_KEY)
    return WandbRun(run)
