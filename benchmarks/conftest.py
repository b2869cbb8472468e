"""Shared fixtures of the benchmark suites: the device under test and a figures summary (helpers: _common.py).

Each bench_*.py times ganeval and its anchor (torch-fidelity, prdc, numpy, scipy) in the same run and asserts speed
RATIOS, never absolute times. The figures each test reports are printed in a "ganeval benchmark figures" section at
the end of the pytest run (no -s needed).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

_FIGURES = pytest.StashKey[list]()
_LOAD = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_FIGURES] = []
    config.stash[_LOAD] = os.getloadavg()[0]


def _machine() -> str:
    return (
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs"
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    lines = config.stash.get(_FIGURES, [])
    if lines:
        terminalreporter.section("ganeval benchmark figures")
        # Other processes on the machine skew the timings badly (BLAS threads then wait for cores): check the load.
        start, end = config.stash[_LOAD], os.getloadavg()[0]
        terminalreporter.write_line(f"{_machine()}; 1-min load average {start:.2f} at start, {end:.2f} at end")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def figures(request):
    """figures("text") prints a line and adds it to the end-of-run summary, prefixed with the test name."""
    lines = request.config.stash[_FIGURES]

    def add(text: str) -> None:
        line = f"{request.node.name}: {text}"
        print(line)
        lines.append(line)

    return add


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device ganeval's inputs are put on: GANEVAL_BENCH_DEVICE (default cpu). Anchors always run on the CPU."""
    device = torch.device(os.environ.get("GANEVAL_BENCH_DEVICE", "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.fail(f"GANEVAL_BENCH_DEVICE={device} but torch sees no CUDA device")
    return device
