"""Sharded scoring on one machine: 2 processes x 1 thread (torchrun, gloo) against 1 process x 2 threads, on the
fmnist-classifier score of the 60,000 Fashion-MNIST training images against the 10,000 test images (FID and IS,
reference extracted each time: --no-cache), and the cost of the gather that makes the shards one set.

No speed assertion: on 2 cores the two launches compete for the same cores, so the comparison says what sharding
costs (start-up, the gather) rather than what it gains; the records must agree (FID and IS to 1e-9 relative). The
gather is timed on its own at the sizes of this score (N x 128 features and N x 10 logits) and at FID-50k's
(50,000 x 2,048 float32 rows), since it is the one step a sharded score adds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ganeval.data import fashion_mnist

TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
SCORE = ["score", "fashion-mnist:train", "fashion-mnist:test", "--extractor", "fmnist-classifier", "--metrics",
         "fid,is", "--no-cache", "--quiet", "--json"]

pytestmark = pytest.mark.skipif(fashion_mnist.find_folder("train") is None, reason="Fashion-MNIST not installed: run `make data`")

GATHER = textwrap.dedent("""
    import sys, time, torch, torch.distributed as dist
    dist.init_process_group("gloo")
    rows, dim = int(sys.argv[1]), int(sys.argv[2])
    block = torch.randn(rows // dist.get_world_size(), dim)
    blocks = [None] * dist.get_world_size()
    dist.barrier()
    start = time.perf_counter()
    dist.all_gather_object(blocks, block)
    dist.barrier()
    if dist.get_rank() == 0:
        print(time.perf_counter() - start)
    dist.destroy_process_group()
""")


def _timed(command: list[str], threads: str) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=True,
                            env={**os.environ, "OMP_NUM_THREADS": threads})
    return time.perf_counter() - started, json.loads(result.stdout)


def _gather_seconds(rows: int, dim: int, tmp_path: Path) -> float:
    script = tmp_path / "gather.py"
    script.write_text(GATHER)
    result = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node=2", str(script), str(rows), str(dim)],
                            capture_output=True, text=True, timeout=600, check=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    return float(result.stdout.split()[-1])


def test_two_processes_against_one_on_60000_images(figures, tmp_path):
    one, single = _timed([sys.executable, "-m", "ganeval", *SCORE, "--threads", "2"], "2")
    two, sharded = _timed([TORCHRUN, "--standalone", "--nproc_per_node=2", "-m", "ganeval", *SCORE], "1")
    assert sharded["fid"] == pytest.approx(single["fid"], rel=1e-9)
    assert sharded["is_mean"] == pytest.approx(single["is_mean"], rel=1e-9)
    gather = _gather_seconds(70_000, 128 + 10, tmp_path)  # both sides' features and logits, as one exchange each
    large = _gather_seconds(50_000, 2048, tmp_path)
    figures(f"60,000 + 10,000 images, fmnist-classifier, fid+is: 1 process x 2 threads {one:.1f} s, 2 processes x "
            f"1 thread {two:.1f} s (FID equal to {abs(sharded['fid'] - single['fid']) / single['fid']:.0e} relative); "
            f"the gathers of this score's rows {gather:.2f} s ({gather / two:.1%} of the sharded run); gathering "
            f"50,000 x 2,048 float32 rows (410 MB) {large:.2f} s")
