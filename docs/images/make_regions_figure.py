"""Makes docs/images/regions_components.png with the camkit-torch tool, and the model it uses,
tests/data/regions/discs.pt (which tests/torch/test_camkit_torch_regions.cpp explains too).

A two-class segmenter with fixed weights (no training): layer `enc` averages the RGB channels through
a 3x3 box (then ReLU), the 1x1 head gives class 1 the logit 4 * (enc - 0.5) and class 0 zero, so class 1
is predicted on bright pixels. The input has three bright discs of different sizes. The figure shows
the input, then HiResCAM at `enc` for --target predicted, largest-component and smallest-component
(--class 1), each overlaid on the input by the tool's --png.

Run from the repository root with Debian's Python (python3-torch, python3-pil) after building the tool:
    /usr/bin/python3 docs/images/make_regions_figure.py build/torch/bin/camkit-torch
"""
import os
import subprocess
import sys
import tempfile

import torch
from PIL import Image, ImageDraw


class Segmenter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
        self.head = torch.nn.Conv2d(4, 2, 1)
        with torch.no_grad():
            self.enc[0].weight.fill_(1.0 / 27.0)  # every output channel: the 3x3 box mean of the RGB mean
            self.enc[0].bias.zero_()
            self.head.weight.zero_()
            self.head.bias.zero_()
            self.head.weight[1, :, 0, 0] = 1.0  # class 1: 4 * mean over the 4 channels - 2
            self.head.bias[1] = -2.0

    def forward(self, x):
        return self.head(self.enc(x))


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else "build/torch/bin/camkit-torch"
    here = os.path.dirname(os.path.abspath(__file__))
    out_png = os.path.join(here, "regions_components.png")
    model = os.path.join(here, "..", "..", "tests", "data", "regions", "discs.pt")
    os.makedirs(os.path.dirname(model), exist_ok=True)
    torch.jit.script(Segmenter().eval()).save(model)
    with tempfile.TemporaryDirectory() as tmp:
        image = Image.new("RGB", (96, 96), (20, 20, 40))
        draw = ImageDraw.Draw(image)
        for (cx, cy, r) in [(30, 34, 20), (72, 28, 11), (66, 74, 6)]:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(235, 230, 210))
        inp = os.path.join(tmp, "discs.png")
        image.save(inp)
        panels = [image]
        for target in ["predicted", "largest-component", "smallest-component"]:
            png = os.path.join(tmp, target + ".png")
            subprocess.run([tool, "explain", "--model", model, "--layer", "enc", "--input", inp, "--method", "hirescam",
                            "--target", target, "--class", "1", "--out", os.path.join(tmp, target + ".npy"),
                            "--png", png], check=True)
            panels.append(Image.open(png).convert("RGB"))
        gap = 4
        width = sum(p.width for p in panels) + gap * (len(panels) - 1)
        figure = Image.new("RGB", (width, max(p.height for p in panels)), (255, 255, 255))
        x = 0
        for p in panels:
            figure.paste(p, (x, 0))
            x += p.width + gap
        figure = figure.resize((figure.width * 2, figure.height * 2), Image.NEAREST)
        figure.save(out_png)
    print("wrote", out_png)


if __name__ == "__main__":
    main()
