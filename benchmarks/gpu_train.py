"""CUDA check of the training core (issue 4), run by gpu_check.sh; exits 1 on any failed check.

1. Every shipped config trains a few steps on the device; its checkpoint reloads on the CPU (weights_only=True),
   regenerates the same samples on the device for the same seed, and the CPU's samples from it agree up to the
   device's float rounding (cuDNN convolutions run in TF32 by default).
2. Training throughput (steps/s) of the three Fashion-MNIST configs under a short time budget.
3. The fmnist-dcgan checkpoint of (2) scored on the device and on the CPU (fmnist-classifier, 5,000 samples).

    python benchmarks/gpu_train.py --device cuda   # --device cpu runs the same checks without a GPU

Fashion-MNIST comes from the usual places ($GANEVAL_DATA, /usr/share/datasets/fashion-mnist); the configs that need
it are reported as skipped without it. cifar10-dcgan trains on stand-in 32x32 RGB images (no CIFAR-10 offline).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ganeval
from ganeval.data import fashion_mnist
from ganeval.data.checkpoint import load_checkpoint
from ganeval.train.config import CONFIG_DIR, load_config
from ganeval.data.checkpoint import generate
from ganeval.train.loop import generator_from_checkpoint, train

FAST = ["steps=3", "checkpoint_every=3", "batch_size=16", "train_size=2000", "eval_every=0"]
THROUGHPUT = ("fmnist-dcgan", "fmnist-lsgan", "fmnist-wgan-gp")
FAILURES: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {name:<48} {detail}")
    if not ok:
        FAILURES.append(name)


def samples_agree(on_device: torch.Tensor, on_cpu: torch.Tensor) -> tuple[bool, str]:
    """Images (uint8): at most 1% of the values one level or more apart, none more than 8 levels; points: 1e-3."""
    difference = (on_device.double() - on_cpu.double()).abs()
    if on_device.is_floating_point():
        return bool(difference.max() <= 1e-3 * (1 + on_cpu.abs().max())), f"max |diff| {float(difference.max()):.2e}"
    share = float((difference > 0).double().mean())
    largest = int(difference.max())
    return share <= 0.01 and largest <= 8, f"{share:.2%} of values differ, max {largest} levels"


def configs_train_and_regenerate(device: torch.device, work: Path, has_fmnist: bool) -> None:
    print(f"1. every config trains {FAST[0]} on {device}; its checkpoint regenerates the same samples")
    for name in sorted(path.stem for path in CONFIG_DIR.glob("*.toml")):
        overrides = list(FAST)
        if name.startswith("cifar10"):
            stand_in = work / "cifar-like.npy"
            np.save(stand_in, np.random.default_rng(0).integers(0, 256, (64, 3, 32, 32), dtype=np.uint8))
            overrides.append(f"data='{stand_in}'")
        elif "fmnist" in name and not has_fmnist:
            print(f"  skip {name} (Fashion-MNIST not found)")
            continue
        trainer = train(load_config(name, overrides), work / name, device=device, progress=False)
        checkpoint = load_checkpoint(work / name / "checkpoints" / "step-0000003.pt")  # on the CPU, weights_only=True
        generator, config = generator_from_checkpoint(checkpoint, device=device)
        first = generate(generator, config, 64, seed=7)  # on the device the generator's weights are on
        again = generate(generator_from_checkpoint(checkpoint, device=device)[0], config, 64, seed=7)
        on_cpu = generate(generator_from_checkpoint(checkpoint)[0], config, 64, seed=7)
        agree, detail = samples_agree(first, on_cpu)
        check(f"{name}: trained on {trainer.device.type}", trainer.step == 3, f"step {trainer.step}")
        check(f"{name}: same seed, same samples", torch.equal(first, again), "regenerated twice on the device")
        check(f"{name}: device vs CPU samples", agree, detail)


def throughput(device: torch.device, work: Path, seconds: float) -> Path:
    print(f"2. training throughput on {device} ({seconds:.0f}-second budget each, no evaluation hook)")
    for name in THROUGHPUT:
        overrides = ["steps=1000000", "checkpoint_every=1000000", "eval_every=0", f"max_minutes={seconds / 60}"]
        trainer = train(load_config(name, overrides), work / f"speed-{name}", device=device, progress=False)
        check(f"{name}: steps/s", trainer.step > 0, f"{trainer.step} steps in {trainer.seconds:.1f} s = "
              f"{trainer.step / trainer.seconds:.1f} steps/s (checkpoints and sample grids included)")
    return sorted((work / f"speed-{THROUGHPUT[0]}" / "checkpoints").glob("step-*.pt"))[-1]


def score_on_both(device: torch.device, checkpoint: Path) -> None:
    print(f"3. {checkpoint.parent.parent.name}/{checkpoint.name} scored on {device} and on the CPU "
          "(fmnist-classifier, 5,000 samples against fashion-mnist:test)")
    records = {}
    for where in dict.fromkeys((device, torch.device("cpu"))):  # on the CPU itself: one score
        started = time.perf_counter()
        records[where.type] = ganeval.score(str(checkpoint), "fashion-mnist:test", "fid,is,kid,prdc", num_samples=5000,
                                            ema=True, device=where, progress=False, use_cache=False)
        print(f"  {where.type}: FID {records[where.type]['fid']:.4f}, IS {records[where.type]['is_mean']:.4f}, "
              f"{time.perf_counter() - started:.1f} s")
    fid_device, fid_cpu = records[device.type]["fid"], records["cpu"]["fid"]
    check("FID device vs CPU (1% relative)", abs(fid_device - fid_cpu) <= 0.01 * fid_cpu,
          f"{fid_device:.4f} vs {fid_cpu:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seconds", type=float, default=15.0, help="time budget of each throughput run")
    arguments = parser.parse_args()
    device = torch.device(arguments.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("torch sees no CUDA device", file=sys.stderr)
        return 2
    has_fmnist = fashion_mnist.find_folder("train") is not None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        configs_train_and_regenerate(device, Path(folder), has_fmnist)
        if has_fmnist:
            score_on_both(device, throughput(device, Path(folder), arguments.seconds))
        else:
            print("2., 3. skipped: Fashion-MNIST not found (set GANEVAL_DATA)")
    print(f"{'FAILED: ' + ', '.join(FAILURES) if FAILURES else 'all training checks passed'} "
          f"({time.perf_counter() - started:.0f} s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
