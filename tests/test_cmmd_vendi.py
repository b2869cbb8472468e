"""CMMD and the Vendi score: parity with google-research cmmd/distance.py (transcribed below in numpy: the JAX
original does not install offline) and with the vendi-score package, blocked against whole, bootstrap replicates
against the resampled rows themselves, and the two families through score() and the CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from vendi_score import vendi as vendi_package

import ganeval.metrics.cmmd as cmmd_module
import ganeval.metrics.vendi as vendi_module
from ganeval import score
from ganeval.metrics.bootstrap import resampling_weights
from ganeval.metrics.cmmd import cmmd, cmmd_with_replicates, reference_mean_kernel
from ganeval.metrics.registry import METRIC_FAMILIES
from ganeval.metrics.vendi import vendi, vendi_with_replicates

ORDERS = (1.0, 0.5, 2.0, math.inf)
pytestmark = pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")  # vendi_score's


def distance_py_mmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0, scale: float = 1000.0) -> float:
    """cmmd/distance.py mmd(x, y) in numpy float64: the three full kernel matrices, each averaged whole."""
    gamma = 1 / (2 * sigma**2)

    def mean_kernel(a: np.ndarray, b: np.ndarray) -> float:
        squared = -2 * a @ b.T + (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :]
        return float(np.exp(-gamma * squared).mean())

    return scale * (mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y))


def _unit_rows(rng: np.random.Generator, rows: int, dim: int, shift: float = 0.0) -> np.ndarray:
    features = rng.standard_normal((rows, dim)) + shift
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def _resampled(rows: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Each row repeated as often as the replicate drew it."""
    return rows[torch.repeat_interleave(torch.arange(len(rows)), counts.long())]


@pytest.mark.parametrize("block", [cmmd_module.BLOCK, 37])  # one block, and many (with a ragged last one)
@pytest.mark.parametrize("sizes", [(200, 200), (150, 230)])
def test_cmmd_equals_distance_py(rng, monkeypatch, block, sizes):
    monkeypatch.setattr(cmmd_module, "BLOCK", block)
    reference, generated = _unit_rows(rng, sizes[0], 64), _unit_rows(rng, sizes[1], 64, shift=0.1)
    assert cmmd(reference, generated) == pytest.approx(distance_py_mmd(reference, generated), rel=1e-10)
    wide = 3 * rng.standard_normal((sizes[1], 64))  # not unit norm, another bandwidth and scale
    assert cmmd(reference, wide, sigma=4.0, scale=1.0) == pytest.approx(
        distance_py_mmd(reference, wide, sigma=4.0, scale=1.0), rel=1e-10)


def test_cmmd_is_zero_for_a_set_against_itself_and_grows_with_a_shift(rng):
    reference = _unit_rows(rng, 300, 32)
    assert abs(cmmd(reference, reference)) < 1e-10
    values = [cmmd(reference, reference + shift) for shift in (0.05, 0.2, 0.5, 1.0)]
    assert 0 < values[0] < values[1] < values[2] < values[3]
    # The V-statistic is a squared RKHS norm: non-negative even for two samples of one distribution.
    assert cmmd(reference, _unit_rows(rng, 250, 32)) > 0
    term = reference_mean_kernel(reference)
    other = _unit_rows(rng, 120, 32, shift=0.3)
    assert cmmd_with_replicates(reference, other, None, reference_term=term)[0] == pytest.approx(
        cmmd(reference, other), rel=1e-12)


@pytest.mark.parametrize("block", [cmmd_module.BLOCK, 29])
def test_cmmd_replicates_equal_cmmd_of_the_resamples(rng, monkeypatch, block):
    monkeypatch.setattr(cmmd_module, "BLOCK", block)
    reference = torch.from_numpy(_unit_rows(rng, 90, 16))
    generated = torch.from_numpy(_unit_rows(rng, 70, 16, shift=0.2))
    weights = resampling_weights(len(generated), 3, seed=4)
    value, replicates = cmmd_with_replicates(reference, generated, weights, sigma=0.5)
    assert value == pytest.approx(cmmd(reference, generated, sigma=0.5), rel=1e-12)
    for counts, replicate in zip(weights, replicates):
        expected = cmmd(reference, _resampled(generated, counts), sigma=0.5)
        assert float(replicate) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("shape", [(300, 32), (50, 128)])  # n > d (d x d Gram) and n < d (n x n kernel)
@pytest.mark.parametrize("order", ORDERS)
def test_vendi_equals_the_vendi_score_package(rng, monkeypatch, shape, order):
    monkeypatch.setattr(vendi_module, "BLOCK", 64)  # 300 rows: the d x d Gram from 5 blocks
    features = rng.standard_normal(shape) + 0.3
    q = "inf" if math.isinf(order) else order  # the package spells infinity "inf"
    ours, dual = vendi(features, order), vendi_package.score_dual(features, q=q, normalize=True)
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    full = vendi_package.score_K(unit @ unit.T, q=q)
    if order >= 1 or shape[0] > shape[1]:
        assert ours == pytest.approx(dual, rel=1e-8)
    if order >= 1 or shape[0] < shape[1]:
        assert ours == pytest.approx(full, rel=1e-8)
    # For q < 1 the package's smaller Gram is exact and its larger one keeps the rank deficit's rounding-level
    # eigenvalues (p > 0 keeps those above zero), which lambda^q makes count: 3e-8 apart on (50, 128).
    assert ours == pytest.approx(full if shape[0] < shape[1] else dual, rel=1e-10)
    if order == 1:
        assert ours == pytest.approx(vendi_package.score_X(features), rel=1e-8)  # score_X computes q = 1 only


