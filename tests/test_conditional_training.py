"""Class-conditional GANs (issue 34): the cDCGAN with a projection or an AC-GAN discriminator trains on labelled data,
its checkpoints carry the classes, and sampling asks each sample for a label drawn from (seed, i)."""
from __future__ import annotations

import json
import copy
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganeval.data import fashion_mnist
from ganeval.data.checkpoint import (GENERATION_BATCH, CheckpointSource, ClassLabels, generate, latent_codes,
                                     load_checkpoint)
from ganeval.errors import InputError
from ganeval.nets.build import build_discriminator, build_generator
from ganeval.nets.conditional import (ACGANDiscriminator, ConditionalDCGANConfig, ConditionalDCGANGenerator,
                                      ProjectionDiscriminator, conditional_parameter_counts)
from ganeval.nets.dcgan import to_uint8
from ganeval.train.config import load_config
from ganeval.train.loop import train, training_step
from ganeval.train.losses import class_loss, discriminator_loss, generator_loss
from ganeval.train.trainer import create_trainer

from .conftest import set_flags

pytestmark = pytest.mark.skipif(fashion_mnist.find_folder("train") is None,
                                reason="Fashion-MNIST not installed (make data installs it)")
CONFIGS = {"projection": "fmnist-cdcgan-proj", "acgan": "fmnist-acgan"}
TINY = ["steps=3", "checkpoint_every=3", "batch_size=8", "eval_every=0", "max_minutes=0", "ema=0.9",
        "model_options.generator_width=4", "model_options.discriminator_width=4", "model_options.latent_dim=8"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple]:
    """A 3-step run of each conditional config with tiny networks: {conditioning: (trainer, last checkpoint)}."""
    folder = tmp_path_factory.mktemp("conditional")
    trained = {}
    for conditioning, name in CONFIGS.items():
        trainer = train(load_config(name, TINY), folder / name, progress=False)
        trained[conditioning] = trainer, folder / name / "checkpoints" / "step-0000003.pt"
    return trained


@pytest.fixture(scope="module")
def unconditional(tmp_path_factory):
    """A 1-step fmnist-dcgan run on a .npy of images (no labels): (its trainer, its checkpoint, the array)."""
    folder = tmp_path_factory.mktemp("unconditional")
    np.save(folder / "images.npy", np.random.default_rng(0).integers(0, 256, (32, 1, 28, 28), dtype=np.uint8))
    config = load_config("fmnist-dcgan", ["steps=1", "batch_size=8", "eval_every=0", "max_minutes=0",
                                          f"data='{folder / 'images.npy'}'", "model_options.generator_width=4",
                                          "model_options.discriminator_width=4", "model_options.latent_dim=8"])
    trainer = train(config, folder / "run", progress=False)
    return trainer, folder / "run" / "checkpoints" / "step-0000001.pt", folder / "images.npy"


@pytest.mark.parametrize("conditioning", CONFIGS)
def test_both_configs_train_and_their_checkpoints_carry_the_classes(runs, conditioning):
    trainer, path = runs[conditioning]
    assert trainer.step == 3 and trainer.labels is not None and len(trainer.labels) == 60000
    kind = ProjectionDiscriminator if conditioning == "projection" else ACGANDiscriminator
    assert isinstance(trainer.discriminator, kind)
    checkpoint = load_checkpoint(path)  # weights_only=True inside
    config = checkpoint["config"]
    assert config["model"] == "cdcgan" and config["labels"] == "class"
    assert config["model_options"]["num_classes"] == 10 and config["model_options"]["conditioning"] == conditioning
    # the picture has a row per class: 8 samples of each of the 10
    assert (path.parent.parent / "samples" / "step-0000003.png").is_file()
    source = CheckpointSource(path)
    assert source.num_classes == 10 and source.info.labels == "uniform over 10"
    assert source.info.to_json()["labels"] == "uniform over 10"
    # the checkpoint regenerates what the trained generator draws for the same latents and labels
    assert torch.equal(source.samples(20, seed=7).data,
                       generate(trainer.generator.eval(), trainer.config, 20, seed=7, labels=ClassLabels(10)))


