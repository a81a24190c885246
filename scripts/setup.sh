#!/usr/bin/env bash
# Installs every Debian package camkit's build, tests, tools and demos need (run as root), then
# Conan 2 into a virtual environment inside the build folder (build/venv), which the packaging
# test `camkit_package_conan` runs; the system Python is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  cmake g++ make git python3
  python3-venv                                  # build/venv: Conan 2 for the packaging test
  libboost-dev                                  # Boost.Hana (camkit::core)
  xtensor-dev xtl-dev libxsimd-dev libstb-dev   # camkit::xtensor
  libopenblas-dev libxtensor-blas-dev           # camkit::blas: explain_many's W·A by CBLAS (OpenBLAS)
  libtorch-dev                                  # camkit::torch (CPU LibTorch 1.13)
  libgtest-dev libgmock-dev libbenchmark-dev    # tests and benchmarks
  clang libclang-rt-14-dev                      # libFuzzer target
  chromium                                      # camkit-torch analyze's report test (headless)
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

# Conan 2 from the Python package index, pinned so that a CI run tests one known version.
conan_version=2.34.0
venv=build/venv
if [[ "$("$venv/bin/conan" --version 2>/dev/null)" != "Conan version $conan_version" ]]; then
  echo "camkit setup: installing Conan $conan_version into $venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "conan==$conan_version"
fi
"$venv/bin/conan" --version
