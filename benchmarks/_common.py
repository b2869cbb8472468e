"""Helpers shared by the bench_*.py modules (pytest puts this folder on sys.path: it has no __init__.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys


def min_seconds(benchmark) -> float | None:
    """The fastest round of the last benchmark.pedantic() call; None under --benchmark-disable."""
    return None if benchmark.stats is None else benchmark.stats.stats.min


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# Peak RSS of the current process, for the scripts run_python() runs. Not ru_maxrss: Linux carries the parent's peak
# RSS over fork and exec into the child's ru_maxrss (a child of a pytest process that has just held 3 GB reports at
# least 3 GB), whereas VmHWM is the high-water mark of the child's own address space since its exec.
PEAK_RSS_SNIPPET = """
import resource
def peak_rss_gb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # kB on Linux; inherits the parent's
def ru_maxrss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
"""


def run_python(code: str, *args: object, timeout: float = 3600) -> dict:
    """Run `code` in a fresh interpreter, with peak_rss_gb() and ru_maxrss_gb() defined, and return the JSON object
    printed on its last stdout line."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SNIPPET + code, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"subprocess failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
