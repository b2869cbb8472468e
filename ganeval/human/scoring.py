"""HYPE-infinity scoring (Zhou et al. 2019): error rates of people judging real and generated images, and their
bootstrap intervals over raters and images. Pure numpy on a matrix of judgments; no files.

`judged_real` is a raters x images boolean matrix (every rater judged every image) and `is_fake` says which images
are generated. A judgment is wrong when a generated image is judged real or a real one fake:
- hype_inf        = wrong judgments / all judgments (0.5: people cannot tell; above: "hyper-realistic")
- hype_fake_error = generated judged real / judgments of generated images
- hype_real_error = real judged fake / judgments of real images
Attention checks are not in the matrix: the caller leaves them out and reports them.

The bootstrap follows HYPE: each replicate resamples the raters with replacement and the images with replacement
(within each class, so that both per-class rates stay defined and hype_inf keeps the study's real/generated
balance), and recomputes the pooled rates; the interval is the percentile interval of the replicates.

>>> import numpy as np
>>> judged_real = np.array([[False, True, True, True]])  # one rater says fake, real, real, real
>>> error_rates(judged_real, np.array([True, True, False, False]))
{'hype_inf': 0.25, 'hype_fake_error': 0.5, 'hype_real_error': 0.0}
"""
from __future__ import annotations

import numpy as np

KEYS = ("hype_inf", "hype_fake_error", "hype_real_error")


def wrong_judgments(judged_real: np.ndarray, is_fake: np.ndarray) -> np.ndarray:
    """True where a judgment is wrong: a generated image judged real, or a real one judged fake."""
    return np.asarray(judged_real, dtype=bool) == np.asarray(is_fake, dtype=bool)[None, :]


def error_rates(judged_real: np.ndarray, is_fake: np.ndarray) -> dict[str, float]:
    """The three HYPE rates of the judgments of every rater pooled (a 1 x images matrix: one rater's)."""
    wrong = wrong_judgments(judged_real, is_fake)
    fake = np.asarray(is_fake, dtype=bool)
    return {"hype_inf": float(wrong.mean()), "hype_fake_error": float(wrong[:, fake].mean()),
            "hype_real_error": float(wrong[:, ~fake].mean())}


def bootstrap_rates(judged_real: np.ndarray, is_fake: np.ndarray, replicates: int, seed: int) -> dict[str, np.ndarray]:
    """`replicates` values of each rate, each from raters and images resampled with replacement (images within
    their class), from a numpy generator seeded with `seed`."""
    wrong = wrong_judgments(judged_real, is_fake).astype(np.float64)
    fake = np.asarray(is_fake, dtype=bool)
    rng = np.random.default_rng(seed)
    num_raters = wrong.shape[0]
    raters = resample_counts(rng, num_raters, replicates)  # replicates x raters: how often each rater is drawn
    wrong_sums = []
    for columns in (np.flatnonzero(fake), np.flatnonzero(~fake)):
        images = resample_counts(rng, len(columns), replicates)
        # sum over resampled (rater, image) pairs of wrong judgments: rater counts . wrong . image counts
        wrong_sums.append(((raters @ wrong[:, columns]) * images).sum(axis=1))
    fake_wrong, real_wrong = wrong_sums
    num_fake, num_real = int(fake.sum()), int((~fake).sum())
    return {"hype_inf": (fake_wrong + real_wrong) / (num_raters * (num_fake + num_real)),
            "hype_fake_error": fake_wrong / (num_raters * num_fake),
            "hype_real_error": real_wrong / (num_raters * num_real)}


def resample_counts(rng: np.random.Generator, count: int, replicates: int) -> np.ndarray:
    """replicates x count: how often each of `count` items is drawn in each resample of `count` with replacement."""
    draws = rng.integers(0, count, (replicates, count))
    flat = (draws + count * np.arange(replicates)[:, None]).ravel()
    return np.bincount(flat, minlength=replicates * count).reshape(replicates, count).astype(np.float64)


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap replicate values."""
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [tail, 1 - tail])
    return float(low), float(high)


def soft_labels(judged_real: np.ndarray) -> np.ndarray:
    """Per image, the fraction of raters who judged it real (dgm-eval's per-image soft labels)."""
    return np.asarray(judged_real, dtype=np.float64).mean(axis=0)
