"""CUDA parity: ganeval's fid / fid_from_stats / kid / prdc / inception_score on device tensors against the same calls
on CPU tensors and against the anchors (torch-fidelity 0.4.0, prdc); the mode statistics (mixture modes, labelled
modes, NDB with its K-means), CMMD (with bootstrap replicates), Vendi and the extractors' CLIP and clean-fid
resizes on the device against the CPU. Run by gpu_check.sh; exits 1 on any mismatch.

    .venv/bin/python benchmarks/gpu_parity.py --device cuda   # --device cpu runs the same checks without a GPU

Real-valued results must agree within 1e-6 relative. PRDC values are shares of samples: a near-tie that float32
(prdc package) and float64 (ganeval) distances round differently flips one sample, so they may differ by at most 1/N.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from prdc import compute_prdc
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from ganeval.data.mixtures import grid25
from ganeval.metrics import fid, fid_from_stats, inception_score, kid, prdc
from ganeval.features.clip import resize_like_pil
from ganeval.features.resize import clean_resize
from ganeval.metrics.bootstrap import resampling_weights
from ganeval.metrics.cmmd import cmmd_with_replicates
from ganeval.metrics.modes import label_modes, mixture_modes, ndb
from ganeval.metrics.vendi import vendi

RELATIVE = 1e-6
FAILURES: list[str] = []


def check(name: str, value: float, reference: float, *, absolute: float = 0.0) -> None:
    error = abs(value - reference)
    allowed = max(absolute, RELATIVE * abs(reference))
    ok = error <= allowed
    print(f"  {'ok  ' if ok else 'FAIL'} {name:<34} {value!r:>24} vs {reference!r:<24} |diff| {error:.2e}")
    if not ok:
        FAILURES.append(name)


def gaussian_pair(generator: torch.Generator, num: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    real = torch.randn(num, dim, generator=generator)
    mixing = torch.eye(dim) + 0.3 * torch.randn(dim, dim, generator=generator) / dim**0.5
    fake = torch.randn(num, dim, generator=generator) @ mixing * 1.1 + 0.05
    return real, fake  # float32, like extracted features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    device = torch.device(parser.parse_args().device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print("torch sees no CUDA device", file=sys.stderr)
            return 2
        print(f"device {device}: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    else:
        print(f"device {device}, torch {torch.__version__}")
    generator = torch.Generator().manual_seed(2026)
    start = time.perf_counter()

    print("FID, N=5000, d=2048")
    real, fake = gaussian_pair(generator, 5000, 2048)
    real64, fake64 = real.double().numpy(), fake.double().numpy()
    mu1, sigma1 = real64.mean(0), np.cov(real64, rowvar=False)
    mu2, sigma2 = fake64.mean(0), np.cov(fake64, rowvar=False)
    anchor = fid_statistics_to_metric({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}, False)
    anchor = anchor["frechet_inception_distance"]
    on_cpu = fid(real, fake)
    on_device = fid(real.to(device), fake.to(device))
    check("fid device vs cpu", on_device, on_cpu)
    check("fid device vs torch-fidelity", on_device, anchor)
    stats = [torch.from_numpy(array).to(device) for array in (mu1, sigma1, mu2, sigma2)]
    check("fid_from_stats device vs torch-fid.", fid_from_stats(*stats), anchor)

    print("KID, N=5000, d=2048, 100 subsets of 1000")
    # torch-fidelity's input1 is the generated set (ganeval's kid(real, fake) draws the same subsets as (fake, real)),
    # and float64 features make it compute in float64 as ganeval does
    anchor = kid_features_to_metric(
        fake.double(), real.double(), kid_subsets=100, kid_subset_size=1000, verbose=False, rng_seed=2020
    )
    on_cpu = kid(real, fake)
    on_device = kid(real.to(device), fake.to(device))
    for index, name in enumerate(("mean", "std")):
        check(f"kid {name} device vs cpu", on_device[index], on_cpu[index])
        check(f"kid {name} device vs torch-fidelity", on_device[index], anchor[f"kernel_inception_distance_{name}"])

    print("PRDC, N=5000, d=512, k=5")
    real = torch.randn(5000, 512, generator=generator)
    fake = torch.randn(5000, 512, generator=generator) * 1.01 + 0.02  # close to real: shares well inside (0, 1)
    anchor = compute_prdc(real.numpy(), fake.numpy(), 5)
    on_cpu = prdc(real, fake, 5)
    on_device = prdc(real.to(device), fake.to(device), 5)
    for key in ("precision", "recall", "density", "coverage"):
        check(f"prdc {key} device vs cpu", on_device[key], on_cpu[key], absolute=1 / 5000)
        check(f"prdc {key} device vs prdc package", on_device[key], float(anchor[key]), absolute=1 / 5000)

    print("Inception Score, N=5000 logits x 1008 classes, 10 splits")
    logits = torch.randn(5000, 1008, generator=generator) * 3
    anchor = isc_features_to_metric(logits.double(), splits=10, shuffle=True, rng_seed=2020)
    on_cpu = inception_score(logits)
    on_device = inception_score(logits.to(device))
    for index, name in enumerate(("mean", "std")):
        check(f"inception score {name} device vs cpu", on_device[index], on_cpu[index])
        check(f"inception score {name} vs torch-fid.", on_device[index], anchor[f"inception_score_{name}"])

    print("Mode statistics: 26,000 grid25 points, 26,000 labels over 1,000 modes, NDB K=100 (20,000 x 64 reference)")
    mixture = grid25()
    points = mixture.sample(26000, seed=1)
    points[:2000] += 5.0  # some samples off every mode
    on_cpu, on_device = mixture_modes(points, mixture.means, mixture.std), mixture_modes(points.to(device), mixture.means, mixture.std)
    for key in ("modes", "high_quality", "reverse_kl"):
        check(f"mixture {key} device vs cpu", on_device[key], on_cpu[key])
    labels = torch.randint(1000, (26000,), generator=generator)
    check("label modes device vs cpu", label_modes(labels.to(device), 1000)["kl_uniform"], label_modes(labels, 1000)["kl_uniform"])
    reference, samples = torch.randn(20000, 64, generator=generator), torch.randn(5000, 64, generator=generator) * 1.2
    on_cpu, on_device = ndb(reference, samples, k=100), ndb(reference.to(device), samples.to(device), k=100)
    # the K-means of both runs start from the same seeded centres; float rounding may still move a point between bins
    check("ndb_js device vs cpu", on_device["ndb_js"], on_cpu["ndb_js"], absolute=1e-3)
    check("ndb count device vs cpu", on_device["ndb"], on_cpu["ndb"], absolute=2)

    print("CMMD and Vendi, N=5000 unit-norm rows x 768 (CLIP's shape), 50 bootstrap replicates")
    real, fake = (torch.nn.functional.normalize(side, dim=1) for side in gaussian_pair(generator, 5000, 768))
    weights = resampling_weights(5000, 50, seed=1)
    cpu_value, cpu_replicates = cmmd_with_replicates(real, fake, weights)
    device_value, device_replicates = cmmd_with_replicates(real.to(device), fake.to(device), weights.to(device))
    check("cmmd device vs cpu", device_value, cpu_value)
    check("cmmd replicates device vs cpu", float((device_replicates.cpu() - cpu_replicates).abs().max()), 0.0,
          absolute=1e-9 * abs(cpu_value))
    check("vendi device vs cpu", vendi(fake.to(device)), vendi(fake))

    print("Extractor preprocessing on the device: CLIP's PIL-exact resize, clean-fid's bicubic")
    images = torch.randint(0, 256, (8, 3, 64, 48), dtype=torch.uint8, generator=generator)
    check("clip resize device vs cpu (max)", float((resize_like_pil(images.to(device), 336).cpu()
                                                    - resize_like_pil(images, 336)).abs().max()), 0.0)
    check("clean resize device vs cpu (max)", float((clean_resize(images.to(device), (299, 299)).cpu()
                                                     - clean_resize(images, (299, 299))).abs().max()), 0.0,
          absolute=1e-3)

    print(f"{'FAILED: ' + ', '.join(FAILURES) if FAILURES else 'all parity checks passed'} "
          f"({time.perf_counter() - start:.0f} s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
