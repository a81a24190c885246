#!/usr/bin/python3
"""Makes the tiny TorchScript models, inputs and expected maps that tests/torch/test_camkit_torch_tool.cpp
runs the camkit-torch tool on. Run with Debian's Python (python3-torch 1.13, numpy, opencv):

    /usr/bin/python3 tests/data/torch_tool/make_models.py

The expected maps are computed here independently of camkit: activations from a forward hook,
gradients from torch.autograd, and the formulas of SPEC.md written out with torch ops.
"""
import os

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
EPS = 1e-7


class Classifier(nn.Module):
    """conv(stride 2) → in-place ReLU → conv → ReLU → global average pool → linear (3 classes)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(4, 5, 3, padding=1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.features(x))).flatten(1))


class Segmenter(nn.Module):
    """A two-class segmentation net: conv → ReLU → 1×1 conv, output [N, 2, H, W]."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.dec = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.dec(self.enc(x))


def capture(model, layer, x, seed_fn):
    """Activations of `layer` and gradients of Σ seed·output with respect to them."""
    store = {}
    module = dict(model.named_modules())[layer]
    handle = module.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    x = x.clone().requires_grad_(True)
    out = model(x)
    handle.remove()
    a = store["a"]
    (g,) = torch.autograd.grad((out * seed_fn(out)).sum(), a)
    return out.detach(), a.detach().clone(), g.detach()


def finish(raw, size, renormalize=False):
    """SPEC.md's pipeline: ReLU, per-sample min-max, bilinear resize (half-pixel), optional renormalize."""
    m = raw.clamp_min(0)
    flat = m.flatten(1)
    lo, hi = flat.min(1, keepdim=True)[0], flat.max(1, keepdim=True)[0]
    m = ((flat - lo) / (hi - lo + EPS)).view_as(m)
    if tuple(m.shape[1:]) != tuple(size):
        m = F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    if renormalize:
        m = m.clamp_min(0)
        flat = m.flatten(1)
        lo, hi = flat.min(1, keepdim=True)[0], flat.max(1, keepdim=True)[0]
        m = ((flat - lo) / (hi - lo + EPS)).view_as(m)
    return m


def grad_cam(a, g):
    return (g.mean((2, 3), keepdim=True) * a).sum(1)


def hires_cam(a, g):
    return (g * a).sum(1)


def class_seed(classes):
    def seed(out):
        s = torch.zeros_like(out)
        s[torch.arange(out.shape[0]), classes] = 1
        return s
    return seed


def score_cam(model, x, a, classes):
    """pytorch-grad-cam's ScoreCAM: align_corners upsampling, per-channel min-max (1e-8), logits, softmax."""
    up = F.interpolate(a, size=x.shape[-2:], mode="bilinear", align_corners=True)
    flat = up.flatten(2)
    lo, hi = flat.min(2, keepdim=True)[0], flat.max(2, keepdim=True)[0]
    masks = ((flat - lo) / (hi - lo + 1e-8)).view_as(up)
    scores = torch.zeros(a.shape[0], a.shape[1])
    with torch.no_grad():
        for n in range(a.shape[0]):
            for k in range(a.shape[1]):
                scores[n, k] = model((x[n] * masks[n, k][None])[None])[0, classes[n]]
    w = torch.softmax(scores, 1)
    return (w[:, :, None, None] * a).sum(1)


def save(name, t):
    np.save(os.path.join(HERE, name), t.detach().numpy().astype(np.float32))


def main():
    torch.manual_seed(0)
    clf = Classifier().eval()
    seg = Segmenter().eval()
    torch.jit.script(clf).save(os.path.join(HERE, "classifier.pt"))
    torch.jit.script(seg).save(os.path.join(HERE, "segmenter.pt"))

    x = torch.rand(2, 3, 8, 8)
    save("x.npy", x)

    # gradcam, --class 1, layer features.2 (nested name), default size (the input's 8×8)
    _, a, g = capture(clf, "features.2", x, class_seed([1, 1]))
    save("expected_gradcam_class1.npy", finish(grad_cam(a, g), (8, 8)))
    save("expected_gradcam_class1_renorm.npy", finish(grad_cam(a, g), (8, 8), renormalize=True))
    # scorecam, --class 2, layer features.2
    save("expected_scorecam_class2.npy", finish(score_cam(clf, x, a, [2, 2]), (8, 8)))
    # hirescam, --target predicted, layer features.0 (an in-place ReLU follows it), --size 4x4
    with torch.no_grad():
        pred = clf(x).argmax(1).tolist()
    _, a0, g0 = capture(clf, "features.0", x, class_seed(pred))
    save("expected_hirescam_predicted.npy", finish(hires_cam(a0, g0), (4, 4)))

    # An image input: RGB bytes / 255 as [1, 3, H, W].
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    cv2.imwrite(os.path.join(HERE, "input.png"), rgb[:, :, ::-1])
    xi = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()
    _, ai, gi = capture(clf, "features.2", xi, class_seed([0]))
    save("expected_png_gradcam_class0.npy", finish(grad_cam(ai, gi), (8, 8)))

    # Segmentation: mask-sum (Seg-Grad-CAM), whole-image and predicted-region targets at enc.0.
    xs = torch.rand(1, 1, 6, 6)
    save("xs.npy", xs)
    mask = torch.zeros(6, 6)
    mask[1:4, 2:5] = 1
    save("mask.npy", mask)
    cv2.imwrite(os.path.join(HERE, "mask.png"), (mask.numpy() * 255).astype(np.uint8))

    def mask_seed(c, m):
        def seed(out):
            s = torch.zeros_like(out)
            s[:, c] = m
            return s
        return seed

    out, a, g = capture(seg, "enc.0", xs, mask_seed(1, mask))
    save("expected_seg_masksum_class1.npy", finish(grad_cam(a, g), (6, 6)))
    _, a, g = capture(seg, "enc.0", xs, mask_seed(0, torch.ones(6, 6)))
    save("expected_seg_whole_class0.npy", finish(grad_cam(a, g), (6, 6)))
    predicted = (out.argmax(1)[0] == 1).float()
    _, a, g = capture(seg, "enc.0", xs, mask_seed(1, predicted))
    save("expected_seg_predicted_class1.npy", finish(hires_cam(a, g), (6, 6)))


if __name__ == "__main__":
    main()
