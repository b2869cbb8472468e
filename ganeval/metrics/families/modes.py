"""modes: mode coverage, against the mixture's centres for a ring8/grid25 reference (VEEGAN/PacGAN), else over the
classes the extractor's logits give (10 Fashion-MNIST classes, 1,000 stacked triples)."""
from __future__ import annotations

from ...errors import InputError
from ..registry import NON_NEGATIVE, SHARE, Metric, MetricKey, MetricResult, register_metric


def compute(context, weights=None) -> MetricResult:
    from ..modes import label_modes, mixture_modes

    info = context.reference.info
    if info.mixture is not None:
        result = mixture_modes(context.features.raw(), info.mixture.means, info.mixture.std, weights=weights)
        source = f"mixture {info.mixture.name}"
    elif context.logits is not None:
        logits = context.logits.raw()
        num_modes = logits.shape[1]
        labels = info.labels if info.num_label_modes == num_modes else None  # not ImageNet classes vs CIFAR labels
        result = label_modes(logits.argmax(1), num_modes, labels, weights=weights)
        result["reverse_kl"] = result.pop("kl_uniform")  # KL(p_hat || uniform), the same key as for mixtures
        if "replicates" in result:
            result["replicates"]["reverse_kl"] = result["replicates"].pop("kl_uniform")
        source = "classes of the extractor's logits"
    else:
        raise InputError("metric 'modes' needs a ring8/grid25 reference or an extractor with class logits")
    counts = result.pop("mode_counts")
    replicates = result.pop("replicates", {})
    return MetricResult(result, {"source": source, "num_modes": len(counts), "mode_counts": counts}, replicates)


MODES = register_metric(Metric(
    "modes",
    (MetricKey("modes", higher_is_better=True, interval="centred", bounds=NON_NEGATIVE),
     MetricKey("high_quality", higher_is_better=True, interval="percentile", bounds=SHARE),
     MetricKey("reverse_kl", higher_is_better=False, interval="basic", bounds=NON_NEGATIVE),
     MetricKey("kl_reference", higher_is_better=False, interval="basic", bounds=NON_NEGATIVE, plotted=False)),
    compute,
    needs_logits=lambda info: info.mixture is None,  # images: the classes the logits give
))
