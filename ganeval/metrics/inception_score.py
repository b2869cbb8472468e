"""Inception Score, Salimans et al. 2016; matches torch-fidelity 0.4.0 metric_isc.py (same shuffle for the same seed).

IS = exp(E_x KL(p(y|x) || p(y))), computed on `splits` chunks and reported as mean and (population) std over chunks.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError
from ..arrays import ArrayLike, as_matrix, pick_device
from ..config import DEFAULT_SEED



def inception_score(
    logits: ArrayLike,
    splits: int = 10,
    shuffle: bool = True,
    seed: int = DEFAULT_SEED,
    *,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    """Inception Score (mean, std) of classifier logits (N x classes), softmax in float64.

    >>> import torch
    >>> inception_score(torch.eye(10) * 50, splits=1)[0] > 9.99
    True
    """
    device = pick_device(logits, device=device)
    logits = as_matrix(logits, "logits", device=device)
    num_samples = logits.shape[0]
    if not 1 <= splits <= num_samples:
        raise InputError(f"inception score: splits={splits} must be between 1 and the number of samples ({num_samples})")
    if shuffle:
        # numpy's RandomState permutation, exactly as torch-fidelity draws it, so the same seed gives the same splits
        order = torch.from_numpy(np.random.RandomState(seed).permutation(num_samples)).to(device)
        logits = logits[order]
    probabilities = logits.softmax(dim=1)
    log_probabilities = logits.log_softmax(dim=1)
    scores = []
    for index in range(splits):
        chunk = slice(index * num_samples // splits, (index + 1) * num_samples // splits)
        size = chunk.stop - chunk.start
        # log p(y) in log space: a class whose probability underflows to 0 in every sample would make log(mean) -inf
        log_marginal = torch.logsumexp(log_probabilities[chunk], dim=0, keepdim=True) - math.log(size)
        kl = (probabilities[chunk] * (log_probabilities[chunk] - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


def inception_score_replicates(
    logits: ArrayLike,
    weights: torch.Tensor,
    splits: int = 10,
    shuffle: bool = True,
    seed: int = DEFAULT_SEED,
) -> torch.Tensor:
    """The IS mean of each bootstrap replicate (rows of `weights`: how often each sample is drawn).

    The splits are those of inception_score() for the same seed; in each, p(y) is the weighted mean of p(y|x) and
    E_x KL the weighted mean of the per-sample KLs, so a replicate with all weights 1 gives inception_score()'s mean.
    """
    device = pick_device(logits)
    logits = as_matrix(logits, "logits", device=device)
    weights = weights.to(device=device, dtype=torch.float64)
    num_samples = logits.shape[0]
    if shuffle:
        order = torch.from_numpy(np.random.RandomState(seed).permutation(num_samples)).to(device)
        logits, weights = logits[order], weights[:, order]
    log_probabilities = logits.log_softmax(dim=1)
    probabilities = log_probabilities.exp()
    negative_entropy = (probabilities * log_probabilities).sum(dim=1)  # sum_y p log p, per sample
    scores = torch.zeros(len(weights), dtype=torch.float64, device=device)
    for index in range(splits):
        chunk = slice(index * num_samples // splits, (index + 1) * num_samples // splits)
        split_weights = weights[:, chunk]
        totals = split_weights.sum(1, keepdim=True).clamp_min(1e-300)
        marginal = (split_weights @ probabilities[chunk]) / totals  # p(y) of each replicate's split
        log_marginal = marginal.clamp_min(1e-300).log()
        # sum_x w_x KL(p(y|x) || p(y)) = sum_x w_x sum_y p log p - sum_y (sum_x w_x p(y|x)) log p(y)
        kl = (split_weights @ negative_entropy[chunk] - (marginal * log_marginal).sum(1) * totals[:, 0]) / totals[:, 0]
        scores += kl.exp()
    return scores / splits
