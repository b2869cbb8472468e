"""training.jsonl: the training core's signals (ganeval.train.signals) and ganeval.TrainingLog (ganeval.training_log)."""
from __future__ import annotations

import json
import math

import pytest
import torch

import ganeval
from ganeval.errors import InputError, RecordsWarning
from ganeval.train.config import load_config
from ganeval.train.loop import train
from ganeval.train.signals import last_layer_weight, top_singular_value
from ganeval.training_log import SIGNALS, TrainingLog, read_training_log

from .conftest import TINY_2D, needs_fmnist


def lines_of(run) -> list[dict]:
    return read_training_log(run / "training.jsonl")


def test_a_run_logs_every_log_every_steps_with_the_signals_it_can_measure(tmp_path):
    config = load_config("ring8-gan", ["steps=12", "checkpoint_every=6", "log_every=4", "eval_every=0", *TINY_2D])
    train(config, tmp_path / "run", progress=False)
    lines = lines_of(tmp_path / "run")
    assert [line["step"] for line in lines] == [1, 4, 8, 12]  # the first step, then every log_every
    for line in lines:
        assert set(line) == {"step", "d_loss", "g_loss", "d_real", "d_fake", "d_accuracy_real", "d_accuracy_fake",
                             "d_accuracy", "grad_norm_d", "grad_norm_g", "sigma_d", "sigma_g", "lr_d", "lr_g",
                             "seconds_per_step", "loss"} <= set(SIGNALS)
        assert line["loss"] == "ns" and line["lr_d"] == config.lr_d and line["lr_g"] == config.lr_g
        assert 0 <= line["d_accuracy_real"] <= 1 and 0 <= line["d_accuracy_fake"] <= 1
        assert line["d_accuracy"] == pytest.approx((line["d_accuracy_real"] + line["d_accuracy_fake"]) / 2)
        assert line["grad_norm_d"] > 0 and line["grad_norm_g"] > 0 and line["sigma_d"] > 0 and line["sigma_g"] > 0
        assert 0 < line["seconds_per_step"] < 5


def test_logging_changes_nothing_the_run_computes(tmp_path):
    """The signals read the step's tensors and draw from no random stream: the weights do not depend on log_every."""
    weights = {}
    for every in (0, 1):
        config = load_config("grid25-pacgan2", ["steps=6", "checkpoint_every=6", f"log_every={every}", "eval_every=0",
                                                "batch_size=10", "train_size=500", "loss='wgan-gp'"])
        trainer = train(config, tmp_path / f"every{every}", progress=False)
        weights[every] = {**trainer.generator.state_dict(), **trainer.discriminator.state_dict()}
    assert not (tmp_path / "every0" / "training.jsonl").exists()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    line = lines_of(tmp_path / "every1")[-1]
    # WGAN-GP: the Wasserstein estimate and the critic's gradient norm at the interpolates, no accuracy (no threshold)
    assert line["wasserstein"] == pytest.approx(line["d_real"] - line["d_fake"]) and line["gp_grad_norm"] > 0
    assert "d_accuracy" not in line and line["packing"] == 2


@needs_fmnist
def test_a_spectral_norm_discriminator_is_logged_without_moving_its_power_iteration(tmp_path):
    weights = {}
    for every in (0, 2):
        config = load_config("fmnist-hinge-sngan", ["steps=4", "checkpoint_every=4", f"log_every={every}",
                                                    "eval_every=0", "batch_size=8"])
        trainer = train(config, tmp_path / f"every{every}", progress=False)
        weights[every] = trainer.discriminator.state_dict()  # holds spectral_norm's vectors u and v
    assert all(torch.equal(weights[0][key], weights[2][key]) for key in weights[0])
    lines = lines_of(tmp_path / "every2")
    # the hinge loss's threshold is the sign; a spectral-normalised last layer has a top singular value near 1
    assert [line["step"] for line in lines] == [1, 2, 4] and lines[-1]["loss"] == "hinge"
    assert lines[-1]["sigma_d"] == pytest.approx(1.0, abs=0.05)


def test_the_power_iteration_finds_the_top_singular_value():
    matrix = torch.randn(6, 40, generator=torch.Generator().manual_seed(1))
    sigma, _ = top_singular_value(matrix, torch.ones(40), 100)
    assert sigma == pytest.approx(float(torch.linalg.matrix_norm(matrix, ord=2)), rel=1e-4)
    network = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    assert last_layer_weight(network) is network[2].weight
    transposed = torch.nn.ConvTranspose2d(4, 1, 3)  # weight (in 4, out 1, 3, 3): output channels first, as SN takes it
    assert last_layer_weight(transposed).shape == (1, 4, 3, 3)
    assert last_layer_weight(torch.nn.ReLU()) is None


