"""C_T, the data-copying test of Meehan, Chaudhuri & Dasgupta (AISTATS 2020); matches layer6ai-labs/dgm-eval
`dgm_eval/metrics/ct.py` (taken there from casey-meehan/data-copying `data_copying_tests.py`).

Cells: the training rows, projected on their top `pca_dims` principal components when wider (dgm-eval: 64), are
split into k-means cells (dgm-eval: 3, the best of 10 starts); every set is assigned to the nearest centre. In cell
pi, L(x) is the distance from x to its nearest training row *of that cell*, in the projected space, and
  Z_U(pi) = (U - (n m / 2 - 1/2)) / sqrt(n m (n + m + 1) / 12)
with U the Mann-Whitney statistic of L(generated in pi) (m rows) against L(test in pi) (n rows): the pairs where
the generated distance is larger, plus half the ties (scipy.stats.mannwhitneyu's, average ranks). The reference
subtracts 1/2 from the mean as its "continuity correction" (a constant shift of + 1/(2 sd), whatever the sign)
and makes no tie correction to the variance; both are kept. C_T = sum of P_n(pi) Z_U(pi) / sum of P_n(pi) over the
cells holding a share of the generated samples strictly above tau (dgm-eval: tau = 20 / m, m the number of
generated samples), P_n(pi) the test split's share. About N(0, 1) without copying, far below 0 when the generator
copies (exact copies, m = n = 1,000, one cell: -38.72), above 0 when it underfits.

Where the reference raises (a cell without test or training rows), this reports the cell and leaves it out; a cell
without test rows has weight P_n = 0, so leaving it out changes nothing. Differences from dgm-eval: the principal
components are exact (eigenvectors of the training covariance, where sklearn's PCA uses a randomised SVD on large
sets) and k-means is seeded (dgm-eval's KMeans is unseeded), so the same inputs give the same cells.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..arrays import ArrayLike, as_matrix, check_same_dim, pick_device
from ..errors import InputError
from .modes import kmeans, nearest_centre
from .training_set import search

KMEANS_STARTS = 10  # dgm-eval: KMeans(n_clusters=3, n_init=10), the lowest inertia of 10 starts
MIN_CELL_SAMPLES = 20  # dgm-eval's tau = 20 / m: a cell counts with more than 20 generated samples
PROJECT_BLOCK = 8192  # rows projected at a time (a float64 copy of 60,000 x 2,048 rows would be 1 GB)


@dataclass(frozen=True)
class Cells:
    """The C_T partition fitted on the training rows: the projection (`mean`, `basis`: d x pca_dims, None when the
    rows are not projected) and the k-means `centres` in the projected space."""

    mean: torch.Tensor
    basis: torch.Tensor | None
    centres: torch.Tensor

    def project(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows in the cells' space, float64 (centred and projected where a basis is set)."""
        return project(rows, self.mean, self.basis)

    def assign(self, projected: torch.Tensor) -> torch.Tensor:
        """The cell of each projected row (its nearest centre)."""
        return nearest_centre(projected, self.centres.to(projected.device))[1]


