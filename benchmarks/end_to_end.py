#!/usr/bin/env python3
"""End to end: explains a ResNet-18 classifier (224×224, batch 8) and the demo's U-Net (RGB 64×64,
batch 8, every class) through camkit (camkit_bench_end_to_end: a TorchScript named layer and a
C++ tap), through pytorch-grad-cam and through torchcam (when installed: torchcam==0.5.0) on the
same weights, the same input and the same thread count, and writes Markdown tables: first call,
warm per-batch time, each path's time as a ratio of the model's own forward + backward and of the
peers', and camkit's overhead measured with every C++ path interleaved in one process.

    cmake --build build/torch2 --target camkit_bench_end_to_end   # against the wheel's LibTorch 2.15
    build/torch-venv/bin/python benchmarks/end_to_end.py --bench build/torch2/benchmarks/camkit_bench_end_to_end \
        --threads 1 --repeats 9 --rounds 3 --out benchmarks/results/end_to_end.md

The binary and this Python must use the same torch: the models are written by this Python's torch
and loaded by the binary's LibTorch (the torch2 preset builds against build/torch-venv's wheel).

The models (random weights from a fixed seed) are written as TorchScript files whose
forward(x) == head(features(x)), `features` ending at the explained layer (ResNet-18: layer4;
U-Net: dec1, the last decoder block, before the 1×1 head), with the batch (`example_input`), the
class count (`num_classes`) and, for the U-Net, the regions its forward predicts
(`example_regions`, [N, H, W] class indices: a fixed layout, each class a quarter of each image) as
attributes, so every side explains the same input with the same targets:
- classifier: Grad-CAM of class n·97 mod 1000 for sample n (pytorch-grad-cam:
  ClassifierOutputTarget; torchcam: class_idx), maps resized to 224×224;
- U-Net: Seg-Grad-CAM of every class c in turn, the score of sample n being Σ output[n, c] over the
  pixels of class c in example_regions (pytorch-grad-cam: SemanticSegmentationTarget(c, mask);
  torchcam 0.5: one target callable per sample), maps at 64×64.
Every path runs in a fresh process (the first call is what a one-shot run pays), and the model's
forward + backward alone (`fb`: features, head, the score, autograd's gradient of the score to the
layer's output) is timed the same way on both sides. pytorch-grad-cam runs the eager model (its
hooks need an nn.Module) with torch.set_num_threads; its backward is loss.backward(), which also
computes every parameter's gradient; torchcam takes autograd.grad to the hooked layer and its maps
are resized to the input (F.interpolate, bilinear) as a user overlaying them would. The C++ side is
the LibTorch the bench was built with; the table names both torch versions. Times are wall and the
process's CPU time; with one thread the ratios use CPU time by default (--clock), which on a shared,
loaded machine leaves out the waiting for a core.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn

from bench_report import emit, machine


class Classifier(nn.Module):
    """torchvision's ResNet-18 split at layer4: forward(x) == head(features(x))."""

    def __init__(self, batch):
        super().__init__()
        import torchvision
        r = torchvision.models.resnet18(weights=None, num_classes=1000)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"):
            self.add_module(name, getattr(r, name))
        self.num_classes = 1000
        self.register_buffer("example_input", torch.randn(batch, 3, 224, 224))
        self.register_buffer("example_regions", torch.zeros(0, dtype=torch.long))

    @torch.jit.export
    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    @torch.jit.export
    def head(self, f):
        return self.fc(torch.flatten(self.avgpool(f), 1))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        f = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(f), 1))


