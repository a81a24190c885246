#!/usr/bin/env bash
# The whole test suite: every test in a Debug build under AddressSanitizer + UndefinedBehaviorSanitizer
# (Torch and BLAS required; Debian's LibTorch 1.13), the LibTorch adapter, its tests, camkit-torch, the
# demo and the benchmark binary against a PyTorch wheel's LibTorch 2.x (its CUDA build, tests on the
# CPU; scripts/torch_venv.sh), the core tests built with clang, then a bounded fuzz run. Any failing
# step fails the command, and so does a run in which a CTest label ran fewer tests than its minimum
# below. Each step prints how long it took.
set -euo pipefail
# A relative CAMKIT_TORCH_VENV is the caller's, not the repository's.
if [[ -n "${CAMKIT_TORCH_VENV:-}" ]]; then export CAMKIT_TORCH_VENV=$(realpath -m "$CAMKIT_TORCH_VENV"); fi
cd "$(dirname "$0")/.."
# CTest runs two tests at a time; OpenBLAS (Debian's LibTorch and camkit::blas use it) would start
# its own spinning threads in each of them as well (scripts/demo.sh). One a process is enough.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

# The fewest tests each CTest label must pass in a run (skipped ones do not count; the LibTorch
# tests run in groups, a CTest test each, and count one by one from the group's GoogleTest report:
# scripts/count_tests.py, tests/CMakeLists.txt): the counts of this tree, so that a dependency that
# goes missing, a test executable that is no longer built or a filter that matches less fails the
# command instead of shrinking the run. Raise them with the tests. `PRESET:LABEL` overrides a
# label's minimum for one preset. core: one ISA test skips on a CPU that runs every instruction set
# (Isa.UnsupportedChoicesAreRejected), under the sanitizers one that limits the address space
# (Parallel.ThreadsThatCannotStartLeaveTheirShareToTheOthers), the clang leg leaves GCC's
# DropIn.CompilesWithoutWarnings to the sanitizer leg (CMakePresets.json), and the sanitizer leg's
# Debug build leaves EntryPoints.* to the clang leg (tests/CMakeLists.txt: optimized builds only).
# torch: 125 tests less the two CUDA tests, which skip without a GPU, and (under the sanitizers,
# LibTorch 1.13) less the eight the asan preset leaves to torch2 (CAMKIT_TESTS_EXCLUDE in
# CMakePresets.json: a resident-memory measurement, a module LibTorch 1.13 leaks, six camkit-torch
# argument-check tests that start the tool dozens of times); in torch2 (LibTorch 2.15, no
# sanitizers) all of them and the 34 tests of exported models (their fixture and export_cam.py's
# output test among them). torch-cmake: a CUDA build of LibTorch without its toolkit, with
# CAMKIT_WITH_TORCH=AUTO and ON (torch2 only).
# package-torch: the installed package's torch component in a project of its own, against the
# wheel's LibTorch (torch2; in asan with label package).
declare -A min_tests=(
  [core]=318 [scalar]=6 [io]=25 [xtensor]=32 [torch]=115 [tool]=41 [blas]=14 [package]=17
  [torch2:torch]=157 [torch-cmake]=2 [package-torch]=1
)

# The packaging test runs `conan create` (Conan 2 from build/venv, installed by scripts/setup.sh):
# here a missing conan command is a failure, not a skip.
export CAMKIT_REQUIRE_CONAN=1

# A compiler warning fails the command (CMake's COMPILE_WARNING_AS_ERROR on every target of these
# builds; the packaging tests' downstream projects are configured by the tests, without it).
warnings_as_errors=-DCMAKE_COMPILE_WARNING_AS_ERROR=ON

# Configures, builds and tests preset $1, then checks the minimum of each label given after it.
run_preset() {
  local preset=$1 dir start=$SECONDS
  shift
  dir="$PWD/build/$preset"
  cmake --preset "$preset" "$warnings_as_errors"
  cmake --build --preset "$preset"
  ctest --preset "$preset" --output-junit "$dir/ctest-junit.xml"
  ctest --preset "$preset" --show-only=json-v1 > "$dir/ctest-tests.json"
  local wanted=()
  for label in "$@"; do wanted+=("$label=${min_tests[$preset:$label]:-${min_tests[$label]}}"); done
  python3 scripts/count_tests.py "$dir/ctest-tests.json" "$dir/ctest-junit.xml" "${wanted[@]}"
  echo "camkit tests: $preset took $((SECONDS - start)) s"
}

# The counting itself, checked first (scripts/test_count_tests.py: a second).
python3 scripts/test_count_tests.py

# What the torch2 leg needs, checked before the sanitizer leg's quarter of an hour: the pinned PyTorch
# environment (scripts/setup.sh) and a CUDA toolkit, without which the wheel's CUDA LibTorch does not
# configure (NVIDIA's CUDA 13 toolkit; not a Debian package).
source scripts/torch_venv.sh
mapfile -t torch_missing < <(torch_venv_missing)
if ((${#torch_missing[@]})); then
  echo "camkit tests: FAILED before building: $torch_venv lacks ${torch_missing[*]} (run scripts/setup.sh)"
  exit 1
fi
if [[ -z "$(cuda_nvcc)" ]]; then
  echo "camkit tests: FAILED before building: no CUDA toolkit (nvcc in CUDACXX, PATH, CUDAToolkit_ROOT or /usr/local/cuda/bin); the torch2 leg builds against the PyTorch wheel's CUDA LibTorch, whose CMake configuration needs NVIDIA's CUDA 13 toolkit"
  exit 1
fi

run_preset asan core scalar io xtensor torch tool blas package
# The preset reads LibTorch's CMake prefix from CAMKIT_TORCH_PREFIX (presets cannot run Python).
CAMKIT_TORCH_PREFIX=$(torch_cmake_prefix)
CAMKIT_TORCH_PYTHON=$torch_venv/bin/python
export CAMKIT_TORCH_PREFIX CAMKIT_TORCH_PYTHON
run_preset torch2 torch torch-cmake package-torch
run_preset clang core scalar

fuzz_start=$SECONDS
cmake --preset fuzz "$warnings_as_errors"
cmake --build --preset fuzz
fuzzers=()
for f in build/fuzz/tests/fuzz/fuzz_*; do
  [[ -f "$f" && -x "$f" ]] && fuzzers+=("$f")
done
if ((${#fuzzers[@]} == 0)); then
  echo "camkit tests: FAILED: the fuzz preset built no fuzz target"
  exit 1
fi
mkdir -p build/fuzz/work
for f in "${fuzzers[@]}"; do
  corpus="tests/fuzz/corpus/$(basename "$f" | sed 's/^fuzz_//')"
  echo "fuzzing $(basename "$f") for ${CAMKIT_FUZZ_SECONDS:-30} s"
  "$f" -max_total_time="${CAMKIT_FUZZ_SECONDS:-30}" -print_final_stats=1 build/fuzz/work "$corpus" 2>&1 | tail -n 12
done
echo "camkit tests: fuzz took $((SECONDS - fuzz_start)) s"
echo "camkit tests: passed in $SECONDS s"
