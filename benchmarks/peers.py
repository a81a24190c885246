#!/usr/bin/env python3
"""Times camkit's CAM step against pytorch-grad-cam's and torchcam's on the same arrays, in the same
run, and writes a Markdown table of time ratios (camkit / peer) per method and shape.

    cmake --build build/bench-preset --target camkit_peer_timer   # the bench workflow builds camkit_bench only
    build/torch-venv/bin/python benchmarks/peers.py --timer build/bench-preset/benchmarks/camkit_peer_timer \
        --rounds 5 --repeats 7 --threads 1 --out benchmarks/results/peers.md

Run it with a Python that has torch, numpy, opencv, grad-cam (pytorch-grad-cam) and, optionally,
torchcam. The arrays A (activations, non-negative as after a ReLU) and G (gradients) of every
shape are drawn once from a fixed seed and written as float32 .npy files; camkit reads the same
files (camkit_peer_timer: camkit::explain timed inside that process, so neither process start-up
nor reading the files is in its times). Rounds interleave the three implementations shape by
shape and method by method (the order reversed every other round, so a drifting load is spread
over all of them); each round records the median of `--repeats` calls of each, and the table
gives the median over rounds.

The same work on both sides (float32 in, float32 maps [N, H, W] of the input size out):
- pytorch-grad-cam (its released code): BaseCAM.compute_cam_per_layer (the method's
  get_cam_image from the layer's activations and gradients, np.maximum(cam, 0), scale_cam_image:
  min-max per map with eps 1e-7 and cv2.resize INTER_LINEAR to the input size) followed by
  aggregate_multi_layers (np.maximum, the mean over the one layer, scale_cam_image again without
  resize). camkit: explain with options.size = input size and options.renormalize = true (ReLU,
  min-max, bilinear resize with half-pixel centres, ReLU and min-max again).
- torchcam: the extractor's compute_cams (its _get_weights without the backward pass, which is
  replaced by the given gradients; weighted sum by torch.nansum, ReLU, min-max per map with eps
  1e-8) followed by F.interpolate(mode="bilinear", align_corners=False) to the input size, the
  resize a torchcam user applies to overlay a map. camkit: explain with options.size = input
  size (ReLU, min-max, resize; no second normalization).
Both peers and camkit run on `--threads` threads (torch.set_num_threads, cv2.setNumThreads,
camkit's options.threads). The largest difference between camkit's maps and each peer's maps is
reported beside the times, so the table compares implementations of the same result.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_report import emit, machine

# The shapes of benchmarks/bench_same_work.cpp (keep the two lists equal): name, A's shape, input size.
SHAPES = [
    ("r18l4_8x512x7x7_to224", (8, 512, 7, 7), (224, 224)),
    ("r50l4_8x2048x7x7_to224", (8, 2048, 7, 7), (224, 224)),
    ("r18l2_8x128x28x28_to224", (8, 128, 28, 28), (224, 224)),
    ("unet_8x64x128x128_to128", (8, 64, 128, 128), (128, 128)),
]

# camkit method name -> pytorch-grad-cam class name, torchcam class name (None: not implemented there).
METHODS = {
    "gradcam": ("GradCAM", "GradCAM"),
    "hirescam": ("HiResCAM", None),
    "gradcam-elementwise": ("GradCAMElementWise", None),
    "layercam": ("LayerCAM", "LayerCAM"),
    "xgradcam": ("XGradCAM", "XGradCAM"),
    "gradcam++": ("GradCAMPlusPlus", "GradCAMpp"),
}


def make_arrays(folder, seed):
    """A and G of every shape as .npy files; returns {shape name: (A path, G path, A, G)}."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, _ in SHAPES:
        a = np.abs(rng.standard_normal(shape, dtype=np.float32))
        g = rng.standard_normal(shape, dtype=np.float32) * np.float32(1e-3)
        pa, pg = os.path.join(folder, f"{name}_A.npy"), os.path.join(folder, f"{name}_G.npy")
        np.save(pa, a)
        np.save(pg, g)
        out[name] = (pa, pg, a, g)
    return out


class Layer:
    """A one-layer model for the peers' constructors (they hook a module; the hooks never run here)."""

    def __init__(self, torch):
        self.model = torch.nn.Sequential()
        self.model.add_module("layer", torch.nn.Conv2d(1, 1, 1))  # a parameter: the peers read its device
        self.model.eval()
        self.layer = self.model.layer


def grad_cam_step(torch, cls, layer, size):
    """pytorch-grad-cam's CAM step on given arrays: compute_cam_per_layer + aggregate_multi_layers."""
    cam = cls(model=layer.model, target_layers=[layer.layer])

    def run(a, g):
        x = torch.empty((a.shape[0], 3) + tuple(size))  # only its shape is read: the resize target
        cam.activations_and_grads.activations = [torch.from_numpy(a)]
        cam.activations_and_grads.gradients = [torch.from_numpy(g)]
        return cam.aggregate_multi_layers(cam.compute_cam_per_layer(x, None, False))

    return run


