"""Presets: the protocols the literature means by a metric's name, bound in one line each (stylegan's fid50k_full).

`--preset fd-dinov2` sets the extractor, the sample counts and the metrics that the name stands for in papers, and
the record says which preset it followed, so a reader knows the number is comparable to published ones. A flag that
contradicts the preset (another extractor, another N) is an error rather than a silent override: the record would
otherwise carry a name it does not honour. A family option left at its default takes the preset's value (the
command line cannot tell `--prdc-k 5` from no flag). Torch-free: the CLI lists the presets in its help.

>>> from ganeval.config import ScoreConfig
>>> config = apply_preset(ScoreConfig(), "fd-dinov2")
>>> config.extractor.name, config.metrics, config.num_samples, config.preset
('dinov2-vit-l-14', ('fid',), 50000, 'fd-dinov2')
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .config import ExtractorConfig, ScoreConfig
from .errors import InputError


@dataclass(frozen=True)
class Preset:
    """A protocol: the extractor, the metric families and their options, the generated N and the reference's N
    (`reference_samples` caps it, as stylegan's max_real does: a smaller reference is used whole; None: all)."""

    name: str
    extractor: str
    metrics: tuple[str, ...]
    num_samples: int
    reference_samples: int | None
    citation: str
    metric_options: dict[str, dict] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {}


def register_preset(preset: Preset) -> Preset:
    """Add `preset` (a plugin may add its own protocol); its name must be new."""
    if preset.name in PRESETS:
        raise ValueError(f"preset {preset.name} is already registered")
    PRESETS[preset.name] = preset
    return preset


register_preset(Preset("fid50k", "inception-v3-compat", ("fid",), 50_000, 50_000,
                       "stylegan2-ada metric_main.fid50k: 50k generated against 50k real"))
register_preset(Preset("fid50k-full", "inception-v3-compat", ("fid",), 50_000, None,
                       "stylegan2-ada metric_main.fid50k_full: 50k generated against the whole dataset"))
register_preset(Preset("fd-dinov2", "dinov2-vit-l-14", ("fid",), 50_000, None,
                       "Stein et al. 2023 (dgm-eval) and EDM2 calculate_metrics.py fd_dinov2: FD on DINOv2 "
                       "ViT-L/14, 50k generated against the dataset"))
register_preset(Preset("cmmd", "clip-vit-l-14-336", ("cmmd",), 30_000, None,
                       "Jayasumana et al. 2024: MMD on CLIP ViT-L/14@336, 30k images (COCO-30k)"))
register_preset(Preset("pr50k3", "vgg16", ("prdc",), 50_000, 50_000,
                       "stylegan2-ada metric_main.pr50k3's protocol: precision/recall, k=3, 50k against 50k, on "
                       "torch-fidelity's VGG16 (torchvision's weights, not NVIDIA's vgg16.pt)",
                       {"prdc": {"k": 3}}))


def preset_names() -> list[str]:
    return list(PRESETS)


def apply_preset(config: ScoreConfig, name: str | None) -> ScoreConfig:
    """`config` with preset `name`'s extractor, metrics, options and sample counts, and `preset` set. A field the
    caller set to something else is an InputError naming both; extractor options (weights) are kept."""
    if name is None:
        return config
    if name not in PRESETS:
        raise InputError(f"unknown preset '{name}'; choose from {', '.join(PRESETS)}")
    preset = PRESETS[name]
    _refuse_contradictions(config, preset)
    options = dict(config.metric_options)
    for family, values in preset.metric_options.items():
        options[family] = _family_options(family, config, values, preset.name)
    return config.replace(
        extractor=ExtractorConfig(preset.extractor, config.extractor.options), metrics=preset.metrics,
        metric_options=options, num_samples=preset.num_samples, reference_samples=None, preset=name,
        reference_cap=preset.reference_samples)


def _refuse_contradictions(config: ScoreConfig, preset: Preset) -> None:
    given = {
        "--extractor": (config.extractor.name, "auto", preset.extractor),
        "--metrics": (config.metrics and ",".join(config.metrics), None, ",".join(preset.metrics)),
        "--num-samples": (config.num_samples, None, preset.num_samples),
        "--reference-samples": (config.reference_samples, None, preset.reference_samples),
    }
    for flag, (value, default, fixed) in given.items():
        if value != default and value != fixed:
            raise InputError(f"{flag} {value} contradicts --preset {preset.name} ({preset.citation}), which fixes "
                             f"{fixed if fixed is not None else 'the whole reference'}; drop one of them")


def _family_options(family: str, config: ScoreConfig, values: dict, preset: str):
    """The family's options with the preset's values; an explicit flag that differs is a contradiction."""
    from .metrics.registry import METRIC_FAMILIES

    spec = METRIC_FAMILIES[family]
    given, defaults = config.metric_options.get(family) or spec.options(), spec.options()
    for key, value in values.items():
        if getattr(given, key) not in (getattr(defaults, key), value):
            raise InputError(f"--{family}-{key.replace('_', '-')} {getattr(given, key)} contradicts --preset {preset} "
                             f"({key}={value}); drop one of them")
    return dataclasses.replace(given, **values)
