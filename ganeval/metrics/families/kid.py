"""kid: the Kernel Inception Distance, the unbiased MMD^2 with a cubic polynomial kernel averaged over subsets
(Binkowski et al. 2018), as torch-fidelity computes it."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import Metric, MetricKey, MetricResult, option, register_metric


@dataclass(frozen=True)
class Options:
    subsets: int = option(100, "KID subsets (default 100)")
    subset_size: int | None = option(None, "KID subset size (default min(1000, N))")


def subset_size(context) -> int:
    """The explicit size, else torch-fidelity's 1000, or the smaller side when there are fewer."""
    if context.options.subset_size is not None:
        return context.options.subset_size
    return min(1000, len(context.reference.rows), context.num_samples)


def compute(context, weights=None) -> MetricResult:
    from ..kid import kid_with_replicates

    options, size = context.options, subset_size(context)
    mean, std, replicates = kid_with_replicates(context.reference.rows.to(context.device), context.features.raw(),
                                                weights, options.subsets, size, context.seed, device=context.device)
    replicates = {} if replicates is None else {"kid_mean": replicates}
    diagnostics = {"subsets": options.subsets, "subset_size": size}
    if size == len(context.reference.rows) == context.num_samples:
        diagnostics["note"] = (f"every subset is all {size} samples of both sets: one MMD^2 (the subsets differ only "
                               "in order), so kid_std is 0, not a spread; use fewer samples per subset for one")
    return MetricResult({"kid_mean": mean, "kid_std": std}, diagnostics, replicates)


def check(options: Options, num_input: int, num_reference: int) -> None:
    size = options.subset_size
    if size is not None and not 2 <= size <= min(num_reference, num_input):
        raise InputError(f"kid: subset size {size} must be between 2 and the number of samples (real "
                         f"{num_reference}, fake {num_input}); lower --kid-subset-size or use more samples")


KID = register_metric(Metric(
    "kid",
    (MetricKey("kid_mean", higher_is_better=False, interval="basic"), MetricKey("kid_std")),
    compute,
    options=Options,
    default=True,
    check=check,
    status=lambda context: f"kid: {context.options.subsets} subsets of {subset_size(context)}",
))
