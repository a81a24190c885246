#!/usr/bin/env python3
"""Produces camkit's reference data from pytorch-grad-cam, as released on the Python package index.

The library is imported as installed (pip package `grad-cam`, with its own dependencies, torch,
torchvision and opencv-python-headless among them); this script contains none of its code.

It trains small CNNs on synthetic images (2-D: circles / squares / triangles on textured noise;
3-D: balls / boxes / rods in noisy volumes), runs the library's CAM methods for one class per
sample, and saves the target layer's activations A and gradients G exactly as the library used
them, together with the library's maps at every pipeline stage:

  raw          the method's get_cam_image output (before ReLU)
  normalized   scale_cam_image(relu(raw))                       (min-max, no resize)
  resized      scale_cam_image(relu(raw), (W, H))               (cv2 INTER_LINEAR), for the input
               size and for a non-square size
  renormalized the library's end-to-end output cam(input, targets): ReLU + min-max after resize

A third, tiny network (TinyNet, 16x16 inputs) gives the cases that need the model itself or a
layer with more channels than positions: ScoreCAM on its 16-channel 8x8 layer (the network is
saved as TorchScript so that camkit's Score-CAM runs the same forward passes), and EigenCAM /
EigenGradCAM on its 64-channel 4x4 layer (K = 64 > S = 16).

Eigen-CAM and Eigen-Grad-CAM: the sign of the first singular vector is arbitrary. camkit fixes it
so that max(raw) >= |min(raw)|. The library's raw map is flipped per sample to that convention
and the rest of the pipeline is computed from the flipped raw with the library's own functions
(scale_cam_image, aggregate_multi_layers). Which samples were flipped is written to
eigen_flips.txt.

Usage (tests/data/reference/README.md gives the exact environment):
  python tools/reference/make_reference.py [--examples-dir examples/data]
"""
import argparse
import importlib.metadata
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

PACKAGES = ["grad-cam", "torch", "torchvision", "opencv-python-headless", "numpy", "scipy"]


def package_versions():
    return ", ".join(f"{p} {importlib.metadata.version(p)}" for p in PACKAGES)


# ----------------------------------------------------------------------------------------------
# Synthetic data
# ----------------------------------------------------------------------------------------------
CLASSES_2D = ["circle", "square", "triangle"]
CLASSES_3D = ["ball", "box", "rod"]


def make_image(rng, label, size=64):
    """One RGB image in [0, 1], [3, size, size]: a coloured shape on a textured noisy background."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    freq = rng.uniform(0.1, 0.4, size=2)
    phase = rng.uniform(0, 2 * np.pi)
    texture = 0.5 + 0.25 * np.sin(freq[0] * xx + freq[1] * yy + phase)
    bg_colour = rng.uniform(0.1, 0.6, size=3).astype(np.float32)
    img = bg_colour[:, None, None] * texture[None] + rng.normal(0, 0.08, size=(3, size, size))
    r = rng.uniform(size * 0.12, size * 0.25)
    cy, cx = rng.uniform(r + 2, size - r - 2, size=2)
    if label == 0:
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2
    elif label == 1:
        mask = (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    else:
        # Upward triangle: inside when below the apex and between the two slanted edges.
        top, bottom = cy - r, cy + r
        half_width = (yy - top) / (2 * r) * r
        mask = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half_width)
    colour = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
    img = np.where(mask[None], colour[:, None, None] + rng.normal(0, 0.05, size=(3, size, size)), img)
    return np.clip(img, 0, 1).astype(np.float32)


def make_volume(rng, label, shape=(8, 16, 16)):
    """One grey volume [1, D, H, W]: a ball, box or rod in noise."""
    D, H, W = shape
    zz, yy, xx = np.mgrid[0:D, 0:H, 0:W].astype(np.float32)
    vol = rng.normal(0.2, 0.1, size=shape)
    cz = rng.uniform(2.5, D - 3.5)
    cy, cx = rng.uniform(4, H - 5, size=2)
    if label == 0:
        mask = ((zz - cz) * 1.5) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= 3.2 ** 2
    elif label == 1:
        mask = (np.abs(zz - cz) <= 1.5) & (np.abs(yy - cy) <= 3) & (np.abs(xx - cx) <= 3)
    else:
        mask = (np.abs(zz - cz) <= 1) & (np.abs(yy - cy) <= 1.2) & (np.abs(xx - cx) <= 5)
    vol = np.where(mask, 1.0 + rng.normal(0, 0.1, size=shape), vol)
    return vol[None].astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------
class ShapeNet(nn.Module):
    """64x64 RGB -> 3 classes. `block16` is a 32-channel 16x16 layer, `block8` a 32-channel 8x8 one.

    A last convolution follows `block8` before the global average pooling, so that the gradients
    at `block8` vary over space (right before the pooling they would be constant, and Grad-CAM,
    HiResCAM and XGrad-CAM would coincide, which would make their comparison weaker)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 32x32
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))    # 16x16
        self.conv16 = nn.Conv2d(32, 32, 3, padding=1)
        self.block16 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)                                                               # 8x8
        self.conv8 = nn.Conv2d(32, 32, 3, padding=1)
        self.block8 = nn.ReLU()
        self.conv_out = nn.Conv2d(32, 32, 3, padding=1)
        self.out = nn.ReLU()
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        x = self.block16(self.conv16(self.stem(x)))
        x = self.block8(self.conv8(self.pool(x)))
        x = self.out(self.conv_out(x))
        return self.head(x.mean(dim=(2, 3)))


