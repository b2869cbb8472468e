"""The duality gap of a GAN checkpoint: a domain-agnostic measure of how far the trained pair is from an equilibrium.

Grnarova, Levy, Lucchi, Perraudin, Goodfellow, Hofmann and Krause, "A Domain Agnostic Measure for Monitoring and
Evaluating GANs", NeurIPS 2019 (arXiv:1811.05512); their code is perturbed-dg's `compute_duality_gap`.

The game. With the loss the run trained with (ns, minimax, lsgan, hinge, wgan-gp) the game value is

    M(u, v) = -discriminator_loss(loss, D_v(x_real), D_v(G_u(z)))      (ganeval.train.losses, no gradient penalty)

so the discriminator v maximises M and the generator u minimises it. The duality gap of the pair (u, v) is

    DG(u, v) = M(u, v_worst) - M(u_worst, v),   v_worst = argmax_v' M(u, v'),   u_worst = argmin_u' M(u', v).

DG is 0 exactly at a (pure) equilibrium and positive elsewhere: a large gap says one player can still be beaten.
Both argmaxes are found by a short Adam optimisation (DualityGapOptions: `steps`, `lr`, `batch_size`): a copy of D
started at the checkpoint's D against the frozen G, and a copy of G started at the checkpoint's G against the
frozen D, each on batches of the training split and fresh latents. The result is a lower bound of the true gap
(the searches are short and local), which is what the paper's estimate is too.

Evaluated on held-out data. M is always measured on fixed evaluation batches: `eval_samples` real samples of the
held-out split (fashion-mnist:test for a run on fashion-mnist:train, and so for stacked-fashion-mnist and cifar10;
fresh samples of another seed for the 2D mixtures ring8 and grid25) and `eval_samples` seeded latents. A run on a
file or folder has no held-out split: M is then measured on a seeded subset of its own samples, and `held_out`
says so.

DG >= 0 by construction (for a checkpoint whose own game value M(u, v) is finite; a diverged checkpoint's is not,
and its gap is NaN with no search run: not measured, never a number that looks like one). Both searches start from the current players, M is evaluated on the same fixed batches at
the start and every `eval_every` steps (and after the last), and the value kept for v_worst is the largest of these
evaluations, the value for u_worst the smallest, the start's included. Hence

    M(u, v_worst) >= M(u, v) >= M(u_worst, v),   so DG >= 0,

whatever the searches do (a learning rate too large, a loss that does not fall), and exactly 0 when neither
search finds a better player.

The searches' objectives. The discriminator search minimises the run's discriminator loss, which is -M, plus the
gradient penalty for wgan-gp (weight gp_weight): without it the WGAN critic's M is unbounded above and the search
would measure the learning rate, not the pair; the penalty keeps v' in the critics the game is played over. The
generator search minimises the run's generator loss (for ns the non-saturating one, which has gradients where
-softplus(f) saturates; for lsgan the target-1 loss, as LSGAN's game is not zero-sum). Both are the objectives the
players were trained with, so the searches move the way training would; the values compared are always M.

Networks and modes. The pair is the raw generator and the discriminator: the game that was played (the EMA
generator, which ganeval scores, never played against this D). The player being optimised runs in train mode, as in
training (BatchNorm on batch statistics: real and generated batches through D separately, as the training loop
passes them); its BatchNorm running statistics follow its new weights. The frozen opponent runs in eval mode, so it
stays the same function throughout (a train-mode pass would move its running statistics). M is always evaluated
with both networks in eval mode: a deterministic value that does not depend on how the evaluation batches are
split, of the same generator function ganeval's metrics score. Everything runs in float32, whatever the run's
`precision`.

Cost. Each search step is a training step of one player (the opponent forward only), each evaluation a forward
pass over 2 x eval_samples. At the defaults (200 steps at batch 64 per side, 1024 evaluation samples, M evaluated
every 40 steps) an fmnist-dcgan checkpoint (widths 32) took 20-21 s on one thread of a 2-core CPU that other jobs
shared (Fashion-MNIST's loading, about 1 s, included; duality_gaps loads the data once per run), a ring8-gan
checkpoint 3 s. Two threads took 14 s while the cores were free (with twice the evaluations), but 3 to 14 times as
long while other jobs held them: set OMP_NUM_THREADS=1 on a shared machine.

Seen on ring8-gan (defaults, seeds 0 and 1): DG 1.39 at step 0 (= 2 log 2, the discriminator search reaches M ~ 0
against the untrained generator), 1.21-1.23 at step 500, 0.37-0.69 at step 2000: the gap falls as training nears
an equilibrium, by more than the seeds' spread.

Seeded and deterministic: the same checkpoint, options and seed give the same gap (on the CPU; CUDA convolutions
may differ in the last bits).
"""
from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter

import torch
from torch import nn

from ..data import DATASET_SPECS, MIXTURES, load_source
from ..data.checkpoint import latent_codes, load_checkpoint
from ..errors import InputError
from ..nets.build import build_discriminator, build_generator, latent_dim
from ..nets.dcgan import from_uint8
from ..runs import RunDir
from .config import TrainConfig
from .loop import checkpoint_config
from .losses import discriminator_loss, generator_loss, gradient_penalty

# Splits that hold out the other: a run on one split is evaluated on the other (the data sets' test splits are
# what their papers evaluate on).
HELD_OUT_SPLITS = {"train": "test", "test": "train"}
EVALUATIONS = 5  # the default `eval_every` evaluates M this many times per search (besides the start)
CPU = torch.device("cpu")
EVAL_CHUNK = 512  # samples per network pass while evaluating M (scores do not depend on it: eval mode)


@dataclass(frozen=True)
class DualityGapOptions:
    """How the worst players are searched for and the game value measured.

    `steps` Adam steps per search at learning rate `lr` (betas: the run's own), `batch_size` real samples and
    latents per step; M is measured on `eval_samples` held-out samples and as many seeded latents, at the start of
    each search and every `eval_every` steps (None: steps // 5, at least 1) and after the last; `seed` seeds the
    evaluation batches and the searches' batches."""

    steps: int = 200
    lr: float = 1e-3
    batch_size: int = 64
    eval_samples: int = 1024
    eval_every: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("steps", 0), ("batch_size", 2), ("eval_samples", 2), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InputError(f"duality gap: {name} = {value!r}: must be an integer >= {low}")
        if self.eval_every is not None and (not isinstance(self.eval_every, int) or self.eval_every < 1):
            raise InputError(f"duality gap: eval_every = {self.eval_every!r}: must be an integer >= 1 (or None)")
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or not 0 < self.lr < float("inf"):
            raise InputError(f"duality gap: lr = {self.lr!r}: must be a number > 0")

    @property
    def evaluation_period(self) -> int:
        """The steps between two evaluations of M during a search."""
        return self.eval_every if self.eval_every is not None else max(1, self.steps // EVALUATIONS)


@dataclass(frozen=True)
class DualityGap:
    """The duality gap of one checkpoint and the three game values it is made of (in units of the run's loss).

    gap = value_worst_discriminator - value_worst_generator >= 0, and
    value_worst_discriminator = M(u, v_worst) >= value = M(u, v) >= value_worst_generator = M(u_worst, v)."""

    checkpoint: str  # the checkpoint file
    step: int  # the training step it holds
    loss: str  # the run's loss, which defines M
    gap: float
    value: float
    value_worst_discriminator: float
    value_worst_generator: float
    steps: int  # optimisation steps of each search
    seconds: float  # wall time of this checkpoint's measurement
    held_out: str  # where the real evaluation samples came from

    def to_dict(self) -> dict:
        """Plain JSON values."""
        return asdict(self)


def duality_gap(
    checkpoint: str | os.PathLike,
    *,
    steps: int = DualityGapOptions.steps,
    lr: float = DualityGapOptions.lr,
    batch_size: int = DualityGapOptions.batch_size,
    eval_samples: int = DualityGapOptions.eval_samples,
    seed: int = 0,
    device: torch.device = CPU,
    data_root: str | None = None,
) -> DualityGap:
    """The duality gap of a ganeval checkpoint (see the module docstring for the definition, the guarantee DG >= 0
    and the cost). A missing file, a file that is no ganeval checkpoint or one without a discriminator is an
    InputError of one line; so is data that cannot be found (`data_root` as in training)."""
    options = DualityGapOptions(steps=steps, lr=lr, batch_size=batch_size, eval_samples=eval_samples, seed=seed)
    return checkpoint_duality_gap(checkpoint, options, device=device, data_root=data_root)


def checkpoint_duality_gap(checkpoint: str | os.PathLike, options: DualityGapOptions = DualityGapOptions(), *,
                           device: torch.device = CPU, data_root: str | None = None) -> DualityGap:
    """duality_gap with its options as one DualityGapOptions (which also sets `eval_every`)."""
    return _measure(Path(checkpoint), options, device, data_root, {})


def duality_gaps(
    run: RunDir | str | os.PathLike,
    options: DualityGapOptions | None = None,
    *,
    every: int = 1,
    device: torch.device = CPU,
    data_root: str | None = None,
) -> list[DualityGap]:
    """The duality gaps of a run's checkpoints in step order: every `every`-th one and the last (as training scores
    them). The data are loaded once for the run, so each checkpoint costs its two searches only."""
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise InputError(f"duality gap: every = {every!r}: must be an integer >= 1")
    checkpoints = (run if isinstance(run, RunDir) else RunDir(run)).checkpoints()
    chosen = checkpoints[::every]
    if chosen[-1] != checkpoints[-1]:
        chosen.append(checkpoints[-1])
    cache: dict[tuple, _GameData] = {}
    return [_measure(item.path, options or DualityGapOptions(), device, data_root, cache) for item in chosen]


@dataclass(frozen=True)
class _GameData:
    """The real samples of one checkpoint's game, on the device: the training split the searches draw from
    (uint8 images or float points) and the fixed held-out evaluation batch (floats, the networks' input)."""

    train: torch.Tensor
    held_out: torch.Tensor
    held_out_name: str


@dataclass
class _Players:
    """The checkpoint's pair, both in eval mode, and what the searches need to know of the run."""

    generator: nn.Module
    discriminator: nn.Module
    config: TrainConfig
    step: int


def _measure(path: Path, options: DualityGapOptions, device: torch.device, data_root: str | None,
             cache: dict[tuple, _GameData]) -> DualityGap:
    started = perf_counter()
    players = _load_players(path, device)
    config = players.config
    for name in ("batch_size", "eval_samples"):
        if getattr(options, name) % config.packing:
            raise InputError(f"duality gap: {name} = {getattr(options, name)} is not divisible by {path}'s packing "
                             f"degree {config.packing} (its discriminator scores packs of {config.packing})")
    key = (config.data, config.model, config.train_size, config.seed, options.eval_samples, options.seed, str(device))
    if key not in cache:
        cache[key] = _game_data(config, options, device, data_root)
    data = cache[key]
    # One stream per purpose: the evaluation latents do not depend on the number of search steps, nor the generator
    # search on the discriminator search's draws.
    latents = latent_codes(options.eval_samples, _latent_dim(config), options.seed).to(device)
    game = _Game(players, data, latents, options, device)
    value = game.value(players.generator, players.discriminator)
    if not math.isfinite(value):  # a diverged checkpoint: no search can order its values, say so
        return DualityGap(checkpoint=str(path), step=players.step, loss=config.loss, gap=math.nan, value=value,
                          value_worst_discriminator=math.nan, value_worst_generator=math.nan, steps=0,
                          seconds=perf_counter() - started, held_out=data.held_out_name)
    # Both searches start from the current players, whose value is `value`: their max and min include it, so
    # M(u, v_worst) >= M(u, v) >= M(u_worst, v) holds exactly, in floating point too.
    worst_discriminator = game.search_discriminator(_stream(options.seed, 1), value)
    worst_generator = game.search_generator(_stream(options.seed, 2), value)
    return DualityGap(checkpoint=str(path), step=players.step, loss=config.loss,
                      gap=worst_discriminator - worst_generator, value=value,
                      value_worst_discriminator=worst_discriminator, value_worst_generator=worst_generator,
                      steps=options.steps, seconds=perf_counter() - started, held_out=data.held_out_name)


def _load_players(path: Path, device: torch.device) -> _Players:
    """The checkpoint's raw generator and discriminator in eval mode, float32 on `device`, and its config."""
    checkpoint = load_checkpoint(path, map_location=device)  # InputError for a missing or foreign file
    config = checkpoint_config(checkpoint.get("config"), str(path))
    if config.labels != "none":
        raise InputError(f"{path}: the duality gap is measured for unconditional GANs; model {config.model} is "
                         "class-conditional (its players take labels)")
    if not isinstance(checkpoint.get("discriminator"), dict):
        raise InputError(f"{path}: checkpoint holds no discriminator weights (the duality gap needs both players)")
    step = checkpoint["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise InputError(f"{path}: checkpoint step = {step!r}: must be an integer >= 0")
    source = f"{path}: checkpoint config"
    generator = build_generator(config.model, config.model_options, source)
    discriminator = build_discriminator(config.model, config.model_options, config.packing, source)
    for name, network in (("generator", generator), ("discriminator", discriminator)):
        try:
            network.load_state_dict(checkpoint[name])
        except (RuntimeError, TypeError, AttributeError) as exc:  # shaped for another network
            raise InputError(f"{path}: its {name} weights do not fit its config ({type(exc).__name__})") from exc
    return _Players(generator.to(device).float().eval(), discriminator.to(device).float().eval(), config, step)


def _latent_dim(config: TrainConfig) -> int:
    return latent_dim(config.model, config.model_options, f"config {config.name}")


def held_out_spec(data: str) -> str | None:
    """The spec of the split held out from training on `data`: fashion-mnist:train -> fashion-mnist:test (and the
    reverse; likewise stacked-fashion-mnist and cifar10); None for a mixture or a path (no split to hold out).

    >>> held_out_spec("fashion-mnist:train"), held_out_spec("cifar10:test"), held_out_spec("ring8")
    ('fashion-mnist:test', 'cifar10:train', None)
    """
    if data not in DATASET_SPECS:
        return None
    name, _, split = data.partition(":")
    return f"{name}:{HELD_OUT_SPLITS[split]}"


def _game_data(config: TrainConfig, options: DualityGapOptions, device: torch.device,
               data_root: str | None) -> _GameData:
    """The training split as training loads it, and the held-out evaluation batch."""
    train = load_source(config.data, num_samples=config.train_size if config.model == "mlp" else None,
                        seed=config.seed, data_root=data_root)
    if (train.kind == "vectors") != (config.model == "mlp"):
        raise InputError(f"config {config.name}: model {config.model} cannot play on {train.kind} from {config.data}")
    if len(train) < options.batch_size:
        raise InputError(f"duality gap: batch_size = {options.batch_size}: larger than the {len(train)} samples of "
                         f"{config.data}")
    spec = held_out_spec(config.data)
    if config.data in MIXTURES:
        # Fresh points of another seed than the training set's: the mixture itself is the held-out distribution.
        held_seed = (config.seed + 1 + options.seed) % 2**63
        held = load_source(config.data, num_samples=options.eval_samples, seed=held_seed)
        name = f"{config.data} (fresh samples, seed {held_seed})"
    elif spec is not None:
        held = load_source(spec, num_samples=options.eval_samples, seed=options.seed, data_root=data_root)
        name = spec
    else:
        # A file or folder has no held-out split; its own samples are the best stand-in, and the name says so.
        held = train.subset(options.eval_samples, options.seed)
        name = f"{config.data} (the training samples: no held-out split)"
    return _GameData(train.data.to(device), _as_input(held.data).to(device), name)


def _as_input(samples: torch.Tensor) -> torch.Tensor:
    """Stored samples as the networks take them: uint8 images to [-1, 1], float64 points to float32."""
    return from_uint8(samples) if samples.dtype == torch.uint8 else samples.float()


def _stream(seed: int, purpose: int) -> torch.Generator:
    """A CPU random stream for one purpose of one seed (1: the discriminator search, 2: the generator search)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + purpose) % 2**64)


@contextmanager
def _frozen(network: nn.Module) -> Iterator[nn.Module]:
    """`network` without weight gradients for the block (the opponent's backward pass needs only input gradients)."""
    network.requires_grad_(False)
    try:
        yield network
    finally:
        network.requires_grad_(True)


class _Game:
    """M on the fixed evaluation batches, and the two searches for the worst players."""

    def __init__(self, players: _Players, data: _GameData, latents: torch.Tensor, options: DualityGapOptions,
                 device: torch.device):
        self.players, self.data, self.latents, self.options, self.device = players, data, latents, options, device
        self.config = players.config
        packing = self.config.packing
        self.chunk = max(packing, EVAL_CHUNK // packing * packing)  # whole packs in every pass

    # -- the game value ------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _pass(self, network: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """`network` in eval mode over `inputs` in chunks of whole packs (eval mode: the result is one pass's)."""
        return torch.cat([network(part) for part in inputs.split(self.chunk)])

    def _m(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> float:
        return float(-discriminator_loss(self.config.loss, real_scores, fake_scores))

    def value(self, generator: nn.Module, discriminator: nn.Module) -> float:
        """M(u, v) on the evaluation batches, both networks in eval mode."""
        fakes = self._pass(generator.eval(), self.latents)
        return self._m(self._pass(discriminator.eval(), self.data.held_out), self._pass(discriminator, fakes))

    # -- the searches ---------------------------------------------------------------------------------------------

    def _real_batch(self, random: torch.Generator) -> torch.Tensor:
        rows = torch.randint(len(self.data.train), (self.options.batch_size,), generator=random)
        return _as_input(self.data.train[rows.to(self.data.train.device)])

    def _latent_batch(self, random: torch.Generator) -> torch.Tensor:
        return torch.randn(self.options.batch_size, _latent_dim(self.config), generator=random).to(self.device)

    def _adam(self, network: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(network.parameters(), lr=self.options.lr, betas=self.config.betas)

    def _optimise(self, player: nn.Module, objective: Callable[[], torch.Tensor], evaluate: Callable[[], float],
                  best: float, better: Callable[[float, float], float]) -> float:
        """`options.steps` Adam steps of `player` (train mode) on `objective`; returns the best, by `better` (max or
        min), of `best` (the start's value) and `evaluate` (eval mode) every evaluation period and after the last
        step."""
        optimiser, period = self._adam(player), self.options.evaluation_period
        for step in range(1, self.options.steps + 1):
            player.train()
            loss = objective()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if step % period == 0 or step == self.options.steps:
                player.eval()
                value = evaluate()
                if math.isfinite(value):  # an iterate that diverged (a learning rate too large) is no player
                    best = better(best, value)
        return best

    def search_discriminator(self, random: torch.Generator, start: float) -> float:
        """The max of `start` = M(u, v) and M(u, v') at the evaluated iterates v' of a copy of D trained against
        the frozen G."""
        generator, config = self.players.generator.eval(), self.config
        critic = copy.deepcopy(self.players.discriminator)
        fakes = self._pass(generator, self.latents)  # G is frozen: its evaluation samples are computed once

        def objective() -> torch.Tensor:
            real = self._real_batch(random)
            with torch.no_grad():
                fake = generator(self._latent_batch(random))
            loss = discriminator_loss(config.loss, critic(real), critic(fake))  # -M on the batch
            if config.loss == "wgan-gp" and config.gp_weight > 0:
                loss = loss + config.gp_weight * gradient_penalty(critic, real, fake, random, config.packing)
            return loss

        def evaluate() -> float:
            return self._m(self._pass(critic, self.data.held_out), self._pass(critic, fakes))

        return self._optimise(critic, objective, evaluate, start, max)

    def search_generator(self, random: torch.Generator, start: float) -> float:
        """The min of `start` = M(u, v) and M(u', v) at the evaluated iterates u' of a copy of G trained against
        the frozen D."""
        discriminator, config = self.players.discriminator.eval(), self.config
        player = copy.deepcopy(self.players.generator)
        real_scores = self._pass(discriminator, self.data.held_out)  # D is frozen: the real side's scores are fixed

        def objective() -> torch.Tensor:
            return generator_loss(config.loss, discriminator(player(self._latent_batch(random))))

        def evaluate() -> float:
            return self._m(real_scores, self._pass(discriminator, self._pass(player, self.latents)))

        with _frozen(discriminator):
            return self._optimise(player, objective, evaluate, start, min)


__all__ = ["DualityGap", "DualityGapOptions", "checkpoint_duality_gap", "duality_gap", "duality_gaps",
           "held_out_spec"]
