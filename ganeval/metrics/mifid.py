"""Memorization-informed FID, Bai et al. 2021 ("On Training Sample Memorization: Lessons from Benchmarking Generative
Modeling with a Large-scale Competition", KDD); matches torchmetrics 1.9 `image/mifid.py`
(MemorizationInformedFrechetInceptionDistance) with the training set as its real images.

d = mean over training rows of the minimum over generated rows of the cosine distance 1 - |cos| (the absolute value:
x and -x count as copies), d' = d when d < eps, else 1, and MiFID = FID / (d' + 1e-14), or 0 when FID <= 1e-8
(torchmetrics' guards, kept). Kaggle's scorer, which MiFID was made for, took the minimum the other way: per generated
image over the training images (`cosine_distance(features1=generated, features2=training)`); its mean is reported
beside d as `d_per_generated`. The two read differently: torchmetrics' d averages over every training image, so a
generator that copies 5,000 of 60,000 training images lowers it by about a twelfth only, while Kaggle's sees each
copied sample at 0 (benchmarks/README.md, Memorization: both for the copier, the near-copier and held-out images).

The cosine matrix is never held whole: rows are normalised block by block in float64 and each training row keeps a
running maximum of |cos| over blocks of generated rows. All-zero rows have no direction and are left out, as
torchmetrics leaves out rows whose entries sum to zero (which also drops a nonzero row summing to zero; this does
not). A per-row distance is clamped at 0 against rounding (|cos| can round above 1 for a copy).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..arrays import ArrayLike, as_matrix, check_same_dim
from ..errors import InputError
from .knn import DEFAULT_BLOCK

COSINE_EPS = 0.1  # torchmetrics' cosine_distance_eps default (the Kaggle competitions' threshold)
DIVISION_GUARD = 10e-15  # torchmetrics adds this to d' before dividing
SMALL_FID = 1e-8  # torchmetrics returns 0 at or below this FID


@dataclass(frozen=True)
class MiFIDResult:
    value: float
    fid: float
    distance: float  # d: mean over training rows of the minimum cosine distance to a generated row
    thresholded: float  # d': d below eps, else 1
    eps: float
    generated_distance: float  # Kaggle's direction: mean over generated rows of the minimum over training rows

    def diagnostics(self) -> dict:
        return {"d": self.distance, "d_thresholded": self.thresholded, "eps": self.eps, "fid": self.fid,
                "d_per_generated": self.generated_distance}


def nearest_cosine_distances(queries: ArrayLike, points: ArrayLike, *, block: int = DEFAULT_BLOCK,
                             device: torch.device | str | None = None) -> torch.Tensor:
    """1 - max over `points` rows of |cos(query, point)| for each nonzero row of `queries` (float64; all-zero rows
    of either side are left out), in blocks of `block` rows per side.

    >>> import torch
    >>> distances = nearest_cosine_distances(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[-2.0, 0.0]]))
    >>> [round(value, 6) for value in distances.tolist()]  # -x is a copy of x; 45 degrees: 1 - 1/sqrt(2)
    [0.0, 0.292893]
    """
    return nearest_cosine_distances_both(queries, points, block=block, device=device)[0]


def nearest_cosine_distances_both(training: ArrayLike, generated: ArrayLike, *, block: int = DEFAULT_BLOCK,
                                  device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """nearest_cosine_distances in both directions from one pass over the products: (per nonzero training row,
    the minimum over generated rows; per nonzero generated row, the minimum over training rows: Kaggle's)."""
    training = as_matrix(training, "training features", device=device, dtype=None, min_rows=1)
    generated = as_matrix(generated, "generated features", device=training.device, dtype=None, min_rows=1)
    check_same_dim(training, generated, ("training features", "generated features"))
    if not bool((generated != 0).any(1).any()):
        raise InputError("mifid: every generated feature row is zero, so no cosine distance is defined")
    columns = [_unit_rows(part) for part in generated.split(block)]  # the generated side, normalised once
    column_largest = [part.new_zeros(len(part)) for part in columns]
    distances = []
    for rows in map(_unit_rows, training.split(block)):  # normalised block by block: no float64 copy of this side
        largest = rows.new_zeros(len(rows))  # |cos| >= 0, and some generated row is nonzero
        for index, part in enumerate(columns):
            if len(rows) and len(part):
                cosines = (rows @ part.T).abs_()
                largest = torch.maximum(largest, cosines.amax(1))
                column_largest[index] = torch.maximum(column_largest[index], cosines.amax(0))
        distances.append((1 - largest).clamp_min_(0))
    distances = torch.cat(distances)
    if not len(distances):
        raise InputError("mifid: every training feature row is zero, so no cosine distance is defined")
    return distances, (1 - torch.cat(column_largest)).clamp_min_(0)


def memorization_informed_fid(fid: float, training: ArrayLike, generated: ArrayLike, *, eps: float = COSINE_EPS,
                              block: int = DEFAULT_BLOCK, device: torch.device | str | None = None) -> MiFIDResult:
    """MiFID from the FID between the training and generated features and the rows themselves.

    >>> import torch
    >>> x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    >>> result = memorization_informed_fid(3.0, x, x)
    >>> (result.distance < 1e-12, result.value > 1e13)  # copies of every training row: d = 0
    (True, True)
    """
    if not 0 < eps <= 1:
        raise InputError(f"mifid: the cosine distance threshold eps={eps} must be in (0, 1]")
    per_training, per_generated = nearest_cosine_distances_both(training, generated, block=block, device=device)
    distance = float(per_training.mean())
    thresholded = distance if distance < eps else 1.0
    value = fid / (thresholded + DIVISION_GUARD) if fid > SMALL_FID else 0.0
    return MiFIDResult(value, float(fid), distance, thresholded, eps, float(per_generated.mean()))


def _unit_rows(rows: torch.Tensor) -> torch.Tensor:
    rows = rows.double()
    norms = rows.norm(dim=1, keepdim=True)
    nonzero = norms[:, 0] > 0
    return rows[nonzero] / norms[nonzero]