def project(rows: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
    """(rows - mean) @ basis in float64, a block of rows at a time; the rows as float64 when `basis` is None."""
    if basis is None:
        return rows.double()
    return torch.cat([(block.to(basis.device, torch.float64) - mean) @ basis for block in rows.split(PROJECT_BLOCK)])


def fit_cells(train: torch.Tensor, cells: int, pca_dims: int, seed: int, mean: torch.Tensor | None = None,
              covariance: torch.Tensor | None = None) -> Cells:
    """PCA of the training rows to `pca_dims` when wider, then the best of KMEANS_STARTS seeded k-means starts.

    `mean` and `covariance` (the training set's streaming moments, where at hand) spare a pass over the rows; the
    principal axes are the covariance's top eigenvectors (their signs do not change any distance)."""
    if not 1 <= cells <= len(train):
        raise InputError(f"ct: {cells} cells need at least as many training rows, got {len(train)}")
    device = train.device
    mean = (train.double().mean(0) if mean is None else mean).to(device, torch.float64)
    basis = None
    if train.shape[1] > pca_dims:
        covariance = torch.cov(train.double().T) if covariance is None else covariance.to(device, torch.float64)
        basis = torch.linalg.eigh(covariance)[1][:, -pca_dims:]  # eigh sorts ascending: the last are the top axes
    points = project(train, mean, basis)
    best, best_inertia = None, math.inf
    for start in range(KMEANS_STARTS):
        centres = kmeans(points, cells, seed=seed + start)
        inertia = float(nearest_centre(points, centres)[0].sum())
        if inertia < best_inertia:
            best, best_inertia = centres, inertia
    return Cells(mean, basis, best)


def default_tau(generated: int) -> float:
    """dgm-eval's tau: 20 / m, so a cell counts when it holds more than 20 of the m generated samples."""
    return MIN_CELL_SAMPLES / generated


def mann_whitney_u(first: torch.Tensor, second: torch.Tensor) -> float:
    """The Mann-Whitney U of `first`: pairs (a in first, b in second) with a > b, plus half the ties; computed as
    the rank sum of `first` (average ranks for ties) less len(first)(len(first) + 1)/2, as scipy's statistic.

    >>> mann_whitney_u(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 0.0]))
    4.5
    """
    values = torch.cat([first.double(), second.double().to(first.device)])
    ordered, order = values.sort()
    _, group, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    last_rank = counts.cumsum(0).double()  # 1-based rank of each group of equal values' last member
    average_rank = (last_rank - (counts.double() - 1) / 2)[group]
    rank_sum = float(average_rank[order < len(first)].sum())  # half-integers: exact in float64
    return rank_sum - len(first) * (len(first) + 1) / 2


def z_u(u: float, generated: int, test: int) -> float:
    """Z-scored U under the null (the reference's "continuity correction": 1/2 subtracted from the mean)."""
    mean = generated * test / 2 - 0.5
    return (u - mean) / math.sqrt(generated * test * (generated + test + 1) / 12)


def ct_statistic(train: torch.Tensor, test: torch.Tensor, generated: torch.Tensor, train_cells: torch.Tensor,
                 test_cells: torch.Tensor, generated_cells: torch.Tensor, cells: int,
                 tau: float | None = None) -> tuple[float, list[dict]]:
    """C_T of rows already in the cells' space with their cell labels (0..cells-1), and a report per cell:
    {cell, n_test, n_generated, n_train, z (None where not computed), kept, reason (None when kept)}.

    `tau` None: 20 / m as dgm-eval. NaN when no kept cell has test rows (nothing to weigh)."""
    tau = default_tau(len(generated)) if tau is None else tau
    report, weighted, total = [], 0.0, 0.0
    for cell in range(cells):
        in_train, in_test, in_generated = train_cells == cell, test_cells == cell, generated_cells == cell
        counts = {"n_test": int(in_test.sum()), "n_generated": int(in_generated.sum()), "n_train": int(in_train.sum())}
        z = None
        if counts["n_train"] and counts["n_test"] and counts["n_generated"]:
            z = _cell_z(train[in_train], test[in_test], generated[in_generated])
        share, weight = counts["n_generated"] / len(generated), counts["n_test"] / len(test)
        reason = _skip_reason(counts, share, tau)
        report.append({"cell": cell, **counts, "z": z, "kept": reason is None, "reason": reason})
        if reason is None:
            weighted, total = weighted + weight * z, total + weight
    return (weighted / total if total > 0 else math.nan), report


def _cell_z(train: torch.Tensor, test: torch.Tensor, generated: torch.Tensor) -> float:
    """Z_U of one cell: L(x) = distance to the cell's nearest training row (ranked squared: the same order)."""
    distances = search(torch.cat([test, generated.to(test.device)]), train, 1, test.device)[0][:, 0]
    return z_u(mann_whitney_u(distances[len(test):], distances[:len(test)]), len(generated), len(test))


def _skip_reason(counts: dict, share: float, tau: float) -> str | None:
    if counts["n_train"] == 0:
        return "no training rows"
    if counts["n_test"] == 0:
        return "no test rows"
    if not share > tau:  # dgm-eval: Qm_of_pi > tau, strictly
        return f"generated share {share:.4g} not above tau {tau:.4g}"
    return None


def ct(train: ArrayLike, test: ArrayLike, generated: ArrayLike, *, cells: int = 3, pca_dims: int = 64,
       tau: float | None = None, seed: int = 0,
       moments: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[float, dict]:
    """C_T of generated rows against the training rows, with the test split as P_n; returns (C_T, diagnostics).
    Computed on the training rows' device; `moments`: the training rows' (mean, covariance), where at hand.

    >>> import torch
    >>> rows = torch.randn(300, 4, generator=torch.Generator().manual_seed(0))
    >>> value, _ = ct(rows[:200], rows[200:], rows[:100], cells=1)  # copies of training rows
    >>> value < -10
    True
    """
    device = pick_device(train)
    train = as_matrix(train, "training features", dtype=None)
    test = as_matrix(test, "test features", device=device, dtype=None, min_rows=1)
    generated = as_matrix(generated, "generated features", device=device, dtype=None, min_rows=1)
    check_same_dim(train, generated, ("training", "generated"))
    check_same_dim(train, test, ("training", "test"))
    partition = fit_cells(train, cells, pca_dims, seed, *(moments or (None, None)))
    sides = [partition.project(rows) for rows in (train, test, generated)]
    labels = [partition.assign(rows) for rows in sides]
    tau = default_tau(len(generated)) if tau is None else tau
    value, report = ct_statistic(*sides, *labels, cells, tau)
    diagnostics = {"cells": report, "tau": tau, "kept_cells": sum(cell["kept"] for cell in report),
                   "pca_dims": None if partition.basis is None else pca_dims}
    return value, diagnostics
