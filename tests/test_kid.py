"""KID: parity with torch-fidelity 0.4.0 (same subsets for the same seed), the three paths to the same values (the
whole set once, shared kernel sums, per subset), bad input."""
from __future__ import annotations

import importlib

import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from ganeval.errors import InputError
from ganeval.metrics import METRIC_FAMILIES, kid, kid_sums
from ganeval.metrics.bootstrap import resampling_weights

from .conftest import gaussian_pair, metric_context

kid_module = importlib.import_module("ganeval.metrics.kid")  # the attribute ganeval.metrics.kid is the function


def fidelity_kid(real, fake, subsets, subset_size, seed=2020):
    # torch-fidelity's input1 is the generated set
    out = kid_features_to_metric(
        torch.from_numpy(fake).float(),
        torch.from_numpy(real).float(),
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        rng_seed=seed,
        verbose=False,
    )
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


@pytest.mark.parametrize("num, dim", [(2000, 64), (3000, 2048)])
def test_full_sets_match_torch_fidelity(rng, num, dim):
    real, fake = gaussian_pair(rng, num, dim)
    expected, _ = fidelity_kid(real, fake, subsets=1, subset_size=num)
    mean, std = kid(real, fake, subsets=1, subset_size=num)
    assert mean == pytest.approx(expected, rel=1e-4)
    assert std == 0


def test_defaults_draw_the_same_subsets_as_torch_fidelity(rng):
    real, fake = gaussian_pair(rng, 2500, 128)
    expected_mean, expected_std = fidelity_kid(real, fake, subsets=100, subset_size=1000)
    mean, std = kid(real, fake)
    assert abs(mean - expected_mean) <= expected_std  # the acceptance bound ...
    assert mean == pytest.approx(expected_mean, rel=1e-4)  # ... and in fact the same subsets
    assert std == pytest.approx(expected_std, rel=1e-3)


def test_identical_distributions_near_zero_and_seeded(rng):
    real, _ = gaussian_pair(rng, 1200, 16)
    same = rng.standard_normal((1200, 16))
    mean, std = kid(real, same, subsets=20, subset_size=500, seed=3)
    assert abs(mean) < 3 * std + 1e-3
    assert kid(real, same, subsets=20, subset_size=500, seed=3) == (mean, std)


def test_subset_larger_than_samples_is_rejected(rng):
    real, fake = gaussian_pair(rng, 100, 4)
    with pytest.raises(InputError, match="subset size 1000 must be between 2 and the number of samples"):
        kid(real, fake)


