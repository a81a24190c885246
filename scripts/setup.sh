#!/usr/bin/env bash
# Installs every Debian package camkit's build, tests, tools and demos need (run as root).
set -euo pipefail
packages=(
  cmake g++ make git python3
  libboost-dev                                  # Boost.Hana (camkit::core)
  xtensor-dev xtl-dev libxsimd-dev libstb-dev   # camkit::xtensor
  libopenblas-dev libxtensor-blas-dev           # camkit::blas: explain_many's W·A by CBLAS (OpenBLAS)
  libtorch-dev                                  # camkit::torch (CPU LibTorch 1.13)
  libgtest-dev libgmock-dev libbenchmark-dev    # tests and benchmarks
  clang libclang-rt-14-dev                      # libFuzzer target
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "camkit setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "camkit setup: all Debian packages are installed"
fi
