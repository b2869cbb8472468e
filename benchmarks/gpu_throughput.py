"""Issue 23's GPU lines, run by gpu_check.sh first; exits 1 when a target is missed.

1. inception-v3-compat images/s (32x32 uint8 inputs, resized to 299 inside the network, as FID of a 32x32 set runs)
   at batch 256 and 512, each with and without channels_last and TF32; the FID each knob moves on a fixed pair of
   sets (2 x 2,000 images) against the plain fp32 run; the network's FLOPs per image (torch's FlopCounterMode) times
   images/s against the GPU's peak (a table of datasheet figures below). Target on an H200: >= 5,000 images/s fp32.
2. FID-50k of a 32x32 DCGAN checkpoint end to end (`ganeval score CKPT --reference REF.npy --num-samples 50000
   --metrics fid --batch-size auto`, a fresh process: start-up, weights, generation, extraction of both sides and
   the metric), cold (reference extracted) then warm (reference cached). Target on an H200: < 30 s cold.

No pretrained weights exist offline: the Inception file is bench_extractors.py's random network with BatchNorm
calibrated (the same architecture and speed); the checkpoint is cifar10-dcgan trained 1 step on stand-in images.

    python benchmarks/gpu_throughput.py --device cuda       # --device cpu --batch-sizes 8 --rounds 1 --fid-images 32 --fid-samples 300: a dry run
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import bench_extractors  # noqa: E402

from ganeval import features  # noqa: E402
from ganeval.features.speed import apply_channels_last  # noqa: E402
from ganeval.metrics.fid import fid  # noqa: E402

IMAGES_TARGET = 5000.0  # images/s, fp32, batch 256 or 512, on an H200
FID50K_TARGET_S = 30.0
# Dense peaks from NVIDIA's datasheets, TFLOP/s: (FP32 on CUDA cores, TF32 on tensor cores, without sparsity).
PEAK_TFLOPS = {"H200": (67.0, 494.7), "H100": (67.0, 494.7), "A100": (19.5, 156.0), "L40S": (91.6, 183.0)}
FAILURES: list[str] = []


class _Folder:
    """What bench_extractors' weight builders take from pytest's tmp_path_factory: mktemp."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def mktemp(self, name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=name, dir=self.root))
        return path


