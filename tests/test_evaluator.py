"""ganeval.Evaluator in a training loop: the reference read once, bounded memory, update/compute equal to
evaluate, records in the user's run folder, and torch.distributed giving one process's record (or naming the rank
that failed), plus the two examples."""
from __future__ import annotations

import ctypes
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ganeval
import ganeval.reference.store as store_module
from ganeval.data.generator import GeneratorSource, LatentSpec
from ganeval.errors import InputError
from ganeval.runs import RunDir

from .conftest import needs_fmnist

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"num_samples": 300, "latent_dim": 16, "extractor": "fmnist-classifier", "use_cache": False}


@pytest.fixture(scope="module")
def network(dcgan_network):
    """conftest's DCGAN generator, in train mode (as a training loop holds it)."""
    return dcgan_network.train()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("reference") / "real.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (400, 1, 28, 28), dtype=np.uint8))
    return str(path)


def _resident_megabytes() -> float:
    """Resident memory after returning freed heap pages to the system: a worker that ran other tests first holds
    freed-but-kept pages that the allocator may hand back (or not) between two reads, which is not growth."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: read as is
        pass
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_ten_evaluations_extract_the_reference_once_in_bounded_memory(network, reference, monkeypatch):
    extracted = []
    original = store_module.extract_shared
    monkeypatch.setattr(store_module, "extract_shared",
                        lambda samples, *args, **kwargs: extracted.append(samples.name) or original(samples, *args,
                                                                                                    **kwargs))
    evaluator = ganeval.Evaluator(reference, "fid,kid,prdc", **SETTINGS)
    records = [evaluator.evaluate(network, step=0)]
    after_first = _resident_megabytes()
    records += [evaluator.evaluate(network, step=step) for step in range(1, 10)]
    assert extracted == [reference]  # the reference once, for ten evaluations
    assert _resident_megabytes() - after_first < 50
    assert len({record["fid"] for record in records}) == 1  # the same latents every time: the same generator, one FID
    assert network.training  # the caller's module is left in the mode it was in


def test_the_first_evaluation_equals_a_score_and_steps_are_recorded(network, reference, tmp_path):
    evaluator = ganeval.Evaluator(reference, "fid,is,kid,prdc", run=tmp_path / "mine", **SETTINGS)
    record = evaluator.evaluate(network, step=500, checkpoint="after-warmup")
    scored = ganeval.score(network, reference, "fid,is,kid,prdc", progress=False, **SETTINGS)
    keys = ("fid", "is_mean", "kid_mean", "precision", "recall", "density", "coverage")
    assert [record[key] for key in keys] == [scored[key] for key in keys]
    [written] = RunDir(tmp_path / "mine").records()
    assert (written.run, written.step, written.checkpoint) == ("mine", 500, "after-warmup")
    table = ganeval.compare(str(tmp_path / "mine"), metrics="fid")
    assert list(table["run"]) == ["mine"] and list(table["step"]) == [500]


def test_update_and_compute_equal_evaluate_on_the_same_images(network, reference):
    evaluator = ganeval.Evaluator(reference, "fid,kid,prdc", **SETTINGS)
    evaluated = evaluator.evaluate(network)
    images = GeneratorSource(network, LatentSpec(16)).generate(300, seed=ganeval.ScoreConfig().seed)
    for batch in images.split(64):
        evaluator.update(batch)
    computed = evaluator.compute()
    assert [computed[key] for key in ("fid", "kid_mean", "precision", "coverage")] == \
        [evaluated[key] for key in ("fid", "kid_mean", "precision", "coverage")]
    assert computed["num_samples"] == 300
    floats = images.float() / 127.5 - 1
    evaluator.reset()
    for batch in floats.split(100):  # floats in the output range (-1, 1): the same uint8 images
        evaluator.update(batch)
    # batches of 100, not the extraction's 64: the float32 features may differ in their last bits
    assert evaluator.compute()["fid"] == pytest.approx(evaluated["fid"], rel=1e-9)


def test_update_checks_its_input_and_compute_needs_some(network, reference):
    evaluator = ganeval.Evaluator(reference, "fid", **SETTINGS)
    with pytest.raises(InputError, match="no images were added"):
        evaluator.compute()
    with pytest.raises(InputError, match="NaN or infinite values"):
        evaluator.update(torch.full((4, 1, 28, 28), float("nan")))
    with pytest.raises(InputError, match=r"takes a batch of images N x C x H x W, got torch.Size\(\[4, 784\]\)"):
        evaluator.update(torch.zeros(4, 784))
    evaluator.update(torch.zeros(4, 1, 28, 28))
    with pytest.raises(InputError, match=r"first given samples of shape \(1, 28, 28\), now \(3, 28, 28\)"):
        evaluator.update(torch.zeros(4, 3, 28, 28))
    with pytest.raises(InputError, match="names 2: make one Evaluator each"):
        ganeval.Evaluator(reference, "fid", extractor="fmnist-classifier,identity")


def test_sample_counts_are_checked_on_all_the_images_added_not_the_first_batch(reference):
    evaluator = ganeval.Evaluator(reference, "prdc", **SETTINGS)  # PRDC's k = 5 needs more than 5 samples
    evaluator.update(torch.zeros(3, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(InputError, match="prdc"):
        evaluator.compute()
    evaluator.update(torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8))
    assert evaluator.compute()["num_samples"] == 33


# --- torch.distributed -------------------------------------------------------------------------------------------

def _torchrun(processes: int, script: str | Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               str(script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_two_and_three_processes_give_one_process_record(tmp_path):
    """Evaluator.evaluate on 1, 2 and 3 processes, and ganeval.score(module) on 2: one process's record."""
    example = REPO / "examples" / "torchrun_eval.py"
    alone = subprocess.run([sys.executable, str(example), "--num-samples", "1000", "--append", tmp_path / "one"],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert alone.returncode == 0, alone.stderr
    expected = json.loads(alone.stdout)
    for processes in (2, 3):
        run = tmp_path / f"run-{processes}"
        result = _torchrun(processes, example, "--num-samples", "1000", "--append", run)
        assert result.returncode == 0, result.stderr[-2000:]
        [printed] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert printed["fid"] == pytest.approx(expected["fid"], rel=1e-9, abs=1e-12)  # moments: float64 rounding
        assert {key: printed[key] for key in ("kid_mean", "precision", "recall", "modes")} == \
            {key: expected[key] for key in ("kid_mean", "precision", "recall", "modes")}
        assert len(RunDir(run).records()) == 1  # rank 0 appended, once
    result = _torchrun(2, example, "--num-samples", "1000", "--api", "score")  # ganeval.score(module) too
    assert result.returncode == 0, result.stderr[-2000:]
    [printed] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert printed["fid"] == pytest.approx(expected["fid"], rel=1e-9, abs=1e-12) and printed["modes"] == expected["modes"]


FAILING = '''
import os, sys, time
import torch, torch.distributed as dist
import ganeval

dist.init_process_group("gloo")
rank = dist.get_rank()
evaluator = ganeval.Evaluator("ring8", "fid", num_samples=1000, latent_dim=2, run=sys.argv[2], use_cache=False,
                              dist_timeout=8)
evaluator.evaluate(lambda z: z * 0.05)  # a first evaluation that every rank makes: recorded


def dying(z):
    if rank == 1:
        os._exit(3)  # killed mid-evaluation
    return z * 0.05


if sys.argv[1] == "dies":
    evaluator.evaluate(dying)
elif sys.argv[1] == "adds-nothing":
    import numpy as np
    reference = sys.argv[2] + "-reference.npy"
    np.save(reference, np.random.default_rng(0).integers(0, 256, (50, 1, 28, 28), dtype=np.uint8))
    updates = ganeval.Evaluator(reference, "fid", extractor="fmnist-classifier", use_cache=False, dist_timeout=8)
    if rank == 0:  # only rank 0 adds images: every rank must raise, none may wait in a gather
        updates.update(torch.randint(0, 256, (20, 1, 28, 28), dtype=torch.uint8))
    updates.compute()
elif rank == 1:
    time.sleep(30)  # never calls
else:
    evaluator.evaluate(lambda z: z * 0.05)
'''


@pytest.mark.parametrize("failure", ["dies", "never-calls", "adds-nothing"])
def test_a_rank_that_fails_ends_every_rank_and_nothing_is_appended(tmp_path, failure):
    script = tmp_path / "failing.py"
    script.write_text(FAILING)
    result = _torchrun(2, script, failure, tmp_path / "run", timeout=120)
    assert result.returncode != 0
    if failure == "never-calls":  # the barrier names the rank that did not come, within dist_timeout
        assert "Evaluator.evaluate (rank 0 of 2): a process did not reach it within 8 s" in result.stderr
        assert "Rank 1" in result.stderr
    elif failure == "adds-nothing":  # every rank raises at once, naming the rank without images
        assert result.stderr.count("no images were added (call update(images) first) on rank 1 of 2") == 2
    else:  # torchrun stops the others and names the rank that died first
        root_cause = result.stderr.split("Root Cause")[-1]
        assert "rank      : 1" in root_cause and "exitcode  : 3" in root_cause, result.stderr[-1500:]
    assert len(RunDir(tmp_path / "run").records()) == 1  # the first evaluation's record, nothing of the failed one


# --- the examples ---------------------------------------------------------------------------------------------

@needs_fmnist
def test_the_train_your_own_example_writes_a_run_that_compare_gate_and_diagnose_read(tmp_path, run_cli):
    run = tmp_path / "my-dcgan"
    result = subprocess.run([sys.executable, str(REPO / "examples" / "train_your_own.py"), "--steps", "4",
                             "--eval-every", "2", "--log-every", "1", "--eval-samples", "200", "--reference-samples", "200",
                             "--train-size", "500", "--width", "8", "--run", str(run)],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert [record.step for record in RunDir(run).records()] == [2, 4]
    code, out, err = run_cli("compare", run, "--select", "all", "--metrics", "fid")
    assert code == 0 and "my-dcgan" in out, err
    code, out, err = run_cli("gate", run, "--max", "fid=100000")
    assert code == 0 and "pass" in out, err
    # ganeval.TrainingLog in the user's loop: diagnose reads its lines and the rates they name
    code, out, err = run_cli("diagnose", run, "--json")
    assert code == 0, err
    diagnosis = json.loads(out)
    assert diagnosis["run"] == "my-dcgan" and diagnosis["rates"] == {"lr_d": 2e-4, "lr_g": 2e-4, "d_steps": 1, "ratio": 1.0}
    # two scores and four lines: too few to judge the scores' kinds or D's
    assert set(diagnosis["not_judged"]) == {"oscillation", "mode_collapse", "mode_hopping", "discriminator_wins",
                                            "learning_rate_mismatch"}
    assert diagnosis["not_judged"]["discriminator_wins"] == "4 line(s) with d_accuracy and d_loss; 5 needed"