class VolumeNet(nn.Module):
    """[1, 8, 16, 16] -> 3 classes. `block` is a 16-channel [4, 8, 8] leaky-ReLU layer: its
    activations are signed and carry gradient where negative, so LayerCAM's relu(G)·A and
    Grad-CAM-elementwise's relu(G·A) differ (after a plain ReLU they coincide). A further
    convolution follows it so that its gradients vary over space."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2))  # 4x8x8
        self.conv = nn.Conv3d(8, 16, 3, padding=1)
        self.block = nn.LeakyReLU(0.1)
        self.conv_out = nn.Conv3d(16, 16, 3, padding=1)
        self.out = nn.ReLU()
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        x = self.block(self.conv(self.stem(x)))
        x = self.out(self.conv_out(x))
        return self.head(x.mean(dim=(2, 3, 4)))


class TinyNet(nn.Module):
    """16x16 RGB -> 3 classes, small enough to script and to run Score-CAM's 2 x K masked forward
    passes in no time. `block8` is a 16-channel 8x8 layer (Score-CAM), `block4` a 64-channel 4x4
    one: more channels than positions (K = 64 > S = 16), the other branch of Eigen-CAM's
    eigenproblem. A convolution follows `block4`, so its gradients vary over space."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))     # 8x8
        self.conv8 = nn.Conv2d(8, 16, 3, padding=1)
        self.block8 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)                                                              # 4x4
        self.conv4 = nn.Conv2d(16, 64, 3, padding=1)
        self.block4 = nn.ReLU()
        self.conv_out = nn.Conv2d(64, 32, 3, padding=1)
        self.out = nn.ReLU()
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        x = self.block8(self.conv8(self.stem(x)))
        x = self.block4(self.conv4(self.pool(x)))
        x = self.out(self.conv_out(x))
        return self.head(x.mean(dim=(2, 3)))


