"""Reference architectures: the Fashion-MNIST evaluator, the PacGAN 2D MLPs and DCGAN (28x28, 32x32)."""
from .classifier import ClassifierConfig, FashionClassifier
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from .mlp import MaxoutDiscriminator, MLPConfig, MLPGenerator

__all__ = [
    "ClassifierConfig",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "FashionClassifier",
    "MLPConfig",
    "MLPGenerator",
    "MaxoutDiscriminator",
]