def torchcam_step(torch, cls, layer, size):
    """torchcam's CAM step on given arrays: compute_cams (no backward) + bilinear resize to `size`."""
    ext = cls(layer.model, target_layer="layer")
    ext.remove_hooks()
    ext._backprop = lambda *args, **kwargs: None  # the gradients are given: no backward pass to run
    interpolate = torch.nn.functional.interpolate

    def run(a, g):
        ext.hook_a = [torch.from_numpy(a)]
        ext.hook_g = [torch.from_numpy(g)]
        cams = ext.compute_cams(class_idx=[0] * a.shape[0], scores=None, normalized=True)
        return interpolate(cams[0].unsqueeze(1), size=tuple(size), mode="bilinear", align_corners=False)[:, 0].numpy()

    return run


def median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def camkit_ms(timer, method, pa, pg, size, threads, repeats, renormalize, map_path=None):
    args = [timer, method, pa, pg, "x".join(map(str, size)), str(threads), str(repeats), "1" if renormalize else "0"]
    if map_path:
        args.append(map_path)
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return statistics.median(json.loads(out)["ms"])




def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timer", required=True, help="the camkit_peer_timer executable")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shapes", default="", help="comma-separated shape names (default: all)")
    ap.add_argument("--methods", default="", help="comma-separated camkit method names (default: all)")
    ap.add_argument("--out", help="Markdown file to write (default: stdout)")
    a = ap.parse_args()
    if not os.access(a.timer, os.X_OK):
        sys.exit(f"peers.py: --timer {a.timer} is not an executable (cmake --build BUILD --target camkit_peer_timer)")
    for option, given, known in (("--shapes", a.shapes, [s[0] for s in SHAPES]), ("--methods", a.methods, list(METHODS))):
        unknown = [x for x in given.split(",") if given and x not in known]
        if unknown:
            sys.exit(f"peers.py: {option}: unknown {', '.join(unknown)} (known: {', '.join(known)})")

    import cv2
    import torch
    import pytorch_grad_cam
    try:
        import torchcam.methods as torchcam_methods
        import torchcam
        torchcam_version = torchcam.__version__
    except ImportError:
        torchcam_methods, torchcam_version = None, None
    torch.set_num_threads(a.threads)
    cv2.setNumThreads(a.threads)
    from importlib.metadata import version

    shapes = [s for s in SHAPES if not a.shapes or s[0] in a.shapes.split(",")]
    methods = [m for m in METHODS if not a.methods or m in a.methods.split(",")]
    layer = Layer(torch)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        arrays = make_arrays(folder, a.seed)
        # Every (shape, method, implementation) with its callable; camkit through the timer.
        jobs = []
        for name, shape, size in shapes:
            pa, pg, A, G = arrays[name]
            for m in methods:
                pgc_cls, tc_cls = METHODS[m]
                jobs.append((name, m, "pytorch-grad-cam", size,
                             grad_cam_step(torch, getattr(pytorch_grad_cam, pgc_cls), layer, size), A, G))
                if tc_cls and torchcam_methods:
                    jobs.append((name, m, "torchcam", size,
                                 torchcam_step(torch, getattr(torchcam_methods, tc_cls), layer, size), A, G))

        # The maps agree: camkit's maps of the same work against each peer's.
        diff = {}
        for name, m, peer, size, fn, A, G in jobs:
            pa, pg = arrays[name][:2]
            mp = os.path.join(folder, "map.npy")
            camkit_ms(a.timer, m, pa, pg, size, a.threads, 1, peer == "pytorch-grad-cam", mp)
            diff[(name, m, peer)] = float(np.max(np.abs(np.load(mp) - fn(A, G))))

        times = {}
        for r in range(a.rounds):
            order = jobs if r % 2 == 0 else list(reversed(jobs))
            for name, m, peer, size, fn, A, G in order:
                pa, pg = arrays[name][:2]
                pair = [("camkit", lambda: camkit_ms(a.timer, m, pa, pg, size, a.threads, a.repeats,
                                                     peer == "pytorch-grad-cam")),
                        (peer, lambda: median_ms(lambda: fn(A, G), a.repeats))]
                for who, run in (pair if r % 2 == 0 else reversed(pair)):
                    times.setdefault((name, m, peer, who), []).append(run())
            print(f"peers.py: round {r + 1}/{a.rounds} done", file=sys.stderr)

    lines = [
        f"camkit's CAM step against its peers on the same arrays, same run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        f"Machine: {machine(load)}; {a.threads} thread(s) on every side; "
        f"torch {torch.__version__}, grad-cam {version('grad-cam')}, torchcam {torchcam_version or 'not installed'}, "
        f"numpy {np.__version__}, opencv {cv2.__version__}. {a.rounds} rounds × median of {a.repeats} calls; "
        "the medians over rounds.",
        "",
        "Ratio = camkit time / peer time (below 1: camkit faster); speedup = peer / camkit. "
        "pytorch-grad-cam rows: camkit with options.renormalize (its work includes the second min-max of "
        "aggregate_multi_layers); torchcam rows: without. Max |Δ| is the largest difference between the two maps.",
        "",
        "| shape | method | peer | camkit ms | peer ms | ratio camkit/peer | speedup | max abs diff |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, m, peer, size, fn, A, G in jobs:
        c = statistics.median(times[(name, m, peer, "camkit")])
        p = statistics.median(times[(name, m, peer, peer)])
        lines.append(f"| {name} | {m} | {peer} | {c:.3f} | {p:.3f} | {c / p:.3f} | {p / c:.1f}× | "
                     f"{diff[(name, m, peer)]:.1e} |")
    emit(lines, a.out)


if __name__ == "__main__":
    main()
