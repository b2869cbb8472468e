"""A rater's answers.json, as the study page writes it, read and checked against the study's key.

{"format": "ganeval-human-answers", "version": 1, "study_id": ..., "rater_id": ..., "user_agent": ...,
 "started": ..., "finished": ..., "trials": [{"image_id": ..., "answer": "real" | "fake", "time_ms": ...}, ...]}

Every image of the study must be answered exactly once, and no rater may answer twice. Anything else (another
study's answers, an image id the key does not hold, a duplicated or missing trial, malformed JSON) is a one-line
InputError naming the file and what is wrong.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .key import StudyKey, read_json

ANSWERS_FORMAT = "ganeval-human-answers"
ANSWERS = ("real", "fake")


@dataclass(frozen=True)
class Trial:
    image_id: str
    answer: str  # 'real' or 'fake'
    time_ms: float


@dataclass(frozen=True)
class RaterAnswers:
    """One rater's answers: one Trial per image of the study, in the order answered."""

    path: str
    rater_id: str
    user_agent: str | None
    trials: tuple[Trial, ...]

    def by_image(self) -> dict[str, Trial]:
        """The trials by image id."""
        return {trial.image_id: trial for trial in self.trials}


def read_answers(paths: list[str | os.PathLike], key: StudyKey, study: str) -> list[RaterAnswers]:
    """The answers of every file, each checked against `key` (the key of study folder `study`); a rater id that
    appears in two files is refused."""
    if not paths:
        raise InputError("no answers files given")
    seen: dict[str, str] = {}
    answers = []
    for path in paths:
        rater = read_answer_file(Path(path), key, study)
        if rater.rater_id in seen:
            raise InputError(f"{path}: rater '{rater.rater_id}' already answered in {seen[rater.rater_id]}")
        seen[rater.rater_id] = str(path)
        answers.append(rater)
    return answers


def read_answer_file(path: Path, key: StudyKey, study: str) -> RaterAnswers:
    """One answers file, checked: the study id, the rater id, and one valid trial per image of the key."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != ANSWERS_FORMAT:
        raise InputError(f"{path}: not a ganeval answers file (no \"format\": \"{ANSWERS_FORMAT}\")")
    if data.get("study_id") != key.study_id:
        raise InputError(f"{path}: answers for study {_shown(data.get('study_id'))}, but {study} is study "
                         f"{key.study_id}")
    rater_id = data.get("rater_id")
    if not isinstance(rater_id, str) or not rater_id.strip():
        raise InputError(f"{path}: 'rater_id' must be a non-empty string, got {_shown(rater_id)}")
    entries = data.get("trials")
    if not isinstance(entries, list):
        raise InputError(f"{path}: 'trials' must be a list, got {_shown(entries)}")
    trials = tuple(_trial(entry, f"{path}: trial {number}", key) for number, entry in enumerate(entries, 1))
    _check_complete(path, trials, key)
    agent = data.get("user_agent")
    return RaterAnswers(str(path), rater_id.strip(), agent if isinstance(agent, str) else None, trials)


def _trial(entry: object, where: str, key: StudyKey) -> Trial:
    if not isinstance(entry, dict):
        raise InputError(f"{where}: must be an object with image_id, answer and time_ms, got {_shown(entry)}")
    image_id, answer, time_ms = entry.get("image_id"), entry.get("answer"), entry.get("time_ms")
    if not isinstance(image_id, str) or image_id not in key.images:
        raise InputError(f"{where}: image {_shown(image_id)} is not in the study's key.json")
    if answer not in ANSWERS:
        raise InputError(f"{where}: answer {_shown(answer)} must be \"real\" or \"fake\"")
    if (isinstance(time_ms, bool) or not isinstance(time_ms, (int, float)) or not math.isfinite(time_ms)
            or time_ms < 0):
        raise InputError(f"{where}: time_ms {_shown(time_ms)} must be a number of milliseconds, 0 or more")
    return Trial(image_id, answer, float(time_ms))


def _check_complete(path: Path, trials: tuple[Trial, ...], key: StudyKey) -> None:
    """Every image answered once: a duplicate or a gap means a damaged or edited file, or an unfinished rater."""
    first: dict[str, int] = {}
    for number, trial in enumerate(trials, 1):
        if trial.image_id in first:
            raise InputError(f"{path}: image {trial.image_id} is answered twice (trials {first[trial.image_id]} and "
                             f"{number})")
        first[trial.image_id] = number
    missing = [image_id for image_id in key.order if image_id not in first]
    if missing:
        raise InputError(f"{path}: {len(missing)} of {len(key.order)} images are not answered (first: {missing[0]}); "
                         "the rater has not finished the study")


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
