"""Training: the Fashion-MNIST evaluator network (the reference GAN training core comes next)."""
