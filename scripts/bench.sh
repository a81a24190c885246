#!/usr/bin/env bash
# Builds the "bench" workflow preset (Release) and runs camkit_bench: JSON to
# benchmarks/results/latest.json, a readable table to benchmarks/results/latest.md.
# Extra arguments go to the benchmark binary (e.g. --benchmark_filter='cam/seg').
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cmake --workflow --preset bench
out="$root/benchmarks/results"
mkdir -p "$out"
# camkit splits its work over options.threads itself; one BLAS thread keeps the t1 rows on one core.
OPENBLAS_NUM_THREADS=1 "$root/build/bench-preset/benchmarks/camkit_bench" \
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/latest.json" --benchmark_out_format=json "$@"
/usr/bin/python3 "$root/benchmarks/table.py" "$out/latest.json" > "$out/latest.md"
echo "table: $out/latest.md"
