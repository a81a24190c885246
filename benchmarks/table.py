#!/usr/bin/env python3
"""Turns camkit_bench's JSON (with --benchmark_repetitions) into a Markdown table of medians.

Rows are named group/shape/method/implementation. Each row shows its median time and bytes/s,
and where its group and shape have a memory-read baseline row in the same run (cam, cuda, many,
refine, regions) its fraction of it: the baseline's time over the row's time (the baseline reads A
and G, or for the many-targets rows A and all C gradients, or the map / label volume, once on this
machine). The many-targets product_W_A rows read A only, so their fraction is of work the row does
not do and is left out. The last column compares implementations in the same run: camkit's fused
one-thread kernel against the others of the same method and shape, explain_many against one
explain call per target, BLAS gemm against camkit's loop, camkit against torch ops on the GPU,
analyze's shared passes against separate explain calls, and LAPACK's syevd against camkit's
eigen-solver. The targets, post and eigen rows have no baseline in the binary and show times only. Rows are sorted (group, shape, method, implementation), whatever
order the interleaved run finished them in.

Exits with status 1 on a file without benchmarks, with a row whose name is not
group/shape/method/implementation, or with a row without a positive time in a known unit, naming it.
"""
import json
import sys
from collections import OrderedDict


def compare(name, ratio):
    """'gemm 1.6x faster' for a ratio (the other row's time over this one's) above 1, '... slower' below."""
    return f"{name} {ratio:.1f}x faster" if ratio >= 1 else f"{name} {1 / ratio:.1f}x slower"


def main(path):
    data = json.load(open(path))
    rows = OrderedDict()
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        parts = name.split("/")
        if len(parts) != 4:
            sys.exit(f"table.py: {path}: benchmark '{name}' is not named group/shape/method/implementation")
        unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}.get(b.get("time_unit"))
        time = b.get("real_time")
        if unit is None or not isinstance(time, (int, float)) or not time > 0:
            sys.exit(f"table.py: {path}: benchmark '{name}' has no positive real_time in ns, us, ms or s "
                     f"(real_time {time!r}, time_unit {b.get('time_unit')!r}); an errored or skipped run?")
        ms = time * unit
        rows[tuple(parts)] = (ms, b.get("bytes_per_second", 0.0))
    if not rows:
        sys.exit(f"table.py: {path} holds no benchmark (a filter that matched nothing?)")
    ctx = data.get("context", {})
    print(f"Host: {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"load average {ctx.get('load_avg', '?')}, built {ctx.get('library_build_type', '?')} library; medians of repetitions.\n")
    group_order = {g: n for n, g in enumerate(("cam", "cuda", "many", "eigen", "targets", "post", "refine", "regions", "analyze"))}
    impl_order = {i: n for n, i in enumerate(("baseline", "reference", "xtensor", "torch_t1", "torch_t2", "fused_t1",
                                             "fused_t2", "reuse_t1", "channels_last_t1", "one_by_one_t1", "matrix_t1", "matrix_t2", "matrix_channels_last_t1",
                                             "loop_t1", "gemm_t1", "torch_ops", "camkit", "separate", "shared",
                                             "camkit_t1", "syevd_t1"))}
    rows = OrderedDict(sorted(rows.items(), key=lambda kv: (
        group_order.get(kv[0][0], 99), kv[0][1], kv[0][2] != "memory_read", kv[0][2], impl_order.get(kv[0][3], 99),
        kv[0][3])))
    # The baseline row; other memory_read rows (cam's two_streams) are reads to compare with it.
    base = {(g, s): v for (g, s, m, i), v in rows.items() if m == "memory_read" and i == "baseline"}
    print("| group | shape | method | implementation | median ms | GB/s | fraction of baseline | fused_t1 speedup |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for (g, s, m, i), (ms, bps) in rows.items():
        frac = ""
        b = base.get((g, s))
        if b and g in ("cam", "cuda", "many", "refine", "regions") and m != "product_W_A":
            frac = f"{b[0] / ms:.2f}" if b[0] >= 0.1 * ms else f"{b[0] / ms:.1e}"
        speed = ""
        f1 = rows.get((g, s, m, "fused_t1"))
        if g == "cam" and f1 and i != "fused_t1" and m != "memory_read":
            speed = f"{ms / f1[0]:.1f}x"
        # (group, this row's implementation, the other row's, the other's name in the column)
        for group, mine, other, name in (("many", "one_by_one_t1", "matrix_t1", "matrix"), ("cuda", "torch_ops", "camkit", "camkit"),
                                         ("many", "loop_t1", "gemm_t1", "gemm"), ("analyze", "separate", "shared", "shared"),
                                         ("eigen", "syevd_t1", "camkit_t1", "camkit")):
            o = rows.get((g, s, m, other))
            if g == group and i == mine and o:
                speed = compare(name, ms / o[0])
        print(f"| {g} | {s} | {m} | {i} | {ms:.3f} | {bps / 1e9:.2f} | {frac} | {speed} |")


if __name__ == "__main__":
    main(sys.argv[1])
