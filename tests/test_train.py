"""The reference GAN training core: every shipped config trains, checkpoints regenerate samples, resume is exact."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganeval.data import fashion_mnist
from ganeval.data.checkpoint import generate
from ganeval.errors import InputError
from ganeval.data.checkpoint import load_checkpoint
from ganeval.training_log import read_training_log
from ganeval.train.config import CONFIG_DIR, load_config
from ganeval.train.loop import generator_from_checkpoint, train

from .conftest import TINY_2D, set_flags

CONFIGS = sorted(path.stem for path in CONFIG_DIR.glob("*.toml"))
FAST = ["steps=2", "checkpoint_every=1", "batch_size=8", "train_size=2000", "eval_every=0"]
has_fmnist = fashion_mnist.find_folder("train") is not None


def test_all_issue_configs_ship():
    assert set(CONFIGS) >= {
        "grid25-gan", "grid25-pacgan2", "ring8-gan", "ring8-pacgan2", "fmnist-dcgan", "fmnist-lsgan", "fmnist-wgan-gp",
        "fmnist-hinge-sngan", "stacked-fmnist-dcgan", "stacked-fmnist-pacdcgan2", "cifar10-dcgan",
    }


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_trains_and_its_checkpoint_regenerates_the_same_samples(name, tmp_path):
    overrides = list(FAST)
    if name.startswith("cifar10"):  # no CIFAR-10 offline: the same architecture on stand-in 32x32 RGB images
        np.save(tmp_path / "cifar-like.npy", np.random.default_rng(0).integers(0, 256, (64, 3, 32, 32), dtype=np.uint8))
        overrides.append(f"data='{tmp_path / 'cifar-like.npy'}'")
    elif "fmnist" in name and not has_fmnist:
        pytest.skip("Fashion-MNIST not installed (make data installs it)")
    config = load_config(name, overrides)
    trainer = train(config, tmp_path / "run", progress=False)
    assert trainer.step == 2 and (tmp_path / "run" / "config.toml").is_file()
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "step-0000002.pt")  # weights_only=True inside
    generator, rebuilt_config = generator_from_checkpoint(checkpoint)
    first = generate(generator, rebuilt_config, 20, seed=7, batch_size=6)
    reloaded = generator_from_checkpoint(load_checkpoint(tmp_path / "run" / "checkpoints" / "step-0000002.pt"))[0]
    assert torch.equal(first, generate(reloaded, rebuilt_config, 20, seed=7, batch_size=6))
    assert torch.equal(first, generate(trainer.generator.eval(), config, 20, seed=7, batch_size=6))
    # batch size only changes float rounding (images: not even that, after rounding to uint8)
    other_batching = generate(reloaded, rebuilt_config, 20, seed=7, batch_size=20)
    assert torch.allclose(first.double(), other_batching.double(), rtol=1e-6, atol=1e-6 if first.is_floating_point() else 1)


def test_resume_reaches_identical_weights(tmp_path):
    config = load_config("grid25-pacgan2", ["steps=6", "checkpoint_every=3", "batch_size=10", "train_size=1000", "ema=0.9"])
    straight = train(config, tmp_path / "straight", progress=False)
    half = load_config("grid25-pacgan2", ["steps=3", "checkpoint_every=3", "batch_size=10", "train_size=1000", "ema=0.9"])
    train(half, tmp_path / "resumed", progress=False)
    resumed = train(config, tmp_path / "resumed", resume=True, progress=False)
    assert resumed.step == 6
    for key, value in straight.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[key]), key
    for key, value in straight.ema.state_dict().items():
        assert torch.equal(value, resumed.ema.state_dict()[key]), key


def test_learning_rate_decay_follows_the_step_and_survives_resume(tmp_path):
    config = load_config("grid25-pacgan2", ["steps=6", "checkpoint_every=3", "batch_size=10", "train_size=1000",
                                            "lr_decay=0.5"])
    straight = train(config, tmp_path / "straight", progress=False)
    # the last step (from 5 to 6) runs at (6 - 5) / (0.5 * 6) of the configured rates
    assert straight.optimiser_g.param_groups[0]["lr"] == pytest.approx(config.lr_g / 3)
    assert straight.optimiser_d.param_groups[0]["lr"] == pytest.approx(config.lr_d / 3)

    def stop_at_three(path, step, last):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "resumed", progress=False, on_checkpoint=stop_at_three)
    resumed = train(config, tmp_path / "resumed", resume=True, progress=False)
    for key, value in straight.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[key]), key
    with pytest.raises(InputError, match=r"--set lr_decay = 2: must be a number in \[0, 1\]"):
        load_config("grid25-gan", ["lr_decay=2"])


def test_a_time_budget_ends_the_run_with_a_scored_checkpoint_and_carries_over_resume(tmp_path, monkeypatch):
    from ganeval.train import session
    from ganeval.train.scoring import CheckpointScorer

    ticks = iter(range(0, 10_000, 6))  # a clock that moves 6 seconds whenever the loop reads it (after every step)
    monkeypatch.setattr(session, "monotonic", lambda: next(ticks))
    config = load_config("grid25-gan", ["steps=100", "checkpoint_every=3", "batch_size=10", "train_size=1000",
                                        "max_minutes=0.5"])
    calls = []

    def hook(path, step, last):
        calls.append((path.name, step, last))

    trainer = train(config, tmp_path / "run", progress=False, on_checkpoint=hook)
    # 6 s per step: the 30-second budget is spent at step 5, whose checkpoint is the last (and said to be)
    assert trainer.step == 5 and trainer.seconds == 30 and trainer.ended_by_time_budget
    assert calls == [("step-0000000.pt", 0, False), ("step-0000003.pt", 3, False), ("step-0000005.pt", 5, True)]
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "step-0000005.pt")["seconds"] == 30
    # the budget covers the whole run: resuming a run that spent it trains nothing and writes nothing
    calls.clear()
    assert train(config, tmp_path / "run", resume=True, progress=False, on_checkpoint=hook).step == 5 and calls == []
    # a larger budget continues from the 30 seconds already spent
    longer = load_config("grid25-gan", ["steps=100", "checkpoint_every=3", "batch_size=10", "train_size=1000",
                                        "max_minutes=1"])
    assert train(longer, tmp_path / "run", resume=True, progress=False, on_checkpoint=hook).step == 9
    assert calls == [("step-0000006.pt", 6, False), ("step-0000009.pt", 9, True)]
    # with the budget out of the way, `steps` ends the run
    unbounded = load_config("grid25-gan", ["steps=10", "checkpoint_every=3", "batch_size=10", "train_size=1000"])
    assert not train(unbounded, tmp_path / "run", resume=True, progress=False, on_checkpoint=hook).ended_by_time_budget
    # the evaluation hook scores the last checkpoint even where eval_every would skip it
    scorer = CheckpointScorer(load_config("grid25-gan", ["steps=100", "checkpoint_every=3", "eval_every=2"]), torch.device("cpu"))
    assert not scorer.due(3) and scorer.due(3, last=True) and scorer.due(6)
    for bad, message in (("max_minutes=-1", "max_minutes = -1: must be a number >= 0"), ("lr_decay=0.5", "cannot be combined")):
        with pytest.raises(InputError, match=message):
            load_config("grid25-gan", ["max_minutes=2", bad])


def test_config_errors_name_the_valid_choices(tmp_path):
    with pytest.raises(InputError, match="unknown key\\(s\\) lerning_rate; valid keys: name, data, model"):
        load_config("fmnist-dcgan", ["lerning_rate=1"])
    with pytest.raises(InputError, match='--set loss = "bce": must be one of ns, minimax, lsgan, hinge, wgan-gp'):
        load_config("fmnist-dcgan", ["loss=bce"])
    with pytest.raises(InputError, match="not found; give a .toml path or one of: cifar10-dcgan"):
        load_config("no-such-config")
    with pytest.raises(InputError, match="not divisible by packing 2"):
        load_config("grid25-pacgan2", ["batch_size=7"])


def test_train_command(run_cli, tmp_path):
    code, out, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D), "--steps", "2",
                             "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    assert "step 2" in out and (tmp_path / "run" / "checkpoints" / "step-0000002.pt").is_file()
    code, _, err = run_cli("train", "ring8-gan", "--set", "lr_g", "--out", tmp_path / "bad")
    assert code == 2 and "expected key=value" in err
    # a budget of 6 ms is spent by the step-0 checkpoint: a new run still takes one step, its last checkpoint, and says why
    code, out, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D), "--set",
                             "max_minutes=0.0001", "--out", tmp_path / "short", "--quiet", "--no-eval")
    assert code == 0, err
    assert "step 1 (of 400000: the 0.0001-minute time budget ran out)" in out
    assert (tmp_path / "short" / "checkpoints" / "step-0000001.pt").is_file()


def test_training_scores_checkpoints_and_a_later_sweep_skips_them(run_cli, tmp_path):
    import json

    code, out, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D), "--set",
                             "checkpoint_every=2", "--set", "eval_every=2", "--set", "eval_metrics='fid,prdc'",
                             "--steps", "4", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    assert "scores in" in out
    # checkpoints at 0, 2, 4; every second one is scored, and always the last
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records] == [0, 4]
    assert all(record["num_samples"] == 2500 and record["reference"] == "ring8" and "coverage" in record for record in records)
    assert records[0]["fid"] != records[1]["fid"]  # two different generators were scored
    pictures = sorted(path.name for path in (tmp_path / "run" / "samples").glob("*.png"))
    assert pictures == ["step-0000000.png", "step-0000002.png", "step-0000004.png"]
    # the hook wrote what a sweep with the config's settings would: the sweep scores only step 2
    code, out, err = run_cli("score", tmp_path / "run", "--reference", "ring8", "--num-samples", "2500",
                             "--metrics", "fid,prdc", "--json", "--quiet")
    assert code == 0, err
    assert [json.loads(line)["step"] for line in out.splitlines()] == [2]


def test_image_runs_get_a_sample_grid_per_checkpoint(tmp_path):
    from PIL import Image

    np.save(tmp_path / "images.npy", np.random.default_rng(0).integers(0, 256, (64, 1, 28, 28), dtype=np.uint8))
    config = load_config("fmnist-dcgan", [*FAST, f"data='{tmp_path / 'images.npy'}'"])
    train(config, tmp_path / "run", progress=False)
    grids = sorted((tmp_path / "run" / "samples").glob("*.png"))
    assert [path.name for path in grids] == ["step-0000000.png", "step-0000001.png", "step-0000002.png"]
    with Image.open(grids[-1]) as picture:
        assert picture.size == (8 * 30 + 2, 8 * 30 + 2) and picture.mode == "L"  # 8 x 8 images, 2-pixel borders


def test_scoring_a_run_directory_extracts_the_reference_once(run_cli, tmp_path, monkeypatch):
    import json

    import ganeval.features.extract as extraction_module  # where every extraction pass starts

    code, _, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D), "--set",
                           "checkpoint_every=1", "--steps", "10", "--out", tmp_path / "run", "--quiet", "--no-eval")
    assert code == 0, err
    passes = []
    original = extraction_module.extract
    monkeypatch.setattr(extraction_module, "extract",
                        lambda samples, *a, **k: passes.append(samples.name) or original(samples, *a, **k))
    args = ("score", tmp_path / "run", "--reference", "ring8", "--metrics", "fid,prdc", "--num-samples", "500", "--json", "--quiet")
    code, out, err = run_cli(*args)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [record["step"] for record in records] == list(range(0, 11))
    assert passes.count("ring8") == 1, "the reference must be extracted once for the whole sweep"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 11 and all(json.loads(line)["run"] == "run" for line in lines)
    code, out, err = run_cli(*args)  # nothing left to score
    assert code == 0 and out == "" and "already scored" in err
    import pandas

    frame = pandas.read_json(tmp_path / "run" / "metrics.jsonl", lines=True)
    assert list(frame["step"]) == list(range(0, 11)) and frame["fid"].notna().all()


def test_scoring_a_bad_checkpoint_is_one_line(run_cli, tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    code, _, err = run_cli("score", tmp_path / "bad.pt", "--reference", "ring8")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a readable checkpoint" in err


def test_sample_command_writes_npz_and_pngs(run_cli, tmp_path):
    np.save(tmp_path / "images.npy", np.random.default_rng(0).integers(0, 256, (64, 1, 28, 28), dtype=np.uint8))
    code, _, err = run_cli("train", "fmnist-dcgan", "--set", f"data='{tmp_path / 'images.npy'}'", "--set", "batch_size=8",
                           "--steps", "1", "--out", tmp_path / "run", "--quiet", "--no-eval")
    assert code == 0, err
    checkpoint = tmp_path / "run" / "checkpoints" / "step-0000001.pt"
    code, out, err = run_cli("sample", checkpoint, "--num-samples", "12", "--out", tmp_path / "s.npz", "--seed", "3")
    assert code == 0, err
    with np.load(tmp_path / "s.npz") as saved:
        assert saved["samples"].shape == (12, 1, 28, 28) and saved["samples"].dtype == np.uint8
    code, _, err = run_cli("sample", checkpoint, "--num-samples", "5", "--out", tmp_path / "pngs", "--seed", "3")
    assert code == 0, err
    from ganeval.data import load_source

    assert np.array_equal(load_source(str(tmp_path / "pngs")).data.numpy(), saved_first_five(tmp_path / "s.npz"))


def saved_first_five(path) -> np.ndarray:
    with np.load(path) as saved:
        return saved["samples"][:5]


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    settings = [*set_flags(*TINY_2D), "--set", "checkpoint_every=20",
                "--set", "model_options.generator_width=32", "--set", "model_options.discriminator_width=16", "--quiet", "--no-eval"]
    command = [sys.executable, "-m", "ganeval", "train", "ring8-gan", *settings]
    victim = subprocess.Popen([*command, "--steps", "100000", "--out", str(tmp_path / "killed")])
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(checkpoints.glob("step-*.pt"))) < 3:
        time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    reached = int(sorted(checkpoints.glob("step-*.pt"))[-1].stem.split("-")[1])
    assert 40 <= reached < 100000
    target = str(reached + 30)
    subprocess.run([*command, "--steps", target, "--out", str(tmp_path / "killed"), "--resume"], check=True)
    subprocess.run([*command, "--steps", target, "--out", str(tmp_path / "straight")], check=True)
    name = f"step-{int(target):07d}.pt"
    resumed = load_checkpoint(tmp_path / "killed" / "checkpoints" / name)["generator"]
    straight = load_checkpoint(tmp_path / "straight" / "checkpoints" / name)["generator"]
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)


def test_ctrl_c_writes_a_checkpoint(tmp_path, monkeypatch):
    import ganeval.train.loop as loop

    config = load_config("ring8-gan", ["steps=50", "checkpoint_every=100", *TINY_2D])
    original, calls = loop.training_step, []

    def interrupt_at_seven(trainer, probe=None):
        if len(calls) == 7:
            raise KeyboardInterrupt
        calls.append(1)
        return original(trainer, probe)

    monkeypatch.setattr(loop, "training_step", interrupt_at_seven)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "run", progress=False)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "step-0000007.pt")["step"] == 7


def test_lazy_gradient_penalty_runs_every_nth_discriminator_step_weighted_n_times(monkeypatch):
    from ganeval.train import loop

    penalised_at = []

    def unit_penalty(discriminator, real, fake, generator=None, packing=1):
        penalised_at.append(trainer.step)
        return torch.zeros(1)  # gradient norms of 0 at the interpolates: a penalty of exactly 1

    monkeypatch.setattr(loop, "interpolate_gradient_norms", unit_penalty)
    losses = {}
    for every in (1, 2):
        config = load_config("grid25-gan", ["loss='wgan-gp'", "batch_size=10", "train_size=1000", f"gp_every={every}"])
        trainer = loop.create_trainer(config, torch.device("cpu"))
        penalised_at.clear()
        losses[every] = [loop.training_step(trainer)["d_loss"] for _ in range(4)]
        assert penalised_at == ([0, 1, 2, 3] if every == 1 else [0, 2])
    # the same random stream: step 0 differs by the penalty's weight alone (10 against 2 x 10)
    assert losses[2][0] - losses[1][0] == pytest.approx(10.0)
    with pytest.raises(InputError, match="gp_every = 0: must be an integer >= 1"):
        load_config("fmnist-wgan-gp", ["gp_every=0"])


@pytest.mark.parametrize("d_steps", [1, 3])
@pytest.mark.parametrize("reuse", [False, True])
def test_the_generator_step_adds_no_discriminator_gradients_and_reuses_the_last_batch_when_asked(d_steps, reuse):
    from ganeval.train import loop

    config = load_config("grid25-gan", ["batch_size=10", "train_size=1000", f"d_steps={d_steps}",
                                        f"reuse_fake_batch={str(reuse).lower()}"])
    trainer = loop.create_trainer(config, torch.device("cpu"))
    with_graph = []
    trainer.generator.register_forward_hook(lambda module, inputs, output: with_graph.append(output.requires_grad))
    after_d_update = {}

    def snapshot(optimiser, args, kwargs):
        after_d_update.update({name: p.grad.clone() for name, p in trainer.discriminator.named_parameters()})

    trainer.optimiser_d.register_step_post_hook(snapshot)
    loop.training_step(trainer)
    # one generator pass per discriminator step, then a fresh one with a graph for the generator step, or none: the
    # last discriminator step's pass keeps its graph instead
    assert with_graph == [False] * (d_steps - reuse) + [True]
    # the generator step added no gradients to the discriminator's and left it trainable
    for name, parameter in trainer.discriminator.named_parameters():
        assert parameter.requires_grad
        assert torch.equal(parameter.grad, after_d_update[name]), name
    with pytest.raises(InputError, match="reuse_fake_batch = 1: must be true or false"):
        load_config("grid25-gan", ["reuse_fake_batch=1"])


@pytest.mark.parametrize("loss", ["lsgan", "wgan-gp"])
def test_bfloat16_precision_runs_the_networks_in_bfloat16_and_keeps_float32_weights_and_scores(loss, tmp_path):
    from ganeval.train import loop

    np.save(tmp_path / "images.npy", np.random.default_rng(0).integers(0, 256, (64, 1, 28, 28), dtype=np.uint8))

    def trained(precision: str) -> tuple[loop.Trainer, set[torch.dtype], set[torch.dtype]]:
        config = load_config("fmnist-dcgan", [f"data='{tmp_path / 'images.npy'}'", "batch_size=8", f"loss='{loss}'",
                                              f"precision='{precision}'", "model_options.generator_width=8",
                                              "model_options.discriminator_width=8"])
        trainer = loop.create_trainer(config, torch.device("cpu"))
        feature_types, score_types = set(), set()
        trainer.discriminator.body.register_forward_hook(lambda module, inputs, output: feature_types.add(output.dtype))
        trainer.discriminator.register_forward_hook(lambda module, inputs, output: score_types.add(output.dtype))
        for _ in range(3):
            losses = loop.training_step(trainer)
            assert np.isfinite(losses["d_loss"]) and np.isfinite(losses["g_loss"])
        return trainer, feature_types, score_types

    mixed, feature_types, score_types = trained("bfloat16")
    assert feature_types == {torch.bfloat16} and score_types == {torch.float32}  # the score layer stays float32
    assert all(p.dtype == torch.float32 for p in [*mixed.generator.parameters(), *mixed.discriminator.parameters()])
    assert all(p.grad.dtype == torch.float32 for p in mixed.discriminator.parameters())
    again = trained("bfloat16")[0]  # deterministic, so resumed runs stay exact
    full, feature_types, _ = trained("float32")
    assert feature_types == {torch.float32}
    for key, value in mixed.generator.state_dict().items():
        assert torch.equal(value, again.generator.state_dict()[key]), key
    assert not all(torch.equal(p, q) for p, q in zip(mixed.generator.parameters(), full.generator.parameters()))
    with pytest.raises(InputError, match='precision = "float16": must be one of float32, bfloat16'):
        load_config("grid25-gan", ["precision='float16'"])


def test_training_onto_an_existing_run_needs_resume_or_overwrite(run_cli, tmp_path):
    config = load_config("ring8-gan", ["steps=2", "checkpoint_every=1", *TINY_2D])
    run = tmp_path / "run"
    run.mkdir()  # an empty folder is a new run's
    train(config, run, progress=False)
    (run / "metrics.jsonl").write_text('{"step": 2}\n')
    (run / ".config.toml.abc123.tmp").write_text("half")
    (run / "notes.txt").write_text("mine")
    before = sorted(path.name for path in (run / "checkpoints").iterdir())
    with pytest.raises(InputError, match="already holds a run \\(checkpoints, samples, config.toml, metrics.jsonl, "
                                         "training.jsonl\\): "
                                         "continue it with --resume, or start it afresh with --overwrite"):
        train(load_config("ring8-gan", ["steps=1", *TINY_2D]), run, progress=False)
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == before  # nothing touched
    with pytest.raises(InputError, match="--resume .* --overwrite"):
        train(config, run, resume=True, overwrite=True, progress=False)
    # --overwrite starts afresh: the old run's files go, the user's stay
    short = load_config("ring8-gan", ["steps=1", "checkpoint_every=1", *TINY_2D])
    assert train(short, run, overwrite=True, progress=False).step == 1
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == ["step-0000000.pt", "step-0000001.pt"]
    assert sorted(path.name for path in run.iterdir()) == ["checkpoints", "config.toml", "notes.txt", "samples",
                                                          "training.jsonl"]
    assert [line["step"] for line in read_training_log(run / "training.jsonl")] == [1]  # the new run's only
    assert "steps = 1\n" in (run / "config.toml").read_text()
    # the command: one line and exit 2 without a flag; --overwrite and --resume each work
    # (--resume keeps the run's config: checkpoint_every as the run has it)
    settings = [*set_flags(*TINY_2D), "--set", "checkpoint_every=1", "--steps", "2",
                "--out", run, "--quiet", "--no-eval"]
    code, out, err = run_cli("train", "ring8-gan", *settings)
    assert code == 2 and err.count("\n") == 1 and "--resume" in err and "--overwrite" in err
    code, out, err = run_cli("train", "ring8-gan", *settings, "--resume", "--overwrite")
    assert code == 2 and "give one of them" in err
    code, out, err = run_cli("train", "ring8-gan", *settings, "--resume")
    assert code == 0 and "ring8-gan: step 2;" in out, err
    code, out, err = run_cli("train", "ring8-gan", *settings, "--overwrite")
    assert code == 0 and "ring8-gan: step 2;" in out, err


def test_the_progress_bar_rate_and_estimate_leave_out_checkpoints_and_scoring(tmp_path, monkeypatch):
    import tqdm.std

    import ganeval.train.loop as loop
    import ganeval.train.session as session

    now = [0.0]  # a fake clock: each training step takes 1 s, each checkpoint with its scoring 100 s
    monkeypatch.setattr(tqdm.std, "time", lambda: now[0])  # read by bars created from here on
    monkeypatch.setattr(session, "perf_counter", lambda: now[0])
    original, shown = loop.training_step, []

    def one_second_step(trainer, probe=None):
        now[0] += 1
        return original(trainer, probe)

    class RecordedBar(tqdm.std.tqdm):
        def update(self, n=1):
            super().update(n)
            shown.append(self.format_dict)

    def slow_hook(path, step, last):
        now[0] += 100

    monkeypatch.setattr(loop, "training_step", one_second_step)
    monkeypatch.setattr(session, "tqdm", RecordedBar)
    config = load_config("ring8-gan", ["steps=6", "checkpoint_every=2", *TINY_2D])
    train(config, tmp_path / "run", progress=True, on_checkpoint=slow_hook)
    assert now[0] == 6 + 4 * 100  # checkpoints at 0, 2, 4, 6
    assert [(bar["n"], bar["elapsed"]) for bar in shown] == [(step, step) for step in range(1, 7)]
    assert all(bar["rate"] == pytest.approx(1.0) for bar in shown)  # 1 step/s: the estimate is 1 s per step left


def test_an_interrupted_train_command_names_the_step_reached(run_cli, tmp_path, monkeypatch):
    import ganeval.train.loop as loop

    original = loop.training_step

    def interrupt_at_three(trainer, probe=None):
        if trainer.step == 3:
            raise KeyboardInterrupt
        return original(trainer, probe)

    monkeypatch.setattr(loop, "training_step", interrupt_at_three)
    code, out, err = run_cli("train", "ring8-gan", *set_flags(*TINY_2D), "--steps", "50",
                             "--out", tmp_path / "run", "--quiet", "--no-eval")
    assert code == 130
    assert "ring8-gan: step 3 (of 50: interrupted); checkpoints in" in err and "--resume continues it" in err
    assert (tmp_path / "run" / "checkpoints" / "step-0000003.pt").is_file()
