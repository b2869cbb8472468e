"""human: HYPE-infinity (Zhou et al. 2019, "HYPE: A Benchmark for Human eYe Perceptual Evaluation of Generative
Models") and its two per-class error rates, from a blind real-or-generated study (`ganeval human make`, then
`ganeval human score`; see ganeval.human).

`hype_inf` is the share of wrong judgments over real and generated images together (0.5: people cannot tell them
apart), `hype_fake_error` the share of generated images judged real, `hype_real_error` the share of real images
judged fake. Higher is better for hype_inf and hype_fake_error: a better generator fools people more.
hype_real_error has no direction (reported, never ranked or gated): it rises as much with a rater's bias towards
"fake" as with a generator's quality. Their intervals are percentile
intervals of a bootstrap over raters and images (HYPE's procedure), computed by ganeval.human.scoring. People, not
features, give these numbers: the family is registered so that records, compare, report and gate read its keys,
and `scored_by` keeps it out of `ganeval score --metrics`.
"""
from __future__ import annotations

from ...errors import InputError
from ..registry import SHARE, Metric, MetricKey, MetricResult, register_metric

SCORED_BY = "ganeval human score"


def compute(context, weights=None) -> MetricResult:
    # parse_metrics refuses the family first; this guards a spec list that bypassed it
    raise InputError(f"metric 'human' is not computed from features; `{SCORED_BY}` records it")


HUMAN = register_metric(Metric(
    "human",
    (MetricKey("hype_inf", higher_is_better=True, interval="percentile", bounds=SHARE),
     MetricKey("hype_fake_error", higher_is_better=True, interval="percentile", bounds=SHARE, plotted=False),
     MetricKey("hype_real_error", higher_is_better=None, interval="percentile", bounds=SHARE, plotted=False)),
    compute,
    rows="none",
    scored_by=SCORED_BY,
))
