#!/usr/bin/env bash
# Builds the "demo" workflow preset (Release, LibTorch: camkit-seg-demo and camkit-torch) and runs
# camkit-seg-demo: it trains a small U-Net on synthetic shapes for a fixed number of steps (cached
# after the first run), explains it with Seg-Grad-CAM and Seg-HiRes-Grad-CAM, writes PNG panels,
# exports unet.pt and the held-out set; then `camkit-torch analyze` compares four methods at an
# encoder and a decoder layer over that set and writes report.html. Prints the total time.
# Usage: scripts/demo.sh [OUT_DIR] [demo options...]
# (OUT_DIR defaults to ./camkit-demo-out; see build/demo/examples/torch/camkit-seg-demo --help).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$PWD/camkit-demo-out}"
shift || true

# LibTorch's OpenMP threads spin while they wait for work; on a busy machine the spinning thread
# takes the CPU from the one that works (measured here under load 10: 20 s of CPU instead of 5 s for
# the explanations). Passive waiting costs nothing measurable on an idle machine.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# Debian's LibTorch multiplies matrices with OpenBLAS, whose own threads also spin (in the kernel:
# sched_yield) beside LibTorch's: on a 2-core AMD EPYC host (2026-12-05) training took 21.4 s of
# wall time and 42.6 s of CPU with them, 19.8 s and 19.8 s with one (the same weights); analyze
# 9.0 s either way, with 8.3 s of system time less. LibTorch's own threads do the parallel work.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

now() { date +%s.%N; }
start=$(now)
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# The total is printed however the script ends (a failed step, or a training run paused by
# --max-train-seconds, which a later run resumes).
trap 'echo "camkit demo: total $(seconds_since "$start") s"' EXIT

(cd "$root" && cmake --workflow --preset demo)
built=$(now)
echo "camkit demo: build $(seconds_since "$start") s"

"$root/build/demo/examples/torch/camkit-seg-demo" --out "$out" "$@"
echo "camkit demo: camkit-seg-demo $(seconds_since "$built") s"

# The demo's encoder and decoder layers (their dotted paths in unet.pt) and four methods, by the
# names `camkit-torch methods` lists: gradcam and hirescam with the analysis' mask targets are
# Seg-Grad-CAM and Seg-HiRes-Grad-CAM.
tool="$root/build/demo/bin/camkit-torch"
analyzed=$(now)
"$tool" analyze --model "$out/unet.pt" --images "$out/heldout/images" --masks "$out/heldout/masks" \
    --out "$out/analysis" --layer enc3 --layer dec2 \
    --method gradcam --method hirescam --method gradcam++ --method layercam \
    --class-names background,circle,square,triangle
echo "camkit demo: camkit-torch analyze $(seconds_since "$analyzed") s"
echo
echo "camkit demo: analysis report in $out/analysis/report.html"
echo "camkit demo: PNG panels in $out"
ls -1 "$out"/*.png
