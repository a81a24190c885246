#!/usr/bin/python3
"""Writes the small TorchScript models the torch adapter tests load (tests/data/torch/*.pt).

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/torch/make_models.py
The tests rebuild the same networks in C++ from the saved parameters, so the weights only need to
be fixed, not meaningful (seeded random initialisation).

`make_models.py NAME...` writes only the named files (without .pt), e.g. `make_models.py interface`.
"""
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Classifier(nn.Module):
    """conv -> relu_ -> conv -> relu_ -> global average pool -> linear.

    encoder.1 and encoder.3 are identical ReLU(inplace=True) modules, so TorchScript gives them
    one shared class type; the in-place ReLU right after encoder.2 is the in-place case.
    """

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(inplace=True))
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return self.head(self.features(x))

    @torch.jit.export
    def features(self, x):
        return self.encoder(x)

    @torch.jit.export
    def head(self, f):
        return self.fc(f.mean((2, 3)))


class Segmenter(nn.Module):
    """conv -> relu_ -> conv -> relu_ -> 1x1 conv to 3 classes (a segmentation output [N, 3, H, W])."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(inplace=True))
        self.classifier = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return self.classifier(self.encoder(x))


class Block(nn.Module):
    """A ResNet basic block: in-place ReLU module called twice, `out += identity` after bn2."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNetLike(nn.Module):
    """A small ResNet: identical blocks share one TorchScript class type; forward goes through a
    helper method, as torchvision's ResNet does."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(Block(8, 8, 1), Block(8, 8, 1))
        self.layer2 = nn.Sequential(Block(8, 16, 2), Block(16, 16, 1), Block(16, 16, 1))
        self.fc = nn.Linear(16, 5)

    def _forward_impl(self, x):
        x = self.relu(self.conv1(x))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    def forward(self, x):
        return self._forward_impl(x)


@torch.jit.interface
class BodyInterface(nn.Module):
    """What ThroughInterface knows of its body: a module whose forward maps a tensor to a tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pass


class Body(nn.Module):
    """conv (1 -> 2, 3x3) -> relu."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


class ThroughInterface(nn.Module):
    """A body reached through an interface type: its own submodules (body.conv) cannot be edited
    into the graph, the body as a whole can."""

    body: BodyInterface

    def __init__(self):
        super().__init__()
        self.body = Body()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.body.forward(x).mean((2, 3)))


class Reference(nn.Module):
    """Holds the eager-mode reference: the input and, per layer, A and G from forward hooks."""

    def __init__(self, tensors):
        super().__init__()
        for name, t in tensors.items():
            self.register_buffer(name, t)


# Layers of ResNetLike whose activations and gradients the tests compare with eager-mode hooks.
RESNET_LAYERS = ["layer1.1", "layer2.0.downsample.0", "layer2.1.bn2", "layer2.2.conv1", "relu"]


def resnet_reference(model, x, classes):
    tensors = {"input": x}
    for name in RESNET_LAYERS:
        store = {}

        def hook(_module, _inputs, out):
            store["a"] = out.detach().clone()
            out.register_hook(lambda g: store.__setitem__("g", g))

        handle = dict(model.named_modules())[name].register_forward_hook(hook)
        y = model(x.clone())
        y[torch.arange(len(classes)), torch.tensor(classes)].sum().backward()
        handle.remove()
        key = name.replace(".", "_")
        tensors[key + "_a"] = store["a"]
        tensors[key + "_g"] = store["g"].detach().clone()
    return tensors


def write_interface():
    torch.manual_seed(11)
    torch.jit.script(ThroughInterface().eval()).save(os.path.join(HERE, "interface.pt"))


def write_all():
    torch.manual_seed(7)
    for name, model in (("classifier", Classifier()), ("segmenter", Segmenter())):
        scripted = torch.jit.script(model.eval())
        scripted.save(os.path.join(HERE, name + ".pt"))
    resnet = ResNetLike()
    with torch.no_grad():  # running statistics that are not the identity
        resnet.train()(torch.randn(8, 3, 8, 8))
    resnet.eval()
    x = torch.randn(2, 3, 8, 8)
    torch.jit.script(resnet).save(os.path.join(HERE, "resnet_like.pt"))
    torch.jit.trace(resnet, x).save(os.path.join(HERE, "resnet_like_traced.pt"))
    torch.jit.script(Reference(resnet_reference(resnet, x, [3, 1]))).save(
        os.path.join(HERE, "resnet_like_reference.pt"))
    write_interface()


def main(names):
    """Writes every fixture, or only those named (currently: interface)."""
    if not names:
        write_all()
    for name in names:
        {"interface": write_interface}[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