class Block(nn.Module):
    """The demo's block: two 3×3 convolutions, each with batch normalization and ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class UNet(nn.Module):
    """The demo's U-Net (examples/torch/seg_demo.cpp): RGB in ([N, 3, 64, 64], what camkit-torch makes
    of the demo's PNGs), 8/16/32 channels at 64/32/16 pixels, 4 classes; split at dec1. The demo's 1×1
    head is `final` here: `head` names the exported method."""

    def __init__(self, batch):
        super().__init__()
        self.enc1, self.enc2, self.enc3 = Block(3, 8), Block(8, 16), Block(16, 32)
        self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec2 = Block(32, 16)
        self.up1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec1 = Block(16, 8)
        self.final = nn.Conv2d(8, 4, 1)
        self.num_classes = 4
        self.register_buffer("example_input", torch.rand(batch, 3, 64, 64))
        self.register_buffer("example_regions", torch.zeros(0, dtype=torch.long))

    @torch.jit.export
    def features(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(torch.max_pool2d(e1, 2))
        e3 = self.enc3(torch.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(e3), e2], 1))
        return self.dec1(torch.cat([self.up1(d2), e1], 1))

    @torch.jit.export
    def head(self, f):
        return self.final(f)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(torch.max_pool2d(e1, 2))
        e3 = self.enc3(torch.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(e3), e2], 1))
        return self.final(self.dec1(torch.cat([self.up1(d2), e1], 1)))


def build(kind, batch, seed):
    torch.manual_seed(seed)
    m = Classifier(batch) if kind == "classify" else UNet(batch)
    m.eval()
    if kind == "segment":
        # Batch-norm statistics that keep activations alive (random running stats, as after training).
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
        # The targets' regions: a fixed layout in which every class covers a quarter of each image
        # (random weights predict one class almost everywhere, which would leave three masks empty).
        n = m.example_input.shape[0]
        h = torch.arange(64).view(1, 64, 1) // 8
        w = torch.arange(64).view(1, 1, 64) // 8
        m.example_regions = (h + w + torch.arange(n).view(n, 1, 1)) % m.num_classes
    return m


def layer_of(m, kind):
    return m.layer4 if kind == "classify" else m.dec1


def targets_of(m, kind):
    """pytorch-grad-cam targets: one list per backward pass of a call."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget, SemanticSegmentationTarget
    n = m.example_input.shape[0]
    if kind == "classify":
        return [[ClassifierOutputTarget((i * 97) % m.num_classes) for i in range(n)]]
    regions = m.example_regions
    return [[SemanticSegmentationTarget(c, (regions[i] == c).float().numpy()) for i in range(n)]
            for c in range(m.num_classes)]


def torchcam_targets_of(m, kind):
    """torchcam's keyword arguments, one dict per forward + backward of a call: the classes as
    class_idx; each sample's masked class sum as a per-sample target callable (torchcam 0.5 `targets`)."""
    n = m.example_input.shape[0]
    if kind == "classify":
        return [{"class_idx": [(i * 97) % m.num_classes for i in range(n)]}]
    regions = m.example_regions
    return [{"targets": [lambda y, c=c, r=(regions[i] == c).float(): (y[c] * r).sum() for i in range(n)]}
            for c in range(m.num_classes)]


