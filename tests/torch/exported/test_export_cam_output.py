#!/usr/bin/env python3
"""tools/export_cam.py with models whose forward returns several outputs: the output named by
model_output is the one recorded, and every way to get the choice wrong is a ValueError that says
what the model returned. No package is compiled (the checks run before export); the fixture
(make_exported.py: unet_dict.pt2) and test_exported.cpp cover a compiled one. Also the layer list
(describe_layers, --list-layers): each layer's output shape, or why it cannot be exported, and the
layer --layer auto stands for (candidate_layer).

Usage: python test_export_cam_output.py (exit 0 when every check passes)
"""
import contextlib
import io
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools"))
import export_cam as export_cam_module  # noqa: E402
from export_cam import (_gradient_function, candidate_layer, describe_layers, export_cam, layer_names,  # noqa: E402
                        main as export_main, pick_output, run_recording)


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


def make_tensor_net():
    """The factory of the command-line checks: a Net returning one tensor."""
    return Net("tensor")


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
                              "head    Linear  [2, 3]\n"
                              "\n--layer auto: conv\n"), out.getvalue()
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
    # What export_cam refuses is one line and exit status 2 from the command line, no traceback.
    for args, part in ((["--layer", "body", "--layer", "body"], "error: layer 'body' named more than once"),
                       (["--layer", "nothing"], "error: layer 'nothing' is not a submodule of the model (its layers: body)")):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                export_main(["--factory", f"{__file__}:make_tensor_net", "--input-shape", "2,2,5,5", "--out", os.devnull]
                            + args)
                raise AssertionError("no error")
            except SystemExit as e:
                assert e.code == 2
        assert part in err.getvalue() and "Traceback" not in err.getvalue(), err.getvalue()


