"""A TorchScript extractor is a program: it is loaded only when trusted, and the record names the file's SHA256."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganeval import features
from ganeval.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")


class WritesOnLoad(torch.nn.Module):
    """A hostile extractor: unpickling it (torch.jit.load) creates the file `marker` through torch.from_file."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker = marker
        self.mapped = torch.zeros(0, dtype=torch.uint8)  # keeps the from_file call from being optimised away

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mean(dim=(2, 3))

    @torch.jit.export
    def __getstate__(self) -> tuple[str, bool]:
        return (self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]) -> None:
        self.marker, self.training = state[0], state[1]
        self.mapped = torch.from_file(self.marker, shared=True, size=8, dtype=torch.uint8)


@pytest.fixture
def hostile(tmp_path, rng) -> tuple[Path, Path, tuple]:
    """(the TorchScript file, the marker its loading creates, `ganeval score` arguments that use it)."""
    marker, module = tmp_path / "marker", tmp_path / "hostile.pt"
    torch.jit.script(WritesOnLoad(str(marker))).save(str(module))
    assert not marker.exists()
    np.save(tmp_path / "a.npy", rng.integers(0, 256, (30, 3, 8, 8), dtype=np.uint8))
    np.save(tmp_path / "b.npy", rng.integers(0, 200, (30, 3, 8, 8), dtype=np.uint8))
    args = ("score", tmp_path / "a.npy", tmp_path / "b.npy", "--extractor", f"torchscript:{module}", "--metrics", "fid")
    return module, marker, args


@pytest.fixture
def jit_loads(monkeypatch) -> list:
    """Records every torch.jit.load call, then makes it (so a missed refusal would create the marker)."""
    calls, load = [], torch.jit.load

    def spy(*args, **kwargs):
        calls.append(args)
        return load(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", spy)
    return calls


def test_an_untrusted_torchscript_file_is_refused_before_loading(run_cli, hostile, jit_loads, monkeypatch):
    module, marker, args = hostile
    monkeypatch.delenv("GANEVAL_TRUST_TORCHSCRIPT", raising=False)
    for command in (args, ("ref", "build", args[2], *args[3:5])):
        code, out, err = run_cli(*command)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert "is a program that runs with your permissions" in err
        assert "--trust-extractor" in err and "GANEVAL_TRUST_TORCHSCRIPT=1" in err
    monkeypatch.setenv("GANEVAL_TRUST_TORCHSCRIPT", "0")  # only "1" trusts
    with pytest.raises(InputError, match="trust=True"):
        features.create(f"torchscript:{module}", device="cpu")
    assert jit_loads == [] and not marker.exists()


def test_a_trusted_torchscript_file_runs_its_code_and_the_record_names_its_sha256(run_cli, hostile):
    module, marker, args = hostile
    code, out, err = run_cli(*args, "--trust-extractor", "--json", "--quiet")
    assert code == 0, err
    assert marker.exists()  # trusting it ran its code: this is what the flag allows
    record = json.loads(out)
    assert record["provenance"]["extractor_weights_sha256"] == hashlib.sha256(module.read_bytes()).hexdigest()


def test_python_api_and_environment_trust(hostile, monkeypatch):
    module, marker, _ = hostile
    monkeypatch.delenv("GANEVAL_TRUST_TORCHSCRIPT", raising=False)
    extractor = features.create(f"torchscript:{module}", device="cpu", trust=True)
    assert extractor(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))["features"].shape == (2, 3) and marker.exists()
    marker.unlink()
    monkeypatch.setenv("GANEVAL_TRUST_TORCHSCRIPT", "1")
    assert features.create(f"torchscript:{module}", device="cpu").weights_sha256 == hashlib.sha256(module.read_bytes()).hexdigest()
    assert marker.exists()


def test_trust_flag_names_the_file_it_trusts(run_cli, hostile, jit_loads):
    module, marker, args = hostile
    for extractor in ("auto", "identity"):
        code, _, err = run_cli(*args[:4], extractor, "--trust-extractor")
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"--trust-extractor trusts the file named by --extractor torchscript:PATH, but the extractor is {extractor}" in err
    code, _, err = run_cli(*args, "--trust-extractor", "--inception-weights", module)
    assert code == 2 and "options for inception-v3-compat were given" in err
    code, _, err = run_cli(*args[:4], f"torchscript:{module.parent / 'missing.pt'}", "--trust-extractor")
    assert code == 2 and "does not exist (a TorchScript extractor is code you must trust" in err
    assert jit_loads == [] and not marker.exists()


def test_help_says_a_torchscript_extractor_is_code_you_must_trust(run_cli):
    code, out, _ = run_cli("score", "--help")
    score_help = " ".join(out.split())
    assert code == 0
    assert "torchscript:PATH is code you must trust: it runs with your permissions" in score_help
    assert "--trust-extractor allow loading --extractor torchscript:PATH: a TorchScript file is a program" in score_help
