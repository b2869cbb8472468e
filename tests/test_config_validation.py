"""Every training config value is typed and range-checked at load, before a run folder exists (issue 19)."""
from __future__ import annotations

import sys
from dataclasses import asdict, fields

import numpy as np
import pytest
import torch
from PIL import Image

from ganeval.errors import InputError
from ganeval.nets.conditional import ConditionalDCGANConfig
from ganeval.nets.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator, dcgan_parameter_counts
from ganeval.nets.mlp import MaxoutDiscriminator, MLPConfig, MLPGenerator, mlp_parameter_counts
from ganeval.train.checkpoint import save_checkpoint
from ganeval.train.config import (
    CONFIG_DIR, FIELD_RULES, MODEL_OPTION_RULES, TrainConfig, config_names, from_dict, load_config,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# (config, --set value, what the one-line message must say): the values of issue 19 and more.
BAD_VALUES = [
    ("grid25-gan", "lr_g=-1", "lr_g = -1: must be a number > 0"),
    ("grid25-gan", "lr_d=0", "lr_d = 0: must be a number > 0"),
    ("grid25-gan", "lr_d=inf", "lr_d = inf: must be a number > 0"),
    ("grid25-gan", "lr_g=nan", "lr_g = nan: must be a number > 0"),
    ("grid25-gan", "lr_g='fast'", 'lr_g = "fast": must be a number > 0'),
    ("grid25-gan", "betas=[2.0]", "betas = [2.0]: must be a list of two numbers in [0, 1)"),
    ("grid25-gan", "betas=[0.5, 1.0]", "betas = [0.5, 1.0]: must be a list of two numbers in [0, 1)"),
    ("grid25-gan", "betas=[0.5, -0.1, 0.9]", "betas = [0.5, -0.1, 0.9]: must be a list of two numbers"),
    ("fmnist-dcgan", "model_options.generator_width=0", "model_options.generator_width = 0: must be an integer >= 1"),
    ("fmnist-dcgan", "model_options.generator_width=-3", "model_options.generator_width = -3: must be an integer >= 1"),
    ("grid25-gan", "model_options.discriminator_width=2.5", "model_options.discriminator_width = 2.5: must be an integer"),
    ("fmnist-dcgan", "model_options.image_size=64",
     "model_options.image_size = 64: must be one of 28, 32 (the DCGAN's 28x28 and 32x32 architectures)"),
    ("fmnist-dcgan", "model_options.channels=2", "model_options.channels = 2: must be one of 1, 3 (grey or RGB)"),
    ("fmnist-dcgan", "model_options.discriminator_norm='layer'", 'model_options.discriminator_norm = "layer": must be one of batch'),
    ("fmnist-dcgan", "model_options.depth=3", "unknown model_options depth for model dcgan; valid: channels"),
    ("fmnist-dcgan", "model_options.channels=3", 'data "fashion-mnist:train" holds 1x28x28 images; use model_options.channels = 1'),
    ("cifar10-dcgan", "model_options.image_size=28", "model_options.image_size = 32 (not 3 and 28)"),
    ("grid25-gan", "model_options.data_dim=3", 'model_options.data_dim = 3: data "grid25" is 2D points; use 2'),
    ("grid25-gan", "steps=1e400", "steps = inf: must be an integer in [1, 9999999]"),
    ("grid25-gan", "steps=2.5", "steps = 2.5: must be an integer"),
    ("grid25-gan", "steps=abc", 'steps = "abc": must be an integer'),
    ("grid25-gan", "steps=0", "steps = 0: must be an integer in [1, 9999999]"),
    ("grid25-gan", "steps=10000000", "steps = 10000000: must be an integer in [1, 9999999]"),
    ("grid25-gan", "checkpoint_every=2.5", "checkpoint_every = 2.5: must be an integer >= 1"),
    ("grid25-gan", "checkpoint_every=0", "checkpoint_every = 0: must be an integer >= 1"),
    ("grid25-gan", "eval_every=-1", "eval_every = -1: must be an integer >= 0"),
    ("grid25-gan", "batch_size=true", "batch_size = true: must be an integer >= 2"),
    ("grid25-gan", "batch_size=1", "batch_size = 1: must be an integer >= 2"),
    ("grid25-gan", "d_steps=0", "d_steps = 0: must be an integer >= 1"),
    ("grid25-gan", "packing=0", "packing = 0: must be an integer >= 1"),
    ("grid25-gan", "gp_weight=-1", "gp_weight = -1: must be a number >= 0"),
    ("grid25-gan", "ema=1", "ema = 1: must be a number in [0, 1)"),
    ("grid25-gan", "ema=-0.5", "ema = -0.5: must be a number in [0, 1)"),
    ("grid25-gan", "lr_decay=1.5", "lr_decay = 1.5: must be a number in [0, 1]"),
    ("grid25-gan", "max_minutes=inf", "max_minutes = inf: must be a number >= 0"),
    ("grid25-gan", "eval_samples=1", "eval_samples = 1: must be an integer >= 2"),
    ("grid25-gan", "train_size=0", "train_size = 0: must be an integer in [2, 10000000]"),
    ("grid25-gan", "seed=-1", "seed = -1: must be an integer in [0, 9223372036854775807]"),
    ("grid25-gan", "reuse_fake_batch='yes'", 'reuse_fake_batch = "yes": must be true or false'),
    ("grid25-gan", "loss=bce", 'loss = "bce": must be one of ns, minimax, lsgan, hinge, wgan-gp'),
    ("grid25-gan", "model=resnet", 'model = "resnet": must be one of mlp, dcgan'),
    ("grid25-gan", "precision=float16", 'precision = "float16": must be one of float32, bfloat16'),
    ("grid25-gan", "eval_metrics='fid,fdi'", 'eval_metrics = "fid,fdi": must be a comma-separated list of metrics'),
    ("grid25-gan", "data=ring9", 'data = "ring9": must be a source spec'),
    ("grid25-gan", "data=7", "data = 7: must be a source spec"),
    ("grid25-gan", "data='fashion-mnist:train'", 'model "mlp" cannot train on data "fashion-mnist:train" (images)'),
    ("fmnist-dcgan", "data=ring8", 'model "dcgan" cannot train on data "ring8" (2D points); use model = "mlp"'),
    ("grid25-gan", "name='../elsewhere'", 'name = "../elsewhere": must be a non-empty name without /'),
    ("grid25-gan", "name=''", 'name = "": must be a non-empty name'),
    # model options: sizes, layers, names and types that no network can be built from (issue: ValueError tracebacks)
    ("fmnist-dcgan", "model_options.image_size=0", "model_options.image_size = 0: must be one of 28, 32"),
    ("fmnist-dcgan", "model_options.image_size='28'", 'model_options.image_size = "28": must be one of 28, 32'),
    ("fmnist-dcgan", "model_options={image_size=64}", "--set model_options.image_size = 64: must be one of 28, 32"),
    ("fmnist-dcgan", "model_options.latent_dim=0", "model_options.latent_dim = 0: must be an integer >= 1"),
    ("fmnist-dcgan", "model_options.latent_dim='64'", 'model_options.latent_dim = "64": must be an integer >= 1'),
    ("fmnist-dcgan", "model_options.discriminator_width=2.0",
     "model_options.discriminator_width = 2.0: must be an integer"),
    ("ring8-gan", "model_options.generator_layers=-1",
     "model_options.generator_layers = -1: must be an integer in [1, 1000]"),
    ("ring8-gan", "model_options.discriminator_layers=1001",
     "model_options.discriminator_layers = 1001: must be an integer in [1, 1000]"),
    ("ring8-gan", "model_options.maxout_pieces=true", "model_options.maxout_pieces = true: must be an integer >= 1"),
    ("ring8-gan", "model_options.latent_dim=0", "model_options.latent_dim = 0: must be an integer >= 1"),
    ("ring8-gan", "model_options.hidden=0",
     "unknown model_options hidden for model mlp; valid: data_dim, discriminator_layers"),
    ("ring8-gan", "model_options.=3", 'unknown model_options "" for model mlp'),
    ("ring8-gan", "model_options.image_size=28", "unknown model_options image_size for model mlp"),
    ("fmnist-dcgan", "model_options.generator_width=99999999999",
     "model_options.generator_width = 99999999999: the generator would have"),
    ("fmnist-dcgan", "model_options.discriminator_width=5000",
     "model_options.discriminator_width = 5000: the discriminator would have 3,201,210,001 parameters; "
     "at most 1,000,000,000 per network"),
    ("ring8-gan", "model_options.generator_width=100000",
     "model_options.generator_width = 100000: the generator would have 30,001,600,002 parameters"),
    ("ring8-gan", "model_options.maxout_pieces=100000",
     "model_options.maxout_pieces = 100000: the discriminator would have"),
    ("ring8-gan", "batch_size=1000000", "batch_size = 1000000: larger than train_size = 100000"),
    ("ring8-gan", "train_size=10000001", "train_size = 10000001: must be an integer in [2, 10000000]"),
    ("ring8-gan", "seed=9223372036854775808",
     "seed = 9223372036854775808: must be an integer in [0, 9223372036854775807]"),
]


@pytest.mark.parametrize("config, setting, message", BAD_VALUES, ids=[setting for _, setting, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_key_and_leaves_no_run_folder(run_cli, tmp_path, config, setting, message):
    out = tmp_path / "run"
    code, stdout, err = run_cli("train", config, "--set", setting, "--out", out, "--quiet", "--no-eval")
    assert code == 2, err
    assert err.startswith("ganeval: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not out.exists() and stdout == ""


def test_a_bad_value_in_the_file_is_named_with_the_file(run_cli, tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text('data = "ring8"\nmodel = "mlp"\nsteps = 2.5\n')
    code, _, err = run_cli("train", config, "--out", tmp_path / "run", "--quiet")
    assert code == 2 and f"{config}: steps = 2.5: must be an integer in [1, 9999999]" in err
    assert not (tmp_path / "run").exists()
    with pytest.raises(InputError, match="missing required key\\(s\\) data"):
        from_dict({"name": "x"})


def test_a_checkpoint_config_gets_the_same_checks(run_cli, tmp_path):
    values = load_config("grid25-gan").to_dict()
    checkpoint = save_checkpoint(tmp_path / "step-0000000.pt", {"step": 0, "config": {**values, "lr_g": -1.0},
                                                                "generator": {}})
    code, _, err = run_cli("sample", checkpoint, "--num-samples", "10", "--out", tmp_path / "samples.npz")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "checkpoint config: lr_g = -1.0: must be a number > 0" in err
    with pytest.raises(InputError, match='checkpoint config: model_options.latent_dim = 0: must be an integer >= 1'):
        from_dict({**values, "model_options": {"latent_dim": 0}}, "checkpoint config")


def test_building_a_config_directly_is_checked_too():
    with pytest.raises(InputError, match="config x: steps = 2.5: must be an integer"):
        TrainConfig(name="x", data="ring8", model="mlp", steps=2.5)


def test_edge_values_are_accepted_and_numbers_take_their_field_type():
    config = load_config("grid25-gan", ["lr_g=1", "betas=[0, 0]", "ema=0", "eval_every=0", "steps=1", "gp_weight=0",
                                        "steps=9999999", "seed=0", "data='my-points.npy'", "model_options.data_dim=3"])
    assert config.lr_g == 1.0 and isinstance(config.lr_g, float)
    largest = load_config("ring8-gan", ["seed=9223372036854775807", "train_size=10000000", "batch_size=10000000",
                                        "model_options.generator_layers=1000",
                                        "model_options.discriminator_layers=1000"])
    assert largest.seed == 2**63 - 1 and largest.batch_size == largest.train_size
    assert config.betas == (0.0, 0.0) and all(isinstance(beta, float) for beta in config.betas)
    assert config.steps == 9_999_999 and config.data == "my-points.npy"


@pytest.mark.parametrize("name", config_names())
def test_every_shipped_config_loads_and_round_trips_through_its_toml(name):
    config = load_config(name)
    assert from_dict(tomllib.loads(config.to_toml())) == config


def test_there_are_thirteen_shipped_configs():
    assert len(list(CONFIG_DIR.glob("*.toml"))) == 13  # the eleven unconditional ones and two class-conditional


def test_every_field_and_model_option_has_a_rule():
    assert list(FIELD_RULES) == [item.name for item in fields(TrainConfig)]
    for model, kind in (("mlp", MLPConfig), ("dcgan", DCGANConfig), ("cdcgan", ConditionalDCGANConfig)):
        assert set(MODEL_OPTION_RULES[model]) == {item.name for item in fields(kind)} - {"packing"}


NETWORK_CONFIGS = [MLPConfig(), MLPConfig(latent_dim=3, data_dim=5, generator_layers=1, discriminator_layers=2,
                                          maxout_pieces=2, packing=4),
                   DCGANConfig(), DCGANConfig(image_size=32, channels=3, discriminator_norm="spectral", packing=2),
                   DCGANConfig(channels=3, latent_dim=7, generator_width=5, discriminator_width=3,
                               discriminator_norm="none")]


@pytest.mark.parametrize("config", NETWORK_CONFIGS, ids=repr)
def test_the_size_limit_counts_the_parameters_the_networks_have(config):
    """The limit is checked from the sizes alone, before anything is built: the count must be the networks' own."""
    if isinstance(config, MLPConfig):
        counts, networks = mlp_parameter_counts(asdict(config)), (MLPGenerator(config), MaxoutDiscriminator(config))
    else:
        counts, networks = dcgan_parameter_counts(asdict(config)), (DCGANGenerator(config), DCGANDiscriminator(config))
    assert list(counts.values()) == [sum(weights.numel() for weights in net.parameters()) for net in networks]


@pytest.mark.parametrize("kind, options, message", [
    (DCGANConfig, {"image_size": 64}, "DCGAN image_size = 64: must be 28 or 32"),
    (DCGANConfig, {"channels": 2}, "DCGAN channels = 2: must be 1 \\(grey\\) or 3 \\(RGB\\)"),
    (DCGANConfig, {"discriminator_norm": "layer"},
     "DCGAN discriminator_norm = 'layer': must be batch, spectral or none"),
    (DCGANConfig, {"generator_width": 0}, "DCGAN generator_width = 0: must be an integer >= 1"),
    (DCGANConfig, {"latent_dim": "64"}, "DCGAN latent_dim = '64': must be an integer >= 1"),
    (DCGANConfig, {"discriminator_width": 10**6}, "DCGAN discriminator: .* parameters, more than the 1,000,000,000"),
    (MLPConfig, {"generator_layers": 0}, "MLP generator_layers = 0: must be an integer >= 1"),
    (MLPConfig, {"discriminator_layers": 1001}, "MLP discriminator_layers = 1001: must be an integer in \\[1, 1000\\]"),
    (MLPConfig, {"maxout_pieces": True}, "MLP maxout_pieces = True: must be an integer >= 1"),
    (MLPConfig, {"generator_width": 10**6}, "MLP generator: .* parameters, more than the 1,000,000,000"),
])
def test_the_nets_refuse_what_they_cannot_build_with_an_input_error(kind, options, message):
    """The last line of defence for callers that skip the config (the library, a checkpoint's stored options)."""
    with pytest.raises(InputError, match=message):
        kind(**options)


def test_data_of_another_shape_than_the_networks_is_one_line(run_cli, tmp_path):
    """A folder's images are known only once loaded: the training loop refuses them in one line, before the run
    folder is written; the discriminator refuses them too, for callers that skip the loop."""
    images = tmp_path / "images"
    images.mkdir()
    for index in range(4):
        Image.fromarray(np.full((32, 32), 50 * index, dtype=np.uint8)).save(images / f"{index}.png")
    code, _, err = run_cli("train", "fmnist-dcgan", "--set", f"data='{images}'", "--set", "batch_size=2",
                           "--set", "model_options.generator_width=2", "--set", "model_options.discriminator_width=2",
                           "--steps", "1", "--out", tmp_path / "run", "--quiet", "--no-eval")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "holds 1x32x32 images but the DCGAN takes 1x28x28" in err and not (tmp_path / "run").exists()
    with pytest.raises(InputError, match="images of shape 1x32x32, but it scores 1x28x28 images"):
        DCGANDiscriminator(DCGANConfig())(torch.zeros(2, 1, 32, 32))
    with pytest.raises(InputError, match="samples of shape \\(5, 3\\), but it scores 2-dimensional points"):
        MaxoutDiscriminator(MLPConfig())(torch.zeros(5, 3))
