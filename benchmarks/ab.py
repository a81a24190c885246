#!/usr/bin/env python3
"""A/B comparison of two camkit_bench binaries (e.g. before and after a change) on a shared, noisy
machine: the binaries run alternately, `--rounds` times each, on the same rows; every row is
reported as a fraction of the memory-read baseline of its group and shape measured by the same
binary in the same round (baseline time / row time), and the table gives each binary's median
fraction and the after/before ratio of the medians.

    python3 benchmarks/ab.py BEFORE/camkit_bench AFTER/camkit_bench \
        --filter 'cam/(seg|large|vol).*/(memory_read|gradcam|hirescam)/(baseline|fused_t1)' --rounds 3
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


def run(binary, pattern, min_time):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    subprocess.run([binary, f"--benchmark_filter={pattern}", f"--benchmark_min_time={min_time}",
                    f"--benchmark_out={out}", "--benchmark_out_format=json"],
                   check=True, stdout=subprocess.DEVNULL, env=env)
    with open(out) as f:
        text = f.read()
    if not text.strip():
        sys.exit(f"ab.py: {binary} ran no benchmark matching {pattern!r} (row names end in /real_time)")
    data = json.loads(text)
    os.unlink(out)
    return {b["name"].replace("/real_time", ""): b["real_time"] for b in data["benchmarks"]
            if b.get("run_type", "iteration") == "iteration"}


def fractions(times, binary):
    """Row name -> baseline time / row time, the baseline of the row's group/shape. A row whose
    group and shape have no memory_read row in the run is an error: the filter left it out."""
    out = {}
    for name, t in times.items():
        if name.endswith("/memory_read/baseline"):
            continue
        group, shape = name.split("/")[:2]
        base = times.get(f"{group}/{shape}/memory_read/baseline")
        if base is None:
            sys.exit(f"ab.py: {binary}: row {name} has no {group}/{shape}/memory_read baseline in the run; "
                     "widen --filter to include the memory_read rows (camkit_bench has them for the cam, cuda, many, "
                     "refine and regions groups only: compare the analyze, post and targets rows with bench.sh's tables)")
        out[name] = base / t
    if not out:
        sys.exit(f"ab.py: {binary}: the filter matched baseline rows only")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--filter", required=True, help="benchmark filter (include the memory_read rows)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", default="0.2")
    a = ap.parse_args()
    for which in ("before", "after"):
        if not os.access(getattr(a, which), os.X_OK):
            sys.exit(f"ab.py: {getattr(a, which)} is not an executable benchmark binary")
    if a.rounds < 1:
        sys.exit("ab.py: --rounds must be at least 1")
    got = {"before": [], "after": []}
    for r in range(a.rounds):
        for which in ("before", "after"):
            got[which].append(fractions(run(getattr(a, which), a.filter, a.min_time), getattr(a, which)))
            print(f"round {r + 1}/{a.rounds}: {which} done", file=sys.stderr)
    rows = sorted(set(got["before"][0]) | set(got["after"][0]))
    print("| row | before | after | after / before |")
    print("|---|---|---|---|")
    for row in rows:
        b = [f[row] for f in got["before"] if row in f]
        c = [f[row] for f in got["after"] if row in f]
        if not b or not c:
            print(f"| {row} | {statistics.median(b) if b else '–'} | {statistics.median(c) if c else '–'} | – |")
            continue
        mb, mc = statistics.median(b), statistics.median(c)
        print(f"| {row} | {mb:.2f} | {mc:.2f} | {mc / mb:.2f} |")


if __name__ == "__main__":
    main()
