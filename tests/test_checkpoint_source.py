"""Checkpoints as a sample source (ganeval.data.checkpoint): the samples training's own generator gives, read
without importing training, and one-line errors for a damaged stored config."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganeval.data import Samples
from ganeval.data.checkpoint import CheckpointInfo, CheckpointSource, generate, is_checkpoint
from ganeval.errors import InputError
from ganeval.runs import RunDir
from ganeval.data.checkpoint import load_checkpoint
from ganeval.train.checkpoint import save_checkpoint
from ganeval.train.config import load_config
from ganeval.train.loop import checkpoint_samples, train

from .conftest import TINY_2D

SMALL_MLP = ["steps=2", "checkpoint_every=2", *TINY_2D, "eval_every=0", "eval_samples=300",
             "model_options.generator_width=32", "ema=0.9"]


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    """A 2-step ring8 run with an EMA: (its trainer, the last checkpoint's path)."""
    out = tmp_path_factory.mktemp("runs") / "ring-run"
    trainer = train(load_config("ring8-gan", SMALL_MLP), out, progress=False)
    return trainer, out / "checkpoints" / "step-0000002.pt"


@pytest.fixture(scope="module")
def dcgan_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    np.save(folder / "images.npy", np.random.default_rng(0).integers(0, 256, (32, 1, 28, 28), dtype=np.uint8))
    config = load_config("fmnist-dcgan", ["steps=1", "batch_size=8", "eval_every=0", "max_minutes=0",
                                          f"data='{folder / 'images.npy'}'", "model_options.generator_width=4",
                                          "model_options.discriminator_width=4", "model_options.latent_dim=8"])
    train(config, folder / "run", progress=False)
    return folder / "run" / "checkpoints" / "step-0000001.pt"


@pytest.mark.parametrize("latents", ["normal", "sobol"])
@pytest.mark.parametrize("ema", [False, True])
def test_samples_are_the_trained_generators_and_checkpoint_samples(mlp_run, latents, ema):
    trainer, path = mlp_run
    source = CheckpointSource(path, ema=ema, latents=latents)
    samples = source.samples(40, seed=5)
    assert isinstance(samples, Samples) and samples.name == str(path) and samples.data.dtype == torch.float64
    # the generator training ended with (the EMA's with its standing statistics, as checkpointed) gives them too
    network = (trainer.ema if ema else trainer.generator).eval()
    assert torch.equal(samples.data, generate(network, trainer.config, 40, 5, latents=latents))
    assert torch.equal(samples.data, source.samples(40, seed=5).data)  # the loaded generator is left as it was
    generated, info = checkpoint_samples(path, 40, 5, ema=ema, latents=latents)
    assert torch.equal(samples.data, generated)
    expected = {"run": "ring-run", "checkpoint": "step-0000002.pt", "step": 2, "ema": ema,
                "run_dir": str(path.parent.parent.resolve())}
    assert info == source.info and info.run_dir == RunDir(path.parent.parent)
    assert info.to_json() == (expected if latents == "normal" else {**expected, "latents": latents})


def test_info_describes_the_run_and_none_means_its_eval_samples(mlp_run, tmp_path):
    _, path = mlp_run
    source = CheckpointSource(path)
    assert source.info == CheckpointInfo(run="ring-run", checkpoint="step-0000002.pt", step=2, ema=False,
                                         latents="normal", run_dir=RunDir(path.parent.parent), eval_samples=300,
                                         data="ring8")
    assert len(source.samples(None, seed=0)) == 300
    with pytest.raises(InputError, match="^--num-samples 1: needs at least 2 samples$"):
        source.samples(1, seed=0)
    elsewhere = tmp_path / "kept.pt"  # outside a run's checkpoints/: the run is the config's name
    elsewhere.write_bytes(path.read_bytes())
    assert CheckpointSource(str(elsewhere)).info.run == "ring8-gan" and CheckpointSource(elsewhere).info.run_dir is None


def test_image_checkpoints_give_uint8_images(dcgan_checkpoint):
    source = CheckpointSource(dcgan_checkpoint, latents="sobol")
    samples = source.samples(10, seed=1)
    assert samples.kind == "images" and samples.data.shape == (10, 1, 28, 28)
    assert torch.equal(samples.data, checkpoint_samples(dcgan_checkpoint, 10, 1, latents="sobol")[0])
    assert torch.equal(CheckpointSource(dcgan_checkpoint, ema=True).samples(10, seed=1).data,
                       checkpoint_samples(dcgan_checkpoint, 10, 1, ema=True)[0])
    with pytest.raises(InputError, match="^--ema: .*no-ema.pt has no EMA weights"):
        CheckpointSource(_without_ema(dcgan_checkpoint), ema=True)


def _without_ema(path: Path) -> Path:
    contents = load_checkpoint(path)
    contents["ema"] = None
    return save_checkpoint(path.with_name("no-ema.pt"), contents)


def test_reading_a_checkpoint_imports_no_training_code():
    # In a fresh interpreter: this test session has imported ganeval.train already.
    code = ("import sys, ganeval.data.checkpoint; "
            "print([name for name in sys.modules if name.startswith('ganeval.train')])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("change, message", [
    (lambda config: config.pop("model"), "checkpoint config: missing key(s) model"),
    (lambda config: config.update(model="gan"), "checkpoint config: model = 'gan': must be one of mlp, dcgan"),
    (lambda config: config.update(model_options={"latent_dim": 0}),
     "checkpoint config: model_options.latent_dim = 0: must be an integer >= 1"),
    (lambda config: config.update(model_options={"depth": 3}), "checkpoint config: unknown model_options depth"),
    (lambda config: config.update(model_options=[1]), "checkpoint config: model_options = [1]: must be a table"),
    (lambda config: config.update(eval_samples="many"), "checkpoint config: eval_samples = 'many': must be an integer >= 2"),
    (lambda config: config.update(name=""), "checkpoint config: name = '': must be a non-empty string"),
])
def test_a_damaged_config_is_one_line_naming_the_file(mlp_run, tmp_path, change, message):
    contents = load_checkpoint(mlp_run[1])
    change(contents["config"])
    path = save_checkpoint(tmp_path / "damaged.pt", contents)
    with pytest.raises(InputError) as error:
        CheckpointSource(path)
    assert str(error.value).startswith(f"{path}: {message}")
    assert "\n" not in str(error.value)


