"""The reference GAN training core: every shipped config trains, checkpoints regenerate samples, resume is exact."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganeval.data import fashion_mnist
from ganeval.errors import InputError
from ganeval.train.checkpoint import load_checkpoint
from ganeval.train.config import CONFIG_DIR, load_config
from ganeval.train.loop import generate, generator_from_checkpoint, train

CONFIGS = sorted(path.stem for path in CONFIG_DIR.glob("*.toml"))
FAST = ["steps=2", "checkpoint_every=1", "batch_size=8", "train_size=2000", "eval_samples=64"]
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


def test_config_errors_name_the_valid_choices(tmp_path):
    with pytest.raises(InputError, match="unknown key\\(s\\) lerning_rate; valid keys: name, data, model"):
        load_config("fmnist-dcgan", ["lerning_rate=1"])
    with pytest.raises(InputError, match="unknown loss 'bce'"):
        load_config("fmnist-dcgan", ["loss=bce"])
    with pytest.raises(InputError, match="not found; give a .toml path or one of: cifar10-dcgan"):
        load_config("no-such-config")
    with pytest.raises(InputError, match="not divisible by packing 2"):
        load_config("grid25-pacgan2", ["batch_size=7"])


def test_train_command(run_cli, tmp_path):
    code, out, err = run_cli("train", "ring8-gan", "--set", "batch_size=10", "--set", "train_size=500", "--steps", "2",
                             "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    assert "step 2" in out and (tmp_path / "run" / "checkpoints" / "step-0000002.pt").is_file()
    code, _, err = run_cli("train", "ring8-gan", "--set", "lr_g", "--out", tmp_path / "bad")
    assert code == 2 and "expected key=value" in err
