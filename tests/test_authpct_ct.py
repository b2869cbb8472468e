"""authpct and ct: parity with layer6ai-labs/dgm-eval's formulas (short numpy transcriptions below) and the
properties the papers state (copies score 0 / far below 0, fresh draws about 0 for C_T)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import mannwhitneyu
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from ganeval.errors import InputError
from ganeval.metrics import families  # noqa: F401  (registers the built-in families)
from ganeval.metrics.authpct import authpct_replicates
from ganeval.metrics.ct import ct_statistic, fit_cells, mann_whitney_u
from ganeval.metrics.registry import METRIC_FAMILIES, NoOptions

from .conftest import metric_context


def _ct_options(**changes):
    return METRIC_FAMILIES["ct"].options(**changes)


def _sets(seed: int = 0, dim: int = 16, copies: int = 60):
    """train 600, test 300, generated 300 of which `copies` are near-copies (and 10 exact copies) of training rows."""
    generator = torch.Generator().manual_seed(seed)
    train, test = torch.randn(600, dim, generator=generator), torch.randn(300, dim, generator=generator)
    fresh = torch.randn(300 - copies, dim, generator=generator)
    picked = torch.randperm(600, generator=generator)[:copies]
    near = train[picked] + 0.05 * torch.randn(copies, dim, generator=generator)
    near[:10] = train[picked[:10]]
    return train.double(), test.double(), torch.cat([fresh, near]).double()


# --- authpct -------------------------------------------------------------------------------------------------------

def _dgm_eval_authpct(train: np.ndarray, generated: np.ndarray) -> tuple[float, np.ndarray]:
    """Transcription of dgm-eval dgm_eval/metrics/authpct.py (compute_authpct), in float64 numpy."""
    real = np.sqrt(((train[:, None] - train[None]) ** 2).sum(-1))
    np.fill_diagonal(real, np.inf)
    gen = np.sqrt(((train[:, None] - generated[None]) ** 2).sum(-1))
    real_min, gen_min, gen_idx = real.min(axis=0), gen.min(axis=0), gen.argmin(axis=0)
    authen = real_min[gen_idx] < gen_min
    return 100 * authen.sum() / len(authen), authen


def test_authpct_matches_dgm_eval():
    """float32 rows as extractors give them; a duplicated training row (its nearest other row at distance 0)."""
    train, test, generated = (rows.float() for rows in _sets())
    train[7] = train[3]
    generated[0] = train[3] + 0.01
    expected, flags = _dgm_eval_authpct(train.double().numpy(), generated.double().numpy())
    result = METRIC_FAMILIES["authpct"].compute(metric_context(train, test, generated, NoOptions()))
    assert abs(result.values["authpct"] - expected) < 1e-9
    assert result.diagnostics["inauthentic"] == int((~flags).sum())
    assert flags[0] and 0 < expected < 100 and result.diagnostics["inauthentic"] >= 10  # the exact copies at least


def test_authpct_replicates_are_weighted_means():
    train, test, generated = _sets(seed=1)
    _, flags = _dgm_eval_authpct(train.numpy(), generated.numpy())
    weights = torch.stack([torch.ones(300), torch.bincount(torch.randint(300, (300,)), minlength=300).double()])
    result = METRIC_FAMILIES["authpct"].compute(metric_context(train, test, generated, NoOptions()), weights)
    replicates = result.replicates["authpct"]
    assert abs(float(replicates[0]) - result.values["authpct"]) < 1e-9
    assert abs(float(replicates[1]) - 100 * float(weights[1] @ torch.from_numpy(flags).double()) / 300) < 1e-9
    assert torch.equal(authpct_replicates(torch.from_numpy(flags), weights), replicates)


def test_authpct_of_the_training_set_is_zero():
    train, test, _ = _sets()
    result = METRIC_FAMILIES["authpct"].compute(metric_context(train, test, train.clone(), NoOptions()))
    assert result.values["authpct"] == 0.0 and result.diagnostics["inauthentic"] == 600


# --- ct ------------------------------------------------------------------------------------------------------------

def _dgm_eval_ct(train, test, generated, train_cells, test_cells, generated_cells, tau) -> float:
    """Transcription of dgm-eval dgm_eval/metrics/ct.py (Zu, Zu_cells, C_T) on given cells, in numpy/sklearn/scipy."""
    m, n, k = len(generated), len(test), train_cells.max() + 1
    generated_share = np.bincount(generated_cells, minlength=k) / m
    test_share = np.bincount(test_cells, minlength=k) / n
    keep = generated_share > tau
    scores = np.zeros(k)
    for cell in range(k):
        p_n, q_m, t = test[test_cells == cell], generated[generated_cells == cell], train[train_cells == cell]
        if len(q_m) == 0:
            continue
        nearest = NearestNeighbors(n_neighbors=1).fit(t)
        l_q, l_p = nearest.kneighbors(q_m)[0], nearest.kneighbors(p_n)[0]
        u = mannwhitneyu(l_q, l_p, alternative="less")[0].item()
        mean = len(p_n) * len(q_m) / 2 - 0.5  # dgm-eval's "continuity correction"
        scores[cell] = (u - mean) / np.sqrt(len(p_n) * len(q_m) * (len(p_n) + len(q_m) + 1) / 12)
    return test_share[keep].dot(scores[keep]) / np.sum(test_share[keep])


@pytest.mark.parametrize("pca_dims", [64, 8])  # 16 features: unprojected, then projected to 8 components
def test_ct_matches_dgm_eval_on_the_same_cells(pca_dims):
    train, test, generated = _sets(seed=2)
    cells = fit_cells(train, 3, pca_dims, seed=0)
    sides = [cells.project(rows) for rows in (train, test, generated)]
    labels = [cells.assign(rows) for rows in sides]
    value, report = ct_statistic(*sides, *labels, 3)
    expected = _dgm_eval_ct(*(side.numpy() for side in sides), *(label.numpy() for label in labels), tau=20 / 300)
    assert abs(value - expected) < 1e-9 and value < -1  # the near-copies pull it below 0
    result = METRIC_FAMILIES["ct"].compute(metric_context(train, test, generated, _ct_options(pca_dims=pca_dims)))
    assert result.values["ct"] == pytest.approx(value, abs=1e-9)
    assert [cell["z"] for cell in result.diagnostics["cells"]] == pytest.approx([cell["z"] for cell in report])


def test_ct_matches_dgm_eval_end_to_end_on_clustered_features():
    """80 features (projected to 64 components), three clusters every k-means start finds: dgm-eval's whole
    compute_CTscore (sklearn PCA and KMeans) against the family."""
    from sklearn.cluster import KMeans

    generator = torch.Generator().manual_seed(9)
    blobs = 8 * torch.randn(3, 80, generator=generator)

    def draw(count: int) -> torch.Tensor:
        return (blobs[torch.arange(count) % 3] + torch.randn(count, 80, generator=generator)).double()

    train, test, fresh = draw(600), draw(300), draw(200)
    generated = torch.cat([fresh, train[:100] + 0.01 * torch.randn(100, 80, generator=generator).double()])
    pca = PCA(n_components=64).fit(train.numpy())
    sides = [pca.transform(rows.numpy()) for rows in (train, test, generated)]
    kmeans = KMeans(n_clusters=3, n_init=10, random_state=0).fit(sides[0])
    expected = _dgm_eval_ct(*sides, *(kmeans.predict(side) for side in sides), tau=20 / 300)
    result = METRIC_FAMILIES["ct"].compute(metric_context(train, test, generated, _ct_options()))
    assert abs(result.values["ct"] - expected) < 1e-9 and result.diagnostics["pca_dims"] == 64


def test_ct_projection_spans_sklearns_principal_components():
    train, test, _ = _sets(seed=3)
    cells = fit_cells(train, 3, 8, seed=0)
    ours, theirs = cells.project(test).numpy(), PCA(n_components=8).fit(train.numpy()).transform(test.numpy())
    distances = lambda rows: ((rows[:, None] - rows[None]) ** 2).sum(-1)  # noqa: E731
    assert np.abs(distances(ours) - distances(theirs)).max() < 1e-9


def test_ct_cells_find_separated_clusters_as_sklearn_kmeans():
    from sklearn.cluster import KMeans

    generator = torch.Generator().manual_seed(4)
    centres = torch.tensor([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]]).repeat_interleave(100, dim=0)
    train = (centres + torch.randn(300, 2, generator=generator)).double()
    ours = fit_cells(train, 3, 64, seed=0).assign(train).numpy()
    theirs = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(train.numpy())
    assert adjusted_rand_score(ours, theirs) == 1.0


def test_mann_whitney_u_matches_scipy_with_ties():
    generator = torch.Generator().manual_seed(5)
    first, second = torch.randint(0, 12, (57,), generator=generator), torch.randint(0, 12, (41,), generator=generator)
    expected = mannwhitneyu(first.numpy(), second.numpy(), alternative="less").statistic
    assert mann_whitney_u(first.double(), second.double()) == expected
    assert mann_whitney_u(torch.zeros(3), torch.ones(4)) == 0.0


def test_ct_of_exact_copies_one_cell():
    """m = n = 1,000, every generated sample a training row: U = 0, Z = -(mn/2 - 1/2) / sqrt(mn(m+n+1)/12)."""
    generator = torch.Generator().manual_seed(6)
    train, test = torch.randn(1000, 8, generator=generator), torch.randn(1000, 8, generator=generator)
    result = METRIC_FAMILIES["ct"].compute(metric_context(train, test, train.clone(), _ct_options(cells=1)))
    expected = -(1000 * 1000 / 2 - 0.5) / math.sqrt(1000 * 1000 * 2001 / 12)
    assert result.values["ct"] == pytest.approx(expected, abs=1e-9) and round(expected, 2) == -38.72


def test_ct_of_the_training_set_and_of_fresh_draws():
    generator = torch.Generator().manual_seed(7)
    train, test, fresh = (torch.randn(count, 8, generator=generator) for count in (1000, 500, 500))
    copied = METRIC_FAMILIES["ct"].compute(metric_context(train, test, train[:500].clone(), _ct_options()))
    assert copied.values["ct"] < -15
    assert METRIC_FAMILIES["authpct"].compute(metric_context(train, test, train[:500].clone(), NoOptions())).values[
        "authpct"] == 0.0
    held_out = METRIC_FAMILIES["ct"].compute(metric_context(train, test, fresh, _ct_options()))
    assert abs(held_out.values["ct"]) < 3 and held_out.diagnostics["kept_cells"] == 3


def test_ct_reports_a_cell_without_test_rows():
    generator = torch.Generator().manual_seed(8)
    blobs = torch.tensor([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]])

    def draw(count: int, which: list[int]) -> torch.Tensor:
        centres = blobs[torch.tensor(which)].repeat(count // len(which), 1)
        return centres + torch.randn(len(centres), 2, generator=generator)

    train, test, generated = draw(600, [0, 1, 2]), draw(300, [0, 1]), draw(300, [0, 1, 2])
    result = METRIC_FAMILIES["ct"].compute(metric_context(train, test, generated, _ct_options()))
    cells = result.diagnostics["cells"]
    empty = [cell for cell in cells if cell["n_test"] == 0]
    assert len(empty) == 1 and empty[0]["z"] is None and not empty[0]["kept"]
    assert empty[0]["reason"] == "no test rows" and empty[0]["n_generated"] == 100
    assert math.isfinite(result.values["ct"]) and result.diagnostics["kept_cells"] == 2


def test_without_train_both_refuse_naming_train():
    train, test, generated = _sets()
    for name, options in (("authpct", NoOptions()), ("ct", _ct_options())):
        with pytest.raises(InputError, match="--train"):
            METRIC_FAMILIES[name].compute(metric_context(None, test, generated, options))


def test_ct_refuses_what_it_cannot_compute():
    check = METRIC_FAMILIES["ct"].check
    with pytest.raises(InputError, match="more than 20 generated"):
        check(_ct_options(), 20, 1000)
    with pytest.raises(InputError, match="--ct-tau"):
        check(_ct_options(tau=1.0), 1000, 1000)
    with pytest.raises(InputError, match="--ct-cells"):
        check(_ct_options(cells=0), 1000, 1000)
    check(_ct_options(), 21, 1000)
    train, test, generated = _sets()
    with pytest.raises(InputError, match="fewer than its 3 cells"):
        METRIC_FAMILIES["ct"].compute(metric_context(train[:2], test, generated, _ct_options()))


def test_registration():
    authpct, ct = METRIC_FAMILIES["authpct"], METRIC_FAMILIES["ct"]
    assert authpct.train and ct.train
    assert authpct.keys[0].higher_is_better is True and authpct.keys[0].bounds == (0.0, 100.0)
    assert ct.keys[0].higher_is_better is None and ct.keys[0].interval is None
