"""`ganeval diagnose`: name a GAN run's failure modes from its training signals (training.jsonl) and its scores
(metrics.jsonl), each finding with the steps where it shows, the numbers it rests on, a remedy and its citation.

Kinds (KINDS): divergence, discriminator_wins, oscillation, mode_collapse, mode_hopping, learning_rate_mismatch;
a run where none fires is healthy. Every threshold lives in THRESHOLDS with the reason for its value, calibrated
on runs with known failures and on the shipped configs on three seeds (benchmarks/README.md, "Training health"). A run without metrics.jsonl is
diagnosed from its signals alone and says which kinds it could not judge; one without training.jsonl (trained
before the signals, or scored only) from its scores alone.

>>> import tempfile
>>> from ganeval.training_log import TrainingLog
>>> run = tempfile.mkdtemp()
>>> for step in range(20, 220, 20):
...     _ = TrainingLog(run).log(step, d_loss=1.3, g_loss=0.8, d_accuracy=0.6, loss="ns")
>>> diagnose_run(run).healthy
True
"""
from __future__ import annotations

import os
from dataclasses import replace

from ..errors import InputError
from .findings import Diagnosis, Finding
from .history import RunHistory, effective_rates, expand_runs, loss_name, read_history
from .scores import mode_collapse, mode_hopping, oscillation
from .signals import discriminator_wins, divergence, learning_rate_mismatch, why_not_judged
from .thresholds import EQUILIBRIUM_D_LOSS, KINDS, SCORE_KINDS, SIGNAL_KINDS, THRESHOLDS, Threshold

__all__ = ["EQUILIBRIUM_D_LOSS", "KINDS", "THRESHOLDS", "Diagnosis", "Finding", "RunHistory", "Threshold", "diagnose",
           "diagnose_run", "diagnosis_text", "expand_runs", "loss_name", "parse_kinds", "read_history"]


def diagnose_run(run: str | os.PathLike) -> Diagnosis:
    """The Diagnosis of one run folder (see the module docstring); an InputError when it holds neither file."""
    return diagnose(read_history(run))


def diagnose(history: RunHistory) -> Diagnosis:
    """The findings of every kind that `history` can judge, and why it could not judge the others."""
    not_judged: dict[str, str] = {}
    findings = signal_findings(history, not_judged) + score_findings(history, not_judged)
    findings.sort(key=lambda finding: (finding.first_step if finding.first_step is not None else -1, finding.kind))
    return Diagnosis(history.name, tuple(findings), not_judged, effective_rates(history))


def signal_findings(history: RunHistory, not_judged: dict[str, str]) -> list[Finding]:
    """The kinds training.jsonl shows; those it cannot show go to `not_judged` with the reason."""
    if not history.lines:
        reason = ("training.jsonl holds no lines" if history.has_log
                  else "no training.jsonl (trained before ganeval logged signals, or scored only)")
        not_judged.update(dict.fromkeys(SIGNAL_KINDS, reason))
        return []
    findings = divergence(history.lines, loss_name(history))
    # after a divergence the signals are the broken networks': the game is judged on the lines before it
    before = replace(history, lines=[line for line in history.lines
                                     if not findings or line["step"] < findings[0].first_step])
    for kind, judge in (("discriminator_wins", discriminator_wins), ("learning_rate_mismatch", learning_rate_mismatch)):
        reason = why_not_judged(kind, before, diverged=bool(findings))
        if reason:
            not_judged[kind] = reason
        else:
            findings += judge(before)
    return findings


def score_findings(history: RunHistory, not_judged: dict[str, str]) -> list[Finding]:
    """The kinds metrics.jsonl shows across 3 scored checkpoints or more; else `not_judged` says why."""
    if len(history.scores) < 3:
        reason = "fewer than 3 scored checkpoints" if history.scores else "no metrics.jsonl (trained with --no-eval?)"
        not_judged.update(dict.fromkeys(SCORE_KINDS, reason))
        return []
    return oscillation(history.scores) + mode_collapse(history.scores) + mode_hopping(history.scores)


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """A diagnosis for the terminal: the verdict line, then each finding with its steps, evidence and remedy."""
    rates = diagnosis.rates
    rate_text = (f" (lr_d {rates['lr_d']:g}, lr_g {rates['lr_g']:g}, ratio {rates['ratio']:.3g})" if rates else "")
    if diagnosis.healthy:
        lines = [f"{diagnosis.run}: healthy{rate_text}"]
    elif not diagnosis.findings:
        lines = [f"{diagnosis.run}: nothing to judge (no training signals or scores yet)"]
    else:
        kinds = ", ".join(dict.fromkeys(finding.kind for finding in diagnosis.findings))
        lines = [f"{diagnosis.run}: {len(diagnosis.findings)} finding{'s' * (len(diagnosis.findings) > 1)} "
                 f"({kinds}){rate_text}"]
    for finding in diagnosis.findings:
        lines.append(f"  {finding.kind} at {_steps(finding)}: {finding.summary}")
        lines.append(f"    remedy: {finding.remedy} [{finding.citation}]")
    for kind, reason in diagnosis.not_judged.items():
        lines.append(f"  not judged: {kind} ({reason})")
    if diagnosis.duality_gaps:
        gaps = ", ".join(f"step {gap['step']} {gap['gap']:.3g}" for gap in diagnosis.duality_gaps)
        seconds = sum(gap["seconds"] for gap in diagnosis.duality_gaps) / len(diagnosis.duality_gaps)
        lines.append(f"  duality gap (lower is nearer an equilibrium): {gaps} ({seconds:.0f} s per checkpoint)")
    return "\n".join(lines)


def _steps(finding: Finding) -> str:
    if finding.first_step == finding.last_step:
        return f"step {finding.first_step}"
    return f"steps {finding.first_step}-{finding.last_step}"


def parse_kinds(text: str | None) -> set[str]:
    """--fail-on's kinds ('any': every kind); an InputError names an unknown one.

    >>> sorted(parse_kinds("divergence, mode_collapse"))
    ['divergence', 'mode_collapse']
    """
    if text is None:
        return set()
    kinds = {kind.strip() for kind in text.split(",") if kind.strip()}
    if not kinds:
        raise InputError(f"--fail-on {text!r}: no kind given (kinds: {', '.join(KINDS)}, any)")
    if "any" in kinds:
        return set(KINDS)
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise InputError(f"--fail-on {text}: unknown kind {unknown[0]!r} (kinds: {', '.join(KINDS)}, any)")
    return kinds
