#!/usr/bin/env python3
"""tools/export_cam.py with models whose forward returns several outputs: the output named by
model_output is the one recorded, and every way to get the choice wrong is a ValueError that says
what the model returned. No package is compiled (the checks run before export); the fixture
(make_exported.py: unet_dict.pt2) and test_exported.cpp cover a compiled one. Also the layer list
(describe_layers, --list-layers): each layer's output shape, or why it cannot be exported.

Usage: python test_export_cam_output.py (exit 0 when every check passes)
"""
import contextlib
import io
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools"))
from export_cam import describe_layers, export_cam, main as export_main, pick_output, run_recording  # noqa: E402


class Net(nn.Module):
    """A conv layer `body` and a forward that returns `form` of its pooled output y."""

    def __init__(self, form):
        super().__init__()
        self.body = nn.Conv2d(2, 3, 3, padding=1)
        self.form = form

    def forward(self, x):
        y = torch.relu(self.body(x)).mean((2, 3))
        return {"dict": lambda: {"out": y, "aux": -y}, "tuple": lambda: (-y, y), "list": lambda: [-y, y],
                "tensor": lambda: y, "mixed": lambda: (y, 7)}[self.form]()


class Pair(nn.Module):
    def forward(self, x):
        return x, -x


class Layered(nn.Module):
    """A layer of each kind describe_layers reports: recordable, called twice, a tuple, never reached."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.pair = Pair()
        self.unused = nn.Linear(3, 3)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        a = self.act(self.conv(x))
        b, _ = self.pair(a)
        return self.head(self.act(b).mean((2, 3)))


def make_layered():
    return Layered()


def check_layers():
    x = torch.randn(2, 2, 5, 5)
    rows = describe_layers(make_layered(), x)
    assert rows == [("conv", "Conv2d", [2, 4, 5, 5], None),
                    ("act", "ReLU", None, "called 2 times in one forward; camkit explains one call"),
                    ("pair", "Pair", None, "returns a tuple, not one tensor"),
                    ("unused", "Linear", None, "not reached by the forward"),
                    ("head", "Linear", [2, 3], None)], rows
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert export_main(["--factory", os.path.abspath(__file__) + ":make_layered", "--input-shape", "2,2,5,5",
                            "--list-layers"]) == 0
    assert out.getvalue() == ("layer   type    output\n"
                              "conv    Conv2d  [2, 4, 5, 5]\n"
                              "act     ReLU    - (called 2 times in one forward; camkit explains one call)\n"
                              "pair    Pair    - (returns a tuple, not one tensor)\n"
                              "unused  Linear  - (not reached by the forward)\n"
                              "head    Linear  [2, 3]\n"), out.getvalue()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert export_main(["--factory", os.path.abspath(__file__) + ":make_layered", "--list-layers"]) == 0
    assert out.getvalue() == "conv\nact\npair\nunused\nhead\n", out.getvalue()
    # Without --list-layers, --layer and --out are required (argparse: exit 2, before the model is made).
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            export_main(["--factory", "nosuchmodule:f", "--input-shape", "2,2,5,5"])
            raise AssertionError("no error")
        except SystemExit as e:
            assert e.code == 2
    assert "--layer and --out are required (or --list-layers to choose a layer)" in err.getvalue(), err.getvalue()


def raises(f, part):
    try:
        f()
    except ValueError as e:
        assert part in str(e), f"expected '{part}' in: {e}"
        return
    raise AssertionError(f"no ValueError with '{part}'")


def main():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 5, 5)
    nets = {form: Net(form).eval() for form in ("dict", "tuple", "list", "tensor", "mixed")}
    for net in nets.values():
        net.load_state_dict(nets["tensor"].state_dict())
    want_y, want_a = run_recording(nets["tensor"], nets["tensor"].body, x)
    for form, pick in (("dict", "out"), ("tuple", 1), ("tuple", "1"), ("list", "1")):
        y, a = run_recording(nets[form], nets[form].body, x, pick)
        assert torch.equal(y, want_y) and torch.equal(a, want_a), (form, pick)
    y, _ = run_recording(nets["dict"], nets["dict"].body, x, "aux")
    assert torch.equal(y, -want_y)

    raises(lambda: run_recording(nets["dict"], nets["dict"].body, x),
           "the model returns a dict (keys: out, aux); choose the output to explain by its key "
           "(model_output='out'; export_cam.py --model-output out)")
    raises(lambda: pick_output({"out": want_y}, "logits"), "the model returns a dict without the key 'logits' (keys: out)")
    raises(lambda: pick_output((want_y, want_y), None),
           "the model returns a tuple of 2 values; choose the output to explain by its index "
           "(model_output=0; export_cam.py --model-output 0)")
    raises(lambda: pick_output([want_y, want_y], None), "the model returns a list of 2 values")
    raises(lambda: pick_output((want_y, want_y), 2), "the output '2' must be an index from 0 to 1")
    raises(lambda: pick_output((want_y, want_y), "-1"), "the output '-1' must be an index from 0 to 1")
    raises(lambda: pick_output(want_y, "out"), "the model returns one tensor; the output 'out' chooses from a dict or a tuple")
    raises(lambda: run_recording(nets["mixed"], nets["mixed"].body, x, 1), "the model output '1' is a int, not a tensor")
    raises(lambda: pick_output(7, None), "the model output must be one tensor")
    # export_cam refuses before compiling anything.
    raises(lambda: export_cam(nets["dict"], "body", x, os.devnull), "the model returns a dict (keys: out, aux)")
    raises(lambda: export_cam(nets["tensor"], "body", x, os.devnull, model_output="out"), "the model returns one tensor")
    check_layers()
    print("test_export_cam_output: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
