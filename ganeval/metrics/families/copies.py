"""copies: the share of generated samples that copy a training sample by the nearest-neighbour ratio test
(||g - NN1|| / ||g - NN2|| < 1/3 over the training set, sail-sg/DiffMemorize `mem_ratio.py`), in the extractor's
space (`copies`) and in pixel space (`copies_pixel`: Euclidean over the [0, 255] pixels, as the reference code
does; null for vectors, which have no pixels). The most copy-like samples (their indices, ratios and nearest
training samples) are in the diagnostics, worst first: `ganeval neighbours` and the report draw them.

Interval 'percentile': each key is a mean over the generated samples of a per-sample test against the fixed
training set, so resampling the generated samples is what its sampling error is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import InputError
from ..registry import SHARE, Metric, MetricKey, MetricResult, option, register_metric


@dataclass(frozen=True)
class Options:
    worst: int = option(32, "how many of the most copy-like samples the record lists, with their nearest training "
                            "samples (default 32)")


def compute(context, weights=None) -> MetricResult:
    from ..copies import COPY_RATIO, copy_ratios, copy_share, most_copy_like
    from ..training_set import nearest_training, nearest_training_pixels

    searched = {"features": nearest_training(context, "copies"), "pixels": nearest_training_pixels(context, "copies")}
    spaces = {name: (copy_ratios(found[0]), *found) for name, found in searched.items() if found is not None}
    values, replicates = {"copies": math.nan, "copies_pixel": math.nan}, {}
    diagnostics: dict = {"threshold": COPY_RATIO, "num_train": len(context.train.stats.rows)}
    for name, key in (("features", "copies"), ("pixels", "copies_pixel")):
        if name not in spaces:
            diagnostics[f"{key}_note"] = ("not computed: the samples are not images, --train keeps no images, or the "
                                          "Evaluator streamed them (it keeps no pixels)")
            continue
        values[key], replicate = copy_share(spaces[name][0], weights)
        if replicate is not None:
            replicates[key] = replicate
        diagnostics[f"median_ratio_{name}"] = float(spaces[name][0].median())
        # worst first in each space, each sample with its neighbours in every space (the grid shows both)
        diagnostics["worst" if name == "features" else "worst_pixels"] = most_copy_like(
            spaces[name][0], spaces, context.options.worst)
    return MetricResult(values, diagnostics, replicates)


def check(options: Options, num_input: int, num_reference: int) -> None:
    if options.worst < 0:
        raise InputError(f"copies: --copies-worst {options.worst} must be 0 or more")


COPIES = register_metric(Metric(
    "copies",
    (MetricKey("copies", higher_is_better=False, interval="percentile", bounds=SHARE),
     MetricKey("copies_pixel", higher_is_better=False, interval="percentile", bounds=SHARE)),
    compute,
    options=Options,
    check=check,
    rows="input",  # the generated rows; the training rows are always kept, the reference is not read
    status=lambda context: f"copies: {context.num_samples} samples against "
                           f"{len(context.train.stats.rows) if context.train else 0} training samples",
    train=True,
    pixels=True,
))
