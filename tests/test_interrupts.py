"""Interrupted runs lose nothing and resume exactly: SIGINT and SIGTERM stop at a finished step, a kill between a
checkpoint and its score is repaired by --resume, stale temporary files go, and --resume refuses a changed config."""
from __future__ import annotations

import os
import random
import signal

import pytest
import torch

from ganeval.errors import InputError
from ganeval.runs import RunDir
from ganeval.train import loop
from ganeval.train import trainer as trainer_module
from ganeval.data.checkpoint import load_checkpoint
from ganeval.train.config import load_config
from ganeval.train.loop import TrainingInterrupted, train
from ganeval.train.scoring import CheckpointScorer

from .conftest import TINY_2D, set_flags

SMALL = [*TINY_2D, "model_options.generator_width=32", "model_options.discriminator_width=16"]
CLI_SMALL = [*set_flags(*SMALL), "--quiet"]


def small_config(*overrides: str):
    return load_config("ring8-gan", [*SMALL, "steps=12", "checkpoint_every=4", "ema=0.9", *overrides])


def assert_same_contents(expected, actual, where: str) -> None:
    """Every tensor equal bit for bit (torch.equal) and every plain value equal, in nested checkpoint contents."""
    if isinstance(expected, dict):
        assert set(expected) == set(actual), where
        for key in expected:
            if key != "seconds":  # wall time
                assert_same_contents(expected[key], actual[key], f"{where}/{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(expected) == len(actual), where
        for index, (left, right) in enumerate(zip(expected, actual)):
            assert_same_contents(left, right, f"{where}/{index}")
    elif isinstance(expected, torch.Tensor):
        assert torch.equal(expected, actual), where
    else:
        assert expected == actual, where


def signal_mid_step(monkeypatch, signum: int, at_step: int) -> None:
    """Send `signum` to this process inside training step `at_step`, after its forward passes, before its updates."""
    original = loop.discriminator_loss

    def loss_then_signal(*args, **kwargs):
        if current["trainer"].step == at_step:
            os.kill(os.getpid(), signum)
        return original(*args, **kwargs)

    current = {}
    original_step = loop.training_step

    def remembering_step(trainer, probe=None):
        current["trainer"] = trainer
        return original_step(trainer, probe)

    monkeypatch.setattr(loop, "discriminator_loss", loss_then_signal)
    monkeypatch.setattr(loop, "training_step", remembering_step)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_step_finishes_the_step_and_the_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch,
                                                                                          signum):
    config = small_config()
    train(config, tmp_path / "straight", progress=False)
    at_step = random.randrange(1, 11)  # any step: none is special
    signal_mid_step(monkeypatch, signum, at_step)
    before = signal.getsignal(signum)
    with pytest.raises(TrainingInterrupted) as stopped:
        train(config, tmp_path / "stopped", progress=False)
    assert signal.getsignal(signum) is before  # the handlers are put back
    assert stopped.value.trainer.step == at_step + 1, at_step  # the step under way was finished
    assert stopped.value.exit_code == 128 + signum
    finished = tmp_path / "stopped" / "checkpoints" / f"step-{at_step + 1:07d}.pt"
    assert finished.is_file() and (tmp_path / "stopped" / "samples" / f"step-{at_step + 1:07d}.png").is_file()
    monkeypatch.undo()
    assert train(config, tmp_path / "stopped", resume=True, progress=False).step == 12
    for path in sorted((tmp_path / "straight" / "checkpoints").glob("step-*.pt")):
        assert_same_contents(load_checkpoint(path), load_checkpoint(tmp_path / "stopped" / "checkpoints" / path.name),
                             f"{path.name} (signal at step {at_step})")


def test_sigterm_gives_the_interrupted_message_and_exit_143(run_cli, tmp_path, monkeypatch):
    signal_mid_step(monkeypatch, signal.SIGTERM, 3)
    code, out, err = run_cli("train", "ring8-gan", *CLI_SMALL, "--steps", "50", "--out", tmp_path / "run", "--no-eval")
    assert code == 143, err
    assert "ring8-gan: step 4 (of 50: interrupted); checkpoints in" in err and "--resume continues it" in err
    assert (tmp_path / "run" / "checkpoints" / "step-0000004.pt").is_file()


