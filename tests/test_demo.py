"""The demo's runs: all their steps on any machine, replacing the last demo's, and messages that say what happened."""
from __future__ import annotations

import pytest
import torch

from ganeval import demo
from ganeval.data.checkpoint import load_checkpoint

from .conftest import TINY_2D

TINY = ["steps=3", "checkpoint_every=3", *TINY_2D, "eval_every=0"]


def test_demo_runs_train_every_step_whatever_the_time_budget(tmp_path, capsys):
    # a budget of 6 ms ends a run after its first step (see test_train_command); the demo has none
    runs = {"grid25-gan": [*TINY, "max_minutes=0.0001"]}
    demo.train_runs(runs, tmp_path, torch.device("cpu"), progress=False)
    assert load_checkpoint(tmp_path / "grid25-gan" / "checkpoints" / "step-0000003.pt")["step"] == 3
    assert "trained grid25-gan: step 3 in " in capsys.readouterr().err


def test_demo_replaces_its_earlier_runs_and_keeps_other_files(tmp_path):
    stale = tmp_path / "grid25-gan" / "checkpoints" / "step-0000099.pt"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier demo's")
    (tmp_path / "grid25-gan" / "notes.txt").write_text("mine")
    demo.train_runs({"grid25-gan": TINY}, tmp_path, torch.device("cpu"), progress=False)
    assert not stale.exists() and (tmp_path / "grid25-gan" / "notes.txt").read_text() == "mine"
    assert sorted(path.name for path in stale.parent.iterdir()) == ["step-0000000.pt", "step-0000003.pt"]


def test_an_interrupted_demo_run_says_the_step_it_reached(tmp_path, capsys, monkeypatch):
    import ganeval.train.loop as loop

    original = loop.training_step

    def interrupt_at_two(trainer, probe=None):
        if trainer.step == 2:
            raise KeyboardInterrupt
        return original(trainer, probe)

    monkeypatch.setattr(loop, "training_step", interrupt_at_two)
    with pytest.raises(KeyboardInterrupt):
        demo.train_runs({"grid25-gan": TINY, "grid25-pacgan2": TINY}, tmp_path, torch.device("cpu"), progress=False)
    err = capsys.readouterr().err
    assert "trained grid25-gan: step 2 (of 3: interrupted) in " in err and "pacgan2" not in err
