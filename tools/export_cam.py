#!/usr/bin/env python3
"""Exports a PyTorch model for camkit as one AOTInductor package (.pt2) with two functions:

  gradient  f(x, seed) -> (output, activations, gradients)
            output = model(x); activations = A, the output of the layer `layer`; gradients =
            ∂⟨output, seed⟩/∂A, the gradient of Σ seed · output with respect to A. camkit builds
            the seed from its targets in C++ (Grad-CAM, HiResCAM, Grad-CAM++, XGrad-CAM, ...).
  forward   f(x) -> (output, activations), for the gradient-free methods (Eigen-CAM, CAM,
            Score-CAM) and for the targets that depend on the output (the predicted class or region).

Several layers (a list, or --layer given more than once) go into one package, recorded in the
same forward: gradient f(x, seed) -> (output, A_1, ..., A_L, G_1, ..., G_L) and forward f(x) ->
(output, A_1, ..., A_L), format 2 of the metadata (camkit.layers, camkit.activation_shapes);
`camkit-torch analyze` compares the layers of such a package as it does a TorchScript model's.

camkit::torch::exported_model (adapters/torch/include/camkit/torch/exported.hpp) loads the package;
`camkit-torch explain --model M.pt2` explains it. docs/exported.md describes both.

Every shape is static: the package's functions take exactly the example input's shape (batch size
included); camkit runs a batch of another size in chunks of that batch size (the last one padded)
and refuses another shape of the other axes with a clear error. The package's metadata records the layer, the
functions present and the shapes (keys camkit.*). AOTInductor compiles C++ code for the machine it
runs on with the host C++ compiler (here on the CPU), so export where the package will run.

How the gradient function is exported: torch.export cannot trace torch.autograd.grad inside a
forward (PyTorch 2.15: "We found a fake tensor in the exported program constant's list"), nor
torch.func.vjp ("attempted to apply meta conversion to view functorch tensor"). So the function,
autograd.grad included, is first traced to a graph of ATen operations by make_fx (which records the
backward operations the autograd engine runs), and that graph, which holds no autograd call any
more, is exported and compiled.

Use from Python:
    from export_cam import export_cam
    export_cam(model, "layer4", torch.randn(1, 3, 224, 224), "model.pt2")
or from the command line, with a factory that returns the model (weights loaded):
    python tools/export_cam.py --factory mypkg.models:make_model --layer layer4 \
        --input-shape 1,3,224,224 --out model.pt2 [--weights state_dict.pt] [--forward-only|--gradient-only]
A model whose forward returns a dict or a tuple (torchvision's segmentation models return
{"out": ..., "aux": ...}) is exported at the output named by `model_output` / --model-output (a key,
or an index).

Which layer? `--list-layers` prints the dotted names --layer accepts; with --input-shape (or
--input) a table of each layer's type and output shape in one forward of that input, and why a
layer cannot be exported (not reached, called more than once, not one tensor [N, K, ...], the output
does not depend on it):
    python tools/export_cam.py --factory mypkg.models:make_model --input-shape 1,3,224,224 --list-layers
(describe_layers(model, x) from Python). Under the table it names the layer `--layer auto` takes
(candidate_layer(model, x)): the last to finish in that forward whose output keeps the input's rank
with a spatial extent above 1, as camkit-torch's --layer auto chooses.
"""
import argparse
import importlib
import os
import sys

import numpy as np
import torch
from torch.fx.experimental.proxy_tensor import make_fx

# camkit.format: the layout of the functions' inputs and outputs described above, "1" for one
# layer (camkit.layer, camkit.activation_shape), "2" for several (camkit.layers, camkit.activation_shapes).
FORMAT_ONE_LAYER, FORMAT_LAYERS = "1", "2"


def find_layer(model, layer):
    """The submodule of `model` at the dotted path `layer`; a ValueError listing the names otherwise."""
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        names = " ".join(n for n in modules if n)
        raise ValueError(f"layer '{layer}' is not a submodule of the model (its layers: {names})")
    return modules[layer]