def test_labels_are_a_function_of_seed_and_index_and_reach_the_generator(runs):
    _, path = runs["projection"]
    source = CheckpointSource(path)
    labels = source.labels(1500, seed=3)  # more than one block of labels_at's streams (1,024)
    assert labels.dtype == torch.int64 and labels.shape == (1500,) and 0 <= labels.min() and labels.max() <= 9
    assert torch.equal(source.labels(700, seed=3), labels[:700])  # N labels are the first N of a longer draw
    assert not torch.equal(source.labels(700, seed=4), labels[:700])
    counts = torch.bincount(labels, minlength=10)
    assert counts.min() > 100 and counts.max() < 200  # uniform: 150 each
    # row blocks (a distributed score's shards) and batch sizes draw the same samples
    whole = source.generate(1100, seed=3)
    assert torch.equal(source.generate(1100, seed=3, rows=range(GENERATION_BATCH, 2 * GENERATION_BATCH)),
                       whole[GENERATION_BATCH:2 * GENERATION_BATCH])
    other = generate(source.generator, source.config, 1100, seed=3, batch_size=37, labels=source.class_labels)
    assert (whole.int() - other.int()).abs().max() <= 1  # float rounding of other batch shapes at most
    # the generator got sample i's latent and label i
    codes, asked = latent_codes(1100, 8, seed=3), labels[:1100]
    with torch.no_grad():
        by_hand = torch.cat([to_uint8(source.generator(codes[start:start + 500], asked[start:start + 500]))
                             for start in range(0, 1100, 500)])
    assert torch.equal(whole, by_hand)
    # one class, and the reference's histogram (shorter than the classes: the rest weigh 0)
    assert torch.equal(CheckpointSource(path, label_class=3).labels(50, seed=3), torch.full((50,), 3))
    weighted = CheckpointSource(path, label_weights=[0, 0, 1, 0, 3]).labels(400, seed=3)
    assert set(weighted.tolist()) == {2, 4} and 0.65 < (weighted == 4).float().mean() < 0.85
    assert CheckpointSource(path, label_weights=torch.ones(10)).info.labels == "reference histogram over 10"
    for bad, message in (({"label_class": 10}, "--class 10: .* generates 10 classes, 0..9"),
                         ({"label_class": -1}, "--class -1: .* generates 10 classes, 0..9"),
                         ({"label_weights": [1.0] * 11}, "needs at most 10 non-negative weights"),
                         ({"label_weights": [0, 0]}, "not all 0"),
                         ({"label_weights": [1, -1]}, "non-negative"),
                         ({"label_class": 2, "label_weights": [1, 1]}, "not both")):
        with pytest.raises(InputError, match=message):
            CheckpointSource(path, **bad)


def test_unconditional_checkpoints_sample_as_before(unconditional):
    trainer, path, _ = unconditional
    source = CheckpointSource(path, label_weights=[1, 2, 3])  # a reference histogram means nothing without labels
    assert source.num_classes is None and source.labels(10, seed=2) is None and source.info.labels is None
    assert "labels" not in source.info.to_json()
    # the samples of before conditional models: 500-latent batches of one seeded normal draw, no labels
    codes = latent_codes(1100, 8, seed=2)
    generator = trainer.generator.eval()
    with torch.no_grad():
        expected = to_uint8(torch.cat([generator(chunk) for chunk in codes.split(GENERATION_BATCH)]))
    assert torch.equal(source.samples(1100, seed=2).data, expected)
    with pytest.raises(InputError, match="--class 3: .* is not class-conditional \\(model dcgan\\)"):
        CheckpointSource(path, label_class=3)
    with pytest.raises(InputError, match="model dcgan is unconditional: it takes no labels \\(class 3 asked\\)"):
        generate(generator, trainer.config, 4, seed=0, labels=ClassLabels(10, only=3))


def test_sample_class_writes_one_class_and_bad_input_is_one_line(runs, unconditional, run_cli, tmp_path):
    _, path = runs["acgan"]
    code, out, err = run_cli("sample", path, "--num-samples", "6", "--out", tmp_path / "pngs", "--class", "3")
    assert code == 0, err
    assert "6 samples of class 3 of fmnist-acgan step 3" in out and len(list((tmp_path / "pngs").glob("*.png"))) == 6
    code, _, err = run_cli("sample", path, "--num-samples", "6", "--out", tmp_path / "some.npz", "--seed", "5")
    assert code == 0, err
    with np.load(tmp_path / "some.npz") as saved:  # the labels each sample was asked for, beside it
        assert saved["samples"].shape == (6, 1, 28, 28)
        assert saved["labels"].tolist() == CheckpointSource(path).labels(6, seed=5).tolist()
    for checkpoint, flag, message in ((path, "12", "--class 12: .* generates 10 classes, 0..9"),
                                      (path, "-1", "--class -1: .* generates 10 classes, 0..9"),
                                      (unconditional[1], "3", "--class 3: .* is not class-conditional")):
        code, out, err = run_cli("sample", checkpoint, "--num-samples", "4", "--out", tmp_path / "bad.npz",
                                 "--class", flag)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert re.search(message, err) and not (tmp_path / "bad.npz").exists()


