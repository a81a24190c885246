#!/usr/bin/env bash
# Installs every Debian package camkit's build, tests, tools and demos need (run as root), then
# Conan 2 into a virtual environment inside the build folder (build/venv), which the packaging
# test `camkit_package_conan` runs, and a PyTorch wheel with the reference implementations into a
# second one (build/torch-venv, see scripts/torch_venv.sh), whose LibTorch the test command's
# torch2 leg builds against; the system Python is left alone.
set -euo pipefail
# A relative CAMKIT_TORCH_VENV is the caller's, not the repository's.
if [[ -n "${CAMKIT_TORCH_VENV:-}" ]]; then CAMKIT_TORCH_VENV=$(realpath -m "$CAMKIT_TORCH_VENV"); fi
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

# The PyTorch wheel (several GB with its CUDA libraries): installed once, skipped when every pin of
# scripts/torch_venv.sh is present. With CAMKIT_TORCH_VENV set, that environment is used as it is.
source scripts/torch_venv.sh
mapfile -t torch_missing < <(torch_venv_missing)
if ((${#torch_missing[@]} == 0)); then
  echo "camkit setup: $torch_venv holds ${torch_pins[*]}"
elif [[ -n "${CAMKIT_TORCH_VENV:-}" ]]; then
  # Not installed into an environment of the user's: the test command would stop at its torch2 leg.
  echo "camkit setup: FAILED: CAMKIT_TORCH_VENV=$torch_venv lacks ${torch_missing[*]} (the test command's LibTorch 2.x leg and its reference tests need them); install them with"
  echo "  $torch_venv/bin/pip install ${torch_missing[*]}"
  echo "or leave CAMKIT_TORCH_VENV unset to have build/torch-venv made"
  exit 1
else
  echo "camkit setup: installing ${torch_missing[*]} into $torch_venv (a few GB: the CUDA build of torch and its nvidia-* libraries)"
  [[ -x "$torch_venv/bin/python" ]] || /usr/bin/python3 -m venv "$torch_venv"
  "$torch_venv/bin/pip" install --disable-pip-version-check --progress-bar on "${torch_pins[@]}"
  mapfile -t torch_missing < <(torch_venv_missing)
  if ((${#torch_missing[@]})); then
    echo "camkit setup: FAILED: $torch_venv still lacks ${torch_missing[*]}"
    exit 1
  fi
  echo "camkit setup: $torch_venv holds ${torch_pins[*]}"
fi
# The wheel is a CUDA build: its TorchConfig.cmake needs a CUDA toolkit (nvcc) of the same major
# version to configure, although the tests run on the CPU.
# The demo does not need it; scripts/test.sh checks for it before it builds anything.
if [[ -z "$(cuda_nvcc)" ]]; then
  echo "camkit setup: warning: no CUDA toolkit (nvcc in CUDACXX, PATH, CUDAToolkit_ROOT or /usr/local/cuda/bin): the demo runs, but the test command's torch2 leg needs NVIDIA's CUDA 13 toolkit (not a Debian package)"
fi