def test_a_second_ctrl_c_aborts_mid_step_without_writing_that_step(tmp_path, monkeypatch):
    config = small_config()
    original = loop.discriminator_loss

    def two_ctrl_c(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # the first asks to stop after the step, the second stops at once
        os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "discriminator_loss", two_ctrl_c)
    with pytest.raises(TrainingInterrupted) as stopped:
        train(config, tmp_path / "run", progress=False)
    # the half-done step 1 is written nowhere: the run stands at its last checkpoint, step 0, as it was written
    assert stopped.value.trainer.step == 0
    assert sorted(path.name for path in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-0000000.pt"]
    monkeypatch.undo()
    train(config, tmp_path / "straight", progress=False)
    assert_same_contents(load_checkpoint(tmp_path / "straight" / "checkpoints" / "step-0000000.pt"),
                         load_checkpoint(tmp_path / "run" / "checkpoints" / "step-0000000.pt"), "step 0")


def scored_run(tmp_path, steps: int = 8):
    config = load_config("ring8-gan", [*SMALL, f"steps={steps}", "checkpoint_every=4", "eval_samples=200",
                                       "eval_metrics='fid,modes'"])
    return config, CheckpointScorer(config, torch.device("cpu"))


def assert_every_checkpoint_has_its_record_and_picture(run) -> None:
    names = [path.name for path in sorted((run / "checkpoints").glob("step-*.pt"))]
    assert [record.checkpoint for record in RunDir(run).records()] == names
    assert sorted(path.name for path in (run / "samples").iterdir()) == [name.replace(".pt", ".png") for name in names]


def test_resume_scores_and_draws_a_checkpoint_whose_score_and_picture_a_kill_lost(tmp_path):
    config, scorer = scored_run(tmp_path)
    run = tmp_path / "run"
    train(config, run, progress=False, on_checkpoint=scorer)
    # a kill right after the last checkpoint's rename: no record, no picture
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join(lines[:-1]))
    (run / "samples" / "step-0000008.png").unlink()
    straight = tmp_path / "straight" / "run"  # the same folder name: a scatter is titled by it
    train(config, straight, progress=False)
    assert train(config, run, resume=True, progress=False, on_checkpoint=scorer).step == 8
    assert_every_checkpoint_has_its_record_and_picture(run)
    assert (run / "samples" / "step-0000008.png").read_bytes() == (straight / "samples" / "step-0000008.png").read_bytes()
    # resuming again scores nothing twice
    train(config, run, resume=True, progress=False, on_checkpoint=scorer)
    assert_every_checkpoint_has_its_record_and_picture(run)


def test_a_crash_between_a_checkpoint_and_its_picture_is_repaired_by_resume(tmp_path, monkeypatch):
    config, scorer = scored_run(tmp_path)
    original = trainer_module.save_sample_picture

    def crash_at_four(samples, config, path, step):
        if step == 4:
            raise RuntimeError("killed")
        return original(samples, config, path, step)

    monkeypatch.setattr(trainer_module, "save_sample_picture", crash_at_four)
    with pytest.raises(RuntimeError, match="killed"):
        train(config, tmp_path / "run", progress=False, on_checkpoint=scorer)
    assert (tmp_path / "run" / "checkpoints" / "step-0000004.pt").is_file()
    monkeypatch.undo()
    assert train(config, tmp_path / "run", resume=True, progress=False, on_checkpoint=scorer).step == 8
    assert_every_checkpoint_has_its_record_and_picture(tmp_path / "run")


def test_an_interrupt_checkpoint_off_the_schedule_is_drawn_not_scored(tmp_path, monkeypatch):
    config, scorer = scored_run(tmp_path)
    signal_mid_step(monkeypatch, signal.SIGINT, 5)
    with pytest.raises(TrainingInterrupted):
        train(config, tmp_path / "run", progress=False, on_checkpoint=scorer)
    monkeypatch.undo()
    train(config, tmp_path / "run", resume=True, progress=False, on_checkpoint=scorer)
    assert [record.step for record in RunDir(tmp_path / "run").records()] == [0, 4, 8]  # as an uninterrupted run
    assert (tmp_path / "run" / "samples" / "step-0000006.png").is_file()


def test_stale_temporary_files_of_killed_writes_are_removed_at_start(tmp_path):
    config = small_config("steps=2", "checkpoint_every=1")
    run = tmp_path / "run"
    train(config, run, progress=False)
    stale = [run / ".config.toml.k2j3.tmp", run / ".metrics.jsonl.x1.tmp", run / "checkpoints" / ".step-0000003.pt.ab.tmp",
             run / "samples" / ".step-0000003.png.cd.tmp"]
    kept = [run / "notes.tmp", run / "checkpoints" / "mine.txt"]
    for path in stale + kept:
        path.write_text("half")
    train(small_config("steps=3", "checkpoint_every=1"), run, resume=True, progress=False)
    assert not any(path.exists() for path in stale) and all(path.exists() for path in kept)
    # a run killed while writing its first checkpoint: --resume starts it afresh, --overwrite too
    for flag in ("resume", "overwrite"):
        (tmp_path / flag / "checkpoints").mkdir(parents=True)
        (tmp_path / flag / "config.toml").write_text(config.to_toml())
        (tmp_path / flag / "checkpoints" / ".step-0000000.pt.zz.tmp").write_text("half")
        train(config, tmp_path / flag, progress=False, **{flag: True})
        assert sorted(path.name for path in (tmp_path / flag / "checkpoints").iterdir()) == [
            "step-0000000.pt", "step-0000001.pt", "step-0000002.pt"]