@pytest.mark.parametrize("setting, message", [
    ("model_options.num_classes=12", 'data "fashion-mnist:train" has 10 classes; use model_options.num_classes = 10'),
    ("model_options.num_classes=1", "model_options.num_classes = 1: must be an integer >= 2"),
    ("model_options.conditioning='concat'", 'model_options.conditioning = "concat": must be one of projection, acgan'),
    ("labels='none'", 'labels = "none": model "cdcgan" is class-conditional; use labels = "class"'),
    ("labels='classes'", 'labels = "classes": must be one of none, class'),
    ("model='dcgan'", 'unknown model_options conditioning, num_classes for model dcgan'),
    ("aux_weight=-1", "aux_weight = -1: must be a number >= 0"),
    ("aux_generated=1", "aux_generated = 1: must be true or false"),
    ("packing=2", 'packing = 2: model "cdcgan"\'s discriminators score one image and its label at a time'),
    ("loss='wgan-gp'", 'loss = "wgan-gp" cannot train model "cdcgan"'),
    ("data='ring8'", 'model "cdcgan" cannot train on data "ring8" \\(2D points\\)'),
])
def test_bad_conditional_settings_are_one_line(setting, message):
    with pytest.raises(InputError, match=message):
        load_config("fmnist-acgan", [setting])


def test_data_without_labels_is_one_line_naming_data_and_model(unconditional, run_cli, tmp_path):
    array = unconditional[2]
    code, _, err = run_cli("train", "fmnist-cdcgan-proj", *set_flags(f"data='{array}'", *TINY), "--out",
                           tmp_path / "run", "--quiet", "--no-eval")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"data {array} has no labels, but model cdcgan is class-conditional" in err
    assert not (tmp_path / "run").exists()
    with pytest.raises(InputError, match='labels = "class": model "dcgan" is unconditional'):
        load_config("fmnist-dcgan", ["labels='class'"])


@pytest.mark.parametrize("aux_generated", [True, False])
def test_the_acgan_losses_add_the_class_cross_entropy_with_its_weight(aux_generated):
    """One training step's losses against the paper's terms computed by hand from the same batches: D's adds
    w (CE(real) + CE(generated)) (w CE(real) alone with aux_generated = false, fmnist-acgan's), G's w CE(generated),
    on the batches the run's stream drew."""
    config = load_config("fmnist-acgan", [*TINY, "aux_weight=2.5", f"aux_generated={str(aux_generated).lower()}"])
    trainer = create_trainer(config, torch.device("cpu"))
    before = copy.deepcopy(trainer)
    # the step's draws, in the loop's order: real rows, then latents, then the generated batch's labels
    random = before.random
    rows = torch.randint(len(before.data), (8,), generator=random)
    latents = torch.randn(8, 8, generator=random)
    asked = torch.randint(10, (8,), generator=random)
    real, real_labels = before.data[rows].float() / 127.5 - 1, before.labels[rows]
    losses = training_step(trainer)
    with torch.no_grad():
        fake = before.generator.train()(latents, asked)
        (real_scores, real_logits), (fake_scores, fake_logits) = before.discriminator(real), before.discriminator(fake)
        generated_term = F.cross_entropy(fake_logits, asked) if aux_generated else 0.0
        d_loss = discriminator_loss("ns", real_scores, fake_scores) + 2.5 * (
            F.cross_entropy(real_logits, real_labels) + generated_term)
        # G's step scores the same generated batch (reuse_fake_batch) with the updated discriminator
        scores, logits = trainer.discriminator(fake)
        g_loss = generator_loss("ns", scores) + 2.5 * class_loss(logits, asked)
    assert losses["d_loss"] == pytest.approx(float(d_loss), rel=1e-5)
    assert losses["g_loss"] == pytest.approx(float(g_loss), rel=1e-5)
    # an untrained class head knows nothing: each cross-entropy is near ln 10
    assert float(F.cross_entropy(real_logits, real_labels)) == pytest.approx(math.log(10), abs=0.1)


