#!/usr/bin/python3
"""Writes the small TorchScript models the torch adapter tests load (tests/data/torch/*.pt).

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/torch/make_models.py
The tests rebuild the same networks in C++ from the saved parameters, so the weights only need to
be fixed, not meaningful (seeded random initialisation).
"""
import os

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


def main():
    torch.manual_seed(7)
    for name, model in (("classifier", Classifier()), ("segmenter", Segmenter())):
        scripted = torch.jit.script(model.eval())
        scripted.save(os.path.join(HERE, name + ".pt"))


if __name__ == "__main__":
    main()
