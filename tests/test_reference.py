"""Reference statistics: cached by content, reused without re-extraction, refused when the card does not match."""
from __future__ import annotations

import importlib
import io
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from ganeval import score
from ganeval.data import Samples, load_source
from ganeval.errors import InputError
from ganeval.features import FeatureExtractor, create
from ganeval.evaluate import MetricOptions
from ganeval.features.cache import content_sha256, list_references, load_reference

from .conftest import gaussian_pair


class CountingExtractor(FeatureExtractor):
    """The identity extractor, counting the samples it sees."""

    def __init__(self, name: str = "identity"):
        base = create("identity", device="cpu")
        super().__init__(name, base.forward, base.device, base.feature_layer, weights_sha256=None)
        self.seen = 0

    def __call__(self, batch):
        self.seen += len(batch)
        return super().__call__(batch)


def write_points(path, array) -> str:
    np.save(path, array)
    return str(path)


def test_second_score_reads_the_cache(tmp_path, rng):
    real, fake = gaussian_pair(rng, 300, 6)
    real_path, fake_path = write_points(tmp_path / "real.npy", real), write_points(tmp_path / "fake.npy", fake)
    extractor = CountingExtractor()
    first = score(fake_path, real_path, "fid,prdc", extractor=extractor, progress=False)
    assert extractor.seen == 600 and not first["provenance"]["reference_from_cache"]
    second = score(fake_path, real_path, "fid,prdc", extractor=extractor, progress=False)
    assert extractor.seen == 900, "the reference must not be extracted again"
    assert second["provenance"]["reference_from_cache"]
    assert second["fid"] == first["fid"] and second["precision"] == first["precision"]
    # the same content under another path is the same entry
    copy_path = write_points(tmp_path / "copy.npy", real)
    score(fake_path, copy_path, "fid", extractor=extractor, progress=False)
    assert extractor.seen == 1200 and len(list_references()) == 1


def test_one_changed_byte_changes_the_key(tmp_path, rng):
    images = rng.integers(0, 256, (20, 1, 8, 8), dtype=np.uint8)
    changed = images.copy()
    changed[7, 0, 3, 3] ^= 1
    assert content_sha256(torch.from_numpy(images)) != content_sha256(torch.from_numpy(changed))
    extractor = CountingExtractor()
    for array in (images, changed):
        score(Samples(torch.from_numpy(images), "fake"), Samples(torch.from_numpy(array), "real"), "fid", extractor=extractor, progress=False)
    assert len(list_references()) == 2


def test_stats_only_cache_is_upgraded_when_raw_features_are_needed(tmp_path, rng):
    real, fake = gaussian_pair(rng, 200, 4)
    real_path, fake_path = write_points(tmp_path / "real.npy", real), write_points(tmp_path / "fake.npy", fake)
    extractor = CountingExtractor()
    score(fake_path, real_path, "fid", extractor=extractor, progress=False)
    assert not list_references()[0].has_raw_features
    record = score(fake_path, real_path, "fid,kid", extractor=extractor, progress=False, options=_fast_kid())
    assert extractor.seen == 800 and "kid_mean" in record and list_references()[0].has_raw_features


def test_cached_key_as_reference_and_mismatched_card_refused(tmp_path, rng, run_cli):
    real, fake = gaussian_pair(rng, 200, 4)
    real_path, fake_path = write_points(tmp_path / "real.npy", real), write_points(tmp_path / "fake.npy", fake)
    code, out, err = run_cli("ref", "build", real_path, "--quiet")
    assert code == 0 and out.startswith("built: ref:"), err
    key = out.split()[1]
    code, out, _ = run_cli("score", fake_path, "--reference", key, "--metrics", "fid,prdc", "--json", "--quiet")
    assert code == 0 and json.loads(out)["fid"] == pytest.approx(score(fake_path, real_path, "fid", progress=False)["fid"])
    code, out, _ = run_cli("ref", "show", key)
    card = json.loads(out)
    assert card["extractor"] == "identity" and card["num_samples"] == 200 and card["content_sha256"]
    assert {"ganeval", "torch", "torch_fidelity", "created", "weights_sha256", "layer", "preprocessing"} <= set(card)
    code, out, _ = run_cli("ref", "list")
    assert key[4:] in out
    # a card from another extractor is refused, never mixed
    card_path = _card_path(key)
    tampered = json.loads(card_path.read_text())
    tampered["extractor"] = "fmnist-classifier"
    card_path.write_text(json.dumps(tampered))
    code, _, err = run_cli("score", fake_path, "--reference", key, "--extractor", "identity", "--metrics", "fid")
    assert code == 2 and "was built with extractor fmnist-classifier" in err and len(err.strip().splitlines()) == 1


