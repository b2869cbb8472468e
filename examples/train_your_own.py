"""Your own GAN, your own training loop, scored by ganeval while it trains.

A plain PyTorch DCGAN on Fashion-MNIST (no ganeval training code): every --eval-every steps ganeval.Evaluator
scores the generator on the same latents and appends the record to RUN/metrics.jsonl, where `ganeval compare RUN`,
`ganeval report` and `ganeval gate RUN --max fid=...` read it; every --log-every steps ganeval.TrainingLog appends
the losses and D's outputs to RUN/training.jsonl, where `ganeval diagnose RUN` reads them with the scores.

    python examples/train_your_own.py --steps 2000 --run runs/my-dcgan
    ganeval compare runs/my-dcgan --select all
    ganeval gate runs/my-dcgan --max fid=60
    ganeval diagnose runs/my-dcgan
"""
import argparse

import torch
from torch import nn

import ganeval
from ganeval.data import load_source


def generator(latent_dim: int, width: int) -> nn.Module:
    """latent_dim -> 1 x 28 x 28 in [-1, 1] (tanh), DCGAN style."""
    return nn.Sequential(
        nn.Unflatten(1, (latent_dim, 1, 1)),
        nn.ConvTranspose2d(latent_dim, width * 2, 7, 1, 0, bias=False), nn.BatchNorm2d(width * 2), nn.ReLU(True),
        nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
        nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())


def discriminator(width: int) -> nn.Module:
    """1 x 28 x 28 -> one logit."""
    return nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(width, width * 2, 4, 2, 1), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True),
        nn.Flatten(), nn.Linear(width * 2 * 7 * 7, 1))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--log-every", type=int, default=20, help="training signals to RUN/training.jsonl")
    parser.add_argument("--eval-samples", type=int, default=5000, help="generated samples per evaluation")
    parser.add_argument("--reference-samples", type=int, default=None, help="a subset of the test split")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=None, help="a subset of the training split")
    parser.add_argument("--run", default="runs/my-dcgan", help="run folder: metrics.jsonl goes here")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    latent_dim = 64
    images = load_source("fashion-mnist:train", num_samples=args.train_size).data.float() / 127.5 - 1
    g, d = generator(latent_dim, args.width), discriminator(args.width)
    lr_g = lr_d = 2e-4
    g_opt = torch.optim.Adam(g.parameters(), lr_g, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr_d, betas=(0.5, 0.999))
    loss = nn.BCEWithLogitsLoss()
    # the held-out test split as the reference; the same latents at every evaluation (sample i from (seed, i))
    evaluator = ganeval.Evaluator("fashion-mnist:test", "fid,kid,prdc", num_samples=args.eval_samples,
                                  reference_samples=args.reference_samples, latent_dim=latent_dim, run=args.run)
    log = ganeval.TrainingLog(args.run)  # the signals `ganeval diagnose` reads (any extra keyword is kept too)

    for step in range(1, args.steps + 1):
        real = images[torch.randint(len(images), (args.batch_size,))]
        fake = g(torch.randn(args.batch_size, latent_dim))
        ones, zeros = torch.ones(args.batch_size, 1), torch.zeros(args.batch_size, 1)
        d_real, d_fake = d(real), d(fake.detach())
        d_loss = loss(d_real, ones) + loss(d_fake, zeros)
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = loss(d(fake), ones)  # the non-saturating generator loss
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        if args.log_every and step % args.log_every == 0:  # a logit above 0 says "real": D's accuracy on both batches
            accuracy_real, accuracy_fake = (d_real > 0).float().mean(), (d_fake <= 0).float().mean()
            log.log(step, d_loss=d_loss, g_loss=g_loss, d_real=d_real.mean(), d_fake=d_fake.mean(),
                    d_accuracy_real=accuracy_real, d_accuracy_fake=accuracy_fake,
                    d_accuracy=(accuracy_real + accuracy_fake) / 2, lr_d=lr_d, lr_g=lr_g, loss="ns")
        if step % args.eval_every == 0 or step == args.steps:
            record = evaluator.evaluate(g, step=step)  # g generates in eval mode and goes on training after
            print(f"step {step}: d {d_loss.item():.3f} g {g_loss.item():.3f} fid {record['fid']:.2f} "
                  f"precision {record['precision']:.3f} recall {record['recall']:.3f}")
    print(f"records in {args.run}/metrics.jsonl: ganeval compare {args.run} --select all; ganeval diagnose {args.run}")


if __name__ == "__main__":
    main()
