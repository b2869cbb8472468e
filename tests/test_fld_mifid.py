"""fld and mifid: parity with marcojira/fld's FLD (a short transcription of fld/metrics/FLD.py and fld/MoG.py below)
and with torchmetrics' MemorizationInformedFrechetInceptionDistance, and the properties the papers state."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torchmetrics.image.mifid import MemorizationInformedFrechetInceptionDistance

from ganeval.errors import InputError
from ganeval.metrics import families  # noqa: F401  (registers the built-in families)
from ganeval.metrics import fld as fld_kernel
from ganeval.metrics import mifid as mifid_kernel
from ganeval.metrics.families import fld as fld_family
from ganeval.metrics.families import mifid as mifid_family
from ganeval.metrics.fid import fid as fid_of_rows
from ganeval.metrics.fld import FitSettings, MemoryLimits, feature_likelihood_divergence
from ganeval.metrics.registry import METRIC_FAMILIES

from .conftest import metric_context


def _draws(seed: int, *sizes: int, dim: int = 8) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(size, dim, generator=generator, dtype=torch.float64) for size in sizes]


# --- fld -----------------------------------------------------------------------------------------------------------

def _reference_fit(mus: torch.Tensor, x: torch.Tensor, order: torch.Tensor, epochs: int, lr: float,
                   batch_size: int) -> torch.Tensor:
    """marcojira/fld fld/MoG.py MoG.fit at ffbbf20 (autograd, in float64; the shuffle is `order`)."""
    dim, count = mus.shape[1], mus.shape[0]

    def pairwise(dists, log_sigmas):
        return -0.5 * dists / log_sigmas.exp() - (dim / 2) * log_sigmas - (dim / 2) * np.log(2 * np.pi)

    mean_x = x.mean(dim=0).unsqueeze(0)
    x = x[order]
    cached = torch.cdist(x, mus) ** 2
    log_sigmas = ((cached.min(dim=0).values + 1e-3) / dim).log().requires_grad_()
    origin_log_sigma = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    optim = torch.optim.Adam([log_sigmas, origin_log_sigma], lr=lr)
    losses = []
    for epoch in range(epochs):
        epoch_losses = []
        for i, batch in enumerate(x.split(batch_size)):
            optim.zero_grad()
            pairwise_lls = pairwise(cached[i * batch_size:(i + 1) * batch_size], log_sigmas) - np.log(count)
            origin_lls = pairwise((1 - 0.1) ** 2 * torch.cdist(batch, mean_x) ** 2, origin_log_sigma)
            loss = -torch.logsumexp(torch.cat([pairwise_lls, origin_lls], dim=1), dim=1).mean() / dim
            loss.backward()
            optim.step()
            with torch.no_grad():
                log_sigmas.data = log_sigmas.clamp(-40, 40).data
            epoch_losses.append(loss.item())
        losses.append(sum(epoch_losses) / len(epoch_losses))
        if epoch > 5 and max(abs(losses[-1] - losses[-j]) for j in range(1, 6)) < 5e-4:
            break
    return log_sigmas.detach()


def _reference_nll(x: torch.Tensor, mus: torch.Tensor, log_sigmas: torch.Tensor) -> float:
    """MoG.get_dim_adjusted_nlls(x).mean()."""
    dim = mus.shape[1]
    lls = (-0.5 * torch.cdist(x, mus) ** 2 / log_sigmas.exp() - (dim / 2) * log_sigmas
           - (dim / 2) * np.log(2 * np.pi) - np.log(len(mus))).logsumexp(1)
    return float((-lls / dim).mean())


def _reference_fld(train, test, gen, seed, gen_size, epochs=50, lr=0.5, batch_size=10_000) -> tuple[float, float]:
    """FLD.compute_metric (eval_feat 'test' with the baseline it computes, and 'gap'), with the random draws made
    in ganeval's documented order from one seeded generator (the package draws them from numpy's global state)."""
    generator = torch.Generator().manual_seed(seed)
    if len(gen) > gen_size:
        gen = gen[torch.randperm(len(gen), generator=generator)[:gen_size]]
    mean, std = test.mean(dim=0), test.std(dim=0)  # preprocess_feat: standardised by the test set
    train, test, gen = ((feat - mean) / std for feat in (train, test, gen))
    log_sigmas = _reference_fit(gen, train, torch.randperm(len(train), generator=generator), epochs, lr, batch_size)
    test_nll, train_nll = _reference_nll(test, gen, log_sigmas), _reference_nll(train, gen, log_sigmas)
    # get_baseline_nll: a mixture on a shuffled part of the training set, fitted to the rest
    shuffled = train[torch.randperm(len(train), generator=generator)]
    split = min(len(gen), len(train) // 2)
    base_sigmas = _reference_fit(shuffled[:split], shuffled[split:],
                                 torch.randperm(len(train) - split, generator=generator), epochs, lr, batch_size)
    baseline_nll = _reference_nll(test, shuffled[:split], base_sigmas)
    return (test_nll - baseline_nll) * 100, (train_nll - test_nll) * 100


@pytest.mark.parametrize("seed, gen_size, batch_size", [(0, 10_000, 10_000), (3, 90, 70)])
def test_fld_matches_the_reference_formulas(seed, gen_size, batch_size):
    train, test, gen = _draws(seed, 300, 120, 100)
    expected_fld, expected_gap = _reference_fld(train, test, gen, seed, gen_size, batch_size=batch_size)
    result = feature_likelihood_divergence(train, test, gen, seed=seed, generated_size=gen_size,
                                           settings=FitSettings(batch_size=batch_size))
    # deterministic: the same float64 arithmetic and random draws up to summation order (blocks, closed-form
    # gradient instead of autograd); measured differences 0 to 2.2e-14 in FLD and in the gap
    assert result.fld == pytest.approx(expected_fld, rel=1e-9, abs=1e-9)
    assert result.gap == pytest.approx(expected_gap, rel=1e-9, abs=1e-9)
    assert result.num_centres == min(100, gen_size) and 1 < result.epochs <= 50


def test_fld_blocks_and_cache_do_not_change_it():
    train, test, gen = _draws(1, 200, 80, 60)
    settings = FitSettings(epochs=10, batch_size=64)
    whole = feature_likelihood_divergence(train, test, gen, settings=settings)
    blocked = feature_likelihood_divergence(train, test, gen, settings=settings, memory=MemoryLimits(500, 0))
    single = feature_likelihood_divergence(train, test, gen, settings=settings,
                                           memory=MemoryLimits(cache_bytes=200 * 60 * 4))  # float32
    assert blocked.fld == pytest.approx(whole.fld, rel=1e-10, abs=1e-10)
    assert blocked.gap == pytest.approx(whole.gap, rel=1e-10, abs=1e-10)
    assert single.fld == pytest.approx(whole.fld, rel=1e-4, abs=1e-4)  # float32 distances: about 1e-7 per NLL
    # copies sit at distance exactly 0 whatever the block, so their collapsed variances do not depend on it either
    copies = [feature_likelihood_divergence(train, test, train[:60], settings=settings,
                                            memory=MemoryLimits(elements))
              for elements in (500, 2**23)]
    assert copies[0].fld == pytest.approx(copies[1].fld, rel=1e-12) and copies[0].fld > 1e6


def test_fld_copies_against_fresh_draws():
    train, test, fresh = _draws(2, 400, 200, 150, dim=16)
    copies = train[:150].clone()
    options = METRIC_FAMILIES["fld"].options()
    honest = METRIC_FAMILIES["fld"].compute(metric_context(train, test, fresh, options))
    memorised = METRIC_FAMILIES["fld"].compute(metric_context(train, test, copies, options))
    # fresh draws from the training distribution score about 0 (measured: -1.77 here), copies blow it up (4.3e16)
    assert abs(honest.values["fld"]) < 5
    assert memorised.values["fld"] > 1000 and memorised.values["fld"] > 100 * abs(honest.values["fld"])
    # the gap: a little below 0 for fresh draws, far below for copies
    assert -10 < honest.values["fld_gap"] < 2 and memorised.values["fld_gap"] < -1000
    assert memorised.diagnostics["num_centres"] == 150 and "memorised" in memorised.diagnostics["warning"]
    assert "warning" not in honest.diagnostics
    json.dumps(memorised.diagnostics, allow_nan=False)
    assert "150 generated samples fitted to 400 training rows" in METRIC_FAMILIES["fld"].status(
        metric_context(train, test, copies, options))


def test_fld_is_deterministic_given_the_seed():
    train, test, gen = _draws(4, 300, 100, 120)
    options = METRIC_FAMILIES["fld"].options(generated_size=80, epochs=8, batch_size=100)
    first, again = (METRIC_FAMILIES["fld"].compute(metric_context(train, test, gen, options, seed=5)) for _ in range(2))
    other = METRIC_FAMILIES["fld"].compute(metric_context(train, test, gen, options, seed=6))
    assert first.values == again.values and other.values != first.values


def test_fld_refusals():
    train, test, gen = _draws(5, 50, 20, 20)
    options = METRIC_FAMILIES["fld"].options()
    with pytest.raises(InputError, match="--train"):
        METRIC_FAMILIES["fld"].compute(metric_context(None, test, gen, options))
    constant = test.clone()
    constant[:, 3] = 1.0
    with pytest.raises(InputError, match="1 of 8 feature dimensions are constant over the reference"):
        feature_likelihood_divergence(train, constant, gen)
    with pytest.raises(InputError, match="--fld-epochs"):
        METRIC_FAMILIES["fld"].check(fld_family.Options(epochs=0), 100, 100)
    with pytest.raises(InputError, match="at least 2"):
        METRIC_FAMILIES["fld"].check(fld_family.Options(), 100, 1)


def test_fld_options_are_the_reference_constants():
    options = fld_family.Options()
    assert (options.generated_size, options.epochs, options.learning_rate, options.batch_size) == (
        fld_kernel.GENERATED_SIZE, fld_kernel.EPOCHS, fld_kernel.LEARNING_RATE, fld_kernel.BATCH_SIZE) == (
        10_000, 50, 0.5, 10_000)
    keys = {key.name: key.higher_is_better for key in METRIC_FAMILIES["fld"].keys}
    assert keys == {"fld": False, "fld_gap": True} and METRIC_FAMILIES["fld"].train


# --- mifid ---------------------------------------------------------------------------------------------------------

def _torchmetrics_mifid(train: torch.Tensor, generated: torch.Tensor, eps: float) -> float:
    """torchmetrics' MiFID with the training set as its real images; the identity as its feature extractor, so its
    FID and cosine distance read exactly these float64 features (and it returns float64)."""
    metric = MemorizationInformedFrechetInceptionDistance(feature=torch.nn.Identity(), cosine_distance_eps=eps)
    metric.update(train, real=True)
    metric.update(generated, real=False)
    return float(metric.compute())


def _mifid_sets(near: bool):
    train, fresh = _draws(6, 400, 300, dim=32)
    train = train + 0.5  # a common offset, as features have: d is about 0.4 for fresh draws
    if not near:
        return train, fresh + 0.5
    generator = torch.Generator().manual_seed(7)
    copies = train[torch.randperm(400, generator=generator)]  # a near-copy of every training row: d about 0.004
    return train, copies + 0.1 * torch.randn(400, 32, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("near", [False, True])
def test_mifid_matches_torchmetrics(near):
    train, generated = _mifid_sets(near)
    result = METRIC_FAMILIES["mifid"].compute(metric_context(train, train[:50], generated, mifid_family.Options()))
    expected = _torchmetrics_mifid(train, generated, 0.1)
    assert result.values["mifid"] == pytest.approx(expected, rel=1e-9)
    diagnostics = result.diagnostics
    assert (diagnostics["d"] < 0.1) == near and diagnostics["eps"] == 0.1
    assert diagnostics["d_thresholded"] == (diagnostics["d"] if near else 1.0)
    assert diagnostics["fid"] == pytest.approx(fid_of_rows(train, generated), rel=1e-10)
    assert result.values["mifid"] == pytest.approx(diagnostics["fid"] / (diagnostics["d_thresholded"] + 1e-14))
    json.dumps(diagnostics, allow_nan=False)
    assert "eps=0.1" in METRIC_FAMILIES["mifid"].status(metric_context(train, train[:50], generated, mifid_family.Options()))


def test_mifid_eps_option_and_direction():
    train, generated = _mifid_sets(near=True)
    strict = METRIC_FAMILIES["mifid"].compute(metric_context(train, train[:50], generated, mifid_family.Options(1e-4)))
    assert strict.diagnostics["d_thresholded"] == 1.0
    assert strict.values["mifid"] == pytest.approx(_torchmetrics_mifid(train, generated, 1e-4), rel=1e-9)
    # the minimum runs over generated rows for each training row: training rows with no near-copy count in full
    distances = mifid_kernel.nearest_cosine_distances(train, generated)
    assert len(distances) == 400 and float(distances.mean()) == pytest.approx(strict.diagnostics["d"], rel=1e-12)


def test_mifid_blocks_zero_rows_and_signs():
    train, generated = _mifid_sets(near=False)
    whole = mifid_kernel.nearest_cosine_distances(train, generated)
    assert torch.allclose(mifid_kernel.nearest_cosine_distances(train, generated, block=7), whole, rtol=0,
                          atol=1e-15)
    padded = torch.cat([train, torch.zeros(3, 32, dtype=torch.float64)])  # all-zero rows are left out (torchmetrics)
    assert torch.equal(mifid_kernel.nearest_cosine_distances(padded, -generated), whole)  # 1 - |cos|: signs ignored
    with pytest.raises(InputError, match="every generated feature row is zero"):
        mifid_kernel.nearest_cosine_distances(train, torch.zeros(4, 32))


def test_mifid_refusals():
    train, generated = _mifid_sets(near=False)
    with pytest.raises(InputError, match="--train"):
        METRIC_FAMILIES["mifid"].compute(metric_context(None, train, generated, mifid_family.Options()))
    with pytest.raises(InputError, match="--mifid-cosine-eps"):
        METRIC_FAMILIES["mifid"].check(mifid_family.Options(0.0), 100, 100)
    assert mifid_family.COSINE_EPS == mifid_kernel.COSINE_EPS == 0.1
    assert not math.isnan(METRIC_FAMILIES["mifid"].compute(
        metric_context(train, train[:50], generated, mifid_family.Options())).values["mifid"])


def test_kaggle_direction_is_the_minimum_per_generated_row():
    from ganeval.metrics.mifid import memorization_informed_fid

    generator = torch.Generator().manual_seed(4)
    training = torch.randn(300, 6, generator=generator, dtype=torch.float64)
    generated = torch.cat([training[:20], torch.randn(80, 6, generator=generator, dtype=torch.float64)])
    cosines = (torch.nn.functional.normalize(generated, dim=1) @ torch.nn.functional.normalize(training, dim=1).T)
    expected = (1 - cosines.abs().amax(1)).clamp_min(0).mean()
    result = memorization_informed_fid(1.0, training, generated, block=7)
    assert abs(result.generated_distance - float(expected)) < 1e-12
    assert result.diagnostics()["d_per_generated"] == result.generated_distance
