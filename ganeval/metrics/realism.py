"""Realism score, Kynkaanniemi, Karras, Laine, Lehtinen & Aila, NeurIPS 2019 ("Improved precision and recall metric
for assessing generative models", section 5), and the outlier-robust precision of its pruned reference balls.

Reference code followed: kynkaat/improved-precision-and-recall-metric `precision_recall.py` (ManifoldEstimator) and
`experiments.py` (compute_stylegan_realism). With r_i the distance from reference row x_i to its k-th nearest other
reference row (k = 3), the balls whose radius exceeds the median radius are pruned, and a generated row g scores

    R(g) = max over kept i of r_i / ||g - x_i||      (Euclidean, not squared: the paper's equation)

R >= 1 iff g lies in a kept ball. A generated row identical to a kept reference row gets R = +inf (a zero distance);
a kept ball of radius 0 (k duplicates of its centre) adds nothing, as it contains nothing. Differences from the code:
- its evaluate() (precision_recall.py:134) returns max_i D_i / (|g - x_i|^2 + eps), D the *squared* radii: the
  square of the paper's R, regularised by eps = 1e-5. We return the paper's R with no eps; R >= 1 exactly when the
  code's score is (eps aside), so the share above 1 and the ranking of samples agree.
- pruning (experiments.py:146, precision_recall.py:105-106) sets the radius of a ball above np.percentile(D, 50) to
  0 rather than dropping it; a zero ball adds 0 to the maximum, so the scores agree.
- NVlabs/stylegan2 `metrics/precision_recall.py:125` has a different score (the radius of the *nearest* reference
  row over the squared distance to it, unpruned, in float16); not followed.

Outlier-robust precision: the share of generated rows strictly inside at least one kept ball, |g - x_i| < r_i, with
the strict `<` and exact tie handling of prdc precision (ganeval.metrics.prdc; the reference code's ManifoldEstimator
uses `<=`, which differs only for a row exactly on a boundary). It is Kynkaanniemi's median-radius rule rather than
P-precision (Park & Kim, ICCV 2023, "Probabilistic precision and recall measures"): the same balls and the same
k-NN radii prdc already caches for the reference, and no kernel bandwidth to choose, where P-precision needs its
own width. The cost: pruning drops half the balls, the legitimate large ones of sparse regions (the tails)
included, so it reads well below prdc precision on clean data. Generated and reference both 1,000 draws of
N(0, I), k = 3 for both: prdc precision 0.880 and robust precision 0.499 at d = 8, 0.597 and 0.374 at d = 64
(seed 0; the mean of 5 seeds: 0.876 / 0.495 and 0.629 / 0.415; tests/test_realism.py: 0.885 / 0.519). So read it
against its value for real data (about 0.5 at d = 8), not against 1, and beside prdc precision, not instead of it.

The pass is blocked over generated x reference rows (knn.BlockedRows), so a 10,000 x 60,000 comparison at d = 2,048
holds one block, never the full matrix; for each generated row the few reference rows with the largest computed
ratio are kept and their distances recomputed exactly (knn.exact_squared_distances), so R does not depend on the
block size, and copies give exactly +inf.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..arrays import ArrayLike, as_matrix, check_same_dim, pick_device
from ..errors import InputError
from .knn import (DEFAULT_BLOCK, SPARE_NEIGHBOURS, BlockedRows, exact_squared_distances,
                  kth_neighbour_squared_distances, squared_distances, within_radii)

DEFAULT_K = 3  # the paper's neighbourhood size for the realism score
CANDIDATES = 1 + SPARE_NEIGHBOURS  # reference rows kept per generated row for the exact recomputation
REPLICATE_CHUNK = 16  # bootstrap replicates per weighted-median step: 16 x N float64 cumulative sums


@dataclass(frozen=True)
class RealismScores:
    """Per generated row: `scores` R (float64, +inf for a copy of a kept reference row) and `inside` (bool, strictly
    inside a kept ball); `threshold` the median squared k-NN radius and `kept` the number of balls at or below it."""

    scores: torch.Tensor
    inside: torch.Tensor
    threshold: float
    kept: int


def prune_radii(radii: torch.Tensor) -> tuple[float, torch.Tensor]:
    """The median of the squared k-NN radii and the mask of the balls kept (radius <= median, ties kept).

    The median is np.percentile(radii, 50) to the bit: for an even count numpy's linear rule computes
    upper - (upper - lower) * 0.5 (its _lerp for t >= 0.5), which decides the ties at the threshold as the
    reference code's `D > max_distances` does.
    """
    ordered = radii.double().sort().values
    lower, upper = ordered[(len(ordered) - 1) // 2], ordered[len(ordered) // 2]
    threshold = upper - (upper - lower) * 0.5
    return float(threshold), radii <= threshold


def realism_scores(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = DEFAULT_K,
    *,
    real_radii: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float64,
    block: int = DEFAULT_BLOCK,
    device: torch.device | str | None = None,
) -> RealismScores:
    """Realism score R of each fake row against the real rows, and whether it lies inside a kept real ball.

    `real_radii`: the real rows' squared k-NN radii from prdc.knn_radii(real, k) (cached per reference); computed
    here when None. `dtype=torch.float32` computes the distance products in float32; the kept candidates' distances
    are recomputed exactly in float64 either way.

    >>> import torch
    >>> x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    >>> result = realism_scores(x, x)
    >>> bool(result.scores[result.inside].isinf().any()), result.kept
    (True, 25)
    """
    device = pick_device(real, fake, device=device)
    real = as_matrix(real, "real features", device=device, dtype=None)
    fake = as_matrix(fake, "fake features", device=device, dtype=None, min_rows=1)
    check_same_dim(real, fake)
    if not 1 <= k < len(real):
        raise InputError(f"realism: k={k} must be at least 1 and below the number of reference samples ({len(real)})")
    real_points, fake_points = BlockedRows(real, dtype, block), BlockedRows(fake, dtype, block)
    if real_radii is None:
        real_radii = kth_neighbour_squared_distances(real_points, k)
    elif real_radii.shape != (len(real),):
        raise InputError(f"realism: real_radii has shape {tuple(real_radii.shape)}, expected ({len(real)},)")
    real_radii = real_radii.to(device=device, dtype=torch.float64)
    threshold, kept = prune_radii(real_radii)
    ratio_radii = torch.where(kept, real_radii, 0.0)  # a pruned (or zero) ball adds nothing to the maximum
    ball_radii = torch.where(kept, real_radii, float("-inf"))  # a pruned ball contains nothing

    count = min(CANDIDATES, len(real))
    best = torch.full((len(fake), count), float("-inf"), dtype=dtype, device=device)
    candidates = torch.zeros((len(fake), count), dtype=torch.int64, device=device)
    inside = torch.zeros(len(fake), dtype=torch.bool, device=device)
    for fake_rows in fake_points.slices():
        for real_rows in real_points.slices():
            distances = squared_distances(fake_points, fake_rows, real_points, real_rows)  # fake x real
            inside[fake_rows] |= within_radii(distances, fake_points, fake_rows, real_points, real_rows, ball_radii,
                                              False).any(dim=1)
            ratios = _ratios(ratio_radii[real_rows].to(distances.dtype)[None, :], distances)
            values, columns = ratios.topk(min(count, ratios.shape[1]), dim=1)
            merged = torch.cat([best[fake_rows], values], dim=1)
            merged_columns = torch.cat([candidates[fake_rows], columns + real_rows.start], dim=1)
            best[fake_rows], order = merged.topk(count, dim=1)
            candidates[fake_rows] = merged_columns.gather(1, order)

    rows = torch.arange(len(fake), device=device).repeat_interleave(count)
    exact = exact_squared_distances(fake, rows, real, candidates.flatten()).view(len(fake), count)
    squared_scores = _ratios(ratio_radii[candidates], exact).max(dim=1).values
    return RealismScores(squared_scores.sqrt(), inside, threshold, int(kept.sum()))


def _ratios(radii: torch.Tensor, distances: torch.Tensor) -> torch.Tensor:
    """radius / distance (both squared); +inf at distance 0, and 0 for a zero radius (even at distance 0)."""
    return torch.where(radii > 0, radii / distances, 0.0)


def lower_median(values: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The lower median of `values` (+inf allowed): the smallest v with at least half the weight at or below it,
    per row of `weights` (replicates x N resample counts), or of the values themselves when None (a 0-d tensor).

    >>> lower_median(torch.tensor([3.0, 1.0, float("inf"), 2.0])).item()
    2.0
    """
    ordered, order = values.double().sort()
    if weights is None:
        return ordered[(len(ordered) - 1) // 2]
    medians = []
    for start in range(0, len(weights), REPLICATE_CHUNK):
        cumulative = weights[start:start + REPLICATE_CHUNK].to(values.device, torch.float64)[:, order].cumsum(dim=1)
        medians.append(ordered[(cumulative < cumulative[:, -1:] / 2).sum(dim=1)])
    return torch.cat(medians)


def realism_summary(result: RealismScores,
                    weights: torch.Tensor | None = None) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """The summary values of per-sample realism scores, and their bootstrap replicates when `weights` is given.

    `realism` is the lower median of R, not its mean: a copy of a reference row scores +inf and a near copy an
    arbitrarily large R, so a mean would be infinite or dominated by them (and rewarded copying); the median moves
    by one rank per sample. `realism_above_1` is the share with R >= 1, `robust_precision` the share strictly
    inside a kept ball (the same samples but those exactly on a boundary, so never above realism_above_1).
    """
    above = (result.scores >= 1).double()
    inside = result.inside.double()
    values = {"realism": float(lower_median(result.scores)), "realism_above_1": float(above.mean()),
              "robust_precision": float(inside.mean())}
    if weights is None:
        return values, {}
    weights = weights.to(device=result.scores.device, dtype=torch.float64)
    replicates = {"realism": lower_median(result.scores, weights), "realism_above_1": weights @ above / len(above),
                  "robust_precision": weights @ inside / len(inside)}
    return values, replicates


def realism_quantiles(scores: torch.Tensor, levels: tuple[float, ...] = (0.05, 0.5, 0.95)) -> list[float]:
    """Quantiles of R by the nearest lower rank (no interpolation, so +inf scores stay +inf rather than NaN)."""
    ordered = scores.double().sort().values
    return [float(ordered[int(level * (len(ordered) - 1))]) for level in levels]
