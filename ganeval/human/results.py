"""`ganeval human score`: a study's answers -> HYPE rates per rater and pooled, per-image soft labels, one record.

The record is a score record like any other (ganeval.records.Record), with extractor 'human' (people judged the
images), num_samples the generated images and num_reference the real ones, the study's seed, and the keys
hype_inf, hype_fake_error and hype_real_error (with `<key>_ci_low` / `<key>_ci_high` under --ci). A checkpoint's
study names its run, checkpoint and step. It goes where compare, report and gate read records: the run's
metrics.jsonl when the generated side was a checkpoint of a run (or a run), else study/metrics.jsonl, or the run
folder that `append` names. Per-image soft labels go to study/images.csv.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import os
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import write_text_atomically
from ..config import DEFAULT_SEED, BootstrapOptions
from ..errors import InputError
from ..formatting import format_interval, format_number
from ..records import Record
from ..runs import RunDir
from .answers import RaterAnswers, read_answers
from .key import KEY_FILE, StudyKey, read_key, sha256_hex
from .scoring import KEYS, bootstrap_rates, error_rates, percentile_interval, soft_labels

IMAGES_FILE = "images.csv"
EXTRACTOR = "human"  # the record's feature space: people's eyes


@dataclass(frozen=True)
class RaterResult:
    """One rater's rates (attention checks left out), how many checks they failed, and their median time."""

    rater_id: str
    path: str
    rates: dict[str, float]
    checks_failed: int
    checks: int
    median_time_ms: float

    def to_json(self) -> dict:
        return {"rater_id": self.rater_id, "file": os.path.basename(self.path), **self.rates,
                "checks_failed": self.checks_failed, "checks": self.checks, "median_time_ms": self.median_time_ms}


@dataclass(frozen=True)
class StudyScore:
    """The scored study: per rater and pooled rates, bootstrap intervals and standard errors (empty without
    `ci`), and per image (id, class, judgments, fraction judged real) in page order."""

    key: StudyKey
    key_sha256: str
    raters: tuple[RaterResult, ...]
    pooled: dict[str, float]
    ci: BootstrapOptions | None = None
    bootstrap_seed: int = DEFAULT_SEED
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    standard_errors: dict[str, float] = field(default_factory=dict)
    images: tuple[tuple[str, str, int, float], ...] = ()
    excluded: tuple[str, ...] = ()  # raters left out of the pooled rates for failing too many attention checks
    max_check_failures: int | None = None

    def record(self) -> Record:
        """The study's score record (see the module docstring)."""
        values = dict(self.pooled)
        for name, (low, high) in self.intervals.items():
            values.update({f"{name}_ci_low": low, f"{name}_ci_high": high})
        checkpoint = self.key.checkpoint or {}
        return Record(input=self.key.generated, reference=self.key.reference, extractor=EXTRACTOR,
                      num_samples=len(self.key.ids("fake")), num_reference=len(self.key.ids("real")),
                      seed=self.key.seed, values=values, diagnostics=self._diagnostics(),
                      provenance={"ganeval": __version__, "study_id": self.key.study_id,
                                  "key_sha256": self.key_sha256},
                      created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                      run=checkpoint.get("run"), checkpoint=checkpoint.get("checkpoint"), step=checkpoint.get("step"),
                      ema=checkpoint.get("ema"), ci_level=self.ci.level if self.ci else None)

    def _diagnostics(self) -> dict:
        pooled = len(self.raters) - len(self.excluded)
        human = {"study_id": self.key.study_id, "raters": pooled,
                 "judgments": pooled * (len(self.key.order) - len(self.key.ids("check"))),
                 "checks": len(self.key.ids("check")),
                 "check_failures": {rater.rater_id: rater.checks_failed for rater in self.raters},
                 "max_check_failures": self.max_check_failures, "excluded_raters": list(self.excluded),
                 "per_rater": [rater.to_json() for rater in self.raters]}
        if self.ci is None:
            return {"human": human}
        return {"human": human, "ci": {"level": self.ci.level, "replicates": self.ci.replicates,
                                       "resampled": "raters and images (within each class)",
                                       "seed": self.bootstrap_seed, "standard_errors": dict(self.standard_errors)}}

    def images_csv(self) -> str:
        """study/images.csv: image_id, class, judgments, judged_real (the fraction of raters who said real)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["image_id", "class", "judgments", "judged_real"])
        writer.writerows([image_id, kind, count, f"{fraction:.6g}"] for image_id, kind, count, fraction in self.images)
        return buffer.getvalue()


def score_study(study: str | os.PathLike, answer_paths: list[str | os.PathLike], ci: BootstrapOptions | None = None,
                seed: int = DEFAULT_SEED, max_check_failures: int | None = None) -> StudyScore:
    """Score the answers files of study folder `study`; `ci` adds bootstrap intervals (resampling seeded by `seed`).
    Check trials never count in the rates; a rater who failed more than `max_check_failures` checks is left out of
    the pooled rates, the intervals and the soft labels (None: every rater counts, failures are reported).

    >>> score = score_study("study", ["answers/ann.json", "answers/bob.json"], BootstrapOptions(0.95))  # doctest: +SKIP
    >>> score.pooled["hype_inf"], score.intervals["hype_inf"]                                         # doctest: +SKIP
    """
    if max_check_failures is not None and max_check_failures < 0:
        raise InputError(f"--max-check-failures {max_check_failures}: must be 0 or more")
    study = Path(study)
    key = read_key(study)
    raters = read_answers(list(answer_paths), key, str(study))
    kinds = np.array([key.images[image_id].kind for image_id in key.order])
    judged_real = np.array([_judged_real(rater, key.order) for rater in raters])
    scored, is_fake = kinds != "check", kinds == "fake"
    matrix, fake = judged_real[:, scored], is_fake[scored]
    results = tuple(_rater_result(rater, matrix[index:index + 1], fake, judged_real[index, kinds == "check"])
                    for index, rater in enumerate(raters))
    kept = np.array([max_check_failures is None or result.checks_failed <= max_check_failures for result in results])
    if not kept.any():
        raise InputError(f"--max-check-failures {max_check_failures}: every rater failed more attention checks than "
                         f"that ({', '.join(f'{result.rater_id} {result.checks_failed}' for result in results)}); "
                         f"no rater is left to score")
    matrix, judged_real = matrix[kept], judged_real[kept]
    intervals, errors = {}, {}
    if ci is not None:
        replicates = bootstrap_rates(matrix, fake, ci.replicates, seed)
        intervals = {name: percentile_interval(replicates[name], ci.level) for name in KEYS}
        errors = {name: float(np.std(replicates[name], ddof=1)) for name in KEYS}
    images = tuple((image_id, str(kind), int(kept.sum()), float(share))
                   for image_id, kind, share in zip(key.order, kinds, soft_labels(judged_real)))
    excluded = tuple(result.rater_id for result, keep in zip(results, kept) if not keep)
    return StudyScore(key, sha256_hex((study / KEY_FILE).read_bytes()), results, error_rates(matrix, fake), ci, seed,
                      intervals, errors, images, excluded, max_check_failures)


def _judged_real(rater: RaterAnswers, order: tuple[str, ...]) -> list[bool]:
    """One rater's answers in page order: True where the image was judged real."""
    trials = rater.by_image()
    return [trials[image_id].answer == "real" for image_id in order]


