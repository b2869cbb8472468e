"""The user's path through `ganeval score` / `ganeval ref`: what N means on each side, status lines and timing,
statistics export, errors that name the fix, records written where compare and gate read them."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from ganeval import evaluate
from ganeval.commands import format_record
from ganeval.data import Samples
from ganeval.errors import ExtractorWarning, InputError
from ganeval import score

from .conftest import gaussian_pair

QUIET = dict(progress=False)


@pytest.fixture
def vectors(tmp_path, rng):
    """A 400-row reference and a 300-row input of 6-dim features, as .npy files."""
    real, fake = gaussian_pair(rng, 400, 6)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake[:300])
    return tmp_path / "real.npy", tmp_path / "fake.npy"


def digits(rng, count: int) -> np.ndarray:
    """28x28 uint8 images that are not Fashion-MNIST (noise standing in for MNIST digits)."""
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)


def test_num_samples_cuts_the_generated_side_only(vectors):
    real, fake = vectors
    record = score(fake, real, "fid", num_samples=100, **QUIET)
    assert (record["num_samples"], record["num_reference"]) == (100, 400)
    subset = score(fake, real, "fid", num_samples=100, reference_samples=150, **QUIET)
    again = score(fake, real, "fid", num_samples=100, reference_samples=150, **QUIET)
    assert subset["num_reference"] == 150 and subset["fid"] == again["fid"] != record["fid"]
    python_api = score(Samples(torch.from_numpy(np.load(fake)), "fake"), real, "fid", num_samples=100, **QUIET)
    assert python_api["num_samples"] == 100


def test_reference_samples_of_a_statistics_file_is_an_error(run_cli, vectors, tmp_path):
    real, fake = vectors
    assert run_cli("ref", "export", real, "--out", tmp_path / "stats.npz", "--quiet")[0] == 0
    with pytest.raises(InputError, match="holds statistics, not samples"):
        score(fake, str(tmp_path / "stats.npz"), "fid", reference_samples=50, **QUIET)


def test_status_line_per_phase_and_timing(vectors, capsys):
    real, fake = vectors
    record = score(fake, real, "fid,kid,prdc,ndb", progress=True, ci=0.9,
                   options=evaluate.MetricOptions(kid_subsets=7, ndb_bins=5), use_cache=False)
    err = capsys.readouterr().err
    assert "  kid: 7 subsets of 300" in err and "reference k-NN radii: k=5 over 400 rows" in err
    assert "ndb K-means: 5 bins over 400 reference rows" in err and "bootstrap: 200 resamples of 300" in err
    assert all(line.endswith(" s") for line in err.splitlines() if line.startswith("  kid:"))
    timing = record["diagnostics"]["timing"]
    assert {"decode", "reference", "extract_input", "reference_knn_radii", "ndb_kmeans", "bootstrap",
            "fid", "kid", "prdc", "ndb"} <= set(timing)
    assert all(seconds >= 0 for seconds in timing.values())
    score(fake, real, "fid,kid", progress=False, use_cache=False)
    assert "kid:" not in capsys.readouterr().err


def test_ref_export_gives_the_same_fid_as_the_reference(run_cli, vectors, tmp_path):
    real, fake = vectors
    code, out, err = run_cli("ref", "export", real, "--out", tmp_path / "stats.npz", "--quiet")
    assert code == 0, err
    with np.load(tmp_path / "stats.npz") as stats:
        assert set(stats.keys()) == {"mu", "sigma"}
        assert stats["mu"].dtype == stats["sigma"].dtype == np.float64 and stats["sigma"].shape == (6, 6)
    card = json.loads((tmp_path / "stats.json").read_text())
    assert card["num_samples"] == 400 and card["extractor"] == "identity"
    original = score(fake, str(real), "fid", **QUIET)["fid"]
    exported = score(fake, str(tmp_path / "stats.npz"), "fid", **QUIET)["fid"]
    assert exported == pytest.approx(original, rel=1e-6)
    for spec in (f"ref:{card['key']}", card["key"]):  # a cached entry, by key, exports without extracting
        code, _, err = run_cli("ref", "export", spec, "--out", tmp_path / "again.npz")
        assert code == 0, err
        with np.load(tmp_path / "again.npz") as stats:
            assert np.array_equal(stats["sigma"], np.load(tmp_path / "stats.npz")["sigma"])


def test_save_stats_writes_the_inputs_moments(run_cli, vectors, tmp_path):
    real, fake = vectors
    code, _, err = run_cli("score", fake, real, "--metrics", "fid", "--save-stats", tmp_path / "fake.npz", "--quiet")
    assert code == 0, err
    rows = np.load(fake)
    with np.load(tmp_path / "fake.npz") as stats:
        np.testing.assert_allclose(stats["mu"], rows.mean(0), rtol=1e-12)
        np.testing.assert_allclose(stats["sigma"], np.cov(rows, rowvar=False), rtol=1e-10)
    code, _, err = run_cli("score", fake, real, "--save-stats", tmp_path / "fake.txt", "--quiet")
    assert code == 2 and "written as .npz" in err


def test_inception_sized_stats_against_28x28_images_names_the_fix(run_cli, rng, tmp_path):
    np.save(tmp_path / "fake.npy", digits(rng, 8))
    np.savez(tmp_path / "stats.npz", mu=np.zeros(2048), sigma=np.eye(2048))
    code, _, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "stats.npz", "--metrics", "fid", "--quiet")
    assert code == 2
    message = err.strip().splitlines()[-1]
    assert "2048-dim features" in message and "fmnist-classifier gives 128" in message
    assert "1x28x28 images" in message and "--extractor inception-v3-compat" in message


def test_image_shape_mismatch_names_both_shapes(run_cli, rng, tmp_path):
    np.save(tmp_path / "fake.npy", digits(rng, 8))
    np.save(tmp_path / "real.npy", rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8))
    code, _, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--extractor", "fmnist-classifier",
                           "--metrics", "fid", "--quiet")
    assert code == 2 and "1x28x28 images" in err and "holds 3x32x32" in err


def test_auto_classifier_on_foreign_28x28_images_warns(run_cli, rng, tmp_path):
    np.save(tmp_path / "fake.npy", digits(rng, 40))
    np.save(tmp_path / "real.npy", digits(rng, 40))
    code, _, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--metrics", "fid", "--quiet")
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("ganeval: warning:") and "auto chose" in line]
    assert len(warning) == 1 and "Fashion-MNIST feature space" in warning[0]
    assert "--extractor inception-v3-compat" in warning[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtractorWarning)  # chosen explicitly: no warning
        score(str(tmp_path / "fake.npy"), str(tmp_path / "real.npy"), "fid", extractor="fmnist-classifier", **QUIET)


def test_out_and_append_write_the_record_for_compare(run_cli, vectors, tmp_path):
    real, fake = vectors
    code, out, err = run_cli("score", fake, real, "--metrics", "fid,prdc", "--json", "--quiet",
                             "--out", tmp_path / "record.json", "--append", tmp_path / "runs" / "mine")
    assert code == 0, err
    written = json.loads((tmp_path / "record.json").read_text())
    assert written["fid"] == json.loads(out)["fid"]
    lines = (tmp_path / "runs" / "mine" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["fid"] == written["fid"]
    code, table, err = run_cli("compare", tmp_path / "runs" / "mine", "--metrics", "fid", "--format", "csv")
    assert code == 0, err
    assert f"{written['fid']:.4g}"[:4] in table
    (tmp_path / "file").write_text("")
    code, _, err = run_cli("score", fake, real, "--append", tmp_path / "file", "--quiet")
    assert code == 2 and "not a folder" in err


def test_format_record_rounds_noise_to_zero_and_notes_unequal_n():
    record = {"input": "a.npy", "reference": "b.npy", "extractor": "identity", "seed": 1, "num_samples": 500,
              "num_reference": 60000, "fid": -1.98952e-13, "recall": 0.5, "coverage": 0.25}
    text = format_record(record)
    assert "e-13" not in text and text.splitlines()[5].split() == ["fid", "0"]
    assert "compare 500 generated with 60000 reference samples" in text
    assert "generated with" not in format_record({**record, "num_reference": 500})
    assert "generated with" not in format_record({key: value for key, value in record.items()
                                                  if key not in ("recall", "coverage")})


def test_identical_inputs_print_fid_zero(run_cli, vectors):
    real, _ = vectors
    code, out, err = run_cli("score", real, real, "--metrics", "fid", "--quiet")
    assert code == 0, err
    table = [line.split() for line in out.splitlines() if line.split()[:1] == ["fid"]]
    assert table[0] == ["fid", "0"]  # raw value: about -1.8e-15


def test_torch_fidelity_is_imported_only_for_its_extractor(tmp_path):
    """A score with another extractor records torch-fidelity's version (record and cache card) from the package
    metadata, without importing it (3 s)."""
    code = ("import importlib.metadata, json, sys\n"
            "from ganeval.cli import main\n"
            "assert main(['score', 'ring8', 'ring8', '--metrics', 'fid', '--quiet', '--out', sys.argv[1]]) == 0\n"
            "record = json.load(open(sys.argv[1]))\n"
            "assert record['provenance']['torch_fidelity'] == importlib.metadata.version('torch-fidelity')\n"
            "print(sorted(name for name in sys.modules if name.startswith('torch_fidelity')))")
    env = {**os.environ, "GANEVAL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "record.json")], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    card = json.loads(next((tmp_path / "cache" / "references").glob("*.json")).read_text())
    assert card["torch_fidelity"] == importlib.metadata.version("torch-fidelity")


def test_a_phase_inside_another_is_timed_on_its_own(capsys):
    """The reference's k-NN radii run inside prdc's phase: each gets its own seconds and its own status line."""
    import time

    from ganeval.timing import PhaseTimer

    timer = PhaseTimer(progress=True)
    with timer.phase("prdc", "prdc: k=5"):
        with timer.phase("reference_knn_radii", "reference k-NN radii"):
            time.sleep(0.05)
    seconds = timer.summary()
    assert seconds["reference_knn_radii"] >= 0.05 and seconds["prdc"] < 0.05
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ...")[0].strip() for line in lines] == ["prdc: k=5", "reference k-NN radii", "prdc: k=5"]