def test_the_networks_shapes_and_the_projection():
    config = ConditionalDCGANConfig(latent_dim=8, generator_width=4, discriminator_width=3, num_classes=5)
    generator = ConditionalDCGANGenerator(config).eval()
    images = generator(torch.randn(6, 8), torch.arange(6) % 5)
    assert images.shape == (6, 1, 28, 28) and images.abs().max() <= 1
    projection = ProjectionDiscriminator(config).eval()
    labels, others = torch.tensor([0, 1, 2, 3, 4, 0]), torch.tensor([4, 4, 4, 4, 4, 4])
    scores = projection(images, labels)
    assert scores.shape == (6,)
    # D(x, y) - D(x, y') = <embed(y) - embed(y'), phi(x)>: the class enters through the inner product alone
    features = projection.features(images)
    difference = ((projection.embed(labels) - projection.embed(others)) * features).sum(dim=1)
    assert torch.allclose(scores - projection(images, others), difference, atol=1e-6)
    auxiliary = ACGANDiscriminator(ConditionalDCGANConfig(**{**config.to_dict(), "conditioning": "acgan"})).eval()
    scores, logits = auxiliary(images, labels)
    assert scores.shape == (6,) and logits.shape == (6, 5)
    with pytest.raises(InputError, match="images of shape 1x32x32, but it scores 1x28x28"):
        projection(torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.int64))
    for options in ({"num_classes": 10}, {"image_size": 32, "channels": 3, "conditioning": "acgan", "num_classes": 3,
                                          "discriminator_norm": "spectral", "generator_width": 5},
                    {"latent_dim": 7, "generator_width": 5, "discriminator_width": 3, "discriminator_norm": "none"}):
        counts = conditional_parameter_counts({**ConditionalDCGANConfig().to_dict(), **options})
        networks = build_generator("cdcgan", options), build_discriminator("cdcgan", options)
        assert list(counts.values()) == [sum(weights.numel() for weights in net.parameters()) for net in networks]
        image_size, channels = options.get("image_size", 28), options.get("channels", 1)
        labels = torch.arange(4) % options["num_classes"] if "num_classes" in options else torch.arange(4)
        drawn = networks[0].eval()(torch.randn(4, options.get("latent_dim", 64)), labels)
        assert drawn.shape == (4, channels, image_size, image_size)


def test_a_short_run_draws_the_classes_it_is_asked_for(tmp_path):
    """300 steps of the projection cDCGAN at width 16 (about 6 s on one core): each class's samples are classified
    as that class by the shipped Fashion-MNIST classifier well above chance (0.1): 0.49 at seed 0 (0.42 and 0.39 at
    seeds 1 and 2; fmnist-acgan at the same settings 0.29, its class head learning slower)."""
    from ganeval.features import create

    config = load_config("fmnist-cdcgan-proj", ["steps=300", "checkpoint_every=300", "eval_every=0", "log_every=0",
                                                "max_minutes=0", "ema=0", "model_options.generator_width=16",
                                                "model_options.discriminator_width=16"])
    train(config, tmp_path / "run", progress=False)
    classifier = create("fmnist-classifier")
    path = tmp_path / "run" / "checkpoints" / "step-0000300.pt"
    hits = [(classifier(CheckpointSource(path, label_class=k).samples(100, seed=1).data)["logits"].argmax(1) == k)
            for k in range(10)]
    accuracy = float(torch.cat(hits).float().mean())
    print(f"label accuracy after 300 steps: {accuracy:.3f}")
    assert accuracy > 0.3


def test_a_conditional_run_repeats_and_resumes_bit_for_bit(tmp_path):
    """The generated batches' labels come from the run's seeded stream, which checkpoints keep: 2 steps, then 2 more
    after a resume, are the 4 steps of one run, weight for weight."""
    settings = [*TINY, "steps=4", "checkpoint_every=2", "ema=0"]
    straight = train(load_config("fmnist-acgan", settings), tmp_path / "straight", progress=False)
    train(load_config("fmnist-acgan", [*settings, "steps=2"]), tmp_path / "resumed", progress=False)
    resumed = train(load_config("fmnist-acgan", settings), tmp_path / "resumed", resume=True, progress=False)
    for network in ("generator", "discriminator"):
        expected = getattr(straight, network).state_dict()
        assert all(torch.equal(value, getattr(resumed, network).state_dict()[key]) for key, value in expected.items())


def test_a_conditional_and_an_unconditional_checkpoint_score_with_the_same_command(runs, unconditional, run_cli,
                                                                                   tmp_path):
    """Both checkpoints take the same `score` command; the label metrics read the conditional one's asked classes
    and refuse the unconditional one in one line."""
    command = ["fashion-mnist:test", "--metrics", "fid,label_accuracy,ifid", "--num-samples", "200",
               "--extractor", "fmnist-classifier", "--json", "--quiet"]
    code, out, err = run_cli("score", runs["projection"][1], *command)
    assert code == 0, err
    record = json.loads(out)
    assert 0 <= record["label_accuracy"] <= 1 and record["ifid"] > 0
    assert set(record["diagnostics"]["label_accuracy"]["per_class"]) <= {str(label) for label in range(10)}
    code, out, err = run_cli("score", unconditional[1], *command)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "no class labels" in err
    run = runs["projection"][1].parent.parent
    code, _, err = run_cli("report", run, "--out", tmp_path / "report")
    assert code == 0, err
    assert f"classes-{run.name}.png" in (tmp_path / "report" / "index.html").read_text()
    assert (tmp_path / "report" / f"classes-{run.name}.png").is_file()
