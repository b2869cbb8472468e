"""`ganeval human make`: a study folder for a blind real-or-generated study.

study/index.html   the page raters open (from disk, no server, no network): every image embedded, one at a time
study/key.json     which image is real, generated or a check, with SHA256s: for `ganeval human score` only
study/README.txt   what to send to raters and how to score their answers

Half the images are generated, half real, plus a few attention checks (uniform noise, a flat grey image: any
attentive rater calls them fake). --seed chooses the images; their ids and their order come from the seed and a
secret drawn for each study (kept in key.json only): a seed is no secret (the default is public, and a small one
can be guessed from the ids), so an order derived from it alone would tell a rater which images are generated.
The folder is built under a temporary name beside --out and renamed into place.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import check_output_folder, staging_folder, write_error
from ..config import DEFAULT_SEED, DataConfig
from ..errors import InputError
from .key import KEY_FILE, KeyImage, StudyKey, sha256_hex, study_id_of
from .page import PAGE_FILE, render_page
from .sources import check_images, check_same_shape, png_bytes, read_images

DEFAULT_CHECKS = 4
README_FILE = "README.txt"
ID_DIGITS = 8  # hex digits of an image id


@dataclass(frozen=True)
class StudyRequest:
    """What a study shows: `num_images` images, half from `generated`, half from `reference` (any source spec
    ganeval reads), plus `checks` attention checks, ordered by `seed`; `ema`: a checkpoint's EMA weights."""

    generated: str
    reference: str
    num_images: int = 100
    seed: int = DEFAULT_SEED
    checks: int = DEFAULT_CHECKS
    ema: bool = False

    def check(self) -> None:
        """Refuse counts that make no study, before any image is read."""
        if self.num_images < 2 or self.num_images % 2:
            raise InputError(f"--num-images {self.num_images}: must be an even number of at least 2 (half generated, "
                             "half real)")
        if self.checks < 0:
            raise InputError(f"--checks {self.checks}: must be 0 or more")


def make_study(request: StudyRequest, out: str | os.PathLike, data: DataConfig = DataConfig(),
               device: torch.device = torch.device("cpu")) -> StudyKey:
    """Write the study folder `out` (which must not exist or be empty) and return its key.

    >>> key = make_study(StudyRequest("runs/dcgan", "fashion-mnist:test", num_images=100), "study")  # doctest: +SKIP
    >>> len(key.order)   # doctest: +SKIP
    104
    """
    request.check()
    out = Path(out)
    check_new_folder(out)
    half = request.num_images // 2
    fake = read_images(request.generated, half, request.seed, data, device, generated=True, ema=request.ema)
    real = read_images(request.reference, half, request.seed, data, device, generated=False)
    check_same_shape(fake.images, real.images, (request.generated, request.reference))
    shape = tuple(real.images.shape[1:])
    checks = check_images(request.checks, shape, request.seed)
    pictures = ([("fake", png_bytes(image), None) for image in fake.images]
                + [("real", png_bytes(image), None) for image in real.images]
                + [("check", png_bytes(image), kind) for kind, image in checks])
    checkpoint = fake.checkpoint  # its run_dir is absolute: `human score` may run elsewhere and appends there
    secret = secrets.token_hex(16)
    ids = _ids(len(pictures), _shuffler(request.seed, secret, 0))
    by_id = dict(zip(ids, pictures))
    key = _study_key(request, by_id, checkpoint, shape, secret)
    page = render_page(key.study_id, [(image_id, by_id[image_id][1]) for image_id in key.order])
    _write_folder(out, {KEY_FILE: json.dumps(key.to_json(), indent=1) + "\n", PAGE_FILE: page,
                        README_FILE: _readme(out, key)})
    return key


def check_new_folder(out: Path) -> None:
    """--out must be a new or empty folder: a study never overwrites another (its answers would stop matching)."""
    check_output_folder(out, "--out")
    if out.is_dir() and any(out.iterdir()):
        raise InputError(f"--out {out}: exists and is not empty; give a new folder for the study")


def _shuffler(seed: int, secret: str, stream: int) -> np.random.Generator:
    """The generator of the ids (stream 0) or the order (stream 1): from the seed and the study's secret."""
    return np.random.default_rng([seed, int(secret, 16), stream])


def _ids(count: int, rng: np.random.Generator) -> list[str]:
    """`count` distinct random hex ids (in making order: fakes, reals, checks; the page order is a separate
    permutation, so an id says nothing of its image's class)."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = f"{int(rng.integers(0, 16 ** ID_DIGITS)):0{ID_DIGITS}x}"
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _study_key(request: StudyRequest, pictures: dict[str, tuple[str, bytes, str | None]], checkpoint: dict | None,
               shape: tuple[int, ...], secret: str) -> StudyKey:
    """The key of `pictures` (image id -> (class, PNG bytes, check kind)) in the page order of seed and secret."""
    ids = list(pictures)
    images = {image_id: KeyImage(kind, sha256_hex(png), check) for image_id, (kind, png, check) in pictures.items()}
    order = [ids[index] for index in _shuffler(request.seed, secret, 1).permutation(len(ids))]
    study_id = study_id_of(request.seed, request.generated, request.reference, images, order)
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return StudyKey(study_id, request.seed, request.generated, request.reference, tuple(order), images, checkpoint,
                    created, shape, secret)


def _readme(out: Path, key: StudyKey) -> str:
    return (f"ganeval human study {key.study_id}: {len(key.ids('fake'))} generated images ({key.generated}), "
            f"{len(key.ids('real'))} real ({key.reference}), {len(key.ids('check'))} attention checks.\n\n"
            f"Send {PAGE_FILE} (only that file) to the raters: they open it in a browser, type a rater id, judge "
            "every image and download answers.json.\n"
            f"Keep {KEY_FILE} to yourself: it says which images are real.\n\n"
            f"Score the answers:  ganeval human score {out} answers/*.json --ci 0.95\n")


def _write_folder(out: Path, files: dict[str, str]) -> None:
    """Write `files` into a temporary folder beside `out`, then rename it to `out`: no half-made study is left."""
    temporary = staging_folder(out.parent, out.name, out)
    try:
        for name, text in files.items():
            (temporary / name).write_text(text, encoding="utf-8")
        if out.is_dir():
            out.rmdir()  # empty (checked): rename cannot replace a folder that holds anything
        os.rename(temporary, out)
    except OSError as exc:
        raise write_error(out, exc) from exc
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
