#!/usr/bin/env bash
# Builds the "bench" workflow preset (Release) and runs camkit_bench: JSON to
# benchmarks/results/latest.json, a readable table to benchmarks/results/latest.md (the committed
# run the benchmarks README cites). Extra arguments go to the benchmark binary (e.g.
# --benchmark_filter='cam/seg'); a run with them is partial and goes to results/partial.json and
# partial.md instead (not committed), so it never replaces the full run. The files are replaced
# only when the run and the table succeed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cmake --workflow --preset bench
out="$root/benchmarks/results"
name=latest
(($#)) && name=partial
mkdir -p "$out"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
# camkit splits its work over options.threads itself; one BLAS thread keeps the t1 rows on one core.
OPENBLAS_NUM_THREADS=1 "$root/build/bench-preset/benchmarks/camkit_bench" \
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_out="$staging/run.json" --benchmark_out_format=json "$@"
/usr/bin/python3 "$root/benchmarks/table.py" "$staging/run.json" > "$staging/run.md"
mv "$staging/run.json" "$out/$name.json"
mv "$staging/run.md" "$out/$name.md"
echo "table: $out/$name.md"
