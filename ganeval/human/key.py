"""A study's key, study/key.json: which image is real, generated or an attention check, with the SHA256 of each
image's PNG bytes, the study id, the seed and the sources. Only `ganeval human score` reads it; the page never does.

`read_key` checks the key against the page the raters saw: the same study id, the same image ids, and every
image's SHA256 equal to that of the picture index.html embeds. Anything else is a one-line InputError.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .page import PAGE_FILE, page_images

KEY_FILE = "key.json"
KEY_FORMAT = "ganeval-human-study"
KEY_VERSION = 1
KINDS = ("real", "fake", "check")


@dataclass(frozen=True)
class KeyImage:
    """One image of a study: its `kind` (real, fake or check), the SHA256 of its PNG bytes, and for a check what
    it shows ('noise' or 'blank')."""

    kind: str
    sha256: str
    check: str | None = None


@dataclass(frozen=True)
class StudyKey:
    """The key of one study. `order`: the image ids as the page shows them; `checkpoint`: the provenance of the
    generated side when a checkpoint made it (run, checkpoint, step, ema, run_dir), else None.

    >>> key = StudyKey("s1", 0, "g.npy", "r.npy", ("a", "b"), {"a": KeyImage("fake", "0" * 64),
    ...                                                         "b": KeyImage("real", "1" * 64)})
    >>> key.ids("fake"), StudyKey.from_json(key.to_json(), "key.json") == key
    (['a'], True)
    """

    study_id: str
    seed: int
    generated: str
    reference: str
    order: tuple[str, ...]
    images: dict[str, KeyImage]
    checkpoint: dict | None = None
    created: str | None = None
    shape: tuple[int, ...] = field(default=())
    secret: str | None = None  # what the ids and order were drawn from besides the seed (ganeval.human.study)

    def ids(self, kind: str) -> list[str]:
        """The ids of one kind of image, in page order."""
        return [image_id for image_id in self.order if self.images[image_id].kind == kind]

    def to_json(self) -> dict:
        return {"format": KEY_FORMAT, "version": KEY_VERSION, "study_id": self.study_id, "created": self.created,
                "seed": self.seed, "sources": {"generated": self.generated, "reference": self.reference},
                "checkpoint": self.checkpoint, "shape": list(self.shape), "secret": self.secret,
                "order": list(self.order),
                "images": {image_id: {"class": self.images[image_id].kind, "sha256": self.images[image_id].sha256,
                                      **({"check": self.images[image_id].check} if self.images[image_id].check else {})}
                           for image_id in self.order}}

    @classmethod
    def from_json(cls, data: object, where: str) -> StudyKey:
        """The key of a parsed key.json, checked: a missing or mistyped field is an InputError naming `where`."""
        if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
            raise InputError(f"{where}: not a ganeval study key (no \"format\": \"{KEY_FORMAT}\")")
        sources = _typed(data, "sources", dict, where)
        order = _typed(data, "order", list, where)
        images = _typed(data, "images", dict, where)
        if not all(isinstance(image_id, str) for image_id in order):
            raise InputError(f"{where}: 'order' must list image ids as strings")
        if sorted(order) != sorted(images) or len(set(order)) != len(order):
            raise InputError(f"{where}: 'order' and 'images' must name the same image ids, once each")
        return cls(study_id=_typed(data, "study_id", str, where), seed=_typed(data, "seed", int, where),
                   generated=_typed(sources, "generated", str, where),
                   reference=_typed(sources, "reference", str, where),
                   order=tuple(order), images={image_id: _image(entry, f"{where}: image {image_id}")
                                               for image_id, entry in images.items()},
                   checkpoint=data.get("checkpoint") if isinstance(data.get("checkpoint"), dict) else None,
                   created=data.get("created"), shape=tuple(data.get("shape") or ()),
                   secret=data.get("secret") if isinstance(data.get("secret"), str) else None)


_TYPE_NAMES = {str: "a string", int: "an integer", dict: "an object", list: "a list"}


def _typed(data: dict, name: str, kind: type, where: str):
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(f"{where}: field '{name}' must be {_TYPE_NAMES[kind]}, got {json.dumps(value)[:40]}")
    return value


def _image(entry: object, where: str) -> KeyImage:
    if not isinstance(entry, dict):
        raise InputError(f"{where}: must be an object with 'class' and 'sha256'")
    kind, digest = entry.get("class"), entry.get("sha256")
    if kind not in KINDS:
        raise InputError(f"{where}: class {json.dumps(kind)} is not one of {', '.join(KINDS)}")
    if not isinstance(digest, str) or len(digest) != 64:
        raise InputError(f"{where}: 'sha256' must be 64 hex digits")
    return KeyImage(kind, digest, entry.get("check"))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def study_id_of(seed: int, generated: str, reference: str, images: dict[str, KeyImage], order: list[str]) -> str:
    """The study id: a hash of what the study is (seed, sources, images in order), so two studies differ in id
    whenever they differ at all (a study remade from the same seed too: its ids and order are new)."""
    content = json.dumps([seed, generated, reference, [[image_id, images[image_id].kind, images[image_id].sha256]
                                                       for image_id in order]])
    return sha256_hex(content.encode())[:16]


def read_key(study: str | Path) -> StudyKey:
    """The key of study folder `study`, checked against its index.html (ids, study id, every image's SHA256)."""
    study = Path(study)
    key_path, page_path = study / KEY_FILE, study / PAGE_FILE
    for path in (key_path, page_path):
        if not path.is_file():
            raise InputError(f"{path}: no such file; {study} is not a study folder made by `ganeval human make`")
    key = StudyKey.from_json(read_json(key_path), str(key_path))
    page_id, shown = page_images(page_path.read_text(encoding="utf-8", errors="replace"), str(page_path))
    if page_id != key.study_id:
        raise InputError(f"{key_path}: key of study {key.study_id}, but {page_path} is study {page_id}")
    if list(shown) != list(key.order):
        raise InputError(f"{key_path}: its images are not those of {page_path} in the page's order")
    for image_id, png in shown.items():
        if sha256_hex(png) != key.images[image_id].sha256:
            raise InputError(f"{key_path}: image {image_id} has SHA256 {key.images[image_id].sha256[:12]}..., but "
                             f"{page_path} shows an image with SHA256 {sha256_hex(png)[:12]}...: the key does not "
                             f"match the page")
    return key


def read_json(path: Path) -> object:
    """A JSON file's content; unreadable or malformed JSON is an InputError naming the file and the place."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