def _features(rows: int, dim: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    scales = torch.linspace(0.5, 1.5, dim, dtype=torch.float64)
    return torch.randn(rows, dim, generator=generator, dtype=torch.float64) * scales + shift


SHAPES = {  # real rows, generated rows, subset size, subsets, d
    "N_r > N_f > m": (300, 200, 50, 7, 16),
    "m = N_r < N_f": (200, 300, 200, 5, 8),
    "N_r = N_f > m": (150, 150, 100, 6, 33),
    "m = N_f < N_r": (120, 80, 80, 4, 5),
}


@pytest.mark.parametrize("block_entries", [997, kid_sums.BLOCK_ENTRIES])  # ragged blocks of 3-12 rows, or one
@pytest.mark.parametrize("shape", SHAPES)
def test_shared_sums_give_the_per_subset_values(shape, block_entries, monkeypatch):
    monkeypatch.setattr(kid_sums, "BLOCK_ENTRIES", block_entries)
    num_real, num_fake, size, subsets, dim = SHAPES[shape]
    real, fake = _features(num_real, dim, 0), _features(num_fake, dim, 1, shift=0.3)
    expected, _ = kid_module._subset_values(real, fake, subsets, size, 5, None)  # the per-subset path, as before
    values, _ = kid_module._shared_values(real, fake, subsets, size, 5, None)
    assert torch.allclose(values, expected, rtol=1e-12, atol=0)  # the same subsets, each to rounding
    # near zero (one distribution), the difference is rounding of the kernel sums, not of the value
    same = _features(num_fake, dim, 2)
    expected, _ = kid_module._subset_values(real, same, subsets, size, 5, None)
    values, _ = kid_module._shared_values(real, same, subsets, size, 5, None)
    assert (values - expected).abs().max() <= 1e-12 * float(kid_module.polynomial_kernel(real, same).abs().mean())


@pytest.mark.parametrize("shape", ["m = N_f < N_r", "whole"])
def test_shared_sums_give_the_per_subset_replicates(shape, monkeypatch):
    monkeypatch.setattr(kid_sums, "BLOCK_ENTRIES", 997)
    num_real, num_fake, size, subsets, dim = SHAPES[shape] if shape in SHAPES else (90, 90, 90, 3, 12)
    real, fake = _features(num_real, dim, 0), _features(num_fake, dim, 1, shift=0.3)
    weights = resampling_weights(num_fake, 6, seed=1)
    weights[0] = 1  # all ones: kid()'s own values
    weights[1, ::2] = 0  # a 0/1 subsample
    values, expected = kid_module._subset_values(real, fake, subsets, size, 5, weights)
    shared_values, replicates = kid_module._shared_values(real, fake, subsets, size, 5, weights)
    assert torch.allclose(replicates, expected, rtol=1e-12, atol=0)
    assert torch.allclose(shared_values, values, rtol=1e-12, atol=0)
    mean, std, replicates = kid_module.kid_with_replicates(real, fake, weights, subsets, size, 5)
    assert torch.allclose(replicates, expected, rtol=1e-12, atol=0)
    assert mean == pytest.approx(float(values.mean()), rel=1e-12)
    assert std == 0 if shape == "whole" else std == pytest.approx(float(values.std(unbiased=False)), rel=1e-9)


def test_subsets_of_the_whole_set_are_computed_once_with_std_0(monkeypatch):
    real, fake = _features(120, 10, 0), _features(120, 10, 1, shift=0.2)
    values, _ = kid_module._subset_values(real, fake, 20, 120, 2020, None)  # 20 permutations of the same rows
    assert float(values.std()) < 1e-14 * float(values.mean())
    kernels, calls = kid_module._kernels, []

    def counted(*rows):
        calls.append(len(rows[0]))
        return kernels(*rows)

    monkeypatch.setattr(kid_module, "_kernels", counted)
    mean, std = kid(real, fake, subsets=20, subset_size=120)
    assert calls == [120] and std == 0.0  # one computation on the whole set
    assert mean == pytest.approx(float(values.mean()), rel=1e-12)


def test_plan_takes_the_path_with_fewer_multiply_adds():
    plan = kid_module._plan
    assert plan(1000, 1000, 2048, 100, 1000, 0) == "whole"  # 100 permutations of one set
    assert plan(1000, 1000, 2048, 100, 1000, 200) == "whole"
    assert plan(10_000, 10_000, 2048, 100, 1000, 0) == "shared"  # 4.3e11 against 6.1e11 multiply-adds
    assert plan(10_000, 1000, 2048, 100, 1000, 200) == "shared"  # generated side whole: replicates shared too
    assert plan(10_000, 10_000, 2048, 100, 1000, 200) == "per_subset"  # replicates weight each subset's own rows
    assert plan(50_000, 50_000, 2048, 100, 1000, 0) == "per_subset"  # 5.4e12 against 6.1e11
    assert plan(2500, 2500, 128, 100, 1000, 0) == "shared"
    assert kid_sums.shared_cost(10_000, 10_000, 2048, 100) == pytest.approx(2e8 * 2148)
    assert kid_sums.per_subset_cost(1000, 2048, 100) == pytest.approx(100 * 3 * 1000**2 * 2048)


@pytest.mark.parametrize("generated, note", [(60, True), (80, False)])
def test_the_family_notes_a_std_of_0_from_whole_sets(generated, note):
    reference, samples = _features(60, 6, 0), _features(generated, 6, 1, shift=0.2)
    options = METRIC_FAMILIES["kid"].options(subsets=4)
    result = METRIC_FAMILIES["kid"].compute(metric_context(None, reference, samples.float(), options))
    assert result.diagnostics["subset_size"] == 60
    assert ("note" in result.diagnostics) is note and (result.values["kid_std"] == 0) is note
