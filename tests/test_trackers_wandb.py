"""`--log wandb`: offline W&B runs, read back from the run's .wandb file with wandb's own protobuf Record (the file is
W&B's LevelDB-style log of records; wandb 0.2x and later ship no Python reader of it). wandb is in the dev extra,
so `make test` runs them; an installation without it (`pip install ganeval` alone) skips them."""
from __future__ import annotations

import json
import shutil
import struct
import time
from pathlib import Path

import pytest

pytest.importorskip("wandb")

from wandb.proto import wandb_internal_pb2  # noqa: E402

from ganeval.runs import RunDir  # noqa: E402
from ganeval.train.config import load_config  # noqa: E402
from ganeval.train.loop import train  # noqa: E402

from .conftest import TINY_2D  # noqa: E402

NARROW = ("model_options.generator_width=8", "model_options.discriminator_width=8")
SCORE = ("--reference", "ring8", "--metrics", "fid", "--quiet", "--no-cache")
BLOCK, HEADER = 32768, 7  # the log's block size and the size of its file and record headers


def wandb_records(path: Path):
    """The protobuf Records of a .wandb file: a 7-byte file header (':W&B', magic, version), then records framed as
    LevelDB's log does (checksum, length, type: full, first, middle, last) in 32 KiB blocks."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    offset, pending = HEADER, b""
    while offset + HEADER <= len(data):
        left = BLOCK - offset % BLOCK
        if left < HEADER:  # a block's tail too short for a header is padding
            offset += left
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + HEADER])
        chunk, offset = data[offset + HEADER:offset + HEADER + length], offset + HEADER + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def finished_records(path: Path, timeout: float = 60.0) -> list:
    """The records of a run's .wandb file once it holds the run's exit record. W&B's service process writes the file
    behind the run: in a process that goes on (these tests call the CLI in-process), run.finish() can return before
    the file is whole; a CLI process that exits flushes it on its way out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            records = list(wandb_records(path))
            if any(record.WhichOneof("record_type") == "exit" for record in records):
                return records
        except Exception:  # noqa: BLE001 - a record still being written
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: no exit record after {timeout} s")
        time.sleep(0.2)


def offline_runs(folder: Path) -> list[dict]:
    """Each offline run under `folder`/wandb: its name, history rows (key -> value) and config keys."""
    runs = []
    for path in sorted(folder.glob("wandb/offline-run-*/run-*.wandb")):
        run = {"name": None, "history": [], "config": set(), "kinds": []}
        for record in finished_records(path):
            kind = record.WhichOneof("record_type")
            run["kinds"].append(kind)
            if kind == "run":
                run["name"] = run["name"] or record.run.display_name or None  # a later run record may leave it out
            elif kind == "history":
                run["history"].append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                                       for item in record.history.item})
            elif kind == "config":
                run["config"].update(item.key or "/".join(item.nested_key) for item in record.config.update)
        runs.append(run)
    return runs


def curve(run: dict, key: str) -> list[tuple[int, float]]:
    return [(row["step"], row[key]) for row in run["history"] if key in row]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def unscored_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "ring8-tiny"
    train(load_config("ring8-gan", [*TINY_2D, *NARROW, "checkpoint_every=2", "log_every=2", "steps=4"]), folder,
          progress=False)
    return RunDir(folder)


def test_a_replay_of_two_settings_is_one_offline_run_with_two_curves(offline, unscored_run, run_cli, tmp_path):
    run = RunDir(shutil.copytree(unscored_run.path, tmp_path / "ring8-tiny"))
    for count in ("200", "300"):
        assert run_cli("score", run.path, *SCORE, "--num-samples", count)[0] == 0
    code, out, err = run_cli("log", run.path, "--to", "wandb:ganeval-tests")
    assert code == 0, err
    [logged] = offline_runs(offline)
    assert logged["name"] == "ring8-tiny", (logged["kinds"], out, err)
    records = {(record.num_samples, record.step): record["fid"] for record in run.records()}
    for count in (200, 300):
        assert curve(logged, f"fid/ring8/identity/N{count}") == [(step, records[count, step]) for step in (0, 2, 4)]
    assert [step for step, _ in curve(logged, "train/d_loss")] == [1, 2, 4]
    assert curve(logged, "samples/_type") == [(step, "image-file") for step in (0, 2, 4)]  # wandb.Image, flattened
    assert {"setting/ring8/identity/N300/seed", "config/steps"} <= logged["config"]


def test_a_score_logs_live_to_an_offline_run(offline, run_cli):
    code, _, err = run_cli("score", "ring8", "ring8", "--metrics", "fid", "--num-samples", "200", "--quiet",
                           "--no-cache", "--json", "--log", "wandb")
    assert code == 0, err
    [logged] = offline_runs(offline)
    assert logged["name"] == "ring8" and len(curve(logged, "fid/ring8/identity/N200")) == 1
