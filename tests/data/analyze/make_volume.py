"""Makes volume.pt, x.npy and y.npy for tests/torch/test_camkit_torch_analyze.cpp (Debian's
python3-torch 1.13, the version of libtorch-dev):  /usr/bin/python3 tests/data/analyze/make_volume.py

volume.pt: a two-class 3-D segmenter, Conv3d(1→4, 3×3×3) → ReLU → Conv3d(4→2, 1×1×1), random
weights (seed 0), scripted; layers enc, enc.0, enc.1, head. x.npy: two volumes [2, 1, 4, 8, 8]
uniform in [0, 1) (seed 0); y.npy: their class indices [2, 4, 8, 8], 1 where x > 0.5.
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class Volume(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU())
        self.head = torch.nn.Conv3d(4, 2, 1)

    def forward(self, x):
        return self.head(self.enc(x))


def main():
    torch.manual_seed(0)
    torch.jit.script(Volume().eval()).save(os.path.join(HERE, "volume.pt"))
    x = np.random.RandomState(0).rand(2, 1, 4, 8, 8).astype(np.float32)
    np.save(os.path.join(HERE, "x.npy"), x)
    np.save(os.path.join(HERE, "y.npy"), (x[:, 0] > 0.5).astype(np.float32))


if __name__ == "__main__":
    main()
