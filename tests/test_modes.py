"""Mode coverage: mixture modes (VEEGAN/PacGAN), classifier-labelled modes, NDB; constructed cases and real data."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm

from ganeval.data import Samples, load_source
from ganeval.data.mixtures import MIXTURES
from ganeval.data.stacked import triple_index
from ganeval.errors import InputError
from ganeval import score
from ganeval.evaluate import MetricOptions
from ganeval.features import create
from ganeval.metrics.modes import (jensen_shannon, kmeans, label_modes, mixture_modes, ndb, nearest_centre,
                                   two_proportion_test)

from .conftest import needs_fmnist

# P(|z| < 3) for a 2D standard normal: exact samples are "high quality" this often (chi distribution, 2 dof)
EXACT_HIGH_QUALITY = 1 - math.exp(-4.5)


@pytest.mark.parametrize("name", ["grid25", "ring8"])
def test_exact_mixture_samples_cover_every_mode(name):
    mixture = MIXTURES[name]()
    result = mixture_modes(mixture.sample(2500, seed=1), mixture.means, mixture.std)
    modes = len(mixture.means)
    assert result["modes"] == modes and sum(result["mode_counts"]) == round(result["high_quality"] * 2500)
    standard_error = math.sqrt(EXACT_HIGH_QUALITY * (1 - EXACT_HIGH_QUALITY) / 2500)
    assert abs(result["high_quality"] - EXACT_HIGH_QUALITY) < 3 * standard_error
    assert result["reverse_kl"] < 0.02


@pytest.mark.parametrize("name", ["grid25", "ring8"])
def test_one_mode_and_no_mode(name):
    mixture = MIXTURES[name]()
    collapsed = mixture.means[3] + mixture.std * torch.randn(2500, 2, dtype=torch.float64,
                                                             generator=torch.Generator().manual_seed(0)) / 10
    result = mixture_modes(collapsed, mixture.means, mixture.std)
    assert result["modes"] == 1 and result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(len(mixture.means)), abs=1e-6)
    far = torch.full((2500, 2), 50.0, dtype=torch.float64)
    result = mixture_modes(far, mixture.means, mixture.std)
    assert result["modes"] == 0 and result["high_quality"] == 0.0 and math.isnan(result["reverse_kl"])


def test_high_quality_threshold_is_three_standard_deviations():
    mixture = MIXTURES["grid25"]()
    inside = mixture.means[:1] + torch.tensor([[2.99 * mixture.std, 0.0]], dtype=torch.float64)
    outside = mixture.means[:1] + torch.tensor([[0.0, 3.01 * mixture.std]], dtype=torch.float64)
    assert mixture_modes(torch.cat([inside, outside]), mixture.means, mixture.std)["high_quality"] == 0.5


def test_label_modes_kl_matches_entropy_and_scipy():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20 + [3] * 0)
    result = label_modes(labels, 4, reference_labels=torch.tensor([0, 1, 2, 3] * 25))
    p = np.array([0.5, 0.3, 0.2, 0.0])
    entropy = -sum(x * math.log(x) for x in p if x > 0)
    assert result["modes"] == 3 and result["mode_counts"] == [50, 30, 20, 0]
    assert result["kl_uniform"] == pytest.approx(math.log(4) - entropy, abs=1e-12)
    assert result["kl_reference"] == pytest.approx(math.log(4) - entropy, abs=1e-12)  # the reference is uniform
    with pytest.raises(InputError, match="labels must lie in"):
        label_modes(torch.tensor([0, 4]), 4)


def test_ndb_statistics_match_the_reference_formulas():
    rng = np.random.default_rng(0)
    p1, p2 = rng.dirichlet(np.ones(30)), rng.dirichlet(np.ones(30))
    z = (p1 - p2) / np.sqrt(((p1 * 5000 + p2 * 800) / 5800) * (1 - (p1 * 5000 + p2 * 800) / 5800) * (1 / 5000 + 1 / 800))
    ours = two_proportion_test(torch.from_numpy(p1), 5000, torch.from_numpy(p2), 800).numpy()
    np.testing.assert_allclose(ours, 2 * norm.cdf(-np.abs(z)), rtol=1e-10, atol=1e-300)
    assert jensen_shannon(torch.from_numpy(p1), torch.from_numpy(p2)) == pytest.approx(jensenshannon(p1, p2) ** 2, rel=1e-10)


def test_kmeans_finds_separated_clusters_and_is_seeded():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]], dtype=torch.float64)
    points = centres.repeat_interleave(200, 0) + 0.1 * torch.randn(800, 2, dtype=torch.float64,
                                                                   generator=torch.Generator().manual_seed(0))
    found = kmeans(points, 4, seed=3)
    assert torch.cdist(found, centres).min(dim=0).values.max() < 0.05
    assert torch.equal(found, kmeans(points, 4, seed=3))


def _plain_kmeans(points, k, seed=0, iterations=100, block=8192):
    """ganeval's K-means as it was before issue 36 (2 x points copied per centre and per block of rows), kept as the
    reference of the bins: (centres, assignments, how many clusters were re-seeded after emptying)."""
    points = points.double()
    generator = torch.Generator().manual_seed(seed)

    def nearest(centres):
        distances, indices = [], []
        for rows in points.split(block):
            squared = (rows**2).sum(1, keepdim=True) - 2 * rows @ centres.T + (centres**2).sum(1)
            value, index = squared.min(1)
            distances.append(value.clamp_min(0))
            indices.append(index)
        return torch.cat(distances), torch.cat(indices)

    norms = (points**2).sum(1)
    first = int(torch.randint(len(points), (1,), generator=generator))
    chosen = [points[first]]
    closest = (norms - 2 * points @ points[first] + points[first] @ points[first]).clamp_min(0)
    for _ in range(1, k):
        weights = closest if float(closest.sum()) > 0 else torch.ones(len(points), dtype=torch.float64)
        centre = points[int(torch.multinomial(weights, 1, generator=generator))]
        chosen.append(centre)
        closest = torch.minimum(closest, (norms - 2 * points @ centre + centre @ centre).clamp_min(0))
    centres, assignment, emptied = torch.stack(chosen), None, 0
    for _ in range(iterations):
        distances, new_assignment = nearest(centres)
        if assignment is not None and torch.equal(new_assignment, assignment):
            break
        assignment = new_assignment
        sums = torch.zeros_like(centres).index_add_(0, assignment, points)
        sizes = torch.bincount(assignment, minlength=k)
        empty = (sizes == 0).nonzero().flatten()
        emptied += len(empty)
        for index, far in zip(empty.tolist(), distances.topk(len(empty)).indices.tolist()):
            sums[index], sizes[index] = points[far], 1
        centres = sums / sizes[:, None]
    return centres, nearest(centres)[1], emptied


def _duplicated_points():
    """Three points 30 times each and 20 near their middle: k-means++ runs out of distinct points, so clusters empty."""
    corners = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]], dtype=torch.float64).repeat_interleave(30, 0)
    return torch.cat([corners, 2.5 + 0.1 * torch.randn(20, 2, dtype=torch.float64,
                                                           generator=torch.Generator().manual_seed(0))])


@pytest.mark.parametrize("case", ["gaussian, 3 blocks", "float32, 9 clusters", "3 iterations", "emptied clusters"])
def test_kmeans_bins_are_the_plain_loops_to_the_bit(case):
    generator = torch.Generator().manual_seed(11)
    k, options = 40, {}
    if case == "gaussian, 3 blocks":  # 20,000 rows: two whole blocks of 8,192 and a remainder; d odd
        points = torch.randn(20_000, 33, dtype=torch.float64, generator=generator) * torch.linspace(0.5, 2, 33)
    elif case == "float32, 9 clusters":
        centres = 6 * torch.randn(9, 16, generator=generator)
        points = (centres.repeat_interleave(400, 0) + torch.randn(3600, 16, generator=generator)).float()
        k = 12
    elif case == "3 iterations":
        points, options = torch.randn(5000, 20, dtype=torch.float64, generator=generator) + 3, {"iterations": 3}
    else:
        points, k = _duplicated_points(), 30
    expected, assignment, emptied = _plain_kmeans(points, k, seed=4, **options)
    assert emptied > 0 if case == "emptied clusters" else True
    centres = kmeans(points, k, seed=4, **options)
    assert torch.equal(centres, expected)
    assert torch.equal(nearest_centre(points.double(), centres)[1], assignment)
    if case == "gaussian, 3 blocks":  # NDB's bins of other samples too, and its values
        samples = torch.randn(9000, 33, dtype=torch.float64, generator=generator)
        assert torch.equal(nearest_centre(samples, centres)[1], _plain_nearest(samples, expected))


def _plain_nearest(points, centres, block=8192):
    return torch.cat([((rows**2).sum(1, keepdim=True) - 2 * rows @ centres.T + (centres**2).sum(1)).min(1).indices
                      for rows in points.split(block)])


def test_ndb_sees_a_missing_cluster():
    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(20000, 8, dtype=torch.float64, generator=generator)
    same = torch.randn(5000, 8, dtype=torch.float64, generator=generator)
    assert ndb(reference, same, k=50)["ndb_fraction"] <= 0.1
    missing = same[same[:, 0] > -0.5]  # about a third of the mass gone
    worse = ndb(reference, missing, k=50)
    assert worse["ndb_fraction"] >= 0.2 and worse["ndb_js"] > 5 * ndb(reference, same, k=50)["ndb_js"]


def test_score_picks_the_mixture_statistic_and_records_the_histogram():
    record = score("grid25", "grid25", "modes,ndb", seed=5, progress=False, use_cache=False,
                   options=MetricOptions(ndb_bins=25))
    assert record["modes"] == 25 and record["high_quality"] > 0.98 and record["ndb_fraction"] <= 0.2
    assert record["diagnostics"]["modes"]["source"] == "mixture grid25"
    assert len(record["diagnostics"]["modes"]["mode_counts"]) == 25
    assert len(record["diagnostics"]["ndb"]["bin_proportions"]) == 25


def test_modes_need_a_mixture_or_class_logits():
    points = Samples(torch.randn(100, 2, dtype=torch.float64), "points")
    with pytest.raises(InputError, match="needs a ring8/grid25 reference or an extractor with class logits"):
        score(points, points, "modes", progress=False, use_cache=False)


def test_empty_histograms_are_null_in_records():
    far = Samples(torch.full((100, 2), 50.0, dtype=torch.float64), "far")
    record = score(far, "ring8", "modes", progress=False, use_cache=False)
    assert record["modes"] == 0 and record["reverse_kl"] is None


@pytest.fixture(scope="module")
def stacked_test_predictions() -> dict:
    """The shipped classifier on the 26,000 Stacked Fashion-MNIST test images, extracted once for the two tests
    below: the 1,000-way triple logits' argmax, and each channel's class (the argmax of its 10 logits)."""
    stacked = load_source("stacked-fashion-mnist:test")
    extractor = create("fmnist-classifier", device="cpu")
    triples, channels = [], []
    for batch in stacked.data.split(64):  # larger batches run slower on a CPU (2,000: 1.5x the time)
        outputs = extractor(batch)
        triples.append(outputs["logits"].argmax(1))
        channels.append(outputs["channel_logits"].argmax(-1))
    return {"count": len(stacked), "triples": torch.cat(triples), "channels": torch.cat(channels)}


@needs_fmnist
def test_stacked_test_images_cover_990_modes_with_small_kl(stacked_test_predictions):
    result = label_modes(stacked_test_predictions["triples"], 1000)
    assert stacked_test_predictions["count"] == 26000 and result["modes"] >= 990 and result["kl_uniform"] < 0.1


@needs_fmnist
def test_stacked_test_images_cover_990_of_1000_triples(stacked_test_predictions):
    """The same coverage read from each channel's class (the classifier's per-channel path)."""
    modes = triple_index(stacked_test_predictions["channels"]).unique()
    assert stacked_test_predictions["count"] == 26000 and len(modes) >= 990


@needs_fmnist
def test_fashion_mnist_classes_and_ndb_of_the_test_split():
    """NDB, K = 100, on classifier features: the test split matches the train bins; without one class it does not."""
    test = load_source("fashion-mnist:test")
    full = score(test, "fashion-mnist:train", "modes,ndb", progress=False)
    assert full["modes"] == 10 and full["kl_reference"] < 0.01
    assert full["ndb_fraction"] <= 0.1 and full["ndb_js"] < 0.01
    keep = test.labels != 0
    without_tshirts = Samples(test.data[keep], "test without class 0", test.labels[keep])
    partial = score(without_tshirts, "fashion-mnist:train", "modes,ndb", progress=False)
    assert partial["provenance"]["reference_from_cache"]
    assert partial["ndb_fraction"] >= 0.1 and partial["ndb_js"] >= 5 * full["ndb_js"]
    assert partial["kl_reference"] > full["kl_reference"]
