"""Trackers (ganeval.trackers): `--log` values checked before any work, the names every sink shares, and
TensorBoard end to end: a sweep, two settings on two curves, a training run's signals and scores, the Evaluator,
ganeval.score, a human study, and `ganeval log` replays that skip what the event files hold. The event files are
read back with tensorboard's own EventAccumulator. MLflow against a real server: tests/test_trackers_mlflow.py."""
from __future__ import annotations

import json
import posixpath
import re
import sys

import pytest

pytest.importorskip("tensorboard")  # the dev extra installs it; a bare install skips, saying so

import ganeval
from ganeval.records import Record
from ganeval.runs import RunDir
from ganeval.trackers import metric_name, parse_sink, setting_path
from ganeval.trackers.names import segment
from ganeval.trackers.tensorboard_sink import read_events
from ganeval.train.config import load_config
from ganeval.train.loop import train
from ganeval.training_log import read_training_log

from .conftest import TINY_2D, set_flags

NARROW = ("model_options.generator_width=8", "model_options.discriminator_width=8")
TINY_RING8 = (*TINY_2D, *NARROW, "checkpoint_every=2", "log_every=2")
SCORE = ("--reference", "ring8", "--metrics", "fid", "--quiet", "--no-cache")
MLFLOW_NAME = re.compile(r"^[/\w.\- ]*$")  # MLflow's rule for metric and parameter names on every platform


@pytest.fixture(scope="module")
def unscored_run(tmp_path_factory):
    """A ring8 run of three checkpoints (steps 0, 2, 4) and their pictures, trained without its hook."""
    folder = tmp_path_factory.mktemp("runs") / "ring8-tiny"
    train(load_config("ring8-gan", [*TINY_RING8, "steps=4"]), folder, progress=False)
    return RunDir(folder)


@pytest.fixture
def run_copy(unscored_run, tmp_path):
    import shutil

    return RunDir(shutil.copytree(unscored_run.path, tmp_path / "ring8-tiny"))


def scalars(folder, tag: str) -> list[tuple[int, float]]:
    return [(event.step, event.value) for event in read_events(folder).Scalars(tag)]


# --- names ---------------------------------------------------------------------------------------------------------


def test_names_carry_the_setting_and_suit_every_tracker():
    record = Record("x.pt", "/data/sets/fashion mnist/test,split=a", "inception-v3-compat[resize=clean]", 2000, 10,
                    1, values={"fid": 1.0})
    name = metric_name("fid", record)
    assert name == "fid/data_sets_fashion_mnist_test_split_a/inception-v3-compat_resize_clean/N2000"
    assert MLFLOW_NAME.match(name) and posixpath.normpath(name) == name  # MLflow refuses names a path would change
    assert setting_path(Record("a", "ring8", "identity", 500, 5, 1)) == "ring8/identity/N500"
    assert segment("..") == "_" and segment("::") == "_"
    long = segment("/very/" * 40 + "real.npy")
    assert len(long) <= 60 and long.endswith(long[-8:]) and long != segment("/other/" * 40 + "real.npy")


# --- bad --log values: one line, exit 2, before any work -----------------------------------------------------------


@pytest.mark.parametrize("sink, message", [
    ("foo:bar", "unknown tracker 'foo'; choose from mlflow, tensorboard, wandb"),
    ("tensorboard", "say where the event files go"),
    ("mlflow:", "say which MLflow"),
    ("mlflow:http://127.0.0.1:notaport", "a tracking server is http://HOST:PORT"),
    ("mlflow:http://", "a tracking server is http://HOST:PORT"),
    ("mlflow:ftp://host/x", "unknown MLflow URI scheme 'ftp'"),
    ("mlflow:sqlite://", "sqlite: needs a path"),
    ("wandb:a/b", "a W&B project name has none of"),
])
def test_a_bad_sink_is_one_line_and_exit_2_before_any_work(sink, message, run_cli, tmp_path):
    for command, flag in ((["score", "ring8", "ring8", "--metrics", "fid", "--append", tmp_path / "scored"], "--log"),
                          (["train", "ring8-gan", "--out", tmp_path / "trained", "--steps", "2"], "--log"),
                          (["log", tmp_path], "--to")):
        code, out, err = run_cli(*command, flag, sink)
        assert code == 2 and err.count("\n") == 1 and f"{flag} {sink}: {message}" in err, err
        assert out == ""
    assert not (tmp_path / "scored").exists() and not (tmp_path / "trained").exists()