class Reordered(nn.Module):
    """Convolutions declared a, b, c and run c, a, b; then a 1×1 pooling module and a linear head."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1), nn.Conv2d(2, 3, 1)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(self.pool(self.b(self.a(self.c(x)))).flatten(1))


def make_reordered():
    return Reordered()


class AuxAfter(nn.Module):
    """A dict output whose auxiliary head runs after the main one (torchvision's FCN does so)."""

    def __init__(self):
        super().__init__()
        self.main, self.aux = nn.Conv2d(2, 3, 1), nn.Conv2d(2, 1, 1)

    def forward(self, x):
        out = self.main(x)
        return {"out": out, "aux": self.aux(x)}


def check_candidate():
    """candidate_layer: the last module to finish with a spatial output of the input's rank that the
    model output depends on."""
    x = torch.randn(2, 2, 4, 5)
    aux = AuxAfter()
    assert candidate_layer(aux, x, "out") == "main"
    assert candidate_layer(aux, x, "aux") == "aux"
    assert describe_layers(aux, x, "out") == [("main", "Conv2d", [2, 3, 4, 5], None),
                                              ("aux", "Conv2d", None, "the model output does not depend on it")]
    net = make_reordered()
    assert candidate_layer(net, torch.randn(2, 2, 4, 5)) == "b"
    assert candidate_layer(net, torch.randn(2, 2, 1, 5)) == "b"  # one spatial extent above 1 is enough
    raises(lambda: candidate_layer(net, torch.randn(2, 2, 1, 1)),
           "no layer of the model has an output of the input's rank with a spatial extent above 1 on an input of shape "
           "[2, 2, 1, 1]")
    # The command line: --layer auto becomes that layer before the export (export_cam stubbed: nothing compiled).
    called = []
    real = export_cam_module.export_cam
    export_cam_module.export_cam = lambda model, layers, *rest: called.append(list(layers))
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert export_main(["--factory", f"{__file__}:make_reordered", "--input-shape", "2,2,4,5", "--layer", "a",
                                "--layer", "auto", "--out", os.devnull]) == 0
    finally:
        export_cam_module.export_cam = real
    assert called == [["a", "b"]], called
    assert "layers a, b, input [2, 2, 4, 5]" in out.getvalue(), out.getvalue()
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            export_main(["--factory", f"{__file__}:make_reordered", "--input-shape", "2,2,1,1", "--layer", "auto",
                         "--out", os.devnull])
            raise AssertionError("no error")
        except SystemExit as e:
            assert e.code == 2
    assert "no layer of the model has an output of the input's rank" in err.getvalue(), err.getvalue()
    assert "Traceback" not in err.getvalue()
    for shape, last in (("2,2,4,5", "--layer auto: b"),
                        ("2,2,1,1", "--layer auto: none (no layer's output keeps the input's rank with a spatial "
                                    "extent above 1)")):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert export_main(["--factory", f"{__file__}:make_reordered", "--input-shape", shape, "--list-layers"]) == 0
        assert out.getvalue().endswith("\n\n" + last + "\n"), out.getvalue()


class TwoStage(nn.Module):
    """Two conv stages and a branch `side` whose output the model's output does not use."""

    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(3, 4, 3, padding=1)
        self.side = nn.Conv2d(3, 1, 1)

    def forward(self, x):
        a = torch.relu(self.first(x))
        self.side(a)  # recorded, unused
        return torch.relu(self.second(a)).mean((2, 3))


def check_several_layers():
    """Several layers in one package: the names checked, each recorded in one forward, the
    gradient function's G_l equal to autograd's for each layer alone, and a layer the output does
    not depend on refused."""
    assert layer_names("a.b") == ["a.b"] and layer_names(("a", "b")) == ["a", "b"]
    raises(lambda: layer_names(["a", "b", "a"]), "layer 'a' named more than once")
    raises(lambda: layer_names([]), "layer must be a dotted layer name or a list of them")
    raises(lambda: layer_names(["a,b"]), "a name with ',' or ';' cannot be recorded")
    torch.manual_seed(1)
    net, x = TwoStage().eval(), torch.randn(2, 2, 6, 6)
    modules = [("second", net.second), ("first", net.first), ("side", net.side)]
    y, acts = run_recording(net, modules, x)
    assert [list(a.shape) for a in acts] == [[2, 4, 6, 6], [2, 3, 6, 6], [2, 1, 6, 6]]
    seed = torch.randn_like(y)
    raises(lambda: _gradient_function(net, modules)(x, seed),
           "the model output does not depend on the layer side: its gradients would be zero (leave it out)")
    out = _gradient_function(net, modules[:2])(x, seed)
    assert len(out) == 5 and torch.equal(out[0], y)
    for i, (name, module) in enumerate(modules[:2]):
        assert torch.equal(out[1 + i], acts[i]), name
        with torch.enable_grad():
            yy, (a,) = run_recording(net, [(name, module)], x.clone().requires_grad_(True))
            want = torch.autograd.grad((yy * seed).sum(), a)[0]
        assert torch.allclose(out[3 + i], want, rtol=0, atol=1e-6), name
        assert torch.count_nonzero(out[3 + i]) > 0, name
    # export_cam checks the names before compiling anything.
    raises(lambda: export_cam(net, ["first", "first"], x, os.devnull), "layer 'first' named more than once")
    raises(lambda: export_cam(net, ["first", "third"], x, os.devnull), "layer 'third' is not a submodule")


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
    want_y, (want_a,) = run_recording(nets["tensor"], [("body", nets["tensor"].body)], x)
    for form, pick in (("dict", "out"), ("tuple", 1), ("tuple", "1"), ("list", "1")):
        y, (a,) = run_recording(nets[form], [("body", nets[form].body)], x, pick)
        assert torch.equal(y, want_y) and torch.equal(a, want_a), (form, pick)
    y, _ = run_recording(nets["dict"], [("body", nets["dict"].body)], x, "aux")
    assert torch.equal(y, -want_y)

    raises(lambda: run_recording(nets["dict"], [("body", nets["dict"].body)], x),
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
    raises(lambda: run_recording(nets["mixed"], [("body", nets["mixed"].body)], x, 1), "the model output '1' is a int, not a tensor")
    raises(lambda: pick_output(7, None), "the model output must be one tensor")
    # export_cam refuses before compiling anything.
    raises(lambda: export_cam(nets["dict"], "body", x, os.devnull), "the model returns a dict (keys: out, aux)")
    raises(lambda: export_cam(nets["tensor"], "body", x, os.devnull, model_output="out"), "the model returns one tensor")
    check_layers()
    check_candidate()
    check_several_layers()
    print("test_export_cam_output: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
