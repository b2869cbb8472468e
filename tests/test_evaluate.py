"""score(): one pass per input, the metrics agree with the functional API, seeded subsets, the showcase's findings."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from ganeval import score
from ganeval.data import Samples
from ganeval.errors import FewSamplesWarning, InputError
from ganeval.evaluate import MetricOptions
from ganeval.metrics import fid, kid, prdc
from ganeval.showcase import run as run_showcase

from .conftest import gaussian_pair, needs_fmnist


def test_score_equals_the_functional_metrics(rng):
    real, fake = gaussian_pair(rng, 600, 12)
    record = score(Samples(torch.from_numpy(fake), "fake"), Samples(torch.from_numpy(real), "real"), progress=False,
                   options=MetricOptions(kid_subsets=10, kid_subset_size=300), seed=5)
    assert record["fid"] == pytest.approx(fid(real, fake), rel=1e-10)
    assert (record["kid_mean"], record["kid_std"]) == pytest.approx(kid(real, fake, 10, 300, seed=5), rel=1e-10)
    for key, value in prdc(real, fake).items():
        assert record[key] == value
    assert json.loads(json.dumps(record)) == record  # JSON-ready


def test_few_samples_take_the_low_rank_path_through_streaming_stats(rng):
    real, fake = gaussian_pair(rng, 60, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewSamplesWarning)
        record = score(Samples(torch.from_numpy(fake), "fake"), Samples(torch.from_numpy(real), "real"), "fid,kid",
                       progress=False, options=MetricOptions(kid_subsets=2))
        expected = fid(real, fake)
    assert record["diagnostics"]["fid"]["factor_method"] == "samples"
    assert np.isfinite(record["fid"]) and record["fid"] == pytest.approx(expected, rel=1e-8)


def test_warnings_point_at_the_callers_line(rng):
    """FewSamplesWarning arises deep inside score() and fid(); the user is shown their own call."""
    real, fake = gaussian_pair(rng, 60, 100)
    for call in (lambda: score(Samples(torch.from_numpy(fake), "fake"), Samples(torch.from_numpy(real), "real"),
                               "fid", progress=False),
                 lambda: fid(real, fake)):
        with pytest.warns(FewSamplesWarning) as caught:
            call()
        assert {warning.filename for warning in caught} == {__file__}


def test_seeded_subsets_are_reproducible(tmp_path, rng):
    real, fake = gaussian_pair(rng, 400, 6)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    first = score(tmp_path / "fake.npy", tmp_path / "real.npy", "fid", num_samples=100, seed=3, progress=False)
    again = score(tmp_path / "fake.npy", tmp_path / "real.npy", "fid", num_samples=100, seed=3, progress=False)
    other = score(tmp_path / "fake.npy", tmp_path / "real.npy", "fid", num_samples=100, seed=4, progress=False)
    assert first["fid"] == again["fid"] != other["fid"]
    assert first["num_samples"] == 100


def test_images_and_vectors_are_not_mixed(rng):
    images = Samples(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), "images")
    vectors = Samples(torch.zeros(4, 4), "vectors")
    with pytest.raises(InputError, match="holds images but vectors holds vectors"):
        score(images, vectors, progress=False)


def test_showcase_report_shows_each_failure(tmp_path):
    records = run_showcase(tmp_path, fashion=False)
    assert {path.name for path in tmp_path.iterdir()} == {"README.md", "records.jsonl", "mixtures.png"}
    for mixture in ("ring8", "grid25"):
        rows = {r["candidate"].split()[0]: r for r in records if r["dataset"] == mixture}
        assert rows["collapsed"]["recall"] < 0.5 * rows["faithful"]["recall"]
        assert rows["collapsed"]["fid"] > 100 * rows["faithful"]["fid"]
        assert rows["blurred"]["precision"] < 0.5 * rows["faithful"]["precision"]
        assert rows["shifted"]["coverage"] < 0.5 * rows["faithful"]["coverage"]


@needs_fmnist
def test_showcase_fashion_part(tmp_path, monkeypatch):
    import ganeval.showcase as showcase

    # keep it quick: 600 images per candidate, against 3,000 training images (PRDC's k-NN radii of all 60,000 were
    # most of a minute); the failures still order the metrics as the full showcase does
    full, score = showcase.fashion_candidates, showcase.score
    monkeypatch.setattr(showcase, "fashion_candidates", lambda seed: {k: v[:600] for k, v in full(seed).items()})
    monkeypatch.setattr(showcase, "score", lambda *args, **kwargs: score(*args, reference_samples=3000, **kwargs)
                        if args[1] == "fashion-mnist:train" else score(*args, **kwargs))
    records = run_showcase(tmp_path, fashion=True)
    assert (tmp_path / "fashion-mnist.png").is_file() and "fashion-mnist" in (tmp_path / "README.md").read_text()
    rows = {r["candidate"].split()[0]: r for r in records if r["dataset"] == "fashion-mnist"}
    assert rows["faithful"]["extractor"] == "fmnist-classifier"
    assert rows["collapsed"]["is_mean"] < 0.6 * rows["faithful"]["is_mean"]
    assert rows["collapsed"]["recall"] < rows["faithful"]["recall"]
    assert rows["uniform"]["fid"] > 50 * rows["faithful"]["fid"]
    assert rows["blurred"]["precision"] < rows["faithful"]["precision"]