def test_a_missing_package_names_its_extra(monkeypatch, run_cli, tmp_path):
    """A module set to None in sys.modules is one Python cannot import: what an environment without it sees."""
    monkeypatch.setitem(sys.modules, "mlflow", None)
    code, _, err = run_cli("score", "ring8", "ring8", "--append", tmp_path / "scored", "--log", "mlflow:runs/ml")
    assert code == 2
    assert err == "ganeval: error: --log mlflow:runs/ml: needs the mlflow package: pip install 'ganeval[mlflow]'\n"
    assert not (tmp_path / "scored").exists()
    with pytest.raises(ganeval.GanevalError, match=r"pip install 'ganeval\[mlflow\]'"):
        ganeval.Evaluator("ring8", "fid", num_samples=100, latent_dim=2, log="mlflow:sqlite:///m.db")


def test_a_folder_becomes_a_file_uri_and_a_sink_named_twice_is_one(tmp_path):
    assert parse_sink(f"mlflow:{tmp_path / 'store'}").target == (tmp_path / "store").as_uri()
    assert len(ganeval.trackers.parse_sinks([f"tensorboard:{tmp_path}", f"tensorboard:{tmp_path}"])) == 1


# --- TensorBoard -----------------------------------------------------------------------------------------------------


def test_a_sweep_logs_two_settings_on_two_curves_with_intervals_and_pictures(run_copy, run_cli, tmp_path):
    board = tmp_path / "tb"
    for count, extra in (("200", ()), ("300", ("--ci", "0.9", "--ci-replicates", "20"))):
        code, _, err = run_cli("score", run_copy.path, *SCORE, "--num-samples", count, *extra,
                               "--log", f"tensorboard:{board}")
        assert code == 0, err
    folder = board / "ring8-tiny"  # one TensorBoard run per ganeval run
    records = {(record.num_samples, record.step): record for record in run_copy.records()}
    assert len(records) == 6  # metrics.jsonl first, then the tracker
    for count in (200, 300):
        logged = scalars(folder, f"fid/ring8/identity/N{count}")
        assert [step for step, _ in logged] == [0, 2, 4]
        assert [value for _, value in logged] == pytest.approx([records[count, step]["fid"] for step in (0, 2, 4)],
                                                               rel=1e-6)  # float32 in the event files
    low = scalars(folder, "fid_ci_low/ring8/identity/N300")
    assert low == [(step, pytest.approx(records[300, step]["fid_ci_low"], rel=1e-6)) for step in (0, 2, 4)]
    events = read_events(folder)
    assert not any(tag.startswith("fid_ci_low/ring8/identity/N200") for tag in events.Tags()["scalars"])
    assert [event.step for event in events.Images("samples")] == [0, 2, 4]  # once each, not once per sweep
    params = {tag for tag in events.Tags()["tensors"] if tag.startswith("params/")}
    assert "params/setting/ring8/identity/N300/ci_level/text_summary" in params
    assert "params/config/steps/text_summary" in params


