"""Makes signal.pt, signal_x.npy and signal_y.npy for tests/torch/test_camkit_torch_analyze.cpp
(Debian's python3-torch 1.13, the version of libtorch-dev):
/usr/bin/python3 tests/data/analyze/make_signal.py

signal.pt: a two-class 1-D segmenter with fixed weights, Conv1d(1→4, 5, padding 2) → ReLU →
Conv1d(4→2, 1), scripted; layers enc, enc.0, enc.1, head. Channel k of enc is (1 + k/10) times the
5-point box mean of the input; the head gives class 0 the logit 0 and class 1 the logit
Σ_k enc_k − 2.3, so class 1 is predicted where the box mean exceeds 0.5 (on the bumps).
signal_x.npy: two signals [2, 1, 64], a smooth bump each plus uniform noise (seed 0);
signal_y.npy: their class indices [2, 64], 1 where x > 0.5.
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class Signal(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 5, padding=2), torch.nn.ReLU())
        self.head = torch.nn.Conv1d(4, 2, 1)

    def forward(self, x):
        return self.head(self.enc(x))


def main():
    model = Signal().eval()
    with torch.no_grad():
        conv, head = model.enc[0], model.head
        conv.weight.copy_(torch.stack([torch.full((1, 5), (1 + k / 10) / 5) for k in range(4)]))
        conv.bias.zero_()
        head.weight.zero_()
        head.weight[1].fill_(1.0)
        head.bias.copy_(torch.tensor([0.0, -2.3]))
    torch.jit.script(model).save(os.path.join(HERE, "signal.pt"))
    rng = np.random.RandomState(0)
    t = np.arange(64, dtype=np.float64)
    bumps = np.stack([np.exp(-((t - 20) / 6) ** 2), np.exp(-((t - 44) / 8) ** 2)])
    x = (0.8 * bumps + 0.2 * rng.rand(2, 64))[:, None, :].astype(np.float32)
    np.save(os.path.join(HERE, "signal_x.npy"), x)
    np.save(os.path.join(HERE, "signal_y.npy"), (x[:, 0] > 0.5).astype(np.float32))


if __name__ == "__main__":
    main()