def test_damaged_weights_and_configs_beyond_generation(mlp_run, tmp_path):
    contents = load_checkpoint(mlp_run[1])
    path = save_checkpoint(tmp_path / "no-config.pt", {**contents, "config": "ring8"})
    with pytest.raises(InputError, match="holds no training config"):
        CheckpointSource(path)
    path = save_checkpoint(tmp_path / "other-weights.pt", {**contents, "generator": {"net.0.weight": torch.zeros(1)}})
    with pytest.raises(InputError, match="its generator weights do not fit its config"):
        CheckpointSource(path)
    # generation reads only what it needs; `ganeval sample` (checkpoint_samples) still checks every stored value
    path = save_checkpoint(tmp_path / "bad-rate.pt", {**contents, "config": {**contents["config"], "lr_g": -1.0}})
    assert len(CheckpointSource(path).samples(4, seed=0)) == 4
    with pytest.raises(InputError, match="bad-rate.pt: checkpoint config: lr_g = -1.0: must be a number > 0"):
        checkpoint_samples(path, 4, 0)


def test_is_checkpoint():
    assert is_checkpoint("runs/x/checkpoints/step-0000000.pt") and is_checkpoint(Path("a.pt"))
    assert not any(map(is_checkpoint, ["ring8", "images.npz", Path("runs/x"), None, 3]))


def test_resume_takes_the_keys_that_may_change(tmp_path):
    """train()'s `resume`: True lets any resumable key change; a collection (even an empty one) only those."""
    run = tmp_path / "run"
    short = ["checkpoint_every=1", *TINY_2D, "eval_every=0", "model_options.generator_width=16"]
    train(load_config("ring8-gan", [*short, "steps=1"]), run, progress=False)
    longer = load_config("ring8-gan", [*short, "steps=2"])
    with pytest.raises(InputError, match="--resume: .* has steps = 1, the config now 2"):
        train(longer, run, resume=set(), progress=False)
    assert train(longer, run, resume={"steps"}, progress=False).step == 2
    assert train(load_config("ring8-gan", [*short, "steps=3"]), run, resume=True, progress=False).step == 3
    with pytest.raises(TypeError, match="not one string"):
        train(longer, run, resume="steps", progress=False)
