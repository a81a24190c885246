#!/usr/bin/env bash
# Builds the "demo" workflow preset (Release, LibTorch) and runs camkit-seg-demo: it trains a small
# U-Net on synthetic shapes (cached after the first run), explains it with Seg-Grad-CAM and
# Seg-HiRes-Grad-CAM, and writes PNG panels. Usage: scripts/demo.sh [OUT_DIR] [demo options...]
# (OUT_DIR defaults to ./camkit-demo-out; see build/demo/examples/torch/camkit-seg-demo --help).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$PWD/camkit-demo-out}"
shift || true
(cd "$root" && cmake --workflow --preset demo)
"$root/build/demo/examples/torch/camkit-seg-demo" --out "$out" "$@"
echo
echo "camkit demo: PNG panels in $out"
ls -1 "$out"/*.png