def _card_path(key: str):
    from ganeval.features.cache import cache_dir

    return cache_dir() / f"{key[4:]}.json"


def _fast_kid():
    return MetricOptions(kid_subsets=2, kid_subset_size=100)


def test_mu_sigma_npz_reference_is_fid_only(tmp_path, rng):
    real, fake = gaussian_pair(rng, 400, 5)
    np.savez(tmp_path / "stats.npz", mu=real.mean(0), sigma=np.cov(real, rowvar=False))
    fake_path = write_points(tmp_path / "fake.npy", fake)
    record = score(fake_path, str(tmp_path / "stats.npz"), progress=False)
    assert set(record) & {"kid_mean", "precision"} == set()
    from ganeval.metrics import fid

    assert record["fid"] == pytest.approx(fid(real, fake), rel=1e-9)
    with pytest.raises(InputError, match="need raw reference features; a mu/sigma .npz reference supports fid only"):
        score(fake_path, str(tmp_path / "stats.npz"), "fid,kid", progress=False)


def test_damaged_cache_entry_is_rebuilt(tmp_path, rng):
    real, fake = gaussian_pair(rng, 100, 3)
    real_path, fake_path = write_points(tmp_path / "real.npy", real), write_points(tmp_path / "fake.npy", fake)
    first = score(fake_path, real_path, "fid", progress=False)
    key = first["provenance"]["reference_key"]
    (_card_path("ref:" + key).with_suffix(".pt")).write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable reference statistics"):
        load_reference(key)
    assert score(fake_path, real_path, "fid", progress=False)["fid"] == first["fid"]


def test_zip_of_images_and_escaping_members(tmp_path, rng):
    images = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    with zipfile.ZipFile(tmp_path / "good.zip", "w") as archive:
        for index, image in enumerate(images):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            archive.writestr(f"imgs/{index}.png", buffer.getvalue())
    loaded = load_source(str(tmp_path / "good.zip"))
    assert torch.equal(loaded.data[:, 0], torch.from_numpy(images))
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("../outside.png", b"x")
    with pytest.raises(InputError, match="points outside the archive's root"):
        load_source(str(tmp_path / "evil.zip"))
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputError, match="unreadable zip file"):
        load_source(str(tmp_path / "broken.zip"))


def test_prdc_radii_of_the_reference_are_cached(tmp_path, rng, monkeypatch):
    reference_module = importlib.import_module("ganeval.metrics.prdc")  # the module (ganeval.metrics.prdc is the function)

    real, fake = gaussian_pair(rng, 300, 5)
    real_path, fake_path = write_points(tmp_path / "real.npy", real), write_points(tmp_path / "fake.npy", fake)
    calls = []
    original = reference_module.knn_radii
    monkeypatch.setattr(reference_module, "knn_radii", lambda rows, k: calls.append(k) or original(rows, k))
    first = score(fake_path, real_path, "prdc", progress=False)
    second = score(fake_path, real_path, "prdc", progress=False)
    assert calls == [5] and second["precision"] == first["precision"] and second["density"] == first["density"]
    score(fake_path, real_path, "prdc", progress=False, options=MetricOptions(prdc_k=3))
    assert calls == [5, 3]


def test_derived_statistics_are_saved_beside_the_entry_not_into_it(tmp_path, rng):
    """PRDC's radii and NDB's centres go to <key>.derived.pt: the entry's rows are written once, not again for
    each statistic derived from them."""
    from ganeval.features.cache import list_references, load_reference, reference_path

    real, fake = gaussian_pair(rng, 300, 5)
    real_path, fake_path = write_points(tmp_path / "real.npy", real), write_points(tmp_path / "fake.npy", fake)
    score(fake_path, real_path, "kid", progress=False, options=MetricOptions(kid_subsets=2))  # an entry with rows
    (card,) = list_references()
    entry = reference_path(card.key)
    written = entry.stat().st_mtime_ns
    score(fake_path, real_path, "prdc,ndb", progress=False, options=MetricOptions(ndb_bins=10))
    assert entry.stat().st_mtime_ns == written and entry.with_name(f"{card.key}.derived.pt").is_file()
    _, _, derived = load_reference(card.key)
    assert set(derived.knn_radii) == {5} and set(derived.ndb_centres) == {10}
