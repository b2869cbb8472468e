"""The screenshots of docs/trackers.md (issue 35): a ganeval FID curve and its interval in TensorBoard's scalars
dashboard and in an MLflow run's metric chart, taken in headless Chromium against the real servers.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tracker_screenshots.py    # about 2 minutes on 2 CPU cores

Trains fmnist-dcgan for 1,000 steps with a checkpoint every 100 into runs/tracker-screenshots/fmnist-dcgan (kept: a
second call skips the training), starts `mlflow server` (a sqlite backend store) and `tensorboard` on free loopback
ports, scores every checkpoint's FID on 1,000 samples with a 95% bootstrap interval with
`--log tensorboard:DIR --log mlflow:http://127.0.0.1:PORT`, opens both in Chromium (selenium, Debian's chromium and
chromium-driver) at 1400x900 and, once the curves are drawn, writes docs/images/trackers-tensorboard.png (the scalars
dashboard filtered to `fid`, no smoothing) and docs/images/trackers-mlflow.png (fid, fid_ci_high and fid_ci_low of
the run on one chart).
The servers' stores live in a temporary folder; both servers are stopped at the end, whatever happens.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN = HERE.parent / "runs" / "tracker-screenshots" / "fmnist-dcgan"  # git ignores runs/
IMAGES = HERE.parent / "docs" / "images"
BIN = Path(sys.executable).parent
GANEVAL = [sys.executable, "-m", "ganeval"]
STEPS, EVERY, SAMPLES = 1000, 100, 1000
SIZE = (1400, 900)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], url: str, log: Path, timeout: float = 180.0) -> subprocess.Popen:
    """A server in its own process group (it may start workers), once `url` answers 200."""
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "OMP_NUM_THREADS": "1"}
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment,
                                   start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    stop(process)
    raise RuntimeError(f"{command[0]} not up after {timeout} s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def train_and_score(folder: Path, mlflow_uri: str) -> None:
    """The run (trained once), then every checkpoint's FID with its interval, logged to both trackers."""
    if not (RUN / "checkpoints" / f"step-{STEPS:07d}.pt").exists():
        subprocess.run([*GANEVAL, "train", "fmnist-dcgan", "--out", str(RUN), "--overwrite", "--no-eval", "--quiet",
                        "--set", f"steps={STEPS}", "--set", f"checkpoint_every={EVERY}", "--set", "max_minutes=0"],
                       check=True)
    (RUN / "metrics.jsonl").unlink(missing_ok=True)  # scored afresh: one value per step in each tracker
    subprocess.run([*GANEVAL, "score", str(RUN), "fashion-mnist:test", "--metrics", "fid", "--ci", "0.95",
                    "--num-samples", str(SAMPLES), "--quiet", "--log", f"tensorboard:{folder / 'tb'}",
                    "--log", f"mlflow:{mlflow_uri}"], check=True, stdout=subprocess.DEVNULL)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the page itself 1400x900, whatever the window
                           {"width": SIZE[0], "height": SIZE[1], "deviceScaleFactor": 1, "mobile": False})
    return driver


# the number of drawn lines on the page, inside shadow roots too (TensorBoard's Polymer cards):
# Plottable's `path.line` in TensorBoard, plotly's `path.js-line` in MLflow
DRAWN_LINES = """
const walk = root => [...root.querySelectorAll('*')].flatMap(e => e.shadowRoot ? [e, ...walk(e.shadowRoot)] : [e]);
return walk(document).filter(e => e.tagName === 'path' && (e.getAttribute('d') || '').length > 20
                                  && (e.classList.contains('line') || e.classList.contains('js-line'))).length;
"""


def photograph(driver, url: str, path: Path, lines: int = 3, timeout: float = 60.0) -> None:
    """Open `url` (loaded afresh, though only its #fragment may differ from the page open), wait until `lines`
    curves are drawn (and a moment for the last redraw), save the PNG."""
    driver.get(url)
    driver.refresh()
    deadline = time.monotonic() + timeout
    while driver.execute_script(DRAWN_LINES) < lines:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: fewer than {lines} curves drawn after {timeout} s")
        time.sleep(0.5)
    time.sleep(2)
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(HERE.parent)}")


def mlflow_url(uri: str) -> str:
    """The MLflow metric chart of the run's fid with its ci_low and ci_high: one chart, three curves, zoomed (a
    plotly range, as a user's drag would) to the steps after 0, where the untrained generator's FID would flatten
    the rest."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("ganeval")
    run = client.search_runs([experiment.experiment_id], filter_string=f"tags.`ganeval.run` = '{RUN.name}'")[0]
    keys = sorted(run.data.metrics, key=lambda key: key.split("/")[0])  # fid, fid_ci_high, fid_ci_low
    records = [json.loads(line) for line in (RUN / "metrics.jsonl").read_text().splitlines()]
    low = min(record["fid_ci_low"] for record in records if record["step"] > 0)
    high = max(record["fid_ci_high"] for record in records if record["step"] > 0)
    layout = {"yaxis": {"range": [low - 0.05 * (high - low), high + 0.05 * (high - low)]}}
    query = {key: json.dumps(value, separators=(",", ":")) for key, value in (
        ("runs", [run.info.run_id]), ("metric", keys[0]), ("experiments", [experiment.experiment_id]),
        ("plot_metric_keys", keys), ("plot_layout", layout), ("deselected_curves", []),
        ("last_linear_y_axis_range", []))}
    query.update(x_axis="step", y_axis_scale="linear", line_smoothness="1", show_point="true")
    return f"{uri}/#/metric?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tracker-screenshots-") as name:
        folder = Path(name)
        servers = []
        try:
            mlflow_port, tensorboard_port = free_port(), free_port()
            mlflow_uri = f"http://127.0.0.1:{mlflow_port}"
            servers.append(start([str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
                                  "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
                                  "--port", str(mlflow_port), "--workers", "1"], f"{mlflow_uri}/health",
                                 folder / "mlflow.log"))
            train_and_score(folder, mlflow_uri)
            servers.append(start([str(BIN / "tensorboard"), "--logdir", str(folder / "tb"), "--host", "127.0.0.1",
                                  "--port", str(tensorboard_port)], f"http://127.0.0.1:{tensorboard_port}/",
                                 folder / "tensorboard.log"))
            driver = browser()
            try:
                photograph(driver, f"http://127.0.0.1:{tensorboard_port}/#scalars&tagFilter=fid&_smoothingWeight=0",
                           IMAGES / "trackers-tensorboard.png")
                driver.get(mlflow_uri)  # no assistant panel, the model-training side bar
                driver.execute_script("localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');"
                                      "localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');"
                                      "localStorage.setItem('mlflow.workflowType_v1', '\"machine_learning\"');")
                photograph(driver, mlflow_url(mlflow_uri), IMAGES / "trackers-mlflow.png")
            finally:
                driver.quit()
        finally:
            for server in servers:
                stop(server)
    print(f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    os.environ.update(MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_EXPERIMENT_NAME="ganeval")
    main()
