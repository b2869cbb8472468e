"""Sharded scoring under torchrun (gloo on CPU): K processes give the record one process gives, and only rank 0
writes it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganeval.distributed import World

TORCHRUN = Path(sys.executable).with_name("torchrun")
EXACT = ("kid_mean", "kid_std", "precision", "recall", "density", "coverage", "modes", "high_quality", "reverse_kl",
         "ndb", "ndb_fraction", "ndb_js")

pytestmark = pytest.mark.skipif(not TORCHRUN.exists() and shutil.which("torchrun") is None,
                                reason="torchrun is not installed beside this Python")


def test_blocked_shards_cover_the_rows_in_order():
    for size in (1, 2, 3, 7):
        for unit in (1, 3, 64):
            rows = [row for rank in range(size) for row in World(rank, size).shard(10, unit)]
            assert rows == list(range(10))
    assert [World(rank, 2).shard(10, 4) for rank in range(2)] == [range(0, 4), range(4, 10)]  # whole batches
    assert [list(World(rank, 3).shard(2)) for rank in range(3)] == [[], [0], [1]]  # more ranks than rows


def _score(tmp_path: Path, processes: int, args: list[str], name: str) -> dict:
    out = tmp_path / f"{name}-{processes}.json"
    launcher = [sys.executable, "-m"] if processes == 1 else [str(TORCHRUN if TORCHRUN.exists() else "torchrun"),
                                                                "--standalone", f"--nproc_per_node={processes}", "-m"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "GANEVAL_CACHE": str(tmp_path / f"cache-{processes}")}
    result = subprocess.run([*launcher, "ganeval", "score", *args, "--quiet", "--json", "--out", str(out)],
                            capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("\n") == 1, "only rank 0 prints the record"
    return json.loads(out.read_text())


def _same_record(single: dict, sharded: dict) -> None:
    for key, value in single.items():
        if key in ("fid", "is_mean", "is_std") or key.startswith("fid_ci") or key.startswith("is_mean_ci"):
            assert sharded[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        elif key in EXACT or key.endswith(("_ci_low", "_ci_high")):
            assert sharded[key] == value, key
    assert sharded["num_samples"] == single["num_samples"] and sharded["num_reference"] == single["num_reference"]
    if "modes" in single["diagnostics"]:
        assert sharded["diagnostics"]["modes"]["mode_counts"] == single["diagnostics"]["modes"]["mode_counts"]


def test_points_scored_on_two_and_three_processes_match_one(tmp_path):
    rng = np.random.default_rng(0)
    centres = np.stack(np.meshgrid(np.arange(-4, 5, 2), np.arange(-4, 5, 2)), -1).reshape(-1, 2)
    points = centres[rng.integers(0, 25, 401)] + rng.normal(scale=0.05, size=(401, 2))
    np.save(tmp_path / "fake.npy", points)
    args = [str(tmp_path / "fake.npy"), "grid25", "--metrics", "fid,kid,prdc,modes,ndb", "--kid-subsets", "5",
            "--ndb-bins", "10", "--ci", "0.9", "--ci-replicates", "20"]
    single = _score(tmp_path, 1, args, "points")
    for processes in (2, 3):
        _same_record(single, _score(tmp_path, processes, args, "points"))
    assert (tmp_path / "cache-2" / "references").is_dir()  # rank 0 cached the reference


def test_a_folder_scored_on_two_and_three_processes_matches_one(tmp_path):
    rng = np.random.default_rng(1)
    for side, count in (("fake", 37), ("real", 45)):
        (tmp_path / side).mkdir()
        for index in range(count):
            Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(tmp_path / side / f"{index:03d}.png")
    args = [str(tmp_path / "fake"), str(tmp_path / "real"), "--metrics", "fid,is,kid", "--extractor",
            "fmnist-classifier", "--kid-subset-size", "20", "--kid-subsets", "5", "--is-splits", "2",
            "--batch-size", "8"]  # several batches, so that every process has some
    single = _score(tmp_path, 1, args, "folder")
    for processes in (2, 3):
        _same_record(single, _score(tmp_path, processes, args, "folder"))
    assert single["is_mean"] > 1


def test_a_checkpoint_scored_on_two_processes_matches_one_and_is_recorded_once(tmp_path):
    run = tmp_path / "run"
    train = subprocess.run([sys.executable, "-m", "ganeval", "train", "ring8-gan", "--steps", "2", "--set", "batch_size=10",
                            "--set", "train_size=500", "--out", str(run), "--no-eval", "--quiet"],
                           capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert train.returncode == 0, train.stderr
    checkpoint = str(run / "checkpoints" / "step-0000002.pt")
    # 1,100 samples: three generation batches of 500, so that both processes generate some
    args = [checkpoint, "ring8", "--metrics", "fid,prdc,modes", "--num-samples", "1100", "--ci", "0.9",
            "--ci-replicates", "20"]
    single = _score(tmp_path, 1, args, "checkpoint")
    sharded = _score(tmp_path, 2, args, "checkpoint")
    _same_record(single, sharded)
    records = (run / "metrics.jsonl").read_text().splitlines()
    assert len(records) == 2, "each score appends its record once (rank 0), not once per rank"
    assert "torchrun" in subprocess.run([str(TORCHRUN if TORCHRUN.exists() else "torchrun"), "--standalone",
                                         "--nproc_per_node=2", "-m", "ganeval", "train", "ring8-gan", "--out",
                                         str(tmp_path / "other")], capture_output=True, text=True,
                                        env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300).stderr


def test_ref_build_on_two_processes_caches_the_single_process_statistics(tmp_path):
    import torch

    np.save(tmp_path / "real.npy", np.random.default_rng(2).normal(size=(301, 5)))
    cards = {}
    for processes in (1, 2):
        cache = tmp_path / f"cache-{processes}"
        launcher = [sys.executable, "-m"] if processes == 1 else [str(TORCHRUN if TORCHRUN.exists() else "torchrun"),
                                                                    "--standalone", "--nproc_per_node=2", "-m"]
        result = subprocess.run([*launcher, "ganeval", "ref", "build", str(tmp_path / "real.npy"), "--quiet"],
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "OMP_NUM_THREADS": "1", "GANEVAL_CACHE": str(cache)})
        assert result.returncode == 0 and result.stdout.count("\n") == 1, result.stderr[-2000:]
        (entry,) = (cache / "references").glob("*.pt")
        cards[processes] = torch.load(entry, weights_only=True)
    assert torch.equal(cards[1]["raw"], cards[2]["raw"])
    assert torch.allclose(cards[1]["stats"]["outer_sum"], cards[2]["stats"]["outer_sum"], rtol=1e-12)


def _torchrun(args: list[str], tmp_path: Path, processes: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run([str(TORCHRUN if TORCHRUN.exists() else "torchrun"), "--standalone",
                           f"--nproc_per_node={processes}", "-m", "ganeval", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1", "GANEVAL_CACHE": str(tmp_path / "c")})


def test_a_sweep_on_two_processes_writes_each_record_once(tmp_path):
    run = tmp_path / "run"
    train = subprocess.run([sys.executable, "-m", "ganeval", "train", "ring8-gan", "--steps", "2", "--set", "batch_size=10",
                            "--set", "train_size=500", "--set", "checkpoint_every=1", "--out", str(run), "--no-eval",
                            "--quiet"], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                           timeout=300)
    assert train.returncode == 0, train.stderr
    sweep = ["score", str(run), "--reference", "ring8", "--metrics", "fid,prdc", "--num-samples", "200", "--json",
             "--quiet"]
    first = _torchrun(sweep, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert [json.loads(line)["step"] for line in first.stdout.splitlines()] == [0, 1, 2]
    again = _torchrun(sweep, tmp_path)
    assert again.returncode == 0 and again.stdout == "" and "already scored" in again.stderr
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 2]


def test_bad_input_under_torchrun_is_one_line_naming_the_rank(tmp_path):
    """Every rank meets the same bad input; torchrun stops the others once one fails, so one or two lines come."""
    result = _torchrun(["score", str(tmp_path / "missing.npy"), "ring8", "--quiet"], tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.startswith("ganeval: error")]
    assert result.returncode != 0 and 1 <= len(lines) <= 2
    assert all(line.split(":")[1] in (" error (rank 0 of 2)", " error (rank 1 of 2)") for line in lines)
    assert all("missing.npy" in line for line in lines)


def test_dcgan_training_on_two_processes_resumes_on_one(tmp_path):
    """Each process takes half of every batch and the gradients are averaged; rank 0 writes the run, which `score`
    reads and one process resumes."""
    small = ["--set", "batch_size=16", "--set", "checkpoint_every=10", "--set", "model_options.generator_width=8",
             "--set", "model_options.discriminator_width=8", "--out", str(tmp_path / "run"), "--no-eval", "--quiet"]
    trained = _torchrun(["train", "fmnist-dcgan", "--steps", "20", *small], tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert trained.stdout.count("step 20") == 1, "rank 0 alone reports"
    written = sorted(path.name for path in (tmp_path / "run" / "checkpoints").glob("step-*.pt"))
    assert written == ["step-0000000.pt", "step-0000010.pt", "step-0000020.pt"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "GANEVAL_CACHE": str(tmp_path / "c")}
    resumed = subprocess.run([sys.executable, "-m", "ganeval", "train", "fmnist-dcgan", "--steps", "30", "--resume",
                              *small], capture_output=True, text=True, env=environment, timeout=300)
    assert resumed.returncode == 0 and "step 30" in resumed.stdout, resumed.stderr[-2000:]
    scored = subprocess.run([sys.executable, "-m", "ganeval", "score", str(tmp_path / "run" / "checkpoints" /
                             "step-0000030.pt"), "fashion-mnist:test", "--metrics", "fid", "--num-samples", "100",
                             "--reference-samples", "500", "--json", "--quiet"], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert scored.returncode == 0 and json.loads(scored.stdout)["step"] == 30, scored.stderr[-2000:]
    odd = _torchrun(["train", "fmnist-dcgan", "--steps", "1", "--set", "batch_size=15", "--out",
                     str(tmp_path / "odd")], tmp_path)
    assert odd.returncode != 0 and "must divide among the 2 processes" in odd.stderr


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc: no psutil)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def test_a_rank_that_dies_stops_the_job_and_nothing_is_written(tmp_path):
    """torchrun stops the other processes when one dies, names the failed rank, and the record (written by rank 0
    only at the end, to a temporary name and renamed) is never there."""
    import signal
    import time

    rng = np.random.default_rng(3)
    (tmp_path / "fake").mkdir()
    for index in range(400):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(tmp_path / "fake" / f"{index:03d}.png")
    out = tmp_path / "record.json"
    job = subprocess.Popen([str(TORCHRUN if TORCHRUN.exists() else "torchrun"), "--standalone", "--nproc_per_node=2",
                            "-m", "ganeval", "score", str(tmp_path / "fake"), "fashion-mnist:test", "--batch-size", "1",
                            "--extractor", "fmnist-classifier", "--metrics", "fid", "--quiet", "--out", str(out),
                            "--append", str(tmp_path / "run")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1", "GANEVAL_CACHE": str(tmp_path / "c")})
    workers: list[int] = []
    for _ in range(100):  # wait for both workers to start
        time.sleep(0.2)
        found = _children(job.pid)
        if len(found) == 2:
            workers = sorted(found)
            break
    assert len(workers) == 2, "torchrun did not start two workers"
    time.sleep(3)  # inside the extraction
    os.kill(workers[1], signal.SIGKILL)
    _, err = job.communicate(timeout=120)
    assert job.returncode != 0 and "rank" in err and not out.exists()
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
    assert not list(tmp_path.glob("*.tmp*")) and not list((tmp_path / "c").rglob("*.pt"))


def test_a_dataset_source_scored_on_two_and_three_processes_matches_one(tmp_path):
    args = ["fashion-mnist:test", "fashion-mnist:train", "--num-samples", "300", "--reference-samples", "400",
            "--metrics", "fid,is,kid,prdc,modes,ndb", "--kid-subsets", "5", "--ndb-bins", "10", "--is-splits", "2",
            "--batch-size", "32", "--ci", "0.9", "--ci-replicates", "20"]
    single = _score(tmp_path, 1, args, "dataset")
    assert single["modes"] >= 9 and single["is_mean_ci_low"] <= single["is_mean"]
    for processes in (2, 3):
        _same_record(single, _score(tmp_path, processes, args, "dataset"))


def test_the_memorization_metrics_on_two_processes_match_one(tmp_path):
    rng = np.random.default_rng(1)
    centres = np.stack(np.meshgrid(np.arange(-4, 5, 2), np.arange(-4, 5, 2)), -1).reshape(-1, 2)
    points = centres[rng.integers(0, 25, 301)] + rng.normal(scale=0.05, size=(301, 2))
    np.save(tmp_path / "fake.npy", points)
    args = [str(tmp_path / "fake.npy"), "grid25", "--train", "grid25", "--reference-samples", "500",
            "--metrics", "copies,authpct,ct,realism,mifid,fld", "--fld-epochs", "5", "--ci", "0.9",
            "--ci-replicates", "20"]
    single, sharded = _score(tmp_path, 1, args, "memorization"), _score(tmp_path, 2, args, "memorization")
    for key in ("copies", "authpct", "ct", "realism", "robust_precision", "mifid", "fld", "fld_gap",
                "authpct_ci_low", "copies_ci_high"):
        assert sharded[key] == pytest.approx(single[key], rel=1e-12, abs=1e-12), key
