#!/usr/bin/env bash
# Compares the instructions two versions of camkit's core headers execute per explain call (three
# calls, set-up subtracted), for every gradient method at three shapes, with valgrind's callgrind:
#   bash benchmarks/instructions/compare.sh BEFORE_INCLUDE_DIR AFTER_INCLUDE_DIR
# e.g. a worktree of the previous commit (git worktree add /tmp/before HEAD~1) against include/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for side in before after; do
    dir=$([ "$side" = before ] && echo "$1" || echo "$2")
    g++ -std=c++20 -O2 -Wno-psabi -pthread -I "$dir" "$here/driver.cpp" -o "$work/$side"
done
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
echo "| method | shape | before (M instructions) | after | after / before |"
echo "|---|---|---|---|---|"
for shape in cls seg vol; do
    base_b=$(count "$work/before" none "$shape"); base_a=$(count "$work/after" none "$shape")
    for m in gradcam hirescam gradcam++ xgradcam layercam gradcam-elementwise; do
        b=$(( $(count "$work/before" "$m" "$shape") - base_b )); a=$(( $(count "$work/after" "$m" "$shape") - base_a ))
        awk -v m="$m" -v s="$shape" -v b="$b" -v a="$a" 'BEGIN { printf "| %s | %s | %.1f | %.1f | %.3f |\n", m, s, b / 1e6, a / 1e6, a / b }'
    done
done
