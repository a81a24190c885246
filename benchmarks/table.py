#!/usr/bin/env python3
"""Turns camkit_bench's JSON (with --benchmark_repetitions) into a Markdown table of medians.

Rows are named group/shape/method/implementation. Each CAM row shows its median time, its
bytes/s (bytes of A + G) and its fraction of the memory-read baseline of the same shape (the
baseline's time over the row's time; the baseline reads A and G, or for the many-targets rows A
and all C gradients, once on this machine); "speedup" columns compare camkit's fused one-thread
kernel with the other implementations of the same method and shape. Rows are sorted (group, shape,
method, implementation), whatever order the interleaved run finished them in.
"""
import json
import sys
from collections import OrderedDict


def main(path):
    data = json.load(open(path))
    rows = OrderedDict()
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        parts = name.split("/")
        if len(parts) != 4:
            continue
        ms = b["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        rows[tuple(parts)] = (ms, b.get("bytes_per_second", 0.0))
    ctx = data.get("context", {})
    print(f"Host: {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"load average {ctx.get('load_avg', '?')}, built {ctx.get('library_build_type', '?')} library; medians of repetitions.\n")
    group_order = {g: n for n, g in enumerate(("cam", "cuda", "many", "targets", "post"))}
    impl_order = {i: n for n, i in enumerate(("baseline", "reference", "xtensor", "torch_t1", "torch_t2", "fused_t1",
                                             "fused_t2", "reuse_t1", "one_by_one_t1", "matrix_t1", "matrix_t2",
                                             "loop_t1", "cblas_t1", "torch_ops", "camkit"))}
    rows = OrderedDict(sorted(rows.items(), key=lambda kv: (
        group_order.get(kv[0][0], 99), kv[0][1], kv[0][2] != "memory_read", kv[0][2], impl_order.get(kv[0][3], 99),
        kv[0][3])))
    base = {(g, s): v for (g, s, m, i), v in rows.items() if m == "memory_read"}
    print("| group | shape | method | implementation | median ms | GB/s | fraction of baseline | fused_t1 speedup |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for (g, s, m, i), (ms, bps) in rows.items():
        frac = ""
        b = base.get((g, s))
        if b and g in ("cam", "cuda", "many", "refine"):
            frac = f"{b[0] / ms:.2f}" if b[0] >= 0.1 * ms else f"{b[0] / ms:.1e}"
        speed = ""
        f1 = rows.get((g, s, m, "fused_t1"))
        if g == "cam" and f1 and i != "fused_t1" and m != "memory_read":
            speed = f"{ms / f1[0]:.1f}x"
        if g == "many" and i.startswith("one_by_one"):
            mt = rows.get((g, s, m, "matrix_t1"))
            if mt:
                speed = f"matrix {ms / mt[0]:.1f}x faster"
        if g == "cuda" and i == "torch_ops":
            ck = rows.get((g, s, m, "camkit"))
            if ck:
                speed = f"camkit {ms / ck[0]:.1f}x faster"
        if g == "many" and i == "loop_t1":
            cb = rows.get((g, s, m, "cblas_t1"))
            if cb:
                speed = f"cblas {ms / cb[0]:.1f}x faster"
        print(f"| {g} | {s} | {m} | {i} | {ms:.3f} | {bps / 1e9:.2f} | {frac} | {speed} |")


if __name__ == "__main__":
    main(sys.argv[1])
