"""The evaluator CNN for 28x28 grey images: four 3x3 convolutions, a 128-d penultimate layer ('pool'), 10 logits."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

# Fashion-MNIST training-set pixel mean and std (of x / 255), so inputs are standardised.
PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of the evaluator; saved beside its weights so the network can be rebuilt."""

    channels: tuple[int, int] = (32, 64)
    features: int = 128
    classes: int = 10
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, values: dict) -> ClassifierConfig:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown classifier config keys {sorted(unknown)}; valid: {sorted(cls.__dataclass_fields__)}")
        return cls(**{**values, "channels": tuple(values.get("channels", cls.channels))})


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class FashionClassifier(nn.Module):
    """uint8 N x 1 x 28 x 28 images -> {'pool': N x features, 'logits': N x classes}."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        first, second = config.channels
        self.body = nn.Sequential(_conv_block(1, first), _conv_block(first, second), nn.Flatten())
        self.penultimate = nn.Sequential(
            nn.Linear(second * 7 * 7, config.features, bias=False), nn.BatchNorm1d(config.features), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.features, config.classes)

    def describe(self) -> str:
        """The architecture in one line, for model cards."""
        first, second = self.config.channels
        return (f"4 conv3x3 ({first}, {first}, {second}, {second}; BatchNorm, ReLU, 2 max-pools) -> linear "
                f"{self.config.features} (BatchNorm, ReLU) = 'pool' -> dropout {self.config.dropout} -> linear "
                f"{self.config.classes} = 'logits'")

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pixels = (images.float() / 255 - PIXEL_MEAN) / PIXEL_STD
        pool = self.penultimate(self.body(pixels))
        return {"pool": pool, "logits": self.head(self.dropout(pool))}
