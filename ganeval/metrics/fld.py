"""Feature Likelihood Divergence, Jiralerspong et al., NeurIPS 2023; matches marcojira/fld at ffbbf20
(`fld/metrics/FLD.py`, `fld/MoG.py`).

Features are standardised by the test (held-out) set's mean and standard deviation. A mixture of isotropic Gaussians
centred on the generated samples, with equal weights and one variance per centre, has its log-variances fitted by
Adam to the training set's likelihood; FLD is 100 times the test set's mean negative log-likelihood per dimension under
that mixture minus the same under a baseline mixture centred on as many training rows (at most half the training set)
and fitted to the rest. About 0 for a model as good as fresh real data, lower is better; memorised samples get
near-zero variances that make held-out data unlikely, which blows it up. The generalisation gap is 100 (NLL(train) -
NLL(test)) under the generated mixture: the more negative, the more the samples sit on training points.

The fit follows MoG.fit: log-variances start at log((min over training rows of the squared distance + 1e-3) / d),
Adam (lr 0.5, torch's default betas) over batches of 10,000 shuffled training rows for up to 50 epochs, stopping
once an epoch's mean batch loss is within 5e-4 of each of the previous four (after epoch 5), log-variances clamped
to [-40, 40] after every step. During the fit only, an extra component of weight 1 (the centres' weights sum to 1)
centred on the training mean, with squared distances scaled by 0.9^2 and its own fitted log-variance, keeps every
training row's likelihood above a floor.

Unlike the reference, which caches the full training x generated distance matrix in float32 (2.4 GB at 60,000 x
10,000) and differentiates through it with autograd, every step here takes the loss and its gradient in closed form,
block by block in float64 (MemoryLimits.block_elements pairs per block); the distances are cached (float64, else
float32) when they fit in MemoryLimits.cache_bytes, else recomputed per block. Pairs within the float64 products'
rounding of zero get their distance recomputed exactly (ganeval.metrics.knn), so an exact copy of a training row is
at distance 0, not at rounding noise that would decide how far its variance falls. The reference standardises the
baseline's features a second time (by the already standardised test set: a no-op up to rounding); this does not.

Randomness (one torch.Generator seeded with `seed`, on the CPU, drawn in this order): the subset of generated rows
when there are more than `generated_size`; the generated mixture's batch order over the training rows; the
training rows' permutation whose first part centres the baseline; the baseline fit's batch order over the rest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..arrays import ArrayLike, as_matrix, check_same_dim
from ..errors import InputError
from .knn import BlockedRows, exact_squared_distances, squared_distances

GENERATED_SIZE = 10_000  # FLD.GEN_SIZE: generated rows kept (a seeded subset beyond it)
EPOCHS = 50  # MoG.NUM_EPOCHS
LEARNING_RATE = 0.5  # MoG.LR
BATCH_SIZE = 10_000  # MoG.BATCH_SIZE
INIT_OFFSET = 1e-3  # MoG.fit: log-variances start at log((min distance + 1e-3) / d)
ORIGIN_SCALE = (1 - 0.1) ** 2  # MoG.ORIGIN_DIST_PROP = 0.1: the origin component's squared-distance factor
ORIGIN_INIT = 0.0  # MoG.INIT_LOG_SIGMAS: the origin component's initial log-variance
LOG_VARIANCE_BOUNDS = (-40.0, 40.0)  # clamped after every step ("to stop NANs for identical samples")
STOP_TOLERANCE = 5e-4  # early stop: the epoch's mean loss within this of each of the previous four
STOP_WINDOW = 5
STOP_AFTER_EPOCH = 5  # the test runs from epoch index 6 on
BLOCK_ELEMENTS = 2**23  # rows x centres per block: 64 MiB per float64 temporary
CACHE_BYTES = 3 * 2**29  # the fit caches its distances when they fit in 1.5 GiB (60,000 x 5,000 float32: 1.2 GB); beyond,
# recomputed per block, so that 60,000 x 10,000 at d = 2,048 stays within 3 GB (the cache alone would be 2.4 GB)
LOG_TWO_PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class FitSettings:
    """The mixture fit's optimiser settings (MoG's constants by default)."""

    epochs: int = EPOCHS
    learning_rate: float = LEARNING_RATE
    batch_size: int = BATCH_SIZE


@dataclass(frozen=True)
class MemoryLimits:
    """Rows x centres per block of distances, and the bytes the fit may spend on caching its distance matrix
    (0: recompute per block); they change the rounding, not the result."""

    block_elements: int = BLOCK_ELEMENTS
    cache_bytes: int = CACHE_BYTES


@dataclass(frozen=True)
class MixtureFit:
    """Fitted log-variances (one per centre; exp() is the variance) and how the fit went."""

    log_variances: torch.Tensor
    origin_log_variance: float
    epochs: int  # epochs run (fewer than asked when the loss settled)
    losses: list[float] = field(repr=False)  # mean batch loss per epoch


@dataclass(frozen=True)
class FLDResult:
    """FLD, the generalisation gap, the NLLs (per dimension) behind them, and the fits' sizes."""

    fld: float
    gap: float
    test_nll: float
    train_nll: float
    baseline_nll: float
    num_centres: int
    num_baseline_centres: int
    epochs: int
    baseline_epochs: int

    def diagnostics(self) -> dict:
        return {"test_nll": self.test_nll, "train_nll": self.train_nll, "baseline_nll": self.baseline_nll,
                "num_centres": self.num_centres, "num_baseline_centres": self.num_baseline_centres,
                "epochs": self.epochs, "baseline_epochs": self.baseline_epochs}


