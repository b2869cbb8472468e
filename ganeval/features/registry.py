"""Feature-extractor registry: `create(name, device=None, **options)` and `names()`."""
from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..device import cudnn_autotune, resolve_device, tf32
from ..errors import InputError, UnknownNameError


@dataclass
class FeatureExtractor:
    """A callable mapping a batch of samples to named feature tensors, and what it needs to describe itself.

    `feature_layer` names the embedding used by FID, KID and PRDC; `logits_layer` the class scores used by IS
    (None when the extractor has none). `weights_sha256` identifies the weights for provenance and cache keys.
    `variant` names an option that changes the feature space without changing the network (Inception's
    'resize=clean'): records name the extractor `label`, 'inception-v3-compat[resize=clean]', so compare and gate
    never put its values beside the default's.

    The speed knobs (ganeval/features/speed.py) act through the last four fields: `modules` are the networks the
    forward runs (what apply_channels_last converts; empty when a factory names none), `memory_format` lays 4-D input
    batches out before the forward (None: as given), `allow_tf32` lets CUDA matrix products and convolutions run in
    TF32 (off by default, even where the process turned it on: it moves features by about 1e-3 relative),
    `cudnn_autotune` has cuDNN time its convolution algorithms on a CUDA device (off: its heuristics, whatever the
    process set). Fresh from its factory an extractor runs the exact path; ganeval's scores apply the fast one
    (speed.apply_fast_path) unless asked for --exact.
    """

    name: str
    forward: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    device: torch.device
    feature_layer: str
    logits_layer: str | None = None
    weights_sha256: str | None = None
    preprocessing: str = "none"
    options: dict = field(default_factory=dict)
    variant: str | None = None
    takes_any_size: bool = False  # resizes every image to its input: two sides of different sizes are comparable
    modules: tuple[torch.nn.Module, ...] = ()
    memory_format: torch.memory_format | None = None
    allow_tf32: bool = False
    cudnn_autotune: bool = False

    def __call__(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = batch.to(self.device)
        if self.memory_format is not None and batch.dim() == 4:
            batch = batch.contiguous(memory_format=self.memory_format)
        with torch.inference_mode(), tf32(self.allow_tf32), self._cudnn():
            outputs = self.forward(batch)
        return {name: _outside_inference(value) for name, value in outputs.items()}

    def _cudnn(self) -> contextlib.AbstractContextManager:
        """cuDNN's algorithm choice for this forward: only a CUDA device has one to set."""
        return (cudnn_autotune(self.cudnn_autotune) if torch.device(self.device).type == "cuda"
                else contextlib.nullcontext())

    @property
    def label(self) -> str:
        """The name records give the feature space: the extractor's name, with its variant in brackets."""
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(layer for layer in (self.feature_layer, self.logits_layer) if layer)


def _outside_inference(value: object) -> object:
    """A tensor made under inference_mode as an ordinary one (a copy), so that callers may modify it in place or
    use it in autograd; anything else (a view of the caller's own batch, as identity returns) as it is."""
    return value.clone() if isinstance(value, torch.Tensor) and value.is_inference() else value


Factory = Callable[..., FeatureExtractor]
_FACTORIES: dict[str, Factory] = {}
_PREFIX_FACTORIES: dict[str, Factory] = {}  # 'torchscript:' -> factory taking the text after the prefix


def register(name: str, *, prefix: bool = False) -> Callable[[Factory], Factory]:
    """Register a factory `f(device, **options) -> FeatureExtractor` (prefix: `f(argument, device, **options)`)."""

    def decorate(factory: Factory) -> Factory:
        (_PREFIX_FACTORIES if prefix else _FACTORIES)[name] = factory
        return factory

    return decorate


def names() -> list[str]:
    """Registered extractor names; prefixed ones are shown with their argument, e.g. 'torchscript:PATH'."""
    return sorted(_FACTORIES) + sorted(f"{prefix}PATH" for prefix in _PREFIX_FACTORIES)


def create(name: str, device: torch.device | str | None = None, **options) -> FeatureExtractor:
    """Build the extractor `name` on `device` ('auto' or None picks CUDA when present).

    >>> extractor = create("identity", device="cpu")
    >>> extractor(torch.ones(2, 3))["features"].shape
    torch.Size([2, 3])
    """
    device = resolve_device(device)
    for prefix, factory in _PREFIX_FACTORIES.items():
        if name.startswith(prefix):
            argument = name[len(prefix):]
            if not argument:
                raise InputError(f"extractor '{name}' needs a path after '{prefix}'")
            _check_options(name, factory, options, leading=2)
            return factory(argument, device, **options)
    if name not in _FACTORIES:
        raise UnknownNameError("extractor", name, names())
    _check_options(name, _FACTORIES[name], options, leading=1)
    return _FACTORIES[name](device, **options)


def _check_options(name: str, factory: Factory, options: dict, leading: int) -> None:
    """An option the factory does not take (--weights for identity) is a one-line InputError naming those it does,
    not a TypeError from the call."""
    parameters = list(inspect.signature(factory).parameters.values())[leading:]
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
        return
    known = [parameter.name for parameter in parameters]
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = f"it takes {', '.join(known)}" if known else "it takes no options"
        raise InputError(f"extractor {name} has no option {', '.join(unknown)} ({takes})")
