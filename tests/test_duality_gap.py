"""The duality gap of checkpoints (Grnarova et al., NeurIPS 2019, arXiv:1811.05512): DG >= 0 and the order of the
three game values by construction, seeded determinism, every loss on Fashion-MNIST, one-line errors."""
from __future__ import annotations

import json
import math

import pytest
import torch

from ganeval.data.checkpoint import load_checkpoint
from ganeval.errors import InputError
from ganeval.train.checkpoint import save_checkpoint
from ganeval.train.config import from_dict
from ganeval.train.duality_gap import (
    DualityGapOptions,
    checkpoint_duality_gap,
    duality_gap,
    duality_gaps,
    held_out_spec,
)
from ganeval.train.loop import train
from ganeval.train.losses import LOSS_NAMES

from .conftest import needs_fmnist

# Small 2D networks and batches: the run trains in about a second, each gap takes a fraction of one.
SMALL_MLP = {"generator_width": 32, "generator_layers": 2, "discriminator_width": 16, "discriminator_layers": 2}
FAST = DualityGapOptions(steps=30, lr=1e-3, batch_size=10, eval_samples=100, eval_every=5)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """A tiny ring8 run with checkpoints at steps 0, 100 and 200."""
    config = from_dict({"name": "t", "data": "ring8", "model": "mlp", "steps": 200, "checkpoint_every": 100,
                        "eval_every": 0, "batch_size": 10, "train_size": 500, "lr_g": 1e-3, "lr_d": 1e-3,
                        "model_options": SMALL_MLP})
    out = tmp_path_factory.mktemp("dg") / "ring8"
    train(config, out, progress=False)
    return out


def assert_ordered(gap) -> None:
    assert gap.value_worst_discriminator >= gap.value >= gap.value_worst_generator
    assert gap.gap == gap.value_worst_discriminator - gap.value_worst_generator >= 0
    assert all(map(math.isfinite, (gap.gap, gap.value, gap.value_worst_discriminator, gap.value_worst_generator)))


def test_the_gap_is_nonnegative_and_the_values_ordered_on_every_checkpoint_of_a_run(ring_run):
    gaps = duality_gaps(ring_run, FAST)
    assert [gap.step for gap in gaps] == [0, 100, 200]
    for gap in gaps:
        assert_ordered(gap)
        assert gap.loss == "ns" and gap.steps == 30 and gap.seconds > 0
        assert gap.held_out == "ring8 (fresh samples, seed 1)"  # not the training set's seed 0
    # The untrained discriminator scores everything alike (M = -2 log 2), which its search improves on.
    assert gaps[0].value == pytest.approx(-2 * math.log(2), abs=0.01)
    assert gaps[0].value_worst_discriminator > gaps[0].value
    record = json.loads(json.dumps(gaps[-1].to_dict()))
    assert record["step"] == 200 and record["gap"] == gaps[-1].gap


def test_the_order_holds_even_when_the_searches_diverge(ring_run):
    """A learning rate far too large: the iterates are worse players (or not finite), so the start's value stands."""
    for lr in (1e3, 1e9):
        assert_ordered(checkpoint_duality_gap(ring_run / "checkpoints" / "step-0000100.pt",
                                              DualityGapOptions(steps=10, lr=lr, batch_size=10, eval_samples=100)))


def test_a_checkpoint_whose_game_value_is_not_finite_has_no_gap(ring_run, tmp_path):
    """A diverged checkpoint: NaN, measured by no search, never a number that looks like one."""
    checkpoint = load_checkpoint(ring_run / "checkpoints" / "step-0000200.pt")
    weights = checkpoint["discriminator"]
    weights[next(iter(weights))].fill_(float("nan"))
    save_checkpoint(tmp_path / "step-0000200.pt", checkpoint)
    gap = checkpoint_duality_gap(tmp_path / "step-0000200.pt", FAST)
    assert math.isnan(gap.value) and math.isnan(gap.gap) and gap.steps == 0


