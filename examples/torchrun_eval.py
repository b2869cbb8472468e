"""ganeval.Evaluator under torch.distributed: every process generates and extracts its block of the samples, and
the record equals the one a single process computes; rank 0 prints it (and appends it to --append RUN).

    torchrun --standalone --nproc_per_node 2 examples/torchrun_eval.py --num-samples 2000
    python examples/torchrun_eval.py --num-samples 2000          # one process: the same record

A training script does the same inside its loop: init_process_group once, then every rank calls evaluate().
"""
import argparse
import json
import os

import torch
import torch.distributed as dist
from torch import nn

import ganeval


def generator(latent_dim: int) -> nn.Module:
    """A small seeded network of points (the ring8 mixture's space): every rank builds the same one."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 2))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--metrics", default="fid,kid,prdc,modes")
    parser.add_argument("--append", default=None, metavar="RUN", help="append each record to RUN/metrics.jsonl (rank 0)")
    parser.add_argument("--steps", type=int, default=1, help="evaluations, as a training loop would call them")
    parser.add_argument("--dist-timeout", type=float, default=60.0)
    parser.add_argument("--api", choices=("evaluator", "score"), default="evaluator",
                        help="ganeval.Evaluator in a loop, or one ganeval.score(module, ...)")
    args = parser.parse_args(argv)

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("gloo")
    evaluator = ganeval.Evaluator("ring8", args.metrics, num_samples=args.num_samples, latent_dim=8, run=args.append,
                                  use_cache=False, dist_timeout=args.dist_timeout)
    network = generator(8)
    for step in range(args.steps):
        if args.api == "score":  # the same samples, scored once (no run folder)
            record = ganeval.score(network, "ring8", args.metrics, num_samples=args.num_samples, latent_dim=8,
                                   use_cache=False, progress=False)
        else:
            record = evaluator.evaluate(network, step=step)
        if int(os.environ.get("RANK", "0")) == 0:
            print(json.dumps({key: record[key] for key in ("fid", "kid_mean", "precision", "recall", "modes")}),
                  flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
