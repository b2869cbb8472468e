"""Sweeps and the training hook: each checkpoint is scored once, whoever gets to it first, under its claim."""
from __future__ import annotations

import threading

import pytest
import torch

import ganeval.sweep as sweep_module
from ganeval.runs import RunDir
from ganeval.sweep import score_run
from ganeval.train.config import load_config
from ganeval.train.loop import train
from ganeval.train.scoring import CheckpointScorer

TINY_RING8 = ["batch_size=10", "train_size=200", "model_options.generator_width=8",
              "model_options.discriminator_width=8", "checkpoint_every=2", "eval_every=1", "eval_samples=200",
              "eval_metrics=fid,prdc"]


@pytest.fixture
def unscored_run(tmp_path):
    """A ring8 run of three checkpoints (steps 0, 2, 4), trained without its hook: nothing scored yet."""
    config = load_config("ring8-gan", [*TINY_RING8, "steps=4"])
    train(config, tmp_path / "run", progress=False)
    return config, RunDir(tmp_path / "run")


def test_a_sweep_beside_the_training_hook_scores_each_checkpoint_once(unscored_run, monkeypatch):
    """An evaluation job sweeps a run while its training scores the same checkpoint with the same settings: the
    hook waits on the checkpoint's claim and then finds it scored. (Before the hook claimed, it scored the
    checkpoint under the sweep's feet: two records, or a sweep whose second read found nothing left to score and
    stopped on 'an empty name'.)"""
    config, run = unscored_run
    hook = CheckpointScorer(config, torch.device("cpu"))
    contested = run.checkpoints()[1]
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
    assert sweep_scoring.wait(60)  # the sweep holds the claim of step 2 and is scoring it
    training = threading.Thread(target=lambda: hooked.append(hook(contested.path, step=2)))
    training.start()
    training.join(timeout=1.0)
    assert training.is_alive() and not hooked  # the hook waits for the claim rather than score step 2 again
    let_sweep_go.set()
    sweep.join(timeout=120)
    training.join(timeout=120)
    assert hooked == [None]  # ... and then finds it scored
    assert swept == [checkpoint.path for checkpoint in run.checkpoints()]
    assert [record.checkpoint for record in run.records()] == [checkpoint.name for checkpoint in run.checkpoints()]
    assert score_run(run.path, config.data, hook.score_config) == []  # a second sweep finds nothing left


def test_the_hook_scores_what_no_sweep_has(unscored_run):
    config, run = unscored_run
    hook = CheckpointScorer(config, torch.device("cpu"))
    last = run.checkpoints()[-1]
    record = hook(last.path, step=4)
    assert record.checkpoint == last.name and record["fid"] >= 0 and [r.checkpoint for r in run.records()] == [last.name]
    assert not hook.missing(last.path, step=4) and hook.missing(run.checkpoints()[0].path, step=0)
    assert hook(last.path, step=4) is None  # asked again (a resumed run): scored already, nothing appended
    assert len(run.records()) == 1
