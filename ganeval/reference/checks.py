"""Checks that the two sides of a score can be compared, each failing with one line that names the fix."""
from __future__ import annotations

from ..data import Samples
from ..errors import ExtractorWarning, InputError, warn_at_caller
from ..features import FeatureExtractor
from ..features.cache import ReferenceCard
from .spec import MomentsReference, ReferenceSpec
from .stats import ReferenceStats

FASHION_MNIST_PREFIXES = ("fashion-mnist:", "stacked-fashion-mnist:")
# Feature dimensions whose origin is known: what a mismatched statistics file most likely holds.
KNOWN_DIMENSIONS = {
    2048: ("Inception's pool layer (pytorch-fid, torch-fidelity, clean-fid)", "inception-v3-compat"),
    128: ("fmnist-classifier's pool layer", "fmnist-classifier"),
    1024: ("DINOv2 ViT-L/14's CLS token (FD-DINOv2: dgm-eval, EDM2)", "dinov2-vit-l-14"),
    4096: ("VGG16's fc2 layer (torch-fidelity's precision/recall)", "vgg16"),
    384: ("fmnist-classifier's pool layer on stacked (3-channel) images", "fmnist-classifier"),
}


def check_card(card: ReferenceCard, extractor: FeatureExtractor, source: str) -> None:
    """Refuse a cached reference computed with another extractor, weights, layer or preprocessing: never mix spaces."""
    theirs = (card.extractor, card.weights_sha256, card.layer, card.preprocessing)
    ours = (extractor.name, extractor.weights_sha256, extractor.feature_layer, extractor.preprocessing)
    if theirs[:3] == ours[:3] and theirs != ours:  # one network, another way in: Inception's --resize
        raise InputError(
            f"reference {source} was built with {card.extractor} preprocessing '{card.preprocessing}', but this "
            f"score's is '{extractor.preprocessing}'; score with the same --resize, or rebuild the reference")
    if theirs != ours:
        raise InputError(
            f"reference {source} was built with extractor {card.extractor} (layer {card.layer}, weights "
            f"{(card.weights_sha256 or 'none')[:12]}) but this score uses {extractor.name} (layer "
            f"{extractor.feature_layer}, weights {(extractor.weights_sha256 or 'none')[:12]}); rebuild it or match --extractor"
        )


def check_rows(reference: ReferenceStats, source: str) -> None:
    """A cached entry built without rows serves FID only."""
    if reference.rows is None and reference.card is not None:
        raise InputError(f"reference {source} holds only mean and covariance (FID); rebuild it with "
                         f"`ganeval ref build {reference.card.source}` for KID and PRDC")


def warn_if_foreign_to_classifier(spec: ReferenceSpec) -> None:
    """--extractor auto gives 28x28 images fmnist-classifier: say so when the reference is not a Fashion-MNIST
    source, since digits (or anything else) measured in a clothing classifier's features give numbers that mean
    little. A statistics file is left to the dimension check."""
    if isinstance(spec, MomentsReference) or spec.name.startswith(FASHION_MNIST_PREFIXES):
        return
    warn_at_caller(
        f"--extractor auto chose fmnist-classifier for 28x28 images, a Fashion-MNIST feature space; if {spec.name} is "
        f"not Fashion-MNIST, add --extractor inception-v3-compat (--extractor fmnist-classifier keeps it, silently)",
        ExtractorWarning,
    )


def check_comparable(fake: Samples, reference: Samples | None) -> None:
    """Images against images, vectors against vectors."""
    if reference is not None and reference.kind != fake.kind:
        raise InputError(f"{fake.name} holds {fake.kind} but {reference.name} holds {reference.kind}; compare like with like")


def check_image_shapes(fake: Samples, reference: Samples | None, extractor: FeatureExtractor) -> None:
    """Images of two shapes compare only through an extractor that resizes them (or one of the user's own)."""
    if reference is None or fake.kind != "images" or extractor.takes_any_size:
        return
    if extractor.name.startswith("torchscript:"):
        return  # a module of the user's own may well resize: its own error, if any, says what it takes
    ours, theirs = shape_text(fake), shape_text(reference)
    if ours != theirs:
        raise InputError(
            f"input {fake.name} holds {ours} images but reference {reference.name} holds {theirs}; extractor "
            f"{extractor.name} needs one shape on both sides: resize one, or add --extractor inception-v3-compat "
            f"(it resizes both to 299x299)"
        )


def probe_dimension(fake: Samples, extractor: FeatureExtractor) -> int:
    """The feature dimension `extractor` gives the input, from two samples (before extracting all of them)."""
    outputs = extractor(fake.data[:2])
    if extractor.feature_layer not in outputs:
        raise InputError(f"extractor '{extractor.name}' returned no '{extractor.feature_layer}' output")
    return int(outputs[extractor.feature_layer][0].numel())


def check_dimensions(real: ReferenceStats, dim: int, extractor: FeatureExtractor, fake: Samples) -> None:
    """The reference's features and the input's must live in one space: name both, and the likely fix."""
    if real.dim == dim:
        return
    what = f"{shape_text(fake)} images" if fake.kind == "images" else f"{fake.data.shape[1]}-dim vectors"
    message = (f"feature dimensions differ: reference {real.name} holds {real.dim}-dim features, but extractor "
               f"{extractor.name} gives {dim} for the input's {what}")
    known = KNOWN_DIMENSIONS.get(real.dim)
    if known is not None and known[1] != extractor.name and fake.kind == "images":
        message += f"; {real.dim}-dim features are {known[0]}: add --extractor {known[1]}"
    elif extractor.name == "identity":
        message += "; identity compares the vectors themselves, so both sides need one dimension"
    else:
        message += ("; compute both sides with one extractor (`ganeval ref export SPEC --extractor NAME --out "
                    "stats.npz` writes a reference's statistics)")
    raise InputError(message)


def shape_text(samples: Samples) -> str:
    """'1x28x28' for images."""
    return "x".join(str(size) for size in samples.data.shape[1:])

