"""training.jsonl: the signals of a GAN's training, one JSON line per logged step, beside a run's metrics.jsonl.

The training core writes it every `log_every` steps; a user's own loop writes the same file with TrainingLog:

>>> import tempfile
>>> log = TrainingLog(tempfile.mkdtemp())
>>> log.log(50, d_loss=1.21, g_loss=0.93, d_real=0.8, d_fake=-0.6, my_signal=3)["my_signal"]
3
>>> [line["step"] for line in read_training_log(log.path)]
[50]

Every key but `step` is optional and keys not listed in SIGNALS are kept as they come, so `ganeval diagnose` and
`ganeval report` read the lines of any loop. A value that is NaN or infinite is written as null and named under
`nonfinite` ({"d_loss": "nan"}), since JSON has no such numbers and `pandas.read_json` must read the file; the
reader restores it. Lines are appended atomically (ganeval.jsonl, as metrics.jsonl's), so a crash leaves at most a
cut last line, which the reader skips with a warning.
"""
from __future__ import annotations

import json
import math
import os
from numbers import Number
from pathlib import Path

from .atomic import write_text_atomically
from .distributed import world
from .errors import InputError
from .jsonl import append_line, read_lines
from .runs import RunDir

# The keys the training core writes and `diagnose` reads, with what each means (docs/training-health.md lists them).
# Under torchrun the losses, D's outputs and accuracies are rank 0's block of the batch; the gradient norms, read
# after the all-reduce, are the whole batch's.
SIGNALS = {
    "step": "the training step the line describes: the networks as they are after it",
    "d_loss": "the discriminator's loss on the step's last discriminator batch (the gradient penalty included)",
    "g_loss": "the generator's loss on the step's generated batch",
    "d_real": "the mean raw discriminator output (logit or critic score) on the real batch",
    "d_fake": "the mean raw discriminator output on the generated batch",
    "d_accuracy_real": "the fraction of real samples (packs, with PacGAN) D classifies as real",
    "d_accuracy_fake": "the fraction of generated samples (packs) D classifies as generated",
    "d_accuracy": "the mean of the two accuracies: 0.5 at equilibrium, 1 when D separates everything",
    "grad_norm_d": "the L2 norm of D's whole gradient after the backward pass, before the optimiser step",
    "grad_norm_g": "the L2 norm of G's whole gradient after the backward pass, before the optimiser step",
    "sigma_d": "the largest singular value of D's last layer's weight (power iteration)",
    "sigma_g": "the largest singular value of G's last layer's weight (power iteration)",
    "lr_d": "D's learning rate at the step",
    "lr_g": "G's learning rate at the step",
    "seconds_per_step": "wall seconds per training step since the previous line (checkpoints and scores left out)",
    "wasserstein": "WGAN-GP: the critic's Wasserstein estimate, mean D(real) - mean D(generated)",
    "gp_grad_norm": "WGAN-GP: the mean gradient norm of the critic at the interpolates (the penalty pulls it to 1)",
    "loss": "the loss's name (ns, minimax, lsgan, hinge, wgan-gp): the equilibrium values depend on it",
    "packing": "PacGAN: samples per pack that D scores together (the D signals are per pack)",
}
NONFINITE = "nonfinite"


class TrainingLog:
    """Appends training signals to RUN/training.jsonl; `log(step, **values)` writes one line.

    Under torch.distributed only rank 0 writes (the others' calls return the line unwritten), so a loop that calls
    it on every rank still gets one line per step. Values are numbers, strings, booleans or None; a 0-dim tensor
    is read with float() (which waits for the device: log every few dozen steps, not every step).

    >>> import tempfile
    >>> TrainingLog(tempfile.mkdtemp()).log(1, d_loss=float("nan"))["nonfinite"]
    {'d_loss': 'nan'}
    """

    def __init__(self, run: str | os.PathLike | RunDir) -> None:
        self.run = run if isinstance(run, RunDir) else RunDir(run)

    @property
    def path(self) -> Path:
        return self.run.training_file

    def log(self, step: int, **values: object) -> dict:
        """Append one line for `step` (the networks as they are after it); returns the line as written."""
        line = training_line(step, values)
        if world().is_main:
            self.run.path.mkdir(parents=True, exist_ok=True)
            append_line(self.path, line)
        return line


def training_line(step: int, values: dict) -> dict:
    """The JSON line of `step`'s `values`: plain numbers, non-finite ones as null and named under `nonfinite`."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise InputError(f"TrainingLog.log: step must be a non-negative integer, not {step!r}")
    if NONFINITE in values:
        raise InputError(f"TrainingLog.log: {NONFINITE} is the file's own key (it names NaN and infinite values); "
                         "use another name")
    line: dict = {"step": step}
    nonfinite = {}
    for key, value in values.items():
        value = _plain(key, value)
        if isinstance(value, float) and not math.isfinite(value):
            nonfinite[key] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
            value = None
        line[key] = value
    if nonfinite:
        line[NONFINITE] = nonfinite
    return line


def _plain(key: str, value: object) -> object:
    """A value JSON writes: numbers, strings, booleans and None as they are; 0-dim tensors and numpy scalars as
    float (int for integer ones)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # torch and numpy scalars, without importing them
        value = value.item()
        return value if isinstance(value, (bool, int, float)) else float(value)
    if isinstance(value, Number):
        return float(value)
    raise InputError(f"TrainingLog.log: {key} = {value!r}: give a number, string, boolean or None")


def read_training_log(path: str | os.PathLike) -> list[dict]:
    """The lines of a training.jsonl in step order, non-finite values restored as floats. A step logged twice (a
    resumed run retrains the steps after its checkpoint) keeps its last line. An empty file has no lines; a cut or
    malformed line is skipped with a warning naming it (ganeval.jsonl.read_lines)."""
    entries = read_lines(path, _is_line, "training line")
    by_step: dict[int, dict] = {}
    for _, line in entries:
        for key, kind in line.pop(NONFINITE, {}).items():
            line[key] = float(kind)
        by_step[line["step"]] = line
    return [by_step[step] for step in sorted(by_step)]


def _is_line(entry: dict) -> bool:
    step = entry.get("step")
    nonfinite = entry.get(NONFINITE, {})
    return (isinstance(step, int) and not isinstance(step, bool) and step >= 0 and isinstance(nonfinite, dict)
            and all(key != "step" and kind in ("nan", "inf", "-inf") for key, kind in nonfinite.items()))


def drop_lines_after(path: str | os.PathLike, step: int) -> None:
    """Remove the lines of steps after `step` (a run resumed from that step's checkpoint retrains them, perhaps on
    another schedule: the old lines describe a trajectory that no longer exists); cut lines go too. Atomic."""
    path = Path(path)
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines(keepends=True) if _step_of_line(line) <= step]
    write_text_atomically(path, "".join(kept))


def _step_of_line(text: str) -> float:
    """The step of one line of the file; infinity for a line that is not a training line (dropped)."""
    try:
        entry = json.loads(text)
    except ValueError:
        return math.inf
    return entry["step"] if isinstance(entry, dict) and _is_line(entry) else math.inf
