"""Checkpoint files: round trip with weights_only=True, and one clear error for every kind of bad file."""
from __future__ import annotations

import os
import pickle

import pytest
import torch

from ganeval.errors import InputError
from ganeval.nets.mlp import MLPConfig, MLPGenerator
from ganeval.data.checkpoint import load_checkpoint
from ganeval.runs import checkpoint_name
from ganeval.train.checkpoint import save_checkpoint

MARKER = "/tmp/ganeval-checkpoint-exploit-ran"


class _Exploit:
    def __reduce__(self):
        return (open, (MARKER, "w"))


def contents() -> dict:
    generator = MLPGenerator(MLPConfig())
    optimiser = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.8, 0.999))
    generator(torch.randn(4, 2)).sum().backward()
    optimiser.step()
    return {"step": 10, "config": {"model": MLPConfig().to_dict(), "loss": "ns"}, "generator": generator.state_dict(),
            "optimiser_g": optimiser.state_dict(), "rng": torch.get_rng_state()}


def test_round_trip_rebuilds_the_same_generator(tmp_path):
    saved = contents()
    path = save_checkpoint(tmp_path / checkpoint_name(10), saved)
    assert path.name == "step-0000010.pt"
    loaded = load_checkpoint(path)
    original, rebuilt = MLPGenerator(MLPConfig(**loaded["config"]["model"])), MLPGenerator(MLPConfig(**loaded["config"]["model"]))
    original.load_state_dict(saved["generator"])
    rebuilt.load_state_dict(loaded["generator"])
    latents = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    assert loaded["step"] == 10 and torch.equal(original.eval()(latents), rebuilt.eval()(latents))
    assert torch.equal(loaded["rng"], saved["rng"])
    assert torch.load(path, weights_only=True)["format"] == "ganeval-checkpoint"


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", contents())
    (tmp_path / "truncated.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    payload = torch.load(good, weights_only=True)
    torch.save({**payload, "version": 99}, tmp_path / "future.pt")
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"format": "ganeval-checkpoint", "step": _Exploit()}, handle)
    torch.save({"format": "ganeval-checkpoint", "version": 1, "step": 1, "generator": {}, "payload": _Exploit()}, tmp_path / "evil2.pt")
    cases = {
        "truncated.pt": "not a readable checkpoint (truncated or not a torch file)",
        "other.pt": "not a ganeval checkpoint",
        "future.pt": "format version 99 is not supported",
        "evil.pt": "not a readable checkpoint",
        "evil2.pt": "holds objects other than tensors and plain values",
        "missing.pt": "no such checkpoint file",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_checkpoint(tmp_path / name)
    assert not os.path.exists(MARKER), "a pickled object's code ran"
