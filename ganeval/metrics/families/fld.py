"""fld: the Feature Likelihood Divergence of Jiralerspong et al., NeurIPS 2023 ("Feature Likelihood Divergence:
Evaluating the Generalization of Generative Models Using Samples"), as marcojira/fld computes it (`fld/metrics/FLD.py`,
`fld/MoG.py` at ffbbf20): a mixture of Gaussians centred on the generated samples, its variances fitted to the
training set (`--train`), scores the test set (the reference) against a baseline mixture centred on training rows.

`fld` (lower is better): 100 x (test NLL per dimension under the generated mixture - the same under the baseline);
about 0 for a model as good as fresh real data, large for memorised samples (the reference warns above 1,000).
`fld_gap` (higher is better): the package's generalisation gap, FLD(eval_feat="gap") = 100 x (train NLL - test NLL)
under the same generated mixture: negative when the samples sit closer to the training rows than to held-out ones
(memorisation; the package warns below -1,000), about 0 (a little below: the variances are fitted to the training
rows) otherwise. Both come from one fit here; the package fits again for the gap.

dgm-eval's `fls.py` is the older Feature Likelihood Score, 100 exp(-2 (NLL - baseline NLL) / d): the opposite
direction (higher is better), and not comparable with FLD.

No bootstrap interval: each replicate would cost the whole fit again (two Adam fits of a mixture with one centre per
generated sample against the training set), and the mixture's variances are fitted to the generated sample itself,
so a resample with repeated rows is a different mixture (duplicate centres), not a reweighting of the same one.
The fit's batch order and the baseline's split of the training set are drawn from the score's seed.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InputError
from ..registry import Metric, MetricKey, MetricResult, option, register_metric

# the reference's constants (marcojira/fld FLD.GEN_SIZE and MoG's NUM_EPOCHS, LR, BATCH_SIZE), kept here as well so
# the CLI builds its flags without importing torch
GENERATED_SIZE, EPOCHS, LEARNING_RATE, BATCH_SIZE = 10_000, 50, 0.5, 10_000
MEMORISED_FLD = 1_000  # FLD.compute_metric warns above this FLD and below minus this gap


@dataclass(frozen=True)
class Options:
    generated_size: int = option(GENERATED_SIZE, "generated samples that centre FLD's mixture, a seeded subset when "
                                                 "there are more (default 10000, the package's)")
    epochs: int = option(EPOCHS, "most epochs of FLD's variance fit over the training set (default 50; it stops "
                                 "earlier when the loss settles)")
    learning_rate: float = option(LEARNING_RATE, "Adam learning rate of FLD's variance fit (default 0.5)")
    batch_size: int = option(BATCH_SIZE, "training rows per Adam step of FLD's variance fit (default 10000)")


def compute(context, weights=None) -> MetricResult:
    from ..fld import FitSettings, feature_likelihood_divergence
    from ..training_set import require_train  # imports torch: not at load, so --help stays light

    train = require_train(context, "fld")
    options = context.options
    result = feature_likelihood_divergence(
        train.stats.rows, context.reference.rows, context.features.raw(), seed=context.seed,
        generated_size=options.generated_size, device=context.device,
        settings=FitSettings(options.epochs, options.learning_rate, options.batch_size))
    diagnostics = {**result.diagnostics(), "standardised_by": "reference (test) rows",
                   "gap": "100 (train NLL - test NLL): negative when generated samples sit on training rows"}
    if result.fld > MEMORISED_FLD or result.gap < -MEMORISED_FLD:  # where the package warns
        diagnostics["warning"] = "very high FLD or very negative gap: the generated samples are likely memorised"
    return MetricResult({"fld": result.fld, "fld_gap": result.gap}, diagnostics)


def check(options: Options, num_input: int, num_reference: int) -> None:
    for name in ("generated_size", "epochs", "batch_size"):
        if getattr(options, name) < 1:
            raise InputError(f"fld: {name.replace('_', '-')} {getattr(options, name)} must be at least 1; "
                             f"set --fld-{name.replace('_', '-')}")
    if not options.learning_rate > 0:
        raise InputError(f"fld: learning rate {options.learning_rate} must be above 0; set --fld-learning-rate")
    if num_reference < 2:
        raise InputError(f"fld: the reference (test) set has {num_reference} rows; FLD standardises by its "
                         f"standard deviation and needs at least 2")


def _status(context) -> str:
    train = len(context.train.stats.rows) if context.train is not None else 0
    centres = min(context.num_samples, context.options.generated_size)
    return (f"fld: mixture of {centres} generated samples fitted to {train} training rows, "
            f"scored on {len(context.reference.rows)} test rows")


FLD = register_metric(Metric(
    "fld",
    (MetricKey("fld", higher_is_better=False),
     MetricKey("fld_gap", higher_is_better=True)),
    compute,
    options=Options,
    check=check,
    status=_status,
    train=True,
    held_out=True,  # the test set the mixtures are scored on: held out from the training set
))
