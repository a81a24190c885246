# Sourced by scripts/setup.sh and scripts/test.sh (and scripts that need PyTorch): the Python
# environment holding a PyTorch wheel, whose LibTorch the test command's `torch2` leg builds
# against, with the reference implementations the data notes name.
#
# build/torch-venv, created by scripts/setup.sh; CAMKIT_TORCH_VENV names another environment to use
# instead (one that already holds these packages: nothing is installed into it).
torch_venv=${CAMKIT_TORCH_VENV:-$PWD/build/torch-venv}
# Pinned so that a CI run tests one known LibTorch: the default PyPI wheel of torch for Linux x86-64
# is its CUDA 13 build; torchvision of the same release; pytorch-grad-cam, TorchCAM, OpenCV and
# NumPy for the reference numbers.
torch_pins=(torch==2.15.0 torchvision==0.29.2 grad-cam==1.5.7 torchcam==0.5.0
            opencv-python-headless==5.1.0.95 numpy==2.4.6)

# Prints the pins that $torch_venv does not satisfy (all of them when it has no Python), one a line.
torch_venv_missing() {
  if [[ ! -x "$torch_venv/bin/python" ]]; then
    printf '%s\n' "${torch_pins[@]}"
    return
  fi
  # A Python that fails to run lacks them all (its silence must not read as "nothing missing").
  "$torch_venv/bin/python" - "${torch_pins[@]}" <<'PY' || printf '%s\n' "${torch_pins[@]}"
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    try:
        installed = metadata.version(name).split("+")[0]  # 2.15.0+cu132 is 2.15.0
    except metadata.PackageNotFoundError:
        installed = None
    if installed != version:
        print(pin)
PY
}

# Prints LibTorch's CMake prefix in $torch_venv (torch.utils.cmake_prefix_path).
torch_cmake_prefix() {
  "$torch_venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)'
}

# Prints the nvcc a CUDA build of LibTorch's TorchConfig.cmake would configure with (CUDACXX, PATH,
# CUDAToolkit_ROOT, /usr/local/cuda), nothing when there is none.
cuda_nvcc() {
  local c
  # CMake takes CUDACXX as it is when it is set: a wrong one is no toolkit, whatever else exists.
  if [[ -n "${CUDACXX:-}" ]]; then
    [[ -x "$CUDACXX" ]] && echo "$CUDACXX"
    return 0
  fi
  for c in "$(command -v nvcc || true)" "${CUDAToolkit_ROOT:+$CUDAToolkit_ROOT/bin/nvcc}" /usr/local/cuda/bin/nvcc; do
    if [[ -n "$c" && -x "$c" ]]; then
      echo "$c"
      return
    fi
  done
}
