"""Edge cases found in review: each gives a number or one clear line, never a traceback or NaN."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganeval import score
from ganeval.evaluate import MetricOptions
from ganeval.data import load_source
from ganeval.errors import InputError
from ganeval.features import FeatureStats
from ganeval.metrics import fid_from_stats, inception_score

from .conftest import gaussian_pair


def one_line_error(run_cli, *args) -> str:
    code, _, err = run_cli(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def points(tmp_path, rng):
    real, fake = gaussian_pair(rng, 200, 4)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    return str(tmp_path / "real.npy"), str(tmp_path / "fake.npy")


def test_fid_only_cached_reference_refuses_kid_with_advice(run_cli, points):
    real, fake = points
    code, out, _ = run_cli("score", fake, "--reference", real, "--metrics", "fid", "--json", "--quiet")
    key = "ref:" + json.loads(out)["provenance"]["reference_key"]
    assert "ganeval ref build" in one_line_error(run_cli, "score", fake, "--reference", key, "--metrics", "kid")


def test_inception_weights_with_another_extractor_is_refused(run_cli, points, tmp_path):
    real, fake = points
    err = one_line_error(run_cli, "score", fake, "--reference", real, "--inception-weights", str(tmp_path / "w.pth"))
    assert "options for inception-v3-compat were given, but the extractor is identity" in err


def test_torchscript_without_logits_scores_by_default(run_cli, tmp_path, rng):
    class Mean(torch.nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return images.float().mean(dim=(2, 3))

    torch.jit.script(Mean()).save(str(tmp_path / "mean.pt"))
    np.save(tmp_path / "a.npy", rng.integers(0, 256, (30, 3, 8, 8), dtype=np.uint8))
    np.save(tmp_path / "b.npy", rng.integers(0, 200, (30, 3, 8, 8), dtype=np.uint8))
    args = ("score", tmp_path / "a.npy", "--reference", tmp_path / "b.npy", "--extractor", f"torchscript:{tmp_path / 'mean.pt'}",
            "--trust-extractor")
    code, out, err = run_cli(*args, "--json", "--quiet", "--kid-subsets", "2")
    assert code == 0, err
    record = json.loads(out)
    assert "fid" in record and "is_mean" not in record
    assert "no 'logits' output" in one_line_error(run_cli, *args, "--metrics", "is")


def test_sixteen_bit_png_keeps_its_range(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    for index, level in enumerate((1000, 65535)):
        Image.fromarray(np.full((4, 4), level, np.uint16)).save(folder / f"{index}.png")
    assert load_source(str(folder)).data[:, 0, 0, 0].tolist() == [1000 >> 8, 255]


def test_degenerate_numbers_stay_finite():
    assert fid_from_stats(np.zeros(3), np.zeros((3, 3)), np.ones(3), np.eye(3)) == pytest.approx(6.0)
    logits = torch.full((100, 5), -1000.0, dtype=torch.float64)
    logits[:, 0] = 0  # class 0 certain everywhere: the other classes underflow to probability 0
    assert inception_score(logits, splits=2) == (1.0, 0.0)
    stats = FeatureStats()
    stats.update(torch.zeros(0, 3))
    stats.update(torch.ones(4, 3))
    assert torch.equal(stats.mean(), torch.ones(3, dtype=torch.float64))


def test_more_bad_input_is_one_line(run_cli, points, tmp_path):
    real, fake = points
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    assert "--seed -1" in one_line_error(run_cli, "score", fake, "--reference", real, "--seed", "-1")
    assert "--num-samples 0" in one_line_error(run_cli, "score", "ring8", "--reference", "ring8", "--num-samples", "0")
    assert "broken.npz" in one_line_error(run_cli, "score", fake, "--reference", tmp_path / "broken.npz")
    assert "unknown split 'foo'" in one_line_error(run_cli, "score", fake, "--reference", "cifar10:foo")
    assert "kid: subset size 0" in one_line_error(run_cli, "score", fake, "--reference", real, "--kid-subset-size", "0")


def test_radii_are_written_back_beside_a_reference_file(run_cli, points, tmp_path):
    real, fake = points
    code, out, _ = run_cli("ref", "build", real, "--quiet")
    from ganeval.features.cache import cache_dir, load_reference

    key = out.split()[1][4:]
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for suffix in (".pt", ".json"):
        (cache_dir() / f"{key}{suffix}").rename(moved / f"{key}{suffix}")
    code, _, err = run_cli("score", fake, "--reference", str(moved / f"{key}.pt"), "--metrics", "prdc", "--quiet")
    assert code == 0, err
    assert 5 in load_reference(moved / f"{key}.pt")[2].knn_radii
    assert not list(cache_dir().glob("*.pt"))


def test_ndb_bins_are_clustered_once_and_cached_with_the_reference(points, monkeypatch):
    """The reference's K-means centres are computed by the first NDB score and read back by the next ones."""
    import ganeval.metrics.modes
    from ganeval.features.cache import list_references, load_reference

    real, fake = points
    first = score(fake, real, "ndb", progress=False, options=MetricOptions(ndb_bins=10))
    (card,) = list_references()
    assert set(load_reference(card.key)[2].ndb_centres) == {10}

    def refuse(*_, **__):
        raise AssertionError("k-means ran again on a cached reference")

    monkeypatch.setattr(ganeval.metrics.modes, "kmeans", refuse)
    again = score(fake, real, "ndb", progress=False, options=MetricOptions(ndb_bins=10))
    assert (again["ndb"], again["ndb_js"]) == (first["ndb"], first["ndb_js"])
