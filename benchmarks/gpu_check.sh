#!/usr/bin/env bash
# GPU check for a machine with CUDA (`make gpu-check`): GPU summary, issue 23's throughput lines, CUDA parity of ganeval's metrics against CPU and
# against torch-fidelity / prdc, the cost of --ci at d = 2,048, the mode statistics, the training core on the GPU,
# then the FID and PRDC benchmarks with ganeval's inputs on the GPU; the checks that issues wait on come first.
# 2.5 minutes on an H200 (2026-11-30, benchmarks/results/gpu_check-h200.log); each step has its own timeout (under
# 10 minutes in all), a failed step does not stop the next, the exit status says. Everything is also written to
# $GANEVAL_GPU_LOG.
#
#   PY          python to use                  (default .venv/bin/python, else python3)
#   GANEVAL_GPU_LOG  log file                  (default benchmarks/gpu_check.log)
#   GANEVAL_BENCH_DEVICE  device for ganeval   (default cuda)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
LOG=${GANEVAL_GPU_LOG:-benchmarks/gpu_check.log}
export GANEVAL_BENCH_DEVICE=${GANEVAL_BENCH_DEVICE:-cuda}
exec > >(tee "$LOG") 2>&1

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "machine"
date -u
nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu --format=csv
nvidia-smi -L
nproc
"$PY" -c 'import torch, numpy; print("torch", torch.__version__, "CUDA", torch.version.cuda, "numpy", numpy.__version__,
"cuda available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'

failed=()
step "throughput (issue 23): Inception images/s at batch 256/512 with and without channels_last/TF32, FID-50k end to end"
timeout 300 "$PY" benchmarks/gpu_throughput.py --device "$GANEVAL_BENCH_DEVICE" || failed+=("throughput ($?)")

step "CUDA parity: fid, fid_from_stats, kid, prdc, inception_score, modes, ndb vs CPU and torch-fidelity / prdc"
timeout 110 "$PY" benchmarks/gpu_parity.py --device "$GANEVAL_BENCH_DEVICE" || failed+=("parity ($?)")

step "benchmark: FID with 200 bootstrap replicates against plain FID (d=2048, N=10,000) on $GANEVAL_BENCH_DEVICE"
timeout 90 "$PY" -m pytest -q -p no:cacheprovider benchmarks/bench_intervals.py -k 2048 \
    --benchmark-columns=min,mean,max,rounds || failed+=("intervals benchmark ($?)")

step "benchmark: mode statistics and NDB at 26,000 samples on $GANEVAL_BENCH_DEVICE"
timeout 60 "$PY" -m pytest -q -p no:cacheprovider benchmarks/bench_modes.py \
    --benchmark-columns=min,mean,max,rounds --benchmark-sort=name || failed+=("modes benchmark ($?)")

step "training core on $GANEVAL_BENCH_DEVICE: every config, throughput, scoring a checkpoint"
timeout 150 "$PY" benchmarks/gpu_train.py --device "$GANEVAL_BENCH_DEVICE" || failed+=("training ($?)")

step "extractors: images/s at batch 256 of each (Inception, VGG16 against torch-fidelity; DINOv2, CLIP) on $GANEVAL_BENCH_DEVICE"
GANEVAL_BENCH_EXTRACTOR_BATCH=256 timeout 150 "$PY" -m pytest -q -p no:cacheprovider benchmarks/bench_extractors.py \
    --benchmark-columns=min,mean,max,rounds || failed+=("extractor benchmark ($?)")

step "sharded scoring on NCCL: torchrun with K processes (K = the GPUs, 2 on one GPU) against one process"
timeout 150 "$PY" benchmarks/gpu_distributed.py || failed+=("sharded scoring ($?)")

# The scipy sqrtm anchor (tens of seconds, CPU only) is left out here; CPU runs of `make bench` cover it.
step "benchmarks: FID (N=5000, d=2048), PRDC (N=10,000, d=1000; N=50,000, d=2048 memory) on $GANEVAL_BENCH_DEVICE"
timeout 170 "$PY" -m pytest -q -p no:cacheprovider benchmarks/bench_fid.py benchmarks/bench_prdc.py -k "not sqrtm" \
    --benchmark-columns=min,mean,max,rounds --benchmark-sort=name || failed+=("benchmarks ($?)")

step "done: log in $LOG"
if (( ${#failed[@]} )); then
    echo "FAILED: ${failed[*]} (exit status in brackets; 124 = the step ran out of time)"
    exit 1
fi
echo "GPU check passed"
