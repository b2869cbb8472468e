"""Start-up of the command line: `ganeval --help` against torch-fidelity's `fidelity --help`, in fresh interpreters.

Issue 18's target is absolute (under 1 s: a help screen has no anchor to match), so the benchmark asserts it, and
times `fidelity --help` (which imports torch and torch-fidelity) beside it for scale; `import torch` alone is timed
too, since that is what ganeval's command line avoids until a command needs it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HELP_LIMIT_S = 1.0
ROUNDS = 5


def _fastest(command: list[str]) -> float:
    """The fastest of ROUNDS runs of `command` (wall time, output discarded)."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        times.append(time.perf_counter() - started)
    return min(times)


def test_ganeval_help_is_fast(figures):
    ganeval = _fastest([sys.executable, "-m", "ganeval", "--help"])
    score = _fastest([sys.executable, "-m", "ganeval", "score", "--help"])
    torch = _fastest([sys.executable, "-c", "import torch"])
    fidelity_script = shutil.which("fidelity") or str(Path(sys.executable).parent / "fidelity")
    fidelity = _fastest([fidelity_script, "--help"]) if Path(fidelity_script).exists() else float("nan")
    ok = ganeval < HELP_LIMIT_S and score < HELP_LIMIT_S
    figures(f"ganeval --help {ganeval:.2f} s, ganeval score --help {score:.2f} s (limit {HELP_LIMIT_S} s) "
            f"{'PASS' if ok else 'FAIL'}; for scale: fidelity --help {fidelity:.2f} s, import torch {torch:.2f} s")
    assert ok


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__, "-q"]))
