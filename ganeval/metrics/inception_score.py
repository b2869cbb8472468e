"""Inception Score, Salimans et al. 2016; matches torch-fidelity 0.4.0 metric_isc.py (same shuffle for the same seed).

IS = exp(E_x KL(p(y|x) || p(y))), computed on `splits` chunks and reported as mean and (population) std over chunks.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError
from ._inputs import ArrayLike, as_matrix, pick_device

DEFAULT_SEED = 2020  # torch-fidelity's rng_seed, so default shuffles agree with it


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
