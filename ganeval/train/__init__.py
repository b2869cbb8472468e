"""Training: the Fashion-MNIST evaluator network and the GAN losses (the training loop comes with issue 4)."""
