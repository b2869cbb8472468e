"""Bootstrap confidence intervals from features already extracted (nothing is generated or extracted twice).

A replicate resamples the N generated samples with replacement; it is represented by the counts w (how often each
sample was drawn, sum N), and every metric computes its replicate values from those weights: weighted means and
covariances for FID, weighted class marginals for IS, weighted kernel sums for KID, weighted indicators for
PRDC and weighted histograms for the mode statistics. The reference side is held fixed: the intervals say how far
the score would move with another draw of generated samples from the same generator.

Interval kinds (Efron & Tibshirani 1993, ch. 13), chosen per metric by how its replicates behave:
- 'basic' (reverse percentile) (2 t - q_hi, 2 t - q_lo) for the plug-in estimates with a sampling bias: FID (upward
  by tr(S)/N terms, often more than its standard error), IS, KID, the KL divergences and NDB's JS divergence. The
  interval moves against the bias the resamples show, so it brackets the value at N = infinity, which a percentile
  interval of a biased statistic misses.
- 'percentile' (q_lo, q_hi) for weighted means (precision, density, the high-quality fraction).
- 'centred' (t + q_lo - m, t + q_hi - m), m the replicates' mean, for statistics of the samples' support (recall,
  coverage, modes covered, NDB's bin count): a resample holds only ~63% distinct samples, which lowers coverage and
  drops rare modes whatever the generator, so only the replicates' spread is used, around the estimate.
Each metric key's kind and the range it is clipped to (FID >= 0, shares in [0, 1], ...) are part of its family's
spec (ganeval.metrics.registry.MetricKey); the caller passes them (ganeval.evaluate.intervals).
"""
from __future__ import annotations

import math

import torch


def resampling_weights(num_samples: int, replicates: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """replicates x num_samples float64 counts: row b says how often each sample is drawn in bootstrap resample b.

    Drawn from a seeded CPU stream, so the same seed gives the same resamples on every device.

    >>> w = resampling_weights(5, 3, seed=0)
    >>> w.shape, w.sum(1).tolist()
    (torch.Size([3, 5]), [5.0, 5.0, 5.0])
    """
    generator = torch.Generator().manual_seed(seed)
    draws = torch.randint(0, num_samples, (replicates, num_samples), generator=generator)
    counts = torch.zeros(replicates, num_samples, dtype=torch.float64)
    counts.scatter_add_(1, draws, torch.ones(replicates, num_samples, dtype=torch.float64))
    return counts.to(device)


def interval(estimate: float, replicates: torch.Tensor, level: float, kind: str = "percentile",
             bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float]:
    """The bootstrap interval of `kind` ('percentile', 'basic' or 'centred', see above) at `level` from a metric's
    replicate values (NaN replicates are dropped), clipped to the metric's `bounds`.

    >>> low, high = interval(0.5, torch.linspace(0.4, 0.6, 101), 0.9)
    >>> round(low, 3), round(high, 3)
    (0.41, 0.59)
    """
    values = replicates.detach().to("cpu", torch.float64)
    values = values[torch.isfinite(values)]
    if values.numel() == 0 or not math.isfinite(estimate):
        return math.nan, math.nan
    tail = (1 - level) / 2
    low, high = (float(q) for q in torch.quantile(values, torch.tensor([tail, 1 - tail], dtype=torch.float64)))
    if kind == "basic":
        low, high = 2 * estimate - high, 2 * estimate - low
    elif kind == "centred":
        centre = float(values.mean())
        low, high = estimate + low - centre, estimate + high - centre
    floor, ceiling = bounds
    return min(max(low, floor), ceiling), min(max(high, floor), ceiling)


def standard_error(replicates: torch.Tensor) -> float:
    """The bootstrap standard error: the standard deviation of the finite replicate values."""
    values = replicates.detach().to("cpu", torch.float64)
    values = values[torch.isfinite(values)]
    return float(values.std()) if values.numel() > 1 else math.nan
