"""What a diagnosis says: Finding (one failure, its steps, evidence, remedy and citation) and Diagnosis (a run's
findings and what it could not judge), as JSON that strict parsers read."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .thresholds import KINDS, REMEDIES


@dataclass(frozen=True)
class Finding:
    """One diagnosed failure: its kind, the steps it spans, the numbers it rests on, a remedy and the citation."""

    kind: str
    first_step: int | None
    last_step: int | None
    summary: str
    evidence: dict
    remedy: str = ""
    citation: str = ""

    def __post_init__(self) -> None:
        if not self.remedy:
            remedy, citation = REMEDIES[self.kind]
            object.__setattr__(self, "remedy", remedy)
            object.__setattr__(self, "citation", citation)


@dataclass(frozen=True)
class Diagnosis:
    """A run's findings, and the kinds it could not judge with why."""

    run: str
    findings: tuple[Finding, ...]
    not_judged: dict[str, str] = field(default_factory=dict)
    rates: dict = field(default_factory=dict)
    duality_gaps: tuple[dict, ...] = ()  # ganeval.train.duality_gap's per checkpoint, where asked (--duality-gap)

    @property
    def healthy(self) -> bool:
        """No finding, and at least one kind judged (a run with nothing to read is not called healthy)."""
        return not self.findings and len(self.not_judged) < len(KINDS)

    def kinds(self) -> set[str]:
        return {finding.kind for finding in self.findings}

    def to_json(self) -> dict:
        shown = {"run": self.run, "healthy": self.healthy, "findings": [asdict(finding) for finding in self.findings],
                 "not_judged": dict(self.not_judged), "rates": dict(self.rates)}
        if self.duality_gaps:
            shown["duality_gaps"] = list(self.duality_gaps)
        return strict_json(shown)


def strict_json(value: object) -> object:
    """`value` with NaN and infinities as the strings "nan", "inf", "-inf": json.dumps would write bare NaN tokens,
    which JSON parsers other than Python's refuse.

    >>> strict_json({"a": [float("nan"), 1.0]})
    {'a': ['nan', 1.0]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return shown(value)
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def shown(value: float) -> str:
    """A non-finite float as JSON-safe text: nan, inf or -inf."""
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