def _rater_result(rater: RaterAnswers, judged_real: np.ndarray, is_fake: np.ndarray,
                  checks_judged_real: np.ndarray) -> RaterResult:
    times = [trial.time_ms for trial in rater.trials]
    return RaterResult(rater.rater_id, rater.path, error_rates(judged_real, is_fake), int(checks_judged_real.sum()),
                       len(checks_judged_real), float(statistics.median(times)))


def record_folder(key: StudyKey, study: Path, append: Path | None = None) -> Path:
    """Where the record goes: `append`, else the run of the study's checkpoint, else the study folder (with a
    warning when the study names a run folder that is not here, e.g. the study was moved to another machine)."""
    if append is not None:
        return append
    run_dir = (key.checkpoint or {}).get("run_dir")
    if run_dir and Path(run_dir).is_dir():
        return Path(run_dir)
    if run_dir:
        warnings.warn(f"the study's run folder {run_dir} is not here; the record goes to {study} (--append RUN "
                      f"puts it in a run)")
    return study


def write_results(score: StudyScore, record: dict, study: str | os.PathLike,
                  append: Path | None = None) -> tuple[Path, Path]:
    """Write study/images.csv and append `record` (score.record()'s JSON: made once, so that what is appended and
    what is printed carry one `created`); returns (images.csv, the metrics.jsonl appended to)."""
    study = Path(study)
    images = study / IMAGES_FILE
    write_text_atomically(images, score.images_csv())
    return images, RunDir(record_folder(score.key, study, append)).append(record)


def summary_text(score: StudyScore) -> str:
    """The rates per rater and pooled (with intervals under --ci), and the attention checks failed."""
    key = score.key
    lines = [f"study {key.study_id}: {key.generated} (generated) against {key.reference} (real); "
             f"{len(key.ids('fake'))} + {len(key.ids('real'))} images, {len(key.ids('check'))} attention checks, "
             f"{len(score.raters)} rater{'s' if len(score.raters) != 1 else ''}", "",
             f"{'rater':<20}{'hype_inf':>10}{'fake_error':>12}{'real_error':>12}{'checks failed':>15}{'median ms':>11}"]
    for rater in score.raters:
        rates = [format_number(rater.rates[name], 4) for name in KEYS]
        lines.append(f"{rater.rater_id[:19]:<20}{rates[0]:>10}{rates[1]:>12}{rates[2]:>12}"
                     f"{f'{rater.checks_failed} of {rater.checks}':>15}{format_number(rater.median_time_ms, 5):>11}")
    lines.append("")
    level = f" ({score.ci.level:.0%} interval over raters and images)" if score.ci else ""
    for name in KEYS:
        interval = score.intervals.get(name)
        shown = f"  {format_interval(*interval)}" if interval else ""
        lines.append(f"{name:<16}{format_number(score.pooled[name], 4):>8}{shown}{level if name == KEYS[0] else ''}")
    failed = [rater for rater in score.raters if rater.checks_failed]
    if failed:
        lines.append("attention checks failed (check images never count in the rates): "
                     + ", ".join(f"{rater.rater_id} {rater.checks_failed} of {rater.checks}" for rater in failed))
    if score.excluded:
        lines.append(f"left out of the pooled rates (more than {score.max_check_failures} checks failed): "
                     + ", ".join(score.excluded))
    elif failed:
        lines.append("every rater counts in the pooled rates; --max-check-failures K leaves out those who failed more")
    return "\n".join(lines)