def pick_output(y, output):
    """The model output to explain: `y` itself, or with `output` the value of that key of a dict
    output or of that index of a tuple or list output; a ValueError saying how to choose otherwise."""
    if isinstance(y, dict):
        keys = ", ".join(str(k) for k in y)
        if output is None:
            first = next(iter(y), "KEY")
            raise ValueError(f"the model returns a dict (keys: {keys}); choose the output to explain by its key "
                             f"(model_output='{first}'; export_cam.py --model-output {first})")
        by_name = {str(k): v for k, v in y.items()}
        if str(output) not in by_name:
            raise ValueError(f"the model returns a dict without the key '{output}' (keys: {keys})")
        chosen = by_name[str(output)]
    elif isinstance(y, (tuple, list)):
        kind = "a tuple" if isinstance(y, tuple) else "a list"
        if output is None:
            raise ValueError(f"the model returns {kind} of {len(y)} values; choose the output to explain by its index "
                             f"(model_output=0; export_cam.py --model-output 0)")
        text = str(output)
        if not text.isdigit() or int(text) >= len(y):
            raise ValueError(f"the model returns {kind} of {len(y)} values; the output '{output}' must be an index "
                             f"from 0 to {len(y) - 1}")
        chosen = y[int(text)]
    else:
        if output is not None:
            raise ValueError(f"the model returns one tensor; the output '{output}' chooses from a dict or a tuple "
                             f"(give none)")
        chosen = y
    if not isinstance(chosen, torch.Tensor):
        raise ValueError("the model output must be one tensor" if output is None else
                         f"the model output '{output}' is a {type(chosen).__name__}, not a tensor")
    return chosen


def layer_names(layer):
    """`layer` as a list of dotted names: one name, or a list or tuple of distinct names."""
    names = [layer] if isinstance(layer, str) else list(layer)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError("layer must be a dotted layer name or a list of them")
    for n in names:
        if "," in n or ";" in n:
            raise ValueError(f"layer '{n}': a name with ',' or ';' cannot be recorded in the package's metadata")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"layer {', '.join(repr(n) for n in twice)} named more than once")
    return names


def run_recording(model, modules, x, output=None):
    """Runs model(x) once and returns (the model output that `output` names, [the output of each
    of `modules`]); checks each is one tensor from one call. `modules`: (name, module) pairs."""
    recorded = [[] for _ in modules]
    handles = []
    try:
        for i, (_name, module) in enumerate(modules):
            handles.append(module.register_forward_hook(lambda _mod, _inp, out, i=i: recorded[i].append(out)))
        y = model(x)
    finally:
        for h in handles:
            h.remove()
    for (name, _module), outs in zip(modules, recorded):
        if len(outs) != 1:
            raise ValueError(f"the layer {name} was called {len(outs)} times during one forward; camkit explains one call")
        if not isinstance(outs[0], torch.Tensor):
            raise ValueError(f"the layer {name}'s output must be one tensor")
    return pick_output(y, output), [outs[0] for outs in recorded]


def describe_layers(model, example_input, model_output=None):
    """One forward of `example_input` through `model` (eval mode; autograd records which layers the
    output depends on) and, for each
    submodule in named_modules() order, (name, type name, output shape, None) when export_cam can
    record it, or (name, type name, None, why not: not reached, called more than once, not one tensor
    [N, K, ...], or the model output (the one model_output names) does not depend on it)."""
    return _describe(model, example_input, model_output)[0]


def candidate_layer(model, example_input, model_output=None):
    """The layer `--layer auto` stands for (camkit::torch::candidate_layer's rule; torchcam's
    locate_candidate_layer's, but for a layer the output does not depend on): the last submodule to
    finish in one forward of `example_input` that export_cam can record, whose output keeps the
    input's rank [N, C, *S] with a spatial extent above 1 and which the model output depends on (a
    classifier's last convolutional stage). ValueError when none has."""
    chosen = _candidate(*_describe(model, example_input, model_output), example_input.dim())
    if chosen is None:
        raise ValueError("no layer of the model has an output of the input's rank with a spatial extent above 1 on an "
                         f"input of shape {list(example_input.shape)} (--list-layers with --input-shape; name one)")
    return chosen


def _candidate(rows, finished, rank):
    """candidate_layer's choice among _describe's rows for an input of rank `rank`, or None."""
    spatial = [name for name, _, shape, why in rows
               if why is None and rank >= 3 and len(shape) == rank and any(e > 1 for e in shape[2:])]
    return max(spatial, key=lambda name: finished[name]) if spatial else None