def check(name: str, ok: bool, detail: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {name:<44} {detail}", flush=True)
    if not ok:
        FAILURES.append(name)


def peak(device: torch.device) -> tuple[float, float] | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((value for key, value in PEAK_TFLOPS.items() if key in name), None)


def flops_per_image(extractor, image: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        extractor(image)
    return counter.get_total_flops()


def images_per_second(extractor, batch: torch.Tensor, rounds: int) -> float:
    extractor(batch)  # kernels loaded, cuDNN autotuned
    _sync(batch.device)
    start = time.perf_counter()
    for _ in range(rounds):
        extractor(batch)
    _sync(batch.device)
    return rounds * len(batch) / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fid_of(extractor, pair: tuple[torch.Tensor, torch.Tensor]) -> float:
    rows = [torch.cat([extractor(part)[extractor.feature_layer].double().cpu() for part in side.split(500)]) for side in pair]
    return float(fid(*rows))


def inception_knobs(weights: str, device: torch.device, args) -> None:
    print("1. inception-v3-compat images/s (32x32 inputs, 299 px inside)", flush=True)
    rng = torch.Generator().manual_seed(0)
    pair = tuple(torch.randint(0, 256, (args.fid_images, 3, 32, 32), dtype=torch.uint8, generator=rng).to(device)
                 for _ in range(2))
    pair = (pair[0], (pair[1] // 2 + 64).to(torch.uint8))  # two different sets: a FID well above zero
    plain_fid, best = None, 0.0
    flops = None
    for channels_last in (False, True):
        for tf32 in (False, True):
            extractor = features.create("inception-v3-compat", device=device, weights=weights, download=False)
            if channels_last:
                apply_channels_last(extractor)
            extractor.allow_tf32 = tf32
            if flops is None:
                flops = flops_per_image(extractor, pair[0][:1])
                print(f"  FLOPs per image: {flops / 1e9:.2f} GFLOP (FlopCounterMode)", flush=True)
            fid = fid_of(extractor, pair)
            plain_fid = fid if plain_fid is None else plain_fid
            for batch_size in args.batch_sizes:
                batch = torch.randint(0, 256, (batch_size, 3, 32, 32), dtype=torch.uint8, generator=rng).to(device)
                rate = images_per_second(extractor, batch, args.rounds)
                best = max(best, rate) if not tf32 else best
                share = _share(device, flops * rate, tf32)
                print(f"  batch {batch_size:3d} channels_last={channels_last!s:5} tf32={tf32!s:5}: {rate:8,.0f} images/s"
                      f"{share}; FID {fid:.6g} (moved {abs(fid / plain_fid - 1):.1e} relative from fp32 default)",
                      flush=True)
    prefetching(weights, device, args)
    if device.type == "cuda":
        check("inception fp32 images/s (best of the knobs)", best >= IMAGES_TARGET,
              f"{best:,.0f} images/s (target {IMAGES_TARGET:,.0f} on an H200)")


def prefetching(weights: str, device: torch.device, args) -> None:
    """extract() over host batches (as a score runs: uint8 images in CPU memory) with the batches prepared ahead by
    prefetch's thread (pinned, copied without blocking) and without."""
    from ganeval.data import Samples
    from ganeval.features import extract as extract_module
    from ganeval.features import prefetch

    extractor = features.create("inception-v3-compat", device=device, weights=weights, download=False)
    size = args.batch_sizes[0]
    images = torch.randint(0, 256, (size * args.rounds, 3, 32, 32), dtype=torch.uint8)
    samples = Samples(images, "host images")
    rates, rows = {}, {}
    for threaded in (False, True, False, True):  # alternated: neither gets the machine's quieter moment
        with_or_not = functools.partial(prefetch.ahead, threaded=threaded)
        original, extract_module.ahead = extract_module.ahead, with_or_not
        try:
            start = time.perf_counter()
            done = extract_module.extract(samples, extractor, keep_rows=True, batch_size=size, progress=False)
            _sync(device)
            rates[threaded] = max(rates.get(threaded, 0.0), len(samples) / (time.perf_counter() - start))
            rows[threaded] = done.embedding.raw()
        finally:
            extract_module.ahead = original
    print(f"  extract() of {len(samples):,} host images at batch {size}: {rates[False]:,.0f} images/s without "
          f"prefetching, {rates[True]:,.0f} with ({rates[True] / rates[False]:.2f}x)", flush=True)
    # equal, or as close as two runs of the same kernels can be (cuDNN may pick another algorithm on a later call)
    difference = (rows[True] - rows[False]).abs().max().item()
    check("prefetched features equal the plain ones", difference <= 1e-6 * rows[False].abs().max().item(),
          f"largest difference {difference:.1e} (bitwise equal: {torch.equal(rows[True], rows[False])})")


def _share(device: torch.device, flops_per_s: float, tf32: bool) -> str:
    peaks = peak(device)
    if peaks is None:
        return ""
    limit = peaks[1] if tf32 else peaks[0]
    return f", {flops_per_s / 1e12:.1f} TFLOP/s = {flops_per_s / 1e12 / limit:.0%} of the {limit:g} TFLOP/s peak"


def fid50k(weights: str, work: Path, device: torch.device, args) -> None:
    print(f"2. FID of a 32x32 DCGAN checkpoint, {args.fid_samples:,} samples against {args.fid_samples:,} reference "
          "images, end to end", flush=True)
    stand_in = work / "stand-in.npy"
    np.save(stand_in, np.random.default_rng(0).integers(0, 256, (256, 3, 32, 32), dtype=np.uint8))
    run = work / "run"
    _ganeval("train", "cifar10-dcgan", "--steps", "1", "--set", f"data='{stand_in}'", "--set", "max_minutes=0",
             "--set", "eval_every=0", "--out", str(run), "--quiet", "--no-eval", "--device", str(device))
    reference = work / "reference.npy"
    np.save(reference, np.random.default_rng(1).integers(0, 256, (args.fid_samples, 3, 32, 32), dtype=np.uint8))
    command = ["score", str(run / "checkpoints" / "step-0000001.pt"), "--reference", str(reference), "--metrics", "fid",
               "--num-samples", str(args.fid_samples), "--inception-weights", weights, "--batch-size", "auto",
               "--device", str(device), "--json", "--quiet"]
    environment = {"GANEVAL_CACHE": str(work / "cache")}
    for label in ("cold", "warm"):
        start = time.perf_counter()
        record = json.loads(_ganeval(*command, env=environment))
        wall = time.perf_counter() - start
        timing = ", ".join(f"{key} {seconds:.1f} s" for key, seconds in record["diagnostics"]["timing"].items())
        print(f"  {label}: {wall:.1f} s wall; fid {record['fid']:.4g}; {timing}", flush=True)
        if label == "cold" and device.type == "cuda" and args.fid_samples >= 50000:
            check("FID-50k end to end, cold", wall < FID50K_TARGET_S, f"{wall:.1f} s (target < {FID50K_TARGET_S:g} s)")


def _ganeval(*args: str, env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "ganeval", *args], capture_output=True, text=True, timeout=600,
                          check=False, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"ganeval {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rounds", type=int, default=10, help="batches timed per setting")
    parser.add_argument("--batch-sizes", type=lambda text: [int(part) for part in text.split(",")], default=[256, 512])
    parser.add_argument("--fid-images", type=int, default=2000, help="images per side of the knobs' FID pair")
    parser.add_argument("--fid-samples", type=int, default=50000, help="samples per side of the end-to-end FID")
    args = parser.parse_args()
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        weights = bench_extractors.WEIGHTS["inception-v3-compat"](_Folder(work))
        inception_knobs(weights, device, args)
        fid50k(weights, work, device, args)
    print("FAILED: " + ", ".join(FAILURES) if FAILURES else "all GPU throughput checks passed", flush=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