def peer(args):
    """One fresh-process measurement of pytorch-grad-cam (`gradcam`), torchcam (`torchcam`) or the eager
    forward + backward (`fb`)."""
    kind, path, threads, repeats = args.kind, args.path, args.threads, args.repeats
    torch.set_num_threads(threads)
    m = build(kind, args.batch, args.seed)
    x = m.example_input
    if path == "gradcam":
        from pytorch_grad_cam import GradCAM
        cam = GradCAM(model=m, target_layers=[layer_of(m, kind)])
        rounds = targets_of(m, kind)

        def call():
            for t in rounds:
                cam(input_tensor=x, targets=t)
    elif path == "torchcam":
        from torchcam.methods import GradCAM
        cam = GradCAM(m, target_layer="layer4" if kind == "classify" else "dec1")
        rounds = torchcam_targets_of(m, kind)
        size = tuple(x.shape[2:])

        def call():
            for t in rounds:
                maps = cam(scores=m(x), **t)[0]
                torch.nn.functional.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False)
    else:
        n = x.shape[0]
        if kind == "classify":
            seeds = [torch.zeros(n, m.num_classes)]
            for i in range(n):
                seeds[0][i, (i * 97) % m.num_classes] = 1.0
        else:
            seeds = []
            for c in range(m.num_classes):
                s = torch.zeros(n, m.num_classes, 64, 64)
                s[:, c] = (m.example_regions == c).float()
                seeds.append(s)

        def call():
            for s in seeds:
                f = m.features(x)
                torch.autograd.grad((m.head(f) * s).sum(), [f])
    got = {"path": path, "threads": torch.get_num_threads(), "warm_ms": [], "warm_cpu_ms": []}
    for r in range(repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        call()
        wall, cpu = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
        if r == 0:
            got["first_ms"], got["first_cpu_ms"] = wall, cpu
        else:
            got["warm_ms"].append(wall)
            got["warm_cpu_ms"].append(cpu)
    print(json.dumps(got))




def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", help="the camkit_bench_end_to_end executable")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default="classify,segment")
    ap.add_argument("--models", help="folder to keep the TorchScript models in (default: a temporary one)")
    ap.add_argument("--out", help="Markdown file to write (default: stdout)")
    ap.add_argument("--clock", choices=("cpu", "wall"),
                    help="time the warm calls compare by: the process's CPU time (default with one thread: on a "
                         "loaded machine it leaves out the waiting for a core) or wall time (default otherwise)")
    ap.add_argument("--peer", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer:
        a.kind, a.path = a.peer
        return peer(a)
    if not a.bench:
        ap.error("--bench is required")
    clock = a.clock or ("cpu" if a.threads == 1 else "wall")
    warm_key = "warm_cpu_ms" if clock == "cpu" else "warm_ms"

    folder = a.models or tempfile.mkdtemp(prefix="camkit_e2e_")
    os.makedirs(folder, exist_ok=True)
    kinds = a.kinds.split(",")
    files = {}
    for kind in kinds:
        m = build(kind, a.batch, a.seed)
        files[kind] = os.path.join(folder, f"{kind}.pt")
        torch.jit.script(m).save(files[kind])

    # Every measurement in a fresh process; rounds interleave all paths (reversed every other round).
    paths = [("camkit", "fb"), ("camkit", "layer"), ("camkit", "tap"), ("python", "fb"), ("python", "gradcam")]
    has_torchcam = importlib.util.find_spec("torchcam") is not None
    if has_torchcam:
        paths.append(("python", "torchcam"))
    else:
        print("end_to_end.py: torchcam is not installed in this Python: no torchcam rows", file=sys.stderr)
    # camkit's overhead: every C++ path in one process, one call of each per round in a rotating
    # order (camkit_bench_end_to_end interleave:...), ratios of the calls of one round.
    overhead_paths = ["fb", "fb-seed", "layer", "tap", "host"]
    load = os.getloadavg()
    got, overhead = {}, {}
    for r in range(a.rounds):
        for kind in kinds:
            for side, path in (paths if r % 2 == 0 else list(reversed(paths))):
                if side == "camkit":
                    res = run_json([a.bench, files[kind], kind, path, str(a.threads), str(a.repeats)])
                else:
                    res = run_json([sys.executable, os.path.abspath(__file__), "--peer", kind, path,
                                    "--threads", str(a.threads), "--repeats", str(a.repeats),
                                    "--batch", str(a.batch), "--seed", str(a.seed)])
                got.setdefault((kind, side, path), []).append(res)
            res = run_json([a.bench, files[kind], kind, "interleave:" + ",".join(overhead_paths), str(a.threads),
                            str(3 * a.repeats)])
            overhead.setdefault(kind, []).append(res["paths"])
        print(f"end_to_end.py: round {r + 1}/{a.rounds} done", file=sys.stderr)

    cpp_torch = "?"
    try:
        ldd = subprocess.run(["ldd", a.bench], capture_output=True, text=True).stdout.split()
        cpp_torch = next((ldd[i + 2] for i, w in enumerate(ldd[:-2]) if w.startswith("libtorch_cpu.so")), "?")
    except OSError:
        pass
    names = {("camkit", "fb"): "LibTorch forward + backward alone", ("camkit", "layer"): "camkit, TorchScript named layer",
             ("camkit", "tap"): "camkit, C++ tap", ("python", "fb"): "PyTorch forward + backward alone",
             ("python", "gradcam"): "pytorch-grad-cam GradCAM", ("python", "torchcam"): "torchcam GradCAM"}
    try:
        import torchcam
        torchcam_version = f", torchcam {torchcam.__version__}"
    except ImportError:
        torchcam_version = ""
    model_names = {"classify": "ResNet-18 224², layer4", "segment": "U-Net 64² RGB, dec1, 4 classes"}
    clock_name = "CPU" if clock == "cpu" else "wall"
    lines = [
        f"End to end, same weights and input ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): "
        f"{machine(load)}; "
        f"{a.threads} thread(s); Python torch {torch.__version__}{torchcam_version}, C++ LibTorch {cpp_torch}; batch {a.batch}; "
        f"{a.rounds} fresh processes per path, each one first call then {a.repeats} warm calls; medians; "
        f"warm times and ratios in {clock_name} time.",
        "",
        f"| model | path | first call ms (wall) | first call CPU ms | warm {clock_name} ms per batch | "
        "warm / same side's forward + backward | warm / pytorch-grad-cam warm |" + (" warm / torchcam warm |" if has_torchcam else ""),
        "|---|---|---:|---:|---:|---:|---:|" + ("---:|" if has_torchcam else ""),
    ]
    for kind in kinds:
        med = {k[1:]: (statistics.median(x["first_ms"] for x in v), statistics.median(x["first_cpu_ms"] for x in v),
                       statistics.median(statistics.median(x[warm_key]) for x in v))
               for k, v in got.items() if k[0] == kind}
        for key in paths:
            first, first_cpu, warm = med[key]
            line = (f"| {model_names[kind]} | {names[key]} | {first:.1f} | {first_cpu:.1f} | {warm:.1f} | "
                    f"{warm / med[(key[0], 'fb')][2]:.3f} | {warm / med[('python', 'gradcam')][2]:.3f} |")
            if has_torchcam:
                line += f" {warm / med[('python', 'torchcam')][2]:.3f} |"
            lines.append(line)
    lines += [
        "",
        f"camkit's overhead, every C++ path in one process ({a.rounds} processes per model, {3 * a.repeats} rounds each, "
        f"one call of every path per round in a rotating order), {clock_name} time: the median over processes of "
        "each process's median ratio of calls of the same round (in brackets: the processes' lowest and highest). "
        "`fb`: features, head, the score (Y·seed).sum() and autograd's gradient of it to the layer (what "
        "pytorch-grad-cam and torchcam do); `fb-seed`: the same with the seed given to autograd as ∂score/∂Y (the "
        "least a forward + backward to the layer costs; camkit does that); `host`: camkit's host work alone on "
        "one captured batch (the targets' seed and scores, the maps).",
        "",
        "| model | path | ms per batch | / fb | / fb-seed |",
        "|---|---|---:|---:|---:|",
    ]
    for kind in kinds:
        runs = overhead[kind]
        for p in overhead_paths:
            ms = statistics.median(statistics.median(d[p][warm_key]) for d in runs)
            cells = []
            for base in ("fb", "fb-seed"):
                per = sorted(statistics.median(x / b for x, b in zip(d[p][warm_key], d[base][warm_key])) for d in runs)
                cells.append(f"{statistics.median(per):.3f} [{per[0]:.3f}–{per[-1]:.3f}]")
            lines.append(f"| {model_names[kind]} | {p} | {ms:.2f} | {cells[0]} | {cells[1]} |")
    emit(lines, a.out)


if __name__ == "__main__":
    main()