def test_no_search_steps_is_a_gap_of_zero(ring_run):
    gap = duality_gap(ring_run / "checkpoints" / "step-0000200.pt", steps=0, eval_samples=100)
    assert gap.gap == 0 and gap.value == gap.value_worst_discriminator == gap.value_worst_generator


def test_the_same_seed_gives_the_same_gap(ring_run):
    path = ring_run / "checkpoints" / "step-0000100.pt"
    options = {"steps": 20, "batch_size": 10, "eval_samples": 100}
    first, again = duality_gap(path, **options, seed=3), duality_gap(path, **options, seed=3)
    assert (first.gap, first.value, first.value_worst_generator) == (again.gap, again.value, again.value_worst_generator)
    other = duality_gap(path, **options, seed=4)
    assert other.value != first.value  # other evaluation batches
    # the run's loop gives the checkpoint the gap that the single call gives
    looped = duality_gaps(ring_run, DualityGapOptions(**options, seed=3), every=2)
    assert [gap.step for gap in looped] == [0, 200]
    assert [gap.step for gap in duality_gaps(ring_run, DualityGapOptions(steps=0, eval_samples=100), every=5)] == [0, 200]
    assert duality_gaps(ring_run, DualityGapOptions(**options, seed=3))[1].gap == first.gap


def test_the_held_out_split_is_the_other_one():
    assert held_out_spec("fashion-mnist:train") == "fashion-mnist:test"
    assert held_out_spec("stacked-fashion-mnist:test") == "stacked-fashion-mnist:train"
    assert held_out_spec("cifar10:train") == "cifar10:test"
    assert held_out_spec("ring8") is None and held_out_spec("images.npy") is None


@needs_fmnist
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_loss_gives_a_finite_gap_on_fashion_mnist(loss, tmp_path):
    # PacGAN packing and the spectral norm with one loss each: the discriminator search scores packs of two.
    config = from_dict({"name": f"f-{loss}", "data": "fashion-mnist:train", "model": "dcgan", "loss": loss,
                        "steps": 1, "checkpoint_every": 1, "eval_every": 0, "batch_size": 8,
                        "packing": 2 if loss == "hinge" else 1,
                        "model_options": {"latent_dim": 8, "generator_width": 4, "discriminator_width": 4,
                                          "discriminator_norm": {"wgan-gp": "none", "hinge": "spectral"}.get(loss, "batch")}})
    train(config, tmp_path / "run", progress=False)
    gap = duality_gap(tmp_path / "run" / "checkpoints" / "step-0000001.pt", steps=4, batch_size=8, eval_samples=32)
    assert_ordered(gap)
    assert gap.loss == loss and gap.step == 1 and gap.held_out == "fashion-mnist:test"


def test_bad_checkpoints_are_one_line_input_errors(ring_run, tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    (tmp_path / "text.pt").write_text("not a checkpoint")
    no_discriminator = tmp_path / "no-discriminator.pt"
    contents = load_checkpoint(ring_run / "checkpoints" / "step-0000000.pt")
    del contents["discriminator"], contents["format"], contents["version"]
    save_checkpoint(no_discriminator, contents)
    cases = {tmp_path / "missing.pt": "no such checkpoint file", foreign: "not a ganeval checkpoint",
             tmp_path / "text.pt": "not a readable checkpoint", no_discriminator: "holds no discriminator weights"}
    for path, message in cases.items():
        with pytest.raises(InputError, match=message) as raised:
            duality_gap(path, steps=1)
        assert "\n" not in str(raised.value) and str(path) in str(raised.value)
    with pytest.raises(InputError, match="holds no checkpoints"):
        duality_gaps(tmp_path)
    with pytest.raises(InputError, match="every = 0: must be an integer >= 1"):
        duality_gaps(ring_run, every=0)
    with pytest.raises(InputError, match="steps = -1: must be an integer >= 0"):
        DualityGapOptions(steps=-1)