@pytest.mark.parametrize("shape", [(120, 12), (40, 64)])
@pytest.mark.parametrize("order", [1.0, 2.0, math.inf])
def test_vendi_replicates_equal_vendi_of_the_resamples(rng, monkeypatch, shape, order):
    monkeypatch.setattr(vendi_module, "BLOCK", 50)
    features = torch.from_numpy(rng.standard_normal(shape))
    weights = resampling_weights(shape[0], 3, seed=1)
    value, replicates = vendi_with_replicates(features, weights, order)
    assert value == pytest.approx(vendi(features, order), rel=1e-12)
    for counts, replicate in zip(weights, replicates):
        assert float(replicate) == pytest.approx(vendi(_resampled(features, counts), order), rel=1e-9)


def test_vendi_extremes():
    assert vendi(torch.eye(6)) == pytest.approx(6, rel=1e-12)  # orthogonal rows: as many as there are
    assert vendi(torch.ones(20, 5) * torch.arange(1, 21.0)[:, None]) == pytest.approx(1, rel=1e-12)  # one direction


def test_the_families_through_score_give_the_kernels_values(rng, tmp_path):
    real, fake = rng.standard_normal((240, 12)).astype(np.float32), (rng.standard_normal((180, 12)) * 1.2 + 0.1)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake.astype(np.float32))
    record = score(str(tmp_path / "fake.npy"), str(tmp_path / "real.npy"), "cmmd,vendi", progress=False,
                   use_cache=False)
    fake = fake.astype(np.float32)
    assert record["extractor"] == "identity"
    assert record["cmmd"] == pytest.approx(cmmd(real, fake), rel=1e-12)
    assert record["vendi"] == pytest.approx(vendi(fake), rel=1e-12)
    assert record["vendi_reference"] == pytest.approx(vendi(real), rel=1e-12)
    assert "cmmd_ci_low" not in record


def test_cli_flags_and_basic_intervals(rng, tmp_path, run_cli):
    np.save(tmp_path / "real.npy", rng.standard_normal((300, 16)).astype(np.float32))
    np.save(tmp_path / "fake.npy", (rng.standard_normal((200, 16)) * 1.2 + 0.2).astype(np.float32))
    code, out, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--metrics", "cmmd,vendi",
                             "--cmmd-sigma", "3", "--vendi-order", "2", "--ci", "0.95", "--ci-replicates", "60",
                             "--json", "--quiet", "--no-cache")
    assert code == 0, err
    record = json.loads(out)
    assert record["diagnostics"]["cmmd"]["sigma"] == 3.0 and record["diagnostics"]["vendi"]["order"] == 2.0
    assert 0 <= record["cmmd_ci_low"] < record["cmmd_ci_high"]
    assert 1 <= record["vendi_ci_low"] < record["vendi_ci_high"]
    assert "vendi_reference_ci_low" not in record
    # 'basic' intervals move against the bias the resamples show: the V-statistic's upward (duplicates add
    # k(y, y) = 1 terms), the Vendi score's downward (a resample's spectrum spreads wider), here by more than
    # the replicates' spread, so each interval's middle lies on the far side of its estimate.
    assert (record["cmmd_ci_low"] + record["cmmd_ci_high"]) / 2 < record["cmmd"]
    assert (record["vendi_ci_low"] + record["vendi_ci_high"]) / 2 > record["vendi"]
    for flag, value in (("--vendi-order", "-1"), ("--cmmd-sigma", "0")):
        code, _, err = run_cli("score", tmp_path / "fake.npy", tmp_path / "real.npy", "--metrics", "cmmd,vendi",
                               flag, value, "--quiet", "--no-cache")
        assert code == 2 and flag.split("-")[2] in err


def test_the_specs():
    (cmmd_key,) = METRIC_FAMILIES["cmmd"].keys
    assert (cmmd_key.higher_is_better, cmmd_key.interval, cmmd_key.bounds) == (False, "basic", (0.0, math.inf))
    vendi_key, reference_key = METRIC_FAMILIES["vendi"].keys
    assert (vendi_key.higher_is_better, vendi_key.interval, vendi_key.bounds) == (True, "basic", (1.0, math.inf))
    assert reference_key.interval is None and reference_key.higher_is_better is None
    assert not METRIC_FAMILIES["cmmd"].default and not METRIC_FAMILIES["vendi"].default


def test_the_reference_term_is_computed_once_per_reference_and_sigma(rng, tmp_path, monkeypatch):
    """CMMD's mean K_xx is kept beside the reference's cache entry: a second score (a sweep's next checkpoint) reads
    it; another sigma computes its own."""
    np.save(tmp_path / "real.npy", rng.standard_normal((200, 8)).astype(np.float32))
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", rng.standard_normal((150, 8)).astype(np.float32))
    computed = []
    original = cmmd_module.reference_mean_kernel
    monkeypatch.setattr(cmmd_module, "reference_mean_kernel",
                        lambda rows, sigma: computed.append(sigma) or original(rows, sigma))
    records = [score(str(tmp_path / f"{name}.npy"), str(tmp_path / "real.npy"), "cmmd", progress=False)
               for name in ("a", "b")]
    assert computed == [10.0] and records[1]["cmmd"] == pytest.approx(
        cmmd(np.load(tmp_path / "real.npy"), np.load(tmp_path / "b.npy")), rel=1e-12)
    from ganeval.config import ScoreConfig
    from ganeval.metrics.families.cmmd import Options
    from ganeval.pipeline import score as typed_score

    typed_score(str(tmp_path / "a.npy"), str(tmp_path / "real.npy"),
                ScoreConfig(metrics=("cmmd",), metric_options={"cmmd": Options(sigma=5.0)}, progress=False))
    assert computed == [10.0, 5.0]
