"""Mode coverage: Gaussian-mixture modes (VEEGAN/PacGAN), classifier-labelled modes, and NDB (Richardson & Weiss).

Pure functions on tensors, computed on the samples' device (REFERENCES.md gives the definitions):
- `mixture_modes`: a sample is high quality when its distance to the nearest mode centre, in units of the mixture's
  std, is below 3; modes = centres nearest to at least one high-quality sample; reverse_kl = KL(p_hat || uniform) of
  the high-quality samples' mode histogram (NaN when no sample is high quality: the histogram is then empty).
- `label_modes`: modes = distinct labels among the samples (classes, or Stacked Fashion-MNIST's 1,000 class
  triples); kl_uniform = ln K - H(p_hat); kl_reference = KL(p_hat || q) against the reference's label histogram.
- `ndb`: K-means bins (K = 100) on the reference, a two-proportion z-test per bin, the number of statistically
  different bins and the Jensen-Shannon divergence between the two bin histograms (natural log).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from ..errors import InputError
from ..arrays import as_matrix

HIGH_QUALITY_STDS = 3.0  # VEEGAN/PacGAN: within 3 standard deviations of a mode centre


def mixture_modes(samples, means, std: float, threshold: float = HIGH_QUALITY_STDS, weights=None) -> dict:
    """{'modes', 'high_quality', 'reverse_kl', 'mode_counts'} of 2D (or any-d) samples against isotropic modes.

    With bootstrap `weights` (replicates x N counts) the result also holds 'replicates': each value per replicate."""
    points = as_matrix(samples, "samples", min_rows=1)
    centres = torch.as_tensor(means, dtype=torch.float64, device=points.device)
    distances = torch.cdist(points, centres) / std
    nearest_distance, nearest = distances.min(dim=1)
    assigned = torch.where(nearest_distance < threshold, nearest, -1)  # -1: not high quality
    result = _mixture_values(_weighted_counts(assigned, len(centres), None)[0], len(points))
    result["mode_counts"] = result["mode_counts"].long().tolist()
    if weights is not None:
        replicates = [_mixture_values(counts, len(points)) for counts in _weighted_counts(assigned, len(centres), weights)]
        result["replicates"] = _stack(replicates, ("modes", "high_quality", "reverse_kl"))
    return result


def _mixture_values(counts: torch.Tensor, num_samples: int) -> dict:
    return {"modes": int((counts > 0).sum()), "high_quality": float(counts.sum()) / num_samples,
            "reverse_kl": kl_to_uniform(counts), "mode_counts": counts}


def label_modes(labels, num_modes: int, reference_labels=None, weights=None) -> dict:
    """{'modes', 'kl_uniform', 'mode_counts'} (+ 'kl_reference') of integer labels in [0, num_modes).

    With bootstrap `weights` (replicates x N counts) the result also holds 'replicates': each value per replicate."""
    labels = torch.as_tensor(labels).long().flatten()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_modes):
        raise InputError(f"labels must lie in [0, {num_modes}), got {int(labels.min())}..{int(labels.max())}")
    reference = None
    if reference_labels is not None:
        reference = _proportions(torch.bincount(torch.as_tensor(reference_labels).long().flatten().to(labels.device),
                                                minlength=num_modes))
    result = _label_values(_weighted_counts(labels, num_modes, None)[0], reference)
    result["mode_counts"] = result["mode_counts"].long().tolist()
    if weights is not None:
        replicates = [_label_values(counts, reference) for counts in _weighted_counts(labels, num_modes, weights)]
        result["replicates"] = _stack(replicates, [key for key in result if key != "mode_counts"])
    return result


def _label_values(counts: torch.Tensor, reference: torch.Tensor | None) -> dict:
    result = {"modes": int((counts > 0).sum()), "kl_uniform": kl_to_uniform(counts), "mode_counts": counts}
    if reference is not None:
        result["kl_reference"] = kl_divergence(_proportions(counts), reference)
    return result


def _weighted_counts(assigned: torch.Tensor, num_bins: int, weights: torch.Tensor | None) -> torch.Tensor:
    """Histogram of the bin indices (-1: in no bin), one row per replicate of `weights` (one row of ones if None)."""
    inside = assigned >= 0
    if weights is None:
        return torch.bincount(assigned[inside], minlength=num_bins)[None].double()
    weights = weights.to(device=assigned.device, dtype=torch.float64)
    counts = torch.zeros(len(weights), num_bins, dtype=torch.float64, device=assigned.device)
    return counts.index_add_(1, assigned[inside], weights[:, inside])


def _stack(replicates: list[dict], keys) -> dict[str, torch.Tensor]:
    return {key: torch.tensor([float(values[key]) for values in replicates], dtype=torch.float64) for key in keys}


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform) = ln K - H(p) of a histogram; NaN for an empty histogram."""
    if counts.sum() == 0:
        return math.nan
    return kl_divergence(_proportions(counts), torch.full((len(counts),), 1 / len(counts), dtype=torch.float64,
                                                          device=counts.device))


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) in nats over the bins where p > 0; infinite where p puts mass on a bin that q leaves empty."""
    support = p > 0
    if bool((q[support] == 0).any()):
        return math.inf
    return float((p[support] * (p[support] / q[support]).log()).sum())


def jensen_shannon(p: torch.Tensor, q: torch.Tensor) -> float:
    """The symmetric Jensen-Shannon divergence in nats (at most ln 2)."""
    middle = (p + q) / 2
    return 0.5 * (kl_divergence(p, middle) + kl_divergence(q, middle))


def kmeans(points, k: int, *, seed: int = 0, iterations: int = 100, block: int = 8192) -> torch.Tensor:
    """Lloyd's K-means with k-means++ seeding from a seeded CPU stream; returns the k x d centres (float64).

    An empty cluster is re-seeded at the point farthest from its centre, so exactly k bins come back."""
    points = as_matrix(points, "points", min_rows=1)
    if not 1 <= k <= len(points):
        raise InputError(f"k-means: k={k} must be between 1 and the number of points ({len(points)})")
    generator = torch.Generator().manual_seed(seed)
    # 2 x points and the squared row norms, made once rather than per centre (k-means++: a 2 x points copy per centre
    # was most of the time) and per Lloyd step. The products and sums are nearest_centre's, operand for operand
    # (doubling is exact; the blocks of `doubled` start as aligned as its fresh copies), so the bins are the plain
    # loop's to the bit: tests/test_modes.py keeps that loop and compares the two.
    doubled = 2 * points
    centres = _kmeans_plus_plus(points, doubled, k, generator)
    blocks = [(rows, (plain**2).sum(1, keepdim=True)) for rows, plain in zip(doubled.split(block), points.split(block))]
    assignment = None
    for _ in range(iterations):
        distances, new_assignment = _nearest(blocks, centres)
        if assignment is not None and torch.equal(new_assignment, assignment):
            break
        assignment = new_assignment
        sums = torch.zeros_like(centres).index_add_(0, assignment, points)
        sizes = torch.bincount(assignment, minlength=k)
        empty = (sizes == 0).nonzero().flatten()
        for index, far in zip(empty.tolist(), distances.topk(len(empty)).indices.tolist()):
            sums[index], sizes[index] = points[far], 1
        centres = sums / sizes[:, None]
    return centres


def nearest_centre(points: torch.Tensor, centres: torch.Tensor, block: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """(squared distance to the nearest centre, its index) for every point, in blocks of rows."""
    return _nearest(((2 * rows, (rows**2).sum(1, keepdim=True)) for rows in points.split(block)), centres)


def _nearest(blocks: Iterable[tuple[torch.Tensor, torch.Tensor]],
             centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """nearest_centre over (2 x rows, squared row norms) blocks: ||x||^2 - 2 x.c + ||c||^2, one product per block."""
    centre_norms = (centres**2).sum(1)
    distances, indices = [], []
    for doubled_rows, row_norms in blocks:
        squared = doubled_rows @ centres.T
        torch.sub(row_norms, squared, out=squared).add_(centre_norms)  # in place: the same sums, no temporaries
        value, index = squared.min(1)
        distances.append(value.clamp_min(0))
        indices.append(index)
    return torch.cat(distances), torch.cat(indices)


def _kmeans_plus_plus(points: torch.Tensor, doubled: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    norms = (points**2).sum(1)

    def squared_distance_to(centre: torch.Tensor) -> torch.Tensor:  # one matrix-vector product per centre
        return (norms - doubled @ centre + centre @ centre).clamp_min(0)

    first = int(torch.randint(len(points), (1,), generator=generator))
    centres = [points[first]]
    closest = squared_distance_to(points[first])
    for _ in range(1, k):
        weights = closest.cpu() if float(closest.sum()) > 0 else torch.ones(len(points), dtype=torch.float64)
        chosen = int(torch.multinomial(weights, 1, generator=generator))
        centres.append(points[chosen])
        closest = torch.minimum(closest, squared_distance_to(points[chosen]))
    return torch.stack(centres)


def ndb(reference, samples, *, k: int = 100, alpha: float = 0.05, seed: int = 0, centres=None, weights=None) -> dict:
    """NDB: {'ndb', 'ndb_fraction', 'ndb_js', 'bin_proportions', 'reference_proportions'}.

    Bins are the K-means centres of the reference (or `centres`, e.g. cached); each sample goes to its nearest centre.
    A bin differs when the two-sided p-value of the two-proportion z-test is below `alpha`. With bootstrap `weights`
    (replicates x N counts) the result also holds 'replicates': ndb, ndb_fraction and ndb_js per replicate."""
    reference = as_matrix(reference, "reference")
    samples = as_matrix(samples, "samples", min_rows=1).to(reference.device)
    if reference.shape[1] != samples.shape[1]:
        raise InputError(f"dimensions differ: reference {reference.shape[1]}, samples {samples.shape[1]}")
    centres = kmeans(reference, k, seed=seed) if centres is None else torch.as_tensor(centres, dtype=torch.float64,
                                                                                       device=reference.device)
    k = len(centres)
    p1 = _proportions(torch.bincount(nearest_centre(reference, centres)[1], minlength=k))
    bins = nearest_centre(samples, centres)[1]
    result = _ndb_values(p1, len(reference), _weighted_counts(bins, k, None)[0], alpha)
    result["bin_proportions"], result["reference_proportions"] = result["bin_proportions"].tolist(), p1.tolist()
    if weights is not None:
        replicates = [_ndb_values(p1, len(reference), counts, alpha) for counts in _weighted_counts(bins, k, weights)]
        result["replicates"] = _stack(replicates, ("ndb", "ndb_fraction", "ndb_js"))
    return result


def _ndb_values(p1: torch.Tensor, n1: int, counts: torch.Tensor, alpha: float) -> dict:
    p2 = _proportions(counts)
    different = two_proportion_test(p1, n1, p2, int(counts.sum())) < alpha
    return {"ndb": int(different.sum()), "ndb_fraction": float(different.double().mean()),
            "ndb_js": jensen_shannon(p1, p2), "bin_proportions": p2}


def two_proportion_test(p1: torch.Tensor, n1: int, p2: torch.Tensor, n2: int) -> torch.Tensor:
    """Two-sided p-values of the pooled two-proportion z-test, per bin (1 where both proportions are 0 or 1)."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    standard_error = (pooled * (1 - pooled) * (1 / n1 + 1 / n2)).sqrt()
    z = (p1 - p2).abs() / standard_error
    p_values = torch.erfc(z / math.sqrt(2))  # = 2 * (1 - Phi(|z|))
    return torch.where(standard_error > 0, p_values, torch.ones_like(p_values))


def _proportions(counts: torch.Tensor) -> torch.Tensor:
    counts = counts.double()
    return counts / counts.sum().clamp_min(1)