def test_training_sends_its_signals_and_scores_and_a_replay_adds_nothing(run_cli, tmp_path):
    board, run = tmp_path / "tb", RunDir(tmp_path / "trained")
    code, _, err = run_cli("train", "ring8-gan", *set_flags(*TINY_RING8, "eval_every=1", "eval_samples=200",
                                                         "eval_metrics=fid"),
                           "--steps", "6", "--out", run.path, "--quiet", "--log", f"tensorboard:{board}")
    assert code == 0, err
    folder = board / "trained"
    lines = read_training_log(run.training_file)
    assert [step for step, _ in scalars(folder, "train/d_loss")] == [line["step"] for line in lines] == [1, 2, 4, 6]
    assert [value for _, value in scalars(folder, "train/g_loss")] == pytest.approx([line["g_loss"] for line in lines])
    assert [step for step, _ in scalars(folder, "fid/ring8/identity/N200")] == [0, 2, 4, 6]
    assert [event.step for event in read_events(folder).Images("samples")] == [0, 2, 4, 6]
    code, out, err = run_cli("log", run.path, "--to", f"tensorboard:{board}")
    assert code == 0, err
    assert "0 values logged" in out and "0 parameters, 0 pictures" in out
    assert [step for step, _ in scalars(folder, "train/d_loss")] == [1, 2, 4, 6]


def test_a_replay_fills_a_new_board_then_skips_everything(run_copy, run_cli, tmp_path):
    code, _, err = run_cli("score", run_copy.path, *SCORE, "--num-samples", "200")  # scored without --log
    assert code == 0, err
    board = tmp_path / "tb"
    code, out, err = run_cli("log", run_copy.path, "--to", f"tensorboard:{board}")
    signals = len([key for line in read_training_log(run_copy.training_file) for key, value in line.items()
                   if key != "step" and isinstance(value, float)])
    assert code == 0, err
    assert f"{3 + signals} values logged, 0 already there" in out and "3 pictures" in out
    code, out, err = run_cli("log", run_copy.path, "--to", f"tensorboard:{board}")
    assert code == 0 and f"0 values logged, {3 + signals} already there" in out
    assert len(scalars(board / "ring8-tiny", "fid/ring8/identity/N200")) == 3


def test_log_refuses_a_folder_that_is_no_run(run_cli, tmp_path):
    code, _, err = run_cli("log", tmp_path, "--to", f"tensorboard:{tmp_path / 'tb'}")
    assert code == 2 and "not a run directory" in err


def test_the_evaluator_and_score_log_each_record(tmp_path):
    board = tmp_path / "tb"
    evaluator = ganeval.Evaluator("ring8", "fid", num_samples=200, latent_dim=2, use_cache=False,
                                  run=tmp_path / "mine", log=f"tensorboard:{board}")
    for step, scale in ((0, 1.0), (10, 0.05)):
        evaluator.evaluate(lambda z, scale=scale: z * scale, step=step)
    assert [step for step, _ in scalars(board / "mine", "fid/ring8/identity/N200")] == [0, 10]
    assert len(RunDir(tmp_path / "mine").records()) == 2
    record = ganeval.score("ring8", "ring8", "fid", num_samples=200, progress=False, use_cache=False,
                           log=[f"tensorboard:{board}"])
    assert scalars(board / "ring8", "fid/ring8/identity/N200") == [(0, pytest.approx(record["fid"], rel=1e-6))]


def test_a_human_study_score_is_logged(run_cli, tmp_path):
    from .test_human import answers_file, read_study_key, write_image_arrays

    fake, real = write_image_arrays(tmp_path)
    study = tmp_path / "study"
    assert run_cli("human", "make", fake, "--reference", real, "--num-images", "6", "--out", study)[0] == 0
    answers = tmp_path / "ann.json"
    answers.write_text(json.dumps(answers_file(read_study_key(study), "ann", "real")))
    code, _, err = run_cli("human", "score", study, answers, "--log", f"tensorboard:{tmp_path / 'tb'}")
    assert code == 0, err
    [(step, value)] = scalars(tmp_path / "tb" / "study", f"hype_inf/{segment(real)}/human/N3")
    assert step == 0 and value == pytest.approx(0.5)