def test_resume_with_a_changed_config_is_an_error_naming_the_keys(run_cli, tmp_path):
    run = tmp_path / "run"
    common = ["train", "ring8-gan", *CLI_SMALL, "--steps", "2", "--out", run, "--no-eval"]
    assert run_cli(*common)[0] == 0
    saved = (run / "config.toml").read_text()
    code, out, err = run_cli(*common, "--resume", "--set", "lr_g=0.001", "--set", "seed=3")
    assert code == 2 and err.count("\n") == 1, err
    assert f"--resume: {run / 'config.toml'} has lr_g = 0.0001, the config now 0.001 (and seed)" in err
    assert "steps, max_minutes, checkpoint_every, eval_every" in err
    # another width: the same error, never a load_state_dict traceback
    code, out, err = run_cli(*common, "--resume", "--set", "model_options.generator_width=64")
    assert code == 2 and "has model_options.generator_width = 32, the config now 64" in err and "Traceback" not in err
    # a key that may change, but not asked for: the config's own steps differ from the run's
    code, out, err = run_cli("train", "ring8-gan", *CLI_SMALL, "--out", run, "--no-eval", "--resume")
    assert code == 2 and "has steps = 2, the config now 400000" in err
    assert (run / "config.toml").read_text() == saved
    # the library refuses too
    with pytest.raises(InputError, match="has seed = 0, the config now 1"):
        train(load_config("ring8-gan", [*SMALL, "steps=2", "seed=1"]), run, resume=True, progress=False)


def test_resume_accepts_the_keys_that_may_change_when_set(run_cli, tmp_path):
    run = tmp_path / "run"
    common = ["train", "ring8-gan", *CLI_SMALL, "--out", run, "--no-eval", "--set", "checkpoint_every=2"]
    assert run_cli(*common, "--steps", "2")[0] == 0
    code, out, err = run_cli(*common, "--steps", "6", "--resume", "--set", "checkpoint_every=3", "--set", "max_minutes=5",
                             "--set", "eval_every=2")
    assert code == 0 and "ring8-gan: step 6;" in out, err
    text = (run / "config.toml").read_text()
    assert all(line in text for line in ("steps = 6\n", "checkpoint_every = 3\n", "max_minutes = 5", "eval_every = 2\n",
                                         "lr_g = 0.0001\n", "generator_width = 32\n"))
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == [
        "step-0000000.pt", "step-0000002.pt", "step-0000003.pt", "step-0000006.pt"]
    # the saved config continues the run as it is
    code, out, err = run_cli("train", run / "config.toml", "--out", run, "--quiet", "--no-eval", "--resume")
    assert code == 0, err
    # a decaying learning rate follows `steps`: those cannot change then
    decaying = tmp_path / "decaying"
    assert run_cli("train", "ring8-gan", *CLI_SMALL, "--out", decaying, "--no-eval", "--set", "lr_decay=0.5",
                   "--steps", "2")[0] == 0
    code, out, err = run_cli("train", "ring8-gan", *CLI_SMALL, "--out", decaying, "--no-eval", "--set", "lr_decay=0.5",
                             "--steps", "4", "--resume")
    assert code == 2 and "steps" in err and "lr_decay" in err


def test_sigterm_to_a_training_process_stops_it_at_a_checkpoint_that_resumes_exactly(tmp_path):
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "ganeval", "train", "ring8-gan", *CLI_SMALL, "--set", "checkpoint_every=20",
               "--no-eval"]
    victim = subprocess.Popen([*command, "--steps", "100000", "--out", str(tmp_path / "stopped")], stderr=subprocess.PIPE,
                              text=True)
    checkpoints = tmp_path / "stopped" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(checkpoints.glob("step-*.pt"))) < 2:
        time.sleep(0.1)
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == 143, err
    reached = int(sorted(checkpoints.glob("step-*.pt"))[-1].stem.split("-")[1])
    assert f"ring8-gan: step {reached} (of 100000: interrupted)" in err and "--resume continues it" in err
    target = str(reached + 7)
    subprocess.run([*command, "--steps", target, "--out", str(tmp_path / "stopped"), "--resume"], check=True)
    subprocess.run([*command, "--steps", target, "--out", str(tmp_path / "straight")], check=True)
    name = f"step-{int(target):07d}.pt"
    assert_same_contents(load_checkpoint(tmp_path / "straight" / "checkpoints" / name),
                         load_checkpoint(tmp_path / "stopped" / "checkpoints" / name), name)


def test_training_in_another_thread_installs_no_handlers(tmp_path):
    import threading

    failures = []

    def run() -> None:
        try:
            train(small_config("steps=2"), tmp_path / "run", progress=False)
        except Exception as error:  # signal.signal outside the main thread raises ValueError
            failures.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert failures == [] and (tmp_path / "run" / "checkpoints" / "step-0000002.pt").is_file()
