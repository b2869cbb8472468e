"""`--log mlflow:URI` against a real `mlflow server` (a sqlite backend store, on 127.0.0.1 and a free port), started
once for this file and read back with MlflowClient: metrics at their steps with their intervals, parameters, the
pictures; two settings on two curves; the server stopped mid-sweep (the sweep finishes, metrics.jsonl holds every
record, one warning per failed log) and `ganeval log` completing the run afterwards without duplicates."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

pytest.importorskip("mlflow")  # the dev extra installs it; a bare install skips, saying so

from mlflow.tracking import MlflowClient  # noqa: E402

from ganeval.config import ScoreConfig  # noqa: E402
from ganeval.runs import RunDir  # noqa: E402
from ganeval.sweep import score_run  # noqa: E402
from ganeval.trackers import TrackerWarning, Trackers  # noqa: E402
from ganeval.train.config import load_config  # noqa: E402
from ganeval.train.loop import train  # noqa: E402

from .conftest import TINY_2D  # noqa: E402

NARROW = ("model_options.generator_width=8", "model_options.discriminator_width=8")
SCORE = ("--reference", "ring8", "--metrics", "fid", "--quiet", "--no-cache")
FID = "fid/ring8/identity/N{}"


class MlflowServer:
    """`mlflow server` in its own process group on a free loopback port; stop() and start() again keep its
    database and artifacts (the same folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> None:
        command = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
                   f"sqlite:///{self.folder / 'mlflow.db'}", "--artifacts-destination", str(self.folder / "artifacts"),
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        # no job runner (eight huey consumers that these tests never use), one thread per process
        environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "OMP_NUM_THREADS": "1"}
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server exited: {(self.folder / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        self.stop()
        pytest.fail(f"mlflow server not up after {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the server and the uvicorn worker it started
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def unscored_run(tmp_path_factory):
    """A ring8 run of three checkpoints (steps 0, 2, 4) and their pictures, trained without its hook."""
    folder = tmp_path_factory.mktemp("runs") / "ring8-tiny"
    train(load_config("ring8-gan", [*TINY_2D, *NARROW, "checkpoint_every=2", "log_every=2", "steps=4"]), folder,
          progress=False)
    return RunDir(folder)


@pytest.fixture
def run_copy(unscored_run, tmp_path, monkeypatch, request):
    """A copy of the run, logged to an experiment of the test's own (MLFLOW_EXPERIMENT_NAME)."""
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", request.node.name[:60])
    return RunDir(shutil.copytree(unscored_run.path, tmp_path / "ring8-tiny"))


def tracker_run(uri: str, name: str = "ring8-tiny"):
    """The one MLflow run of ganeval run `name` in this test's experiment, and the client."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(os.environ["MLFLOW_EXPERIMENT_NAME"])
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`ganeval.run` = '{name}'")
    assert len(runs) == 1  # found again by its tag, never made twice
    return client, runs[0]


def history(client, run, key: str) -> list[tuple[int, float]]:
    return sorted((metric.step, metric.value) for metric in client.get_metric_history(run.info.run_id, key))


def test_a_sweep_logs_values_intervals_params_and_pictures(mlflow_server, run_copy, run_cli, tmp_path):
    for count, extra in (("200", ()), ("300", ("--ci", "0.9", "--ci-replicates", "20"))):
        code, _, err = run_cli("score", run_copy.path, *SCORE, "--num-samples", count, *extra,
                               "--log", f"mlflow:{mlflow_server.uri}")
        assert code == 0, err
    client, run = tracker_run(mlflow_server.uri)
    assert run.info.run_name == "ring8-tiny"
    records = {(record.num_samples, record.step): record for record in run_copy.records()}
    for count in (200, 300):  # two settings, two curves
        assert history(client, run, FID.format(count)) == [(step, records[count, step]["fid"]) for step in (0, 2, 4)]
    assert history(client, run, "fid_ci_high/ring8/identity/N300") == [
        (step, records[300, step]["fid_ci_high"]) for step in (0, 2, 4)]
    assert "fid_ci_high/ring8/identity/N200" not in run.data.metrics
    params = run.data.params
    assert params["setting/ring8/identity/N300/num_samples"] == "300"
    assert params["setting/ring8/identity/N300/seed"] == "2020"
    assert params["setting/ring8/identity/N300/label"] == "ring8, identity, N=300"
    assert params["config/steps"] == "4" and params["config/data"] == "ring8"
    pictures = [artifact.path for artifact in client.list_artifacts(run.info.run_id, "samples")]
    assert pictures == ["samples/step-0000000.png", "samples/step-0000002.png", "samples/step-0000004.png"]
    copy = client.download_artifacts(run.info.run_id, "samples/step-0000002.png", str(tmp_path))
    assert Path(copy).read_bytes() == (run_copy.samples_folder / "step-0000002.png").read_bytes()


def test_a_server_stopped_mid_sweep_loses_nothing(mlflow_server, run_copy, run_cli):
    """The server goes down after the first checkpoint's record is logged: the sweep scores on, each later record
    is in metrics.jsonl and is one warning; a CLI sweep while it is down warns once per record on stderr; once it
    is back, `ganeval log` adds what it lacks, and a second one adds nothing."""
    stopped = []

    def stop_after_the_first(checkpoint, record):
        if not stopped:
            mlflow_server.stop()
            stopped.append(checkpoint)

    config = ScoreConfig(metrics=("fid",), num_samples=200, use_cache=False, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scored = score_run(run_copy.path, "ring8", config, stop_after_the_first,
                           trackers=Trackers([f"mlflow:{mlflow_server.uri}"]))
    assert len(scored) == 3 and len(run_copy.records()) == 3
    failed = [str(warning.message) for warning in caught if issubclass(warning.category, TrackerWarning)]
    assert len(failed) == 2 and all(message.startswith(f"mlflow {mlflow_server.uri}: could not log fid at step {step} (")
                                    for message, step in zip(failed, (2, 4))), failed

    code, _, err = run_cli("score", run_copy.path, *SCORE, "--num-samples", "300", "--log",
                           f"mlflow:{mlflow_server.uri}")
    assert code == 0
    lines = [line for line in err.splitlines() if line.startswith("ganeval: warning: mlflow")]
    assert len(lines) == 3 and all(" could not log fid at step " in line for line in lines), err
    assert len(run_copy.records()) == 6

    mlflow_server.start()  # the same database and artifacts
    client, run = tracker_run(mlflow_server.uri)
    assert history(client, run, FID.format(200)) == [(0, run_copy.records()[0]["fid"])]  # what got through
    code, out, err = run_cli("log", run_copy.path, "--to", f"mlflow:{mlflow_server.uri}")
    assert code == 0, err
    assert "1 already there" in out and "2 pictures" in out, out
    client, run = tracker_run(mlflow_server.uri)
    records = {(record.num_samples, record.step): record["fid"] for record in run_copy.records()}
    for count in (200, 300):
        assert history(client, run, FID.format(count)) == [(step, records[count, step]) for step in (0, 2, 4)]
    assert len(client.list_artifacts(run.info.run_id, "samples")) == 3
    code, out, err = run_cli("log", run_copy.path, "--to", f"mlflow:{mlflow_server.uri}")
    assert code == 0 and "0 values logged" in out and "0 parameters, 0 pictures" in out, out
    assert len(history(client, run, FID.format(200))) == 3 and len(history(client, run, "train/d_loss")) == 3
