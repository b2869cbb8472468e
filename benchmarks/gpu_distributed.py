"""GPU check of sharded scoring (issue 21): the same score on one process and on torchrun's K processes over NCCL
(K = the GPUs lent, or 2 processes on a single GPU, which still runs the NCCL path), the records compared, and the
images/s of each. Prepared for a device machine; exit 1 when the records differ."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import torch

SCORE = ["score", "fashion-mnist:train", "fashion-mnist:test", "--extractor", "fmnist-classifier", "--metrics",
         "fid,is,kid,prdc", "--no-cache", "--quiet", "--json"]
KEYS = ("fid", "is_mean", "kid_mean", "precision", "recall", "density", "coverage")


def run(command: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return time.perf_counter() - started, json.loads(result.stdout)


def main() -> int:
    processes = max(torch.cuda.device_count(), 2)
    one, single = run([sys.executable, "-m", "ganeval", *SCORE])
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    many, sharded = run([torchrun, "--standalone", f"--nproc_per_node={processes}", "-m", "ganeval", *SCORE])
    images = 70_000
    print(f"1 process: {one:.1f} s ({images / one:,.0f} images/s); {processes} processes on "
          f"{torch.cuda.device_count()} GPU(s): {many:.1f} s ({images / many:,.0f} images/s), start-up included")
    bad = [key for key in KEYS if abs(single[key] - sharded[key]) > 1e-9 * max(1.0, abs(single[key]))]
    for key in KEYS:
        print(f"  {key:<10} {single[key]!r:>24} {sharded[key]!r:>24}")
    print("records differ in " + ", ".join(bad) if bad else "records agree within 1e-9")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
