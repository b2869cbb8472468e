"""Streaming feature statistics: float64 sums that merge exactly across batches and processes.

Sums are taken around a fixed shift (the mean of the first batch) so that features with a large common offset do not
lose precision to cancellation in sum(x x^T) - N mu mu^T. Memory grows with d^2, not with the number of samples,
unless raw features are kept for metrics that need them (KID, PRDC, IS).
"""
from __future__ import annotations

import torch

from ..errors import InputError
from ..arrays import check_finite


class FeatureStats:
    """Mean and covariance of a stream of feature batches (N_i x d), optionally keeping the raw rows.

    >>> import torch
    >>> x = torch.randn(10, 3, dtype=torch.float64)
    >>> a, b = FeatureStats(), FeatureStats()
    >>> a.update(x[:4]); b.update(x[4:])
    >>> torch.allclose(a.merge(b).covariance(), torch.cov(x.T))
    True
    """

    def __init__(self, keep_raw: bool = False, device: torch.device | str | None = None):
        self.keep_raw = keep_raw
        self.device = None if device is None else torch.device(device)
        self.num_samples = 0
        self.shift: torch.Tensor | None = None
        self.sum: torch.Tensor | None = None
        self.outer_sum: torch.Tensor | None = None
        self._raw: list[torch.Tensor] = []

    @property
    def dim(self) -> int | None:
        return None if self.shift is None else int(self.shift.shape[0])

    def update(self, batch: torch.Tensor) -> None:
        """Add a batch of feature rows."""
        if batch.dim() != 2:
            raise InputError(f"feature batch must be 2-D (samples, features), got shape {tuple(batch.shape)}")
        if batch.shape[0] == 0:
            return  # an empty batch adds nothing (and must not set the shift to the mean of nothing)
        check_finite(batch, "features")
        batch = batch.detach().to(self.device or batch.device)
        wide = batch.to(torch.float64)
        if self.shift is None:
            self.device = wide.device
            self.shift = wide.mean(0)
            self.sum = torch.zeros_like(self.shift)
            self.outer_sum = torch.zeros(wide.shape[1], wide.shape[1], dtype=torch.float64, device=wide.device)
        elif wide.shape[1] != self.dim:
            raise InputError(f"feature dimensions differ between batches: {self.dim} then {wide.shape[1]}")
        centred = wide - self.shift
        self.sum += centred.sum(0)
        self.outer_sum.addmm_(centred.T, centred)
        self.num_samples += wide.shape[0]
        if self.keep_raw:
            self._raw.append(batch)

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Fold `other` into this object (exactly, up to float64 rounding) and return self."""
        if other.num_samples == 0:
            return self
        if self.num_samples == 0:
            self.shift, self.sum, self.outer_sum = other.shift.clone(), other.sum.clone(), other.outer_sum.clone()
            self.device = other.device
        else:
            if other.dim != self.dim:
                raise InputError(f"cannot merge statistics of {self.dim} and {other.dim} feature dimensions")
            # Re-express the other sums around this shift: x - s_a = (x - s_b) + delta.
            delta = other.shift.to(self.device) - self.shift
            other_sum = other.sum.to(self.device)
            self.outer_sum += (
                other.outer_sum.to(self.device)
                + torch.outer(delta, other_sum)
                + torch.outer(other_sum, delta)
                + other.num_samples * torch.outer(delta, delta)
            )
            self.sum += other_sum + other.num_samples * delta
        self.num_samples += other.num_samples
        self._raw.extend(raw.to(self.device) for raw in other._raw)
        self.keep_raw = self.keep_raw and other.keep_raw
        return self

    def mean(self) -> torch.Tensor:
        """Mean in float64."""
        self._require(1)
        return self.shift + self.sum / self.num_samples

    def covariance(self) -> torch.Tensor:
        """Unbiased sample covariance (divides by N - 1, as np.cov and torch-fidelity do) in float64."""
        self._require(2)
        centred_mean = self.sum / self.num_samples
        scatter = self.outer_sum - self.num_samples * torch.outer(centred_mean, centred_mean)
        return (scatter + scatter.T) / (2 * (self.num_samples - 1))

    def raw(self) -> torch.Tensor:
        """All rows seen, in order (only when constructed with keep_raw=True)."""
        if not self.keep_raw:
            raise InputError("raw features were not kept for these statistics; this metric needs them")
        self._require(1)
        return torch.cat(self._raw) if len(self._raw) > 1 else self._raw[0]

    def state_dict(self) -> dict:
        """Tensors and plain values only, so torch.load(..., weights_only=True) reads it back."""
        return {"num_samples": self.num_samples, "shift": self.shift, "sum": self.sum, "outer_sum": self.outer_sum}

    @classmethod
    def from_state_dict(cls, state: dict, rows: torch.Tensor | None = None) -> FeatureStats:
        """Statistics from state_dict(); with `rows`, the raw rows they were computed from, kept."""
        stats = cls(keep_raw=rows is not None)
        stats.num_samples = int(state["num_samples"])
        stats.shift, stats.sum, stats.outer_sum = state["shift"], state["sum"], state["outer_sum"]
        stats.device = None if stats.shift is None else stats.shift.device
        if rows is not None:
            stats._raw = [rows]
        return stats

    def _require(self, count: int) -> None:
        if self.num_samples < count:
            raise InputError(f"statistics need at least {count} samples, got {self.num_samples}")
