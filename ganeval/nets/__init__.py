"""Reference architectures: the Fashion-MNIST evaluator network (more to come with the training core)."""
from .classifier import ClassifierConfig, FashionClassifier

__all__ = ["ClassifierConfig", "FashionClassifier"]
