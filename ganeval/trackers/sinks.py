"""The protocol every tracker's sink follows, and `open_sink`, which imports a tracker's module only when used.

A sink is one tracker run (one ganeval run): it writes scalars, parameters and pictures, and says what it already
holds, so that `ganeval log` adds only what is missing.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

from .points import Picture, Scalar
from .spec import SinkSpec


@dataclass
class Existing:
    """What a tracker run holds: (name, step) of its scalars, its parameter names, (tag, step) of its pictures."""

    points: set[tuple[str, int]] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    pictures: set[tuple[str, int]] = field(default_factory=set)


class Sink(Protocol):
    def write_scalars(self, scalars: list[Scalar]) -> None: ...

    def write_params(self, params: dict[str, str]) -> None: ...

    def write_pictures(self, pictures: list[Picture]) -> None: ...

    def existing(self, names: set[str]) -> Existing:
        """What the run holds, looked up for the scalar names `names` (those a replay would write)."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def open_sink(spec: SinkSpec, run_name: str) -> Sink:
    """The tracker run `run_name` of `spec`'s tracker (found again when it exists, else made); the tracker's
    package is imported here, not before."""
    module = importlib.import_module(f".{spec.kind}_sink", __package__)
    return module.open_run(spec.target, run_name)