def test_training_log_keeps_unknown_keys_and_restores_nonfinite_values(tmp_path):
    log = ganeval.TrainingLog(tmp_path / "mine")
    log.log(10, d_loss=torch.tensor(1.5), g_loss=float("nan"), grad_norm_d=float("inf"), note="warm-up", my_kl=3)
    log.log(20, d_loss=1.25)
    raw = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert raw[0]["g_loss"] is None and raw[0]["nonfinite"] == {"g_loss": "nan", "grad_norm_d": "inf"}
    first, second = read_training_log(log.path)
    assert first["d_loss"] == 1.5 and math.isnan(first["g_loss"]) and first["grad_norm_d"] == math.inf
    assert first["note"] == "warm-up" and first["my_kl"] == 3 and "nonfinite" not in first
    assert second == {"step": 20, "d_loss": 1.25}


def test_training_log_refuses_what_json_cannot_hold_in_one_line(tmp_path):
    log = TrainingLog(tmp_path)
    with pytest.raises(InputError, match="step must be a non-negative integer, not -1"):
        log.log(-1, d_loss=1.0)
    with pytest.raises(InputError, match=r"TrainingLog.log: d_loss = \[1.0\]: give a number"):
        log.log(1, d_loss=[1.0])
    assert not log.path.exists()


def test_reading_a_cut_an_empty_and_a_resumed_file(tmp_path):
    path = tmp_path / "training.jsonl"
    path.write_text("")
    assert read_training_log(path) == []
    # a resumed run retrains the steps after its checkpoint: the later line of a step wins; a crash cut the last line
    path.write_text('{"step": 10, "d_loss": 1.0}\n{"step": 20, "d_loss": 9.0}\n{"step": 20, "d_loss": 2.0}\n'
                    '{"step": 30, "d_lo')
    with pytest.warns(RecordsWarning, match=r"training.jsonl:4: unreadable training line skipped \(a truncated"):
        lines = read_training_log(path)
    assert [(line["step"], line["d_loss"]) for line in lines] == [(10, 1.0), (20, 2.0)]


def test_a_step_whose_losses_break_gets_its_line_at_once(tmp_path, monkeypatch):
    """Between logged steps, the first step with non-finite (or saturated) losses is written at that step."""
    from ganeval.train import loop

    original = loop.training_step

    def nan_from_step_three(trainer, probe=None):
        losses = original(trainer, probe)
        return {**losses, "d_loss": float("nan")} if trainer.step >= 3 else losses

    monkeypatch.setattr(loop, "training_step", nan_from_step_three)
    config = load_config("ring8-gan", ["steps=12", "checkpoint_every=12", "log_every=10", "eval_every=0", *TINY_2D])
    train(config, tmp_path / "run", progress=False)
    lines = lines_of(tmp_path / "run")
    assert [line["step"] for line in lines] == [1, 3, 10]  # step 3's alarm once, then the schedule
    assert math.isnan(lines[1]["d_loss"]) and "d_accuracy" not in lines[1] and lines[1]["sigma_g"] > 0


def test_a_resumed_run_drops_the_lines_of_the_steps_it_trains_again(tmp_path):
    config = load_config("ring8-gan", ["steps=10", "checkpoint_every=5", "log_every=2", "eval_every=0", *TINY_2D])
    train(config, tmp_path / "run", progress=False)
    (tmp_path / "run" / "checkpoints" / "step-0000010.pt").unlink()  # as if killed after step 10's lines
    with open(tmp_path / "run" / "training.jsonl", "a") as file:
        file.write('{"step": 7, "d_loss": 99.0}\n')  # a line of a trajectory that no longer exists
    resumed = load_config("ring8-gan", ["steps=10", "checkpoint_every=5", "log_every=4", "eval_every=0", *TINY_2D])
    train(resumed, tmp_path / "run", resume=True, progress=False)
    lines = lines_of(tmp_path / "run")
    # steps 1-5 from the first session (to the checkpoint it resumed from), then the resumed one's own schedule
    assert [line["step"] for line in lines] == [1, 2, 4, 8]
    assert all(line["d_loss"] != 99.0 for line in lines)


def test_training_log_refuses_its_own_nonfinite_key(tmp_path):
    with pytest.raises(InputError, match="nonfinite is the file's own key"):
        TrainingLog(tmp_path).log(1, nonfinite={"d_loss": "nan"})
