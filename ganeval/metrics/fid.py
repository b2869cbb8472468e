"""Frechet Inception Distance, Heusel et al. 2017; matches torch-fidelity 0.4.0 metric_fid.py.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

torch-fidelity takes tr((S1 S2)^(1/2)) from the eigenvalues of the non-symmetric product S1 S2; pytorch-fid and
clean-fid call scipy.linalg.sqrtm, which is slow and returns complex or NaN values when N < d. Here S1 = A A^T is
factored once (Cholesky, or a truncated symmetric square root when S1 is singular, or the centred samples themselves
when there are fewer samples than dimensions), and tr((S1 S2)^(1/2)) = sum sqrt(eigvalsh(A^T S2 A)): a symmetric
eigenvalue problem whose eigenvalues are real and, up to rounding, non-negative. The factor of a reference covariance
can be computed once and reused for every score against it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import torch

from ..errors import FewSamplesWarning, InputError, warn_at_caller
from ..arrays import ArrayLike, as_matrix, check_finite, check_same_dim, pick_device


@dataclass(frozen=True)
class CovarianceFactor:
    """A factor A (d x r) with A A^T = sigma, reusable across FID computations against the same reference."""

    factor: torch.Tensor
    method: str  # 'cholesky', 'eigh' (truncated symmetric square root) or 'samples' (centred samples / sqrt(N-1))
    negative_eigenvalue_mass: float = 0.0

    @property
    def rank(self) -> int:
        return int(self.factor.shape[1])


@dataclass(frozen=True)
class Eigenbasis:
    """The reference factor A and the eigendecomposition of A^T S2 A, which frechet_replicates() reuses instead of
    decomposing the same matrix again."""

    factor: torch.Tensor
    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor


@dataclass(frozen=True)
class FrechetResult:
    """The distance and the diagnostics that say how far to trust it."""

    value: float
    mean_term: float
    trace_term: float
    dim: int
    num_real: int | None
    num_fake: int | None
    rank: int  # rank of A^T S2 A: the dimensions in which both covariances carry variance
    negative_eigenvalue_mass: float  # sum |negative eigenvalues| / sum |eigenvalues| (clipped to zero before the sqrt)
    factor_method: str
    eigenbasis: Eigenbasis | None = field(default=None, repr=False, compare=False)  # with keep_eigenbasis

    def __float__(self) -> float:
        return self.value

    def diagnostics(self) -> dict:
        """Plain-value diagnostics for records and --json output."""
        return {item.name: getattr(self, item.name) for item in fields(self) if item.name not in ("value", "eigenbasis")}

    def with_counts(self, num_real: int | None, num_fake: int | None) -> FrechetResult:
        """The same result, with the sample counts its diagnostics report."""
        return replace(self, num_real=num_real, num_fake=num_fake)


def covariance_factor(sigma: ArrayLike, *, device: torch.device | str | None = None) -> CovarianceFactor:
    """Factor a covariance matrix as A A^T: Cholesky when positive definite, else a truncated symmetric square root.

    >>> import torch
    >>> f = covariance_factor(torch.eye(3))
    >>> (f.method, f.rank)
    ('cholesky', 3)
    """
    sigma = _as_covariance(sigma, "sigma", device)
    lower, info = torch.linalg.cholesky_ex(sigma)
    if int(info) == 0 and bool(torch.isfinite(lower).all()):
        return CovarianceFactor(lower, "cholesky")
    eigenvalues, eigenvectors = torch.linalg.eigh(sigma)
    keep = eigenvalues > _rank_tolerance(eigenvalues, sigma.shape[0])
    negative_mass = _negative_mass(eigenvalues)
    factor = eigenvectors[:, keep] * eigenvalues[keep].sqrt()
    return CovarianceFactor(factor, "eigh", negative_mass)


def samples_factor(features: torch.Tensor, mean: torch.Tensor) -> CovarianceFactor:
    """The exact factor of a sample covariance from fewer samples than dimensions: (X - mu)^T / sqrt(N - 1)."""
    centred = features.to(torch.float64) - mean
    return CovarianceFactor(centred.T / math.sqrt(features.shape[0] - 1), "samples")


def fid_from_stats(
    mu1: ArrayLike,
    sigma1: ArrayLike,
    mu2: ArrayLike,
    sigma2: ArrayLike,
    *,
    factor1: CovarianceFactor | None = None,
    device: torch.device | str | None = None,
) -> float:
    """FID between two Gaussians given by means and covariances (float64 on the inputs' device).

    Pass `factor1=covariance_factor(sigma1)` to reuse the factor of a fixed reference covariance.

    >>> import torch
    >>> fid_from_stats(torch.zeros(2), torch.eye(2), torch.ones(2), torch.eye(2))
    2.0
    """
    return frechet_distance(mu1, sigma1, mu2, sigma2, factor1=factor1, device=device).value


def fid(real: ArrayLike, fake: ArrayLike, *, device: torch.device | str | None = None) -> float:
    """FID between two feature matrices (N1 x d, N2 x d). Warns when either side has fewer samples than dimensions.

    >>> import torch
    >>> x = torch.randn(100, 4, generator=torch.Generator().manual_seed(0))
    >>> abs(fid(x, x)) < 1e-9
    True
    """
    return fid_details(real, fake, device=device).value


def fid_details(real: ArrayLike, fake: ArrayLike, *, device: torch.device | str | None = None) -> FrechetResult:
    """FID with diagnostics, taking the low-rank path on the side(s) with fewer samples than dimensions."""
    device = pick_device(real, fake, device=device)
    real = as_matrix(real, "real features", device=device)
    fake = as_matrix(fake, "fake features", device=device)
    check_same_dim(real, fake)
    warn_if_few_samples(real.shape[0], real.shape[1], "real")
    warn_if_few_samples(fake.shape[0], fake.shape[1], "fake")
    mu1, mu2 = real.mean(0), fake.mean(0)
    sigma1, sigma2 = torch.cov(real.T).reshape(real.shape[1], -1), torch.cov(fake.T).reshape(fake.shape[1], -1)
    factor1 = samples_factor(real, mu1) if real.shape[0] <= real.shape[1] else None
    result = frechet_distance(mu1, sigma1, mu2, sigma2, factor1=factor1, fake_features=fake, device=device)
    return result.with_counts(real.shape[0], fake.shape[0])


def frechet_distance(
    mu1: ArrayLike,
    sigma1: ArrayLike,
    mu2: ArrayLike,
    sigma2: ArrayLike,
    *,
    factor1: CovarianceFactor | None = None,
    fake_features: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    keep_eigenbasis: bool = False,
) -> FrechetResult:
    """The Frechet distance with diagnostics; the engine behind fid(), fid_from_stats() and evaluate.score().

    `fake_features` (raw N2 x d samples whose covariance is sigma2) enables the low-rank path when N2 is smaller than
    the rank of the reference factor: the eigenvalues then come from an N2 x N2 Gram matrix instead of r x r.
    `keep_eigenbasis` keeps the factor and the eigenvectors of A^T S2 A in the result's `eigenbasis` (r x r path
    only), which frechet_replicates() reuses. The result's num_real is None and num_fake the rows of `fake_features`
    (or None): `with_counts` sets what the caller knows.
    """
    device = pick_device(mu1, sigma1, mu2, sigma2, device=device)
    mu1 = _as_vector(mu1, "mu1", device)
    mu2 = _as_vector(mu2, "mu2", device)
    sigma1 = _as_covariance(sigma1, "sigma1", device)
    sigma2 = _as_covariance(sigma2, "sigma2", device)  # validated once; a cached factor1 skips re-factoring sigma1
    check_same_dim(mu1, mu2, ("mu1", "mu2"))
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape[0] != mu1.shape[0]:
            raise InputError(f"{name} is {sigma.shape[0]}x{sigma.shape[0]} but the means have {mu1.shape[0]} dimensions")
    if factor1 is None:
        factor1 = covariance_factor(sigma1)
    factor = factor1.factor.to(device=device, dtype=torch.float64)
    if factor.shape[0] != mu1.shape[0]:
        raise InputError(f"the cached reference factor has {factor.shape[0]} dimensions, the features {mu1.shape[0]}")

    num_fake = None if fake_features is None else fake_features.shape[0]
    eigenbasis = None
    if fake_features is not None and fake_features.shape[0] - 1 < factor.shape[1]:
        projected = (fake_features.to(device=device, dtype=torch.float64) - mu2) @ factor / math.sqrt(num_fake - 1)
        product = projected @ projected.T  # nonzero eigenvalues equal those of A^T S2 A
    else:
        product = factor.T @ sigma2 @ factor
    if keep_eigenbasis and product.shape[0] == factor.shape[1]:
        eigenvalues, eigenvectors = torch.linalg.eigh((product + product.T) / 2)  # about the cost of eigvalsh
        eigenbasis = Eigenbasis(factor, eigenvalues, eigenvectors)
    else:
        eigenvalues = torch.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = eigenvalues.clamp_min(0).sqrt().sum()

    difference = mu1 - mu2
    mean_term = float(difference @ difference)
    trace_term = float(sigma1.diagonal().sum() + sigma2.diagonal().sum() - 2 * trace_sqrt)
    return FrechetResult(
        value=mean_term + trace_term,
        mean_term=mean_term,
        trace_term=trace_term,
        dim=int(mu1.shape[0]),
        num_real=None,
        num_fake=num_fake,
        rank=int((eigenvalues > _rank_tolerance(eigenvalues, mu1.shape[0])).sum()),
        negative_eigenvalue_mass=max(_negative_mass(eigenvalues), factor1.negative_eigenvalue_mass),
        factor_method=factor1.method,
        eigenbasis=eigenbasis,
    )


EXACT_REPLICATE_LIMIT = 256  # 'auto' recomputes each replicate exactly when min(N, rank) is at most this


def frechet_replicates(
    mu1: ArrayLike,
    sigma1: ArrayLike,
    fake_features: torch.Tensor,
    weights: torch.Tensor,
    *,
    factor1: CovarianceFactor | None = None,
    sigma2: torch.Tensor | None = None,
    method: str = "auto",
    eigenbasis: Eigenbasis | None = None,
) -> tuple[torch.Tensor, str]:
    """FID of each bootstrap replicate (rows of `weights`, counts summing to N) against the fixed reference.

    Each replicate's mean and covariance are the weighted statistics of the generated features, so no resampled
    array is built. Returns (values, method):
    - 'exact' takes the eigenvalues of each replicate's projected covariance A^T S_w A (or of the N x N Gram matrix
      when N is smaller): B eigenvalue problems of size min(N, rank).
    - 'expansion' takes the eigenbasis of the full sample's A^T S A once; in it, each replicate's diagonal gives
      sum sqrt(D_ii) exactly and the off-diagonal part of tr sqrt enters through its second-order term, whose
      expectation under resampling, -1/4 sum_{i != j} E[D_ij^2] / (s_i s_j (s_i + s_j)), is computed once. O(N rank)
      per replicate: what makes 200 replicates affordable at d = 2,048. It tracks the exact replicates while the
      rank is small against N (benchmarks/bench_intervals.py) and understates the spread when it is not.
    - 'auto': exact when min(N, rank) <= EXACT_REPLICATE_LIMIT, else expansion.
    `sigma2`, the generated features' covariance where already known (streamed during extraction), saves a pass;
    `eigenbasis`, kept by the frechet_distance() call of the same score, saves the eigendecomposition.
    """
    device = fake_features.device
    features = fake_features.to(torch.float64)
    num_samples = features.shape[0]
    mu1 = _as_vector(mu1, "mu1", device)
    sigma1 = _as_covariance(sigma1, "sigma1", device)
    if eigenbasis is not None:
        factor = eigenbasis.factor.to(device)
    else:
        factor = (factor1 or covariance_factor(sigma1)).factor.to(device=device, dtype=torch.float64)
    weights = weights.to(device=device, dtype=torch.float64)
    mean = features.mean(0)
    centred = features - mean
    shift = (weights @ centred) / num_samples  # each replicate's mean minus the full sample's
    mean_term = ((mu1 - mean)[None, :] - shift).square().sum(1)
    trace_fake = (weights @ centred.square().sum(1) - num_samples * shift.square().sum(1)) / (num_samples - 1)
    if method == "auto":
        method = "exact" if min(num_samples, factor.shape[1]) <= EXACT_REPLICATE_LIMIT else "expansion"
    if method == "exact":
        trace_sqrt = _exact_trace_sqrt(centred @ factor, weights, shift @ factor)
    elif method == "expansion":
        if eigenbasis is None:
            if sigma2 is None:
                sigma2 = centred.T @ centred / (num_samples - 1)
            projected = factor.T @ sigma2.to(device=device, dtype=torch.float64) @ factor
            eigenvalues, eigenvectors = torch.linalg.eigh((projected + projected.T) / 2)
            eigenbasis = Eigenbasis(factor, eigenvalues, eigenvectors)
        trace_sqrt = _expanded_trace_sqrt(centred, eigenbasis, weights, shift)
    else:
        raise InputError(f"FID bootstrap method {method!r}: choose exact, expansion or auto")
    return mean_term + sigma1.diagonal().sum() + trace_fake - 2 * trace_sqrt, method


def _exact_trace_sqrt(projected: torch.Tensor, weights: torch.Tensor, projected_shift: torch.Tensor) -> torch.Tensor:
    """tr sqrt(A^T S_w A) per replicate, with S_w = R^T R for R = diag(sqrt w) (Y - y_w) / sqrt(N - 1)."""
    num_samples = projected.shape[0]
    values = torch.empty(len(weights), dtype=torch.float64, device=projected.device)
    for index, (row_weights, row_shift) in enumerate(zip(weights, projected_shift)):
        rows = (projected - row_shift) * (row_weights / (num_samples - 1)).sqrt()[:, None]
        product = rows @ rows.T if rows.shape[0] < rows.shape[1] else rows.T @ rows
        values[index] = torch.linalg.eigvalsh(product).clamp_min(0).sqrt().sum()
    return values


FOURTH_MOMENT_ROWS = 2048  # rows that estimate the off-diagonal term's fourth moments (it is a sum over d^2 pairs)


def _expanded_trace_sqrt(centred: torch.Tensor, eigenbasis: Eigenbasis, weights: torch.Tensor,
                         shift: torch.Tensor) -> torch.Tensor:
    """tr sqrt(A^T S_w A) per replicate, to second order in the full sample's eigenbasis (see frechet_replicates).

    In that basis the full sample's diagonal is the eigenvalues themselves, so each replicate's diagonal is taken as
    eigenvalue + change, the change from the counts minus one. Only the change goes through float32 products (half
    the time of float64 on a CPU): its rounding is relative to the change, a few percent of the eigenvalue at most,
    and the full sample's diagonal (all counts one) stays exact.
    """
    num_samples = centred.shape[0]
    eigenvalues = eigenbasis.eigenvalues.to(centred.device)
    rotation = (eigenbasis.factor.to(centred.device, torch.float32)
                @ eigenbasis.eigenvectors.to(centred.device, torch.float32))
    squared = (centred.to(torch.float32) @ rotation).square()  # Z_ni^2: squared coordinates in the eigenbasis
    shifted = (shift.to(torch.float32) @ rotation).to(torch.float64).square()
    change = (((weights - 1).to(torch.float32) @ squared).to(torch.float64) - num_samples * shifted) / (num_samples - 1)
    # E over resamples of D_ij^2 (i != j) is sum_n Z_ni^2 Z_nj^2 / (N - 1)^2 (the multinomial variance of the
    # counts); the sum over n is estimated from every k-th row (files may hold samples sorted, e.g. by class) and
    # scaled up
    rows = squared[:: max(1, -(-num_samples // FOURTH_MOMENT_ROWS))]
    fourth_moments = (rows.T @ rows).to(torch.float64) * (num_samples / len(rows)) / (num_samples - 1) ** 2
    roots = eigenvalues.clamp_min(0).sqrt()
    denominator = roots[:, None] * roots[None, :] * (roots[:, None] + roots[None, :])
    usable = denominator > _rank_tolerance(eigenvalues, len(eigenvalues)) ** 1.5
    usable.fill_diagonal_(False)  # the diagonal is exact in sum sqrt(D_ii)
    second_order = -0.25 * torch.where(usable, fourth_moments / denominator.where(usable, 1.0), 0.0).sum()
    return (eigenvalues[None, :] + change).clamp_min(0).sqrt().sum(1) + second_order


def warn_if_few_samples(num_samples: int, dim: int, side: str) -> None:
    """Warn (FewSamplesWarning) when a covariance comes from fewer samples than feature dimensions."""
    if num_samples <= dim:
        warn_at_caller(
            f"{side}: {num_samples} samples for {dim} feature dimensions (N <= d): the covariance is rank deficient "
            f"and FID is biased upward; use more samples than dimensions for numbers comparable with published FIDs",
            FewSamplesWarning,
        )


def _as_vector(values: ArrayLike, name: str, device: torch.device) -> torch.Tensor:
    tensor = torch.as_tensor(values).to(device=device, dtype=torch.float64)
    if tensor.dim() != 1:
        raise InputError(f"{name}: expected a mean vector, got shape {tuple(tensor.shape)}")
    check_finite(tensor, name)
    return tensor


def _as_covariance(values: ArrayLike, name: str, device: torch.device | str | None) -> torch.Tensor:
    tensor = torch.as_tensor(values)
    tensor = tensor.to(device=device or tensor.device, dtype=torch.float64)
    if tensor.dim() != 2 or tensor.shape[0] != tensor.shape[1]:
        raise InputError(f"{name}: expected a square covariance matrix, got shape {tuple(tensor.shape)}")
    check_finite(tensor, name)
    return tensor  # Cholesky and eigh read one triangle; the product A^T S2 A is symmetrised where it is formed


def _rank_tolerance(eigenvalues: torch.Tensor, dim: int) -> float:
    """Eigenvalues below this are rounding noise (the usual numerical-rank tolerance: largest * d * eps)."""
    if eigenvalues.numel() == 0:
        return 0.0
    return float(eigenvalues.abs().max()) * dim * torch.finfo(torch.float64).eps


def _negative_mass(eigenvalues: torch.Tensor) -> float:
    total = float(eigenvalues.abs().sum())
    return abs(float(eigenvalues.clamp_max(0).sum())) / total if total > 0 else 0.0


def reference_factor(rows: torch.Tensor | None, mean: torch.Tensor) -> CovarianceFactor | None:
    """The exact factor of a reference with no more rows than dimensions (its covariance is then singular); None
    (frechet_distance factors the covariance itself) otherwise or without rows."""
    if rows is not None and len(rows) <= mean.shape[0]:
        return samples_factor(rows.to(mean.device), mean)
    return None