def train(model, x, y, epochs, lr=3e-3, batch=64, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    start = time.time()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    return acc, time.time() - start


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


# ----------------------------------------------------------------------------------------------
# Running the library
# ----------------------------------------------------------------------------------------------
METHODS_2D = ["GradCAM", "HiResCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "GradCAMElementWise",
              "EigenCAM", "EigenGradCAM"]
# The library's Grad-CAM++ and XGrad-CAM weights sum over axes (2, 3) only, so they are not
# defined for [N, K, D, H, W] activations; the other methods are rank-generic there.
METHODS_3D = ["GradCAM", "HiResCAM", "LayerCAM", "GradCAMElementWise", "EigenCAM", "EigenGradCAM"]
FILE_NAMES = {"GradCAM": "gradcam", "HiResCAM": "hirescam", "GradCAMPlusPlus": "gradcampp",
              "XGradCAM": "xgradcam", "LayerCAM": "layercam", "GradCAMElementWise": "gradcam_elementwise",
              "EigenCAM": "eigencam", "EigenGradCAM": "eigengradcam"}
EIGEN = {"EigenCAM", "EigenGradCAM"}
EPOCHS_3D = 30
EPOCHS_TINY = 12


def capture(lib, method, model, layer, x, classes):
    """Runs `method` end to end and returns (object, output, A, G) as the library used them."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    targets = [ClassifierOutputTarget(int(c)) for c in classes]
    cam = getattr(lib, method)(model=model, target_layers=[layer])
    out = cam(input_tensor=x, targets=targets)
    A = cam.activations_and_grads.activations[0].numpy()
    G = cam.activations_and_grads.gradients[0].numpy() if cam.activations_and_grads.gradients else None
    return cam, targets, out, A, G


def run_methods(lib, methods, model, layer, x, classes, sizes, A_ref, G_ref, full_pipeline):
    """Returns {method: {variant: array}} and the eigen flips, checking A, G agree across methods."""
    from pytorch_grad_cam.utils.image import scale_cam_image
    results, flips = {}, {}
    for method in methods:
        cam, targets, out, A, G = capture(lib, method, model, layer, x, classes)
        assert np.array_equal(A, A_ref), f"{method}: activations differ from the stored ones"
        if G is not None:
            assert np.array_equal(G, G_ref), f"{method}: gradients differ from the stored ones"
        # The library's raw map from the A, G it captured (EigenCAM ignores G).
        raw = cam.get_cam_image(x, layer, targets, A, G if G is not None else A, False)
        raw = np.asarray(raw, dtype=np.float32)
        res = {}
        if method in EIGEN:
            f = [bool(abs(r.min()) > abs(r.max())) for r in raw]
            flips[method] = f
            raw = np.stack([-r if fl else r for r, fl in zip(raw, f)]).astype(np.float32)
        res["raw"] = raw
        res["normalized"] = scale_cam_image(np.maximum(raw, 0))
        if full_pipeline:
            for tag, (h, w) in sizes.items():
                res[f"resized_{tag}"] = scale_cam_image(np.maximum(raw, 0), (w, h))
            h, w = sizes["input"]
            renorm = cam.aggregate_multi_layers([scale_cam_image(np.maximum(raw, 0), (w, h))[:, None, :]])
            if method not in EIGEN or not any(flips[method]):
                # Unflipped: the decomposition must reproduce the library's end-to-end output.
                assert np.array_equal(renorm, out), f"{method}: pipeline decomposition differs from cam()"
            res["renormalized"] = renorm
        results[method] = res
        cam.activations_and_grads.release()
    return results, flips


def run_score_cam(lib, model, layer, x, classes, size):
    """The library's ScoreCAM: its channel weights (softmax of the masked inputs' scores), the
    activations it used, and every pipeline stage as in run_methods."""
    from pytorch_grad_cam.utils.image import scale_cam_image
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    targets = [ClassifierOutputTarget(int(c)) for c in classes]
    cam = lib.ScoreCAM(model=model, target_layers=[layer])
    cam.batch_size = 16
    out = cam(input_tensor=x, targets=targets)
    # The hooks also recorded the masked batches; the first record is the forward pass on x.
    A = cam.activations_and_grads.activations[0].numpy()
    assert A.shape[0] == x.shape[0]
    weights = np.asarray(cam.get_cam_weights(x, layer, targets, A, None), dtype=np.float32)
    raw = np.asarray(cam.get_cam_image(x, layer, targets, A, None, False), dtype=np.float32)
    h, w = size
    res = {"weights": weights, "raw": raw, "normalized": scale_cam_image(np.maximum(raw, 0)),
           "resized_input": scale_cam_image(np.maximum(raw, 0), (w, h)),
           "renormalized": cam.aggregate_multi_layers([scale_cam_image(np.maximum(raw, 0), (w, h))[:, None, :]])}
    assert np.array_equal(res["renormalized"], out), "ScoreCAM: pipeline decomposition differs from cam()"
    cam.activations_and_grads.release()
    return A, res


def save(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


def write_png(path, chw):
    import cv2
    hwc = np.transpose(np.clip(chw * 255 + 0.5, 0, 255).astype(np.uint8), (1, 2, 0))
    cv2.imwrite(path, cv2.cvtColor(hwc, cv2.COLOR_RGB2BGR))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap.add_argument("--reference-dir", default=os.path.join(root, "tests", "data", "reference"))
    ap.add_argument("--examples-dir", default=None,
                    help="also write the `camkit` tool's sample data (examples/data) there")
    ap.add_argument("--epochs", type=int, default=18)
    args = ap.parse_args()

    torch.set_num_threads(1)  # deterministic reductions
    import pytorch_grad_cam as lib
    os.makedirs(args.reference_dir, exist_ok=True)
    log = []

    def save_results(results, tag):
        for method, res in results.items():
            for variant, arr in res.items():
                save(os.path.join(args.reference_dir, f"{FILE_NAMES[method]}{tag}_{variant}.npy"), arr)

    # ---- 2-D: train ShapeNet -----------------------------------------------------------------
    rng = np.random.default_rng(2024)
    n_train = 720
    labels = np.arange(n_train) % 3
    x = torch.from_numpy(np.stack([make_image(rng, l) for l in labels]))
    y = torch.from_numpy(labels).long()
    test_labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    x_test = torch.from_numpy(np.stack([make_image(rng, l) for l in test_labels]))
    torch.manual_seed(0)
    net = ShapeNet()
    acc, secs = train(net, x, y, args.epochs)
    test_acc = accuracy(net, x_test, torch.from_numpy(test_labels).long())
    log.append(f"2-D ShapeNet: {args.epochs} epochs on {n_train} images in {secs:.1f} s, "
               f"train accuracy {acc:.3f}, held-out accuracy {test_acc:.3f} ({len(test_labels)} images)")
    print(log[-1])

    # Two held-out images of different classes, each explained for its own class.
    with torch.no_grad():
        pred = net(x_test).argmax(1).numpy()
    picks = [i for i in range(len(test_labels)) if pred[i] == test_labels[i]]
    first = next(i for i in picks if test_labels[i] == 0)
    second = next(i for i in picks if test_labels[i] == 2)
    sel = [first, second]
    xs = x_test[sel]
    classes = test_labels[sel]
    print(f"reference samples: held-out {sel}, classes {classes.tolist()}")

    # ---- 2-D reference (layer block8: K=32, 8x8) ---------------------------------------------
    _, _, _, A, G = capture(lib, "GradCAM", net, net.block8, xs, classes)
    save(os.path.join(args.reference_dir, "A.npy"), A)
    save(os.path.join(args.reference_dir, "G.npy"), G)
    np.savetxt(os.path.join(args.reference_dir, "classes.txt"), classes, fmt="%d")
    sizes = {"input": (64, 64), "nonsquare": (24, 40)}
    results, flips = run_methods(lib, METHODS_2D, net, net.block8, xs, classes, sizes, A, G, True)
    save_results(results, "")

    # ---- 3-D reference (VolumeNet layer `block`: K=16, 4x8x8) -------------------------------
    rng3 = np.random.default_rng(7)
    n3 = 300
    labels3 = np.arange(n3) % 3
    v = torch.from_numpy(np.stack([make_volume(rng3, l) for l in labels3]))
    torch.manual_seed(1)
    vnet = VolumeNet()
    acc3, secs3 = train(vnet, v, torch.from_numpy(labels3).long(), EPOCHS_3D, batch=32, seed=1)
    v_test_labels = np.array([0, 1, 2, 0, 1, 2])
    v_test = torch.from_numpy(np.stack([make_volume(rng3, l) for l in v_test_labels]))
    test_acc3 = accuracy(vnet, v_test, torch.from_numpy(v_test_labels).long())
    log.append(f"3-D VolumeNet: {EPOCHS_3D} epochs on {n3} volumes in {secs3:.1f} s, train accuracy {acc3:.3f}, "
               f"held-out accuracy {test_acc3:.3f} ({len(v_test_labels)} volumes)")
    print(log[-1])
    with torch.no_grad():
        pred3 = vnet(v_test).argmax(1).numpy()
    ok3 = [i for i in range(len(v_test_labels)) if pred3[i] == v_test_labels[i]] or list(range(6))
    sel3 = [next((i for i in ok3 if v_test_labels[i] == 1), 1), next((i for i in ok3 if v_test_labels[i] == 2), 2)]
    vs = v_test[sel3]
    classes3 = v_test_labels[sel3]
    _, _, _, A3, G3 = capture(lib, "GradCAM", vnet, vnet.block, vs, classes3)
    save(os.path.join(args.reference_dir, "A3d.npy"), A3)
    save(os.path.join(args.reference_dir, "G3d.npy"), G3)
    np.savetxt(os.path.join(args.reference_dir, "classes3d.txt"), classes3, fmt="%d")
    results3, flips3 = run_methods(lib, METHODS_3D, vnet, vnet.block, vs, classes3, {}, A3, G3, False)
    save_results(results3, "_3d")

    # ---- TinyNet: Score-CAM (block8: K=16, 8x8) and Eigen-CAM with K > S (block4: K=64, 4x4) --
    rng_t = np.random.default_rng(99)
    n_t = 600
    labels_t = np.arange(n_t) % 3
    xt = torch.from_numpy(np.stack([make_image(rng_t, l, size=16) for l in labels_t]))
    torch.manual_seed(2)
    tnet = TinyNet()
    acc_t, secs_t = train(tnet, xt, torch.from_numpy(labels_t).long(), EPOCHS_TINY, seed=2)
    t_test_labels = np.array([0, 1, 2, 0, 1, 2])
    t_test = torch.from_numpy(np.stack([make_image(rng_t, l, size=16) for l in t_test_labels]))
    test_acc_t = accuracy(tnet, t_test, torch.from_numpy(t_test_labels).long())
    log.append(f"TinyNet: {EPOCHS_TINY} epochs on {n_t} 16x16 images in {secs_t:.1f} s, train accuracy "
               f"{acc_t:.3f}, held-out accuracy {test_acc_t:.3f} ({len(t_test_labels)} images)")
    print(log[-1])
    # Held-out images 1 (square) and 2 (triangle), each explained for its own class.
    sel_t = [1, 2]
    ts = t_test[sel_t]
    classes_t = t_test_labels[sel_t]
    torch.jit.script(tnet).save(os.path.join(args.reference_dir, "tinynet.pt"))
    save(os.path.join(args.reference_dir, "tinynet_input.npy"), ts.numpy())
    np.savetxt(os.path.join(args.reference_dir, "tinynet_classes.txt"), classes_t, fmt="%d")
    A_s, res_s = run_score_cam(lib, tnet, tnet.block8, ts, classes_t, (16, 16))
    save(os.path.join(args.reference_dir, "scorecam_A.npy"), A_s)
    for variant, arr in res_s.items():
        save(os.path.join(args.reference_dir, f"scorecam_{variant}.npy"), arr)
    _, _, _, A_w, G_w = capture(lib, "GradCAM", tnet, tnet.block4, ts, classes_t)
    save(os.path.join(args.reference_dir, "A_wide.npy"), A_w)
    save(os.path.join(args.reference_dir, "G_wide.npy"), G_w)
    results_w, flips_w = run_methods(lib, ["EigenCAM", "EigenGradCAM"], tnet, tnet.block4, ts, classes_t,
                                     {"input": (16, 16), "nonsquare": (6, 10)}, A_w, G_w, True)
    save_results(results_w, "_wide")

    with open(os.path.join(args.reference_dir, "eigen_flips.txt"), "w") as f:
        f.write("# samples whose library raw map was negated to camkit's sign convention (1 = negated)\n")
        for tag, fl in [("2d", flips), ("3d", flips3), ("wide", flips_w)]:
            for method, values in fl.items():
                f.write(f"{tag} {FILE_NAMES[method]} {' '.join(str(int(b)) for b in values)}\n")

    # ---- sample data for the `camkit` tool (layer block16: K=32, 16x16, one image) ----------
    demo = sel[0]
    demo_class = int(test_labels[demo])
    if args.examples_dir:
        os.makedirs(args.examples_dir, exist_ok=True)
        _, _, _, A16, G16 = capture(lib, "GradCAM", net, net.block16, x_test[demo:demo + 1], [demo_class])
        save(os.path.join(args.examples_dir, "activations.npy"), A16)
        save(os.path.join(args.examples_dir, "gradients.npy"), G16)
        write_png(os.path.join(args.examples_dir, "image.png"), x_test[demo].numpy())

    info = {
        "versions": f"python {sys.version.split()[0]}, {package_versions()}",
        "log": log,
        "ref": (sel, classes.tolist(), sel3, classes3.tolist(), sel_t, classes_t.tolist()),
        "demo": (demo, demo_class),
        "flips": (flips, flips3, flips_w),
    }
    with open(os.path.join(args.reference_dir, "generation.txt"), "w") as f:
        for k, val in info.items():
            f.write(f"{k}: {val}\n")
    print("\n".join(f"{k}: {val}" for k, val in info.items()))


if __name__ == "__main__":
    main()