def _describe(model, example_input, model_output):
    """describe_layers' rows, and each reached submodule's place in the order the modules finished."""
    model = model.eval()
    seen, finished, nodes = {}, {}, {}
    handles = []
    for name, mod in model.named_modules():
        if name:
            def hook(_mod, _inp, out, name=name):
                seen.setdefault(name, []).append(list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__)
                finished[name] = len(finished)
                nodes[name] = out.grad_fn if isinstance(out, torch.Tensor) else None  # before any in-place change
            handles.append(mod.register_forward_hook(hook))
    try:
        # With autograd (the input a copy that is no leaf, so in-place changes to it are allowed):
        # which layers the explained output depends on.
        with torch.enable_grad():
            x = example_input.detach().requires_grad_(example_input.is_floating_point()).clone()
            y = model(x)
    finally:
        for h in handles:
            h.remove()
    y = pick_output(y, model_output)  # the output the export would explain must exist
    upstream, todo = set(), [y.grad_fn] if y.grad_fn is not None else []
    while todo:
        node = todo.pop()
        if node in upstream:
            continue
        upstream.add(node)
        todo.extend(f for f, _ in node.next_functions if f is not None)
    rows = []
    for name, mod in model.named_modules():
        if not name:
            continue
        outs = seen.get(name, [])
        kind = type(mod).__name__
        if not outs:
            rows.append((name, kind, None, "not reached by the forward"))
        elif len(outs) > 1:
            rows.append((name, kind, None, f"called {len(outs)} times in one forward; camkit explains one call"))
        elif not isinstance(outs[0], list):
            rows.append((name, kind, None, f"returns a {outs[0]}, not one tensor"))
        elif len(outs[0]) < 2 or outs[0][0] != example_input.shape[0]:
            rows.append((name, kind, None, f"output {outs[0]} is not [N, K, ...] with N = {example_input.shape[0]}"))
        elif upstream and nodes[name] not in upstream:
            rows.append((name, kind, None, "the model output does not depend on it"))
        else:
            rows.append((name, kind, outs[0], None))
    return rows, finished


def layer_table(rows):
    """describe_layers' rows as the text table --list-layers prints."""
    width = max([5] + [len(r[0]) for r in rows]), max([4] + [len(r[1]) for r in rows])
    lines = [f"{'layer':<{width[0]}}  {'type':<{width[1]}}  output"]
    for name, kind, shape, why in rows:
        lines.append(f"{name:<{width[0]}}  {kind:<{width[1]}}  " + (str(shape) if why is None else f"- ({why})"))
    return "\n".join(lines)


def _shape_text(t):
    """A tensor's shape as the metadata records it: "2,3,24,24"."""
    return ",".join(str(int(e)) for e in t.shape)


class _Forward(torch.nn.Module):
    """f(x) -> (output, A_1, ..., A_L); the model is the only submodule, so constants keep its names."""

    def __init__(self, model, modules, output=None):
        super().__init__()
        self.model = model
        self._modules_list = [list(modules)]  # in a list: not registered twice
        self._output = output

    def forward(self, x):
        y, a = run_recording(self.model, self._modules_list[0], x, self._output)
        return (y, *a)


def _gradient_function(model, modules, output=None):
    """f(x, seed) -> (output, A_1, ..., A_L, G_1, ..., G_L), G_l = ∂⟨output, seed⟩/∂A_l with
    autograd, for make_fx to trace; a ValueError naming a layer the output does not depend on."""

    def f(x, seed):
        with torch.enable_grad():
            # x as a leaf that requires grad: A is differentiable even when the weights are frozen.
            y, a = run_recording(model, modules, x.detach().requires_grad_(True), output)
            g = torch.autograd.grad((y * seed).sum(), a, allow_unused=True)
        unused = [name for (name, _module), gi in zip(modules, g) if gi is None]
        if unused:
            raise ValueError(f"the model output does not depend on the layer {', '.join(unused)}: its gradients "
                             f"would be zero (leave it out)")
        return (y.detach(), *[ai.detach() for ai in a], *g)

    return f


def _compile(program, example, metadata):
    """AOTInductor files of one exported program (compiled on this machine)."""
    options = {"aot_inductor.package": True, "aot_inductor.metadata": metadata}
    return torch._inductor.aot_compile(program.module(), example, options=options)


