#!/usr/bin/env bash
# The whole test suite: the Debug build with every test, then the sanitizer build, the core tests
# built with clang, then a bounded fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --workflow --preset test
cmake --workflow --preset asan
cmake --workflow --preset clang
if [ -f tests/fuzz/CMakeLists.txt ]; then
  cmake --preset fuzz >/dev/null && cmake --build --preset fuzz
  for f in build/fuzz/tests/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    corpus="tests/fuzz/corpus/$(basename "$f" | sed 's/^fuzz_//')"
    echo "fuzzing $(basename "$f") for ${CAMKIT_FUZZ_SECONDS:-60} s"
    mkdir -p "build/fuzz/work"
    "$f" -max_total_time="${CAMKIT_FUZZ_SECONDS:-60}" -print_final_stats=1 build/fuzz/work "$corpus" 2>&1 | tail -n 12
  done
fi