class PairDistances:
    """Squared distances (float64) from rows of `points` to every centre, served by row blocks: from a cache built
    once when it fits in `memory.cache_bytes` (float64, else float32), else recomputed block by block."""

    def __init__(self, points: torch.Tensor, centres: torch.Tensor, memory: MemoryLimits = MemoryLimits()):
        self.rows_per_block = max(1, memory.block_elements // len(centres))
        self.points = BlockedRows(points, torch.float64, self.rows_per_block)
        self.centres = BlockedRows(centres, torch.float64, len(centres))
        self.cache: torch.Tensor | None = None
        size = len(points) * len(centres)
        limit = memory.cache_bytes
        dtype = torch.float64 if size * 8 <= limit else torch.float32 if size * 4 <= limit else None
        if dtype is not None:
            self.cache = torch.empty((len(points), len(centres)), dtype=dtype, device=points.device)
            for rows in self.index_blocks(torch.arange(len(points), device=points.device)):
                self.cache[rows] = self.compute(rows).to(dtype)

    def index_blocks(self, rows: torch.Tensor) -> list[torch.Tensor]:
        return list(rows.split(self.rows_per_block))

    def block(self, rows: torch.Tensor) -> torch.Tensor:
        """Distances of the given point rows (an index tensor) to all centres: a new tensor, the caller's to change."""
        if self.cache is not None:
            return self.cache[rows].double()
        return self.compute(rows)

    def compute(self, rows: torch.Tensor) -> torch.Tensor:
        columns = slice(0, len(self.centres))
        distances = squared_distances(self.points, rows, self.centres, columns)
        # within the products' rounding of zero, take the exact value: a copy is at 0, not at rounding noise
        near = distances <= self.points.rounding[rows, None] + self.centres.rounding[None, :]
        if near.any():
            pair_rows, pair_cols = near.nonzero(as_tuple=True)
            distances[pair_rows, pair_cols] = exact_squared_distances(self.points.original, rows[pair_rows],
                                                                      self.centres.original, pair_cols)
        return distances

    def minimum_per_centre(self) -> torch.Tensor:
        """The squared distance from each centre to its nearest point."""
        rows = torch.arange(len(self.points), device=self.points.features.device)
        return torch.stack([self.block(part).amin(0) for part in self.index_blocks(rows)]).amin(0)


def feature_likelihood_divergence(
    train: ArrayLike,
    test: ArrayLike,
    generated: ArrayLike,
    *,
    seed: int = 0,
    generated_size: int = GENERATED_SIZE,
    settings: FitSettings = FitSettings(),
    device: torch.device | str | None = None,
    memory: MemoryLimits = MemoryLimits(),
) -> FLDResult:
    """FLD and the generalisation gap of generated features, given the training and test (held-out) features.

    >>> import torch
    >>> rows = lambda n, s: torch.randn(n, 4, generator=torch.Generator().manual_seed(s))
    >>> result = feature_likelihood_divergence(rows(200, 0), rows(100, 1), rows(50, 2), settings=FitSettings(5))
    >>> abs(result.fld) < 20
    True
    """
    train = as_matrix(train, "training features", device=device, dtype=None)
    test = as_matrix(test, "test features", device=train.device, dtype=None)
    generated = as_matrix(generated, "generated features", device=train.device, dtype=None, min_rows=1)
    check_same_dim(train, test, ("training features", "test features"))
    check_same_dim(train, generated, ("training features", "generated features"))
    generator = torch.Generator().manual_seed(seed)
    if len(generated) > generated_size:
        generated = generated[_permutation(len(generated), generator, train.device)[:generated_size]]
    mean, std = test.double().mean(0), test.double().std(0)
    if bool((std == 0).any()):
        raise InputError(f"fld: {int((std == 0).sum())} of {len(std)} feature dimensions are constant over the "
                         f"reference (test) rows, and FLD standardises by their standard deviation: use features "
                         f"that vary (a network extractor, not raw pixels with constant borders)")
    train, test, generated = ((rows.double() - mean) / std for rows in (train, test, generated))

    uncached = MemoryLimits(memory.block_elements, 0)  # scored once: a cache would not be read again
    on_train = PairDistances(train, generated, memory)
    fit = fit_mixture(on_train, train, _permutation(len(train), generator, train.device), settings)
    train_nll = mean_nll(on_train, fit.log_variances)
    del on_train  # its cache: the baseline's takes the memory next
    test_nll = mean_nll(PairDistances(test, generated, uncached), fit.log_variances)

    split = min(len(generated), len(train) // 2)
    order = _permutation(len(train), generator, train.device)
    centres, rest = train[order[:split]], train[order[split:]]
    baseline = fit_mixture(PairDistances(rest, centres, memory), rest,
                           _permutation(len(rest), generator, train.device), settings)
    baseline_nll = mean_nll(PairDistances(test, centres, uncached), baseline.log_variances)
    return FLDResult(fld=100 * (test_nll - baseline_nll), gap=100 * (train_nll - test_nll), test_nll=test_nll,
                     train_nll=train_nll, baseline_nll=baseline_nll, num_centres=len(generated),
                     num_baseline_centres=split, epochs=fit.epochs, baseline_epochs=baseline.epochs)


def fit_mixture(distances: PairDistances, points: torch.Tensor, order: torch.Tensor,
                settings: FitSettings = FitSettings()) -> MixtureFit:
    """Fit the log-variances of the mixture centred on `distances.centres` to the likelihood of `points` (the rows
    of `distances.points`), visiting them in batches of `order` (MoG.fit)."""
    dim = points.shape[1]
    origin = ORIGIN_SCALE * (points - points.mean(0)).square().sum(1)  # the origin component's squared distances
    log_variances = ((distances.minimum_per_centre() + INIT_OFFSET) / dim).log().requires_grad_()
    origin_log_variance = torch.tensor(ORIGIN_INIT, dtype=torch.float64, device=points.device, requires_grad=True)
    optimiser = torch.optim.Adam([log_variances, origin_log_variance], lr=settings.learning_rate)
    losses: list[float] = []
    for epoch in range(settings.epochs):
        batch_losses = []
        for batch in order.split(settings.batch_size):
            loss, log_variances.grad, origin_log_variance.grad = _loss_and_gradients(
                distances, batch, origin[batch], log_variances.detach(), origin_log_variance.detach())
            optimiser.step()
            with torch.no_grad():
                log_variances.clamp_(*LOG_VARIANCE_BOUNDS)
            batch_losses.append(loss)
        losses.append(sum(batch_losses) / len(batch_losses))
        settled = max(abs(losses[-1] - earlier) for earlier in losses[-STOP_WINDOW:]) < STOP_TOLERANCE
        if epoch > STOP_AFTER_EPOCH and settled:
            break
    return MixtureFit(log_variances.detach(), float(origin_log_variance.detach()), len(losses), losses)


def mean_nll(distances: PairDistances, log_variances: torch.Tensor) -> float:
    """Mean negative log-likelihood per dimension of `distances.points` under the equal-weight mixture of isotropic
    Gaussians on `distances.centres` with these log-variances (MoG.get_dim_adjusted_nlls)."""
    dim = distances.points.features.shape[1]
    rows = torch.arange(len(distances.points), device=log_variances.device)
    total = torch.zeros((), dtype=torch.float64, device=log_variances.device)
    for part in distances.index_blocks(rows):
        total += _component_log_likelihoods(distances.block(part), log_variances, dim).logsumexp(1).sum()
    return float(-total / (len(rows) * dim))


def _component_log_likelihoods(distances: torch.Tensor, log_variances: torch.Tensor, dim: int) -> torch.Tensor:
    """log(N(x_i | c_j, exp(s_j) I) / M) for a block of squared distances."""
    return (-0.5 * distances * (-log_variances).exp() - (dim / 2) * (log_variances + LOG_TWO_PI)
            - math.log(len(log_variances)))


def _loss_and_gradients(distances: PairDistances, batch: torch.Tensor, origin: torch.Tensor,
                        log_variances: torch.Tensor, origin_log_variance: torch.Tensor
                        ) -> tuple[float, torch.Tensor, torch.Tensor]:
    """MoG.fit's batch loss, -mean(log-likelihood) / d with the origin component, and its gradients with respect to
    the log-variances, block by block. d/ds_j of a component's log-likelihood is |x - c_j|^2 exp(-s_j) / 2 - d / 2;
    the log-likelihood's is that weighted by the component's responsibility for x. One exp per pair: the
    responsibilities are the log-sum-exp's own terms over their sum."""
    dim = distances.points.features.shape[1]
    total = torch.zeros((), dtype=torch.float64, device=log_variances.device)
    gradient = torch.zeros_like(log_variances)
    origin_gradient = torch.zeros_like(origin_log_variance)
    inverse, origin_inverse = (-log_variances).exp(), (-origin_log_variance).exp()
    offset = (dim / 2) * (log_variances + LOG_TWO_PI) + math.log(len(log_variances))
    start = 0
    for part in distances.index_blocks(batch):
        scaled = distances.block(part).mul_(inverse)  # |x - c_j|^2 / exp(s_j)
        origin_scaled = origin[start:start + len(part)] * origin_inverse
        start += len(part)
        terms = scaled.mul(-0.5).sub_(offset)  # the components' log-likelihoods
        origin_term = -0.5 * origin_scaled - (dim / 2) * (origin_log_variance + LOG_TWO_PI)
        peak = torch.maximum(terms.amax(1), origin_term)
        terms.sub_(peak[:, None]).exp_()
        origin_weight = (origin_term - peak).exp()
        normaliser = terms.sum(1) + origin_weight
        total += (peak + normaliser.log()).sum()
        terms.div_(normaliser[:, None])  # responsibilities
        gradient += scaled.mul_(0.5).sub_(dim / 2).mul_(terms).sum(0)
        origin_gradient += (origin_weight / normaliser * (0.5 * origin_scaled - dim / 2)).sum()
    scale = -1.0 / (len(batch) * dim)
    return float(total * scale), gradient * scale, origin_gradient * scale


def _permutation(count: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randperm(count, generator=generator).to(device)
