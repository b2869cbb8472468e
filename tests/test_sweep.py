"""Sweeps and the training hook: each checkpoint is scored once, whoever gets to it first, under its claim."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import ganeval.sweep as sweep_module
from ganeval.config import ScoreConfig
from ganeval.distributed import world
from ganeval.errors import RecordsWarning
from ganeval.reference import ReferenceStore
from ganeval.runs import RunDir
from ganeval.sweep import Sweep, score_run
from ganeval.train.config import load_config
from ganeval.train.loop import train
from ganeval.train.scoring import CheckpointScorer

from .conftest import GRID, TINY_2D, set_flags

NARROW = ("model_options.generator_width=8", "model_options.discriminator_width=8")
TINY_RING8 = [*TINY_2D, *NARROW, "checkpoint_every=2", "eval_every=1", "eval_samples=200", "eval_metrics=fid,prdc"]


@pytest.fixture
def unscored_run(tmp_path):
    """A ring8 run of three checkpoints (steps 0, 2, 4), trained without its hook: nothing scored yet."""
    config = load_config("ring8-gan", [*TINY_RING8, "steps=4"])
    train(config, tmp_path / "run", progress=False)
    return config, RunDir(tmp_path / "run")


def test_a_sweep_beside_the_training_hook_scores_each_checkpoint_once(unscored_run, monkeypatch):
    """An evaluation job sweeps a run while its training scores the same checkpoints with the same settings: the
    hook passes over the checkpoint whose claim the sweep holds, training goes on, and the run's last checkpoint
    waits for it, then finds it scored. (Before the hook claimed, it scored the checkpoint under the sweep's feet:
    two records, or a sweep whose second read found nothing left to score and stopped on 'an empty name'.)"""
    config, run = unscored_run
    hook = CheckpointScorer(config, torch.device("cpu"))
    first, contested, last = run.checkpoints()
    sweep_scoring, let_sweep_go = threading.Event(), threading.Event()
    original = sweep_module.score_all

    def slow_on_the_contested(source, *args, **kwargs):
        if source == str(contested.path):
            sweep_scoring.set()
            let_sweep_go.wait(30)
        return original(source, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "score_all", slow_on_the_contested)
    swept, hooked = [], []
    sweep = threading.Thread(target=lambda: swept.extend(score_run(run.path, config.data, hook.score_config)))
    sweep.start()
    assert sweep_scoring.wait(60)  # the sweep scored step 0 and holds the claim of step 2, scoring it
    assert hook(contested.path, step=2) is None and hook.pending == [contested]  # passed over: training goes on
    training_ends = threading.Thread(target=lambda: hooked.append(hook(last.path, step=4, last=True)))
    training_ends.start()
    training_ends.join(timeout=1.5)
    assert training_ends.is_alive()  # the last checkpoint waits for step 2's claim ...
    let_sweep_go.set()
    sweep.join(timeout=120)
    training_ends.join(timeout=120)
    assert not sweep.is_alive() and not training_ends.is_alive() and not hook.pending
    # ... and finds step 2 scored; step 4 went to whichever of the two claimed it first
    by_hook = [] if hooked == [None] else [hooked[0].checkpoint]
    assert sorted([path.name for path in swept] + by_hook) == [first.name, contested.name, last.name]
    assert sorted(record.checkpoint for record in run.records()) == [first.name, contested.name, last.name]
    assert score_run(run.path, config.data, hook.score_config) == []  # a second sweep finds nothing left


def test_a_hand_edited_record_does_not_stop_a_sweep(unscored_run):
    config, run = unscored_run
    run.append({"reference": "ring8", "checkpoint": "step-0000000.pt", "step": "zero"})  # a string: not a record
    with pytest.warns(RecordsWarning, match=r"metrics.jsonl:1: field 'step' must be an integer.*left out"):
        scored = score_run(run.path, config.data, CheckpointScorer(config, torch.device("cpu")).score_config)
    assert [path.name for path in scored] == [checkpoint.name for checkpoint in run.checkpoints()]


def test_a_process_torchrun_started_that_never_joined_computes_alone_and_writes_nothing(unscored_run,
                                                                                         monkeypatch):
    """A Python caller under torchrun that never called init_world: rank 1 decides for itself (nothing to wait
    for in a broadcast) and leaves the writing to rank 0."""
    config, run = unscored_run
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    processes = world()
    assert processes.launched and not processes.distributed and processes.decides and not processes.is_main
    assert list(processes.shard(5)) == [0, 1, 2, 3, 4] and processes.broadcast("mine") == "mine"
    scored = score_run(run.path, config.data, CheckpointScorer(config, torch.device("cpu")).score_config)
    assert len(scored) == 3 and run.records() == []


def test_the_hook_scores_what_no_sweep_has(unscored_run):
    config, run = unscored_run
    hook = CheckpointScorer(config, torch.device("cpu"))
    last = run.checkpoints()[-1]
    record = hook(last.path, step=4)
    assert record.checkpoint == last.name and record["fid"] >= 0 and [r.checkpoint for r in run.records()] == [last.name]
    assert not hook.missing(last.path, step=4) and hook.missing(run.checkpoints()[0].path, step=0)
    assert hook(last.path, step=4) is None  # asked again (a resumed run): scored already, nothing appended
    assert len(run.records()) == 1


# --- concurrent sweeps ---------------------------------------------------------------------------------------------


class _SlowSweep(Sweep):
    """A sweep whose scoring takes a while and records what the real one records: the checkpoint."""

    def __init__(self, scored_by: list, who: str) -> None:
        super().__init__("grid25", ScoreConfig(), ReferenceStore(enabled=False))
        self.scored_by, self.who = scored_by, who

    def missing(self, checkpoint, records) -> list[str]:
        return [] if checkpoint.name in {record.checkpoint for record in records} else ["identity"]

    def score(self, checkpoint, extractors):
        time.sleep(0.2)
        self.scored_by.append((self.who, checkpoint.name))
        checkpoint.run.append({**GRID, "checkpoint": checkpoint.name})
        return checkpoint.run.records()[-1:]


def _fake_sweep(run: Path, scored_by: list, who: str) -> None:
    _SlowSweep(scored_by, who).run(RunDir(run))


def test_two_sweeps_split_the_checkpoints(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for step in range(6):
        (run / "checkpoints" / f"step-{step:07d}.pt").write_bytes(b"")
    scored_by: list = []
    sweeps = [threading.Thread(target=_fake_sweep, args=(run, scored_by, who)) for who in ("one", "two")]
    for sweep in sweeps:
        sweep.start()
    for sweep in sweeps:
        sweep.join()
    assert sorted(name for _, name in scored_by) == [f"step-{step:07d}.pt" for step in range(6)]
    assert {who for who, _ in scored_by} == {"one", "two"}  # both worked: the work was split, not serialised
    assert len(RunDir(run).records()) == 6


def test_a_claim_released_without_a_record_is_scored_by_the_waiting_sweep(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for step in range(2):
        (run / "checkpoints" / f"step-{step:07d}.pt").write_bytes(b"")
    claim = os.open(run / "checkpoints" / ".step-0000000.pt.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(claim, fcntl.LOCK_EX)  # another sweep is scoring step 0 ...
    scored_by: list = []
    sweep = threading.Thread(target=_fake_sweep, args=(run, scored_by, "me"))
    sweep.start()
    time.sleep(0.6)
    assert scored_by == [("me", "step-0000001.pt")]  # ... so this one went on to step 1 and waits for step 0
    os.close(claim)  # ... and died without recording it: its flock died with it
    sweep.join(timeout=10)
    assert scored_by == [("me", "step-0000001.pt"), ("me", "step-0000000.pt")]


def test_two_concurrent_score_commands_write_each_record_once(run_cli, tmp_path):
    code, _, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D, *NARROW, "checkpoint_every=2"), "--steps", "10",
                           "--out", tmp_path / "run", "--quiet", "--no-eval")
    assert code == 0, err
    command = [sys.executable, "-m", "ganeval", "score", str(tmp_path / "run"), "--reference", "ring8", "--metrics",
               "fid,kid,prdc,modes", "--quiet", "--threads", "1"]
    sweeps = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    assert [sweep.wait(timeout=300) for sweep in sweeps] == [0, 0], [sweep.stderr.read() for sweep in sweeps]
    checkpoints = [record.checkpoint for record in RunDir(tmp_path / "run").records()]
    assert sorted(checkpoints) == [f"step-{step:07d}.pt" for step in range(0, 11, 2)]