def export_cam(model, layer, example_input, path, functions=("gradient", "forward"), model_output=None):
    """Writes the AOTInductor package `path` (.pt2) of `model` explained at `layer` (a dotted
    submodule name, or a list of them: all recorded in one forward) for inputs of exactly
    example_input's shape and dtype; returns `path`.
    `functions`: which of "gradient" and "forward" it holds (camkit runs the gradient function
    with a zero seed where it needs a forward and the package has none). `model_output`: the key (or
    index) of the output to explain when the model returns a dict (or a tuple); the package's
    output is that one."""
    from torch._inductor.package import package_aoti

    functions = [f for f in ("gradient", "forward") if f in functions]
    if not functions:
        raise ValueError("functions must name gradient, forward or both")
    if not isinstance(example_input, torch.Tensor) or example_input.dim() < 3:
        raise ValueError("example_input must be a tensor [N, C, *S] with 1 to 3 spatial axes")
    model = model.eval()
    names = layer_names(layer)
    modules = [(n, find_layer(model, n)) for n in names]
    x = example_input.detach()
    with torch.no_grad():
        y, acts = run_recording(model, modules, x, model_output)
    if y.dim() < 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"camkit needs an output [N, C, ...] with N = {x.shape[0]}, got output {list(y.shape)}")
    for n, a in zip(names, acts):
        if a.dim() < 2 or a.shape[0] != x.shape[0]:
            raise ValueError(f"camkit needs activations [N, K, ...] with N = {x.shape[0]}, got {list(a.shape)} "
                             f"at layer {n}")
    metadata = {
        "camkit.format": FORMAT_ONE_LAYER if len(names) == 1 else FORMAT_LAYERS,
        "camkit.functions": ",".join(functions),
        "camkit.input_shape": _shape_text(x),
        "camkit.input_dtype": str(x.dtype).replace("torch.", ""),
        "camkit.output_shape": _shape_text(y),
        "camkit.torch_version": torch.__version__,
    }
    if len(names) == 1:
        metadata["camkit.layer"], metadata["camkit.activation_shape"] = names[0], _shape_text(acts[0])
    else:
        metadata["camkit.layers"] = ",".join(names)
        metadata["camkit.activation_shapes"] = ";".join(_shape_text(a) for a in acts)
    if model_output is not None:
        metadata["camkit.model_output"] = str(model_output)
    files = {}
    if "forward" in functions:
        with torch.no_grad():
            forward = torch.export.export(_Forward(model, modules, model_output), (x,))
        files["forward"] = _compile(forward, (x,), metadata)
    if "gradient" in functions:
        seed = torch.zeros_like(y)
        traced = make_fx(_gradient_function(model, modules, model_output))(x, seed)
        gradient = torch.export.export(traced, (x, seed))
        files["gradient"] = _compile(gradient, (x, seed), metadata)
    package_aoti(path, files)
    return path


def main(argv=None):
    # The docstring's first two paragraphs: what the package holds, with its two functions.
    p = argparse.ArgumentParser(description="\n\n".join(__doc__.split("\n\n")[:2]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--factory", required=True, help="module:callable returning the model (on sys.path or a .py file)")
    p.add_argument("--layer", action="append",
                   help="dotted name of the layer to explain; given more than once, one package records them all; "
                        "auto: the last layer whose output keeps the input's rank with a spatial extent above 1")
    p.add_argument("--list-layers", action="store_true",
                   help="print the layers' names (with --input-shape or --input: a table of types and output shapes)")
    p.add_argument("--input-shape", help="N,C,*S of the example input (random normal values)")
    p.add_argument("--input", help=".npy example input (instead of --input-shape)")
    p.add_argument("--weights", help="a state_dict saved by torch.save, loaded into the model")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--forward-only", action="store_true", help="only f(x) -> (output, activations)")
    only.add_argument("--gradient-only", action="store_true", help="only f(x, seed) -> (output, activations, gradients)")
    p.add_argument("--model-output", help="the key (a dict output) or index (a tuple output) of the model output to explain")
    p.add_argument("--out", help="the package to write (.pt2)")
    a = p.parse_args(argv)
    if not a.list_layers and (a.layer is None or a.out is None):
        p.error("--layer and --out are required (or --list-layers to choose a layer)")
    if a.input is not None and a.input_shape is not None:
        p.error("give one of --input and --input-shape")
    module_name, _, attr = a.factory.partition(":")
    if module_name.endswith(".py"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(module_name)))
        module_name = os.path.splitext(os.path.basename(module_name))[0]
    model = getattr(importlib.import_module(module_name), attr or "make_model")()
    if a.weights:
        model.load_state_dict(torch.load(a.weights, map_location="cpu"))
    if a.list_layers and a.input is None and a.input_shape is None:
        print("\n".join(name for name, _ in model.named_modules() if name))
        return 0
    if a.input is None and a.input_shape is None:
        p.error("give one of --input and --input-shape")
    if a.input:
        x = torch.from_numpy(np.load(a.input))
    else:
        x = torch.randn([int(e) for e in a.input_shape.split(",")])
    if a.list_layers:
        try:
            rows, finished = _describe(model, x, a.model_output)
            print(layer_table(rows))
            chosen = _candidate(rows, finished, x.dim())
            print("\n--layer auto: " + (chosen or "none (no layer's output keeps the input's rank with a spatial extent "
                                                 "above 1)"))
        except ValueError as e:
            p.error(str(e))
        return 0
    if "auto" in a.layer and "auto" not in dict(model.named_modules()):
        try:
            a.layer = [candidate_layer(model, x, a.model_output) if layer == "auto" else layer for layer in a.layer]
        except ValueError as e:
            p.error(str(e))
    functions = ["forward"] if a.forward_only else ["gradient"] if a.gradient_only else ["gradient", "forward"]
    try:
        export_cam(model, a.layer, x, a.out, functions, a.model_output)
    except ValueError as e:  # what the model or the arguments cannot do: one line, exit status 2
        p.error(str(e))
    print(f"export_cam: {a.out}: layer{'s' if len(a.layer) > 1 else ''} {', '.join(a.layer)}, input {list(x.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
