"""`--log SINK`: which tracker, where, checked before any work (the package is looked for, not imported).

    tensorboard:DIR        event files under DIR/RUN (tensorboard --logdir DIR)
    mlflow:URI             a tracking server (http://127.0.0.1:5000), a database (sqlite:///mlflow.db,
                           postgresql://...), file:///PATH, or a folder (a local file store)
    wandb | wandb:PROJECT  Weights & Biases, offline unless WANDB_MODE or WANDB_API_KEY says otherwise

>>> parse_sink("tensorboard:runs/tb").target
'runs/tb'
>>> parse_sink("mlflow:sqlite:///tmp/mlflow.db").kind
'mlflow'
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..errors import InputError

# The tracker, the package it needs and the extra that installs it
PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}
MLFLOW_SCHEMES = ("http", "https", "sqlite", "file", "postgresql", "mysql", "mssql")
DEFAULT_WANDB_PROJECT = "ganeval"
_WANDB_BAD = set("/\\#?%:")


@dataclass(frozen=True)
class SinkSpec:
    """One parsed `--log` value: `kind` (tensorboard, mlflow, wandb), `target` (a folder, a tracking URI, a W&B
    project) and `text`, the value as given (warnings name it)."""

    kind: str
    target: str
    text: str

    @property
    def label(self) -> str:
        """How warnings name the sink: 'mlflow http://127.0.0.1:5000'."""
        return f"{self.kind} {self.target}"


def parse_sink(value: str, flag: str = "--log") -> SinkSpec:
    """Parse one `--log` value; a one-line InputError (naming `flag` and the value) for an unknown tracker, a
    malformed target or a tracker whose package is not installed (naming the extra that installs it)."""
    value = str(value)
    shown = f"{flag} {value}"
    kind, _, target = value.partition(":")
    kind = kind.strip().lower()
    if kind not in PACKAGES:
        raise InputError(f"{shown}: unknown tracker '{kind}'; choose from {', '.join(sorted(PACKAGES))} "
                         f"(tensorboard:DIR, mlflow:URI, wandb[:PROJECT])")
    target = {"tensorboard": _tensorboard_folder, "mlflow": _mlflow_uri, "wandb": _wandb_project}[kind](shown, target)
    if importlib.util.find_spec(PACKAGES[kind]) is None:
        raise InputError(f"{shown}: needs the {PACKAGES[kind]} package: pip install 'ganeval[{kind}]'")
    return SinkSpec(kind, target, value)


def parse_sinks(texts: Iterable[str | SinkSpec] | str | None, flag: str = "--log") -> list[SinkSpec]:
    """Every `--log` value parsed (one string is one value); the same sink twice is one sink."""
    if texts is None:
        return []
    if isinstance(texts, (str, SinkSpec)):
        texts = [texts]
    specs: list[SinkSpec] = []
    for text in texts:
        spec = text if isinstance(text, SinkSpec) else parse_sink(text, flag)
        if all((spec.kind, spec.target) != (other.kind, other.target) for other in specs):
            specs.append(spec)
    return specs


def _tensorboard_folder(text: str, target: str) -> str:
    if not target.strip():
        raise InputError(f"{text}: say where the event files go: tensorboard:DIR")
    if Path(target).exists() and not Path(target).is_dir():
        raise InputError(f"{text}: {target} is a file; give a folder for the event files")
    return target


def _mlflow_uri(text: str, target: str) -> str:
    """A tracking URI as MLflow takes it; a plain folder becomes an absolute file:// URI."""
    if not target.strip():
        raise InputError(f"{text}: say which MLflow: mlflow:http://HOST:PORT, mlflow:sqlite:///PATH or "
                         f"mlflow:FOLDER")
    parsed = urlparse(target)
    if not parsed.scheme or len(parsed.scheme) == 1:  # no scheme (or a Windows drive letter): a folder
        return Path(target).absolute().as_uri()
    if parsed.scheme not in MLFLOW_SCHEMES:
        raise InputError(f"{text}: unknown MLflow URI scheme '{parsed.scheme}'; use "
                         f"{', '.join(MLFLOW_SCHEMES)} or a folder")
    if parsed.scheme in ("http", "https"):
        try:
            port = parsed.port
        except ValueError:
            port = -1
        if not parsed.hostname or port == -1:
            raise InputError(f"{text}: a tracking server is http://HOST:PORT (e.g. http://127.0.0.1:5000)")
    elif parsed.scheme in ("sqlite", "file") and not parsed.path.strip("/"):
        raise InputError(f"{text}: {parsed.scheme}: needs a path, e.g. {parsed.scheme}:///tmp/mlflow"
                         f"{'.db' if parsed.scheme == 'sqlite' else ''}")
    return target


def _wandb_project(text: str, target: str) -> str:
    project = target.strip() or os.environ.get("WANDB_PROJECT") or DEFAULT_WANDB_PROJECT
    if _WANDB_BAD & set(project):
        raise InputError(f"{text}: a W&B project name has none of {' '.join(sorted(_WANDB_BAD))}")
    return project
