#!/usr/bin/env python3
"""Test fixture of tests/torch/exported: exports two networks with tools/export_cam.py and writes
what the C++ tests compare the packages' maps with, all into the directory given as argument:

  cnn.pt2, cnn.pt              SmallCNN (classifier, layer features.3): the gradient + forward
                               package and the same network as TorchScript (torch.jit.trace)
  cnn_forward_only.pt2         SmallCNN's forward-only package
  cnn_gradient_only.pt2        SmallCNN's package without the forward function
  cnn_input.npy                its input [2, 3, 24, 24]; cnn_classes.txt one class per sample
  cnn_<method>.npy             pytorch-grad-cam's end-to-end maps cam(input, ClassifierOutputTarget)
                               for gradcam hirescam gradcampp xgradcam layercam gradcam_elementwise
                               scorecam (ReLU, min-max, resize to the input, ReLU, min-max)
  unet.pt2, unet.pt            the demo's U-Net (examples/torch/seg_demo.cpp's architecture, 1 input
                               channel, 4 classes, random weights), layer dec2
  unet_input.npy, unet_mask.npy  its input [2, 1, 32, 32] and a mask [32, 32] for class unet_class.txt
  unet_<method>.npy            pytorch-grad-cam's maps with SemanticSegmentationTarget(class, mask)
                               for gradcam hirescam
  unet_dict.pt2                the U-Net inside a model whose forward returns {"aux": ..., "out": U-Net(x)}
                               (torchvision's segmentation models' form), exported at model_output "out"
                               (gradient function only), layer net.dec2
  unet_layers.pt2              the U-Net at layers enc2, dec2 and dec1 in one package (format 2)
  plain.pt2                    an AOTInductor package without camkit's metadata
  auto_layers.txt              "cnn NAME" and "unet NAME": the layers export_cam.candidate_layer
                               (--layer auto) chooses on the two networks and their inputs
  versions.txt                 the packages' versions

The weights come from torch.manual_seed, so every run writes the same networks; pytorch-grad-cam
(pip package grad-cam) is imported as installed.

Usage: python make_exported.py OUT_DIR
"""
import importlib.metadata
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools"))
from export_cam import candidate_layer, export_cam  # noqa: E402


class SmallCNN(nn.Module):
    """Two conv blocks with batch norm, global average pooling and a linear head of 3 classes."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 12, 3, padding=1, stride=2), nn.ReLU())
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class UNet(nn.Module):
    """The demo's U-Net (examples/torch/seg_demo.cpp): three encoder blocks, two decoder blocks."""

    def __init__(self, classes=4):
        super().__init__()
        self.enc1, self.enc2, self.enc3 = Block(1, 8), Block(8, 16), Block(16, 32)
        self.up2, self.dec2 = nn.ConvTranspose2d(32, 16, 2, stride=2), Block(32, 16)
        self.up1, self.dec1 = nn.ConvTranspose2d(16, 8, 2, stride=2), Block(16, 8)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(torch.max_pool2d(e1, 2))
        e3 = self.enc3(torch.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(e3), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


class DictOutput(nn.Module):
    """`net` with its output under "out" of a dict, beside another output, as torchvision's
    segmentation models return theirs."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        y = self.net(x)
        return {"aux": y.sum(1, keepdim=True), "out": y}


def randomize_norms(model, gen):
    """Non-trivial batch-norm statistics and affine parameters (eval mode uses them)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    return model.eval()


def library_maps(lib, method, model, layer, x, targets):
    cam = getattr(lib, method)(model=model, target_layers=[layer])
    if hasattr(cam, "batch_size"):
        cam.batch_size = 16
    return cam(input_tensor=x, targets=targets).astype(np.float32)


def main(out):
    import pytorch_grad_cam as lib
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget, SemanticSegmentationTarget

    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(13)
    torch.manual_seed(13)

    cnn = randomize_norms(SmallCNN(), gen)
    x = torch.randn(2, 3, 24, 24, generator=gen)
    classes = [2, 0]
    np.save(os.path.join(out, "cnn_input.npy"), x.numpy())
    with open(os.path.join(out, "cnn_classes.txt"), "w") as f:
        f.write(" ".join(map(str, classes)) + "\n")
    torch.jit.trace(cnn, x).save(os.path.join(out, "cnn.pt"))
    export_cam(cnn, "features.3", x, os.path.join(out, "cnn.pt2"))
    export_cam(cnn, "features.3", x, os.path.join(out, "cnn_forward_only.pt2"), functions=["forward"])
    export_cam(cnn, "features.3", x, os.path.join(out, "cnn_gradient_only.pt2"), functions=["gradient"])
    names = {"GradCAM": "gradcam", "HiResCAM": "hirescam", "GradCAMPlusPlus": "gradcampp", "XGradCAM": "xgradcam",
             "LayerCAM": "layercam", "GradCAMElementWise": "gradcam_elementwise", "ScoreCAM": "scorecam"}
    for method, name in names.items():
        maps = library_maps(lib, method, cnn, cnn.features[3], x, [ClassifierOutputTarget(c) for c in classes])
        np.save(os.path.join(out, f"cnn_{name}.npy"), maps)

    unet = randomize_norms(UNet(), gen)
    u = torch.randn(2, 1, 32, 32, generator=gen)
    mask = np.zeros((32, 32), np.float32)
    mask[8:20, 10:26] = 1
    cls = 1
    np.save(os.path.join(out, "unet_input.npy"), u.numpy())
    np.save(os.path.join(out, "unet_mask.npy"), mask)
    with open(os.path.join(out, "unet_class.txt"), "w") as f:
        f.write(f"{cls}\n")
    torch.jit.trace(unet, u).save(os.path.join(out, "unet.pt"))
    export_cam(unet, "dec2", u, os.path.join(out, "unet.pt2"))
    export_cam(DictOutput(unet).eval(), "net.dec2", u, os.path.join(out, "unet_dict.pt2"), functions=["gradient"],
               model_output="out")
    export_cam(unet, ["enc2", "dec2", "dec1"], u, os.path.join(out, "unet_layers.pt2"))
    for method, name in [("GradCAM", "gradcam"), ("HiResCAM", "hirescam")]:
        maps = library_maps(lib, method, unet, unet.dec2, u, [SemanticSegmentationTarget(cls, mask)] * 2)
        np.save(os.path.join(out, f"unet_{name}.npy"), maps)

    # An AOTInductor package of a forward function without camkit's metadata.
    from torch._inductor.package import package_aoti
    tiny, t = nn.Linear(3, 2).eval(), torch.randn(1, 3)
    with torch.no_grad():
        program = torch.export.export(tiny, (t,))
    package_aoti(os.path.join(out, "plain.pt2"),
                 {"forward": torch._inductor.aot_compile(program.module(), (t,), options={"aot_inductor.package": True})})

    # What --layer auto stands for in Python; camkit::torch::candidate_layer must choose the same on
    # the TorchScript files.
    with open(os.path.join(out, "auto_layers.txt"), "w") as f:
        f.write(f"cnn {candidate_layer(cnn, x)}\nunet {candidate_layer(unet, u)}\n")

    with open(os.path.join(out, "versions.txt"), "w") as f:
        f.write(", ".join(f"{p} {importlib.metadata.version(p)}" for p in ["torch", "grad-cam", "numpy"]) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_exported.py OUT_DIR")
    sys.exit(main(sys.argv[1]))
