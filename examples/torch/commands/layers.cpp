// `camkit-torch layers`: the dotted names of a model's layers.
#include "../../common/app.hpp"
#include "../torch_support.hpp"

#include <camkit/torch/torch.hpp>
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
#include <camkit/torch/exported.hpp>  // --model M.pt2 (LibTorch 2.6+)
#endif

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace {

/// A package of tools/export_cam.py (M.pt2) explains the layers it records: their names, one a line.
void print_package_layer(const std::string& model) {
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
    const camkit::torch::exported_model package(model);
    for (const std::string& name : package.layers()) std::cout << name << "\n";
#else
    camkit_cli::fail("--model " + model + ": this camkit-torch was built with a LibTorch without AOTInductor (before "
                     "2.6), which cannot load .pt2 packages");
#endif
}

/// --input-shape N,C,*S: 3 to 5 extents ≥ 1, at most camkit_cli::max_values values in all.
std::vector<std::int64_t> parse_input_shape(const std::string& v) {
    std::vector<std::int64_t> shape;
    camkit::shape_t extents;
    for (const std::string_view part : camkit_cli::split(v, ',')) {
        shape.push_back(camkit_cli::parse_count(part, "--input-shape extents", 1));
        extents.push_back(static_cast<std::size_t>(shape.back()));
    }
    if (shape.size() < 3 || shape.size() > 5)
        camkit_cli::fail("--input-shape must be N,C,L, N,C,H,W or N,C,D,H,W, got '" + v + "'");
    camkit_cli::check_values(camkit_cli::value_count(1, extents), "--input-shape " + v);
    return shape;
}

/// The table of --input-shape: each layer's name, type and output shape (or why it cannot be explained).
void print_table(const std::vector<camkit::torch::layer_info>& layers) {
    std::size_t name_width = 5, type_width = 4;
    for (const auto& l : layers) name_width = std::max(name_width, l.name.size()), type_width = std::max(type_width, l.type.size());
    const auto pad = [](const std::string& s, std::size_t w) { return s + std::string(w - s.size() + 2, ' '); };
    std::cout << pad("layer", name_width) << pad("type", type_width) << "output\n";
    for (const auto& l : layers) {
        std::cout << pad(l.name, name_width) << pad(l.type, type_width);
        if (l.problem.empty()) {
            std::cout << camkit::to_string(camkit::shape_t(l.shape.begin(), l.shape.end())) << "\n";
            continue;
        }
        // The row names the layer already: "layer 'x' is called 2 times" reads "is called 2 times".
        std::string why = l.problem;
        const std::string named = "layer '" + l.name + "'";
        if (why.rfind(named, 0) == 0 && why.size() > named.size() + 2)
            why = why.substr(why.compare(named.size(), 2, ": ") == 0 ? named.size() + 2 : named.size() + 1);
        std::cout << "- (" << why << ")\n";
    }
}

int run_layers(const std::vector<std::string>& args) {
    std::string model, input_shape, model_output;
    camkit_cli::option_parser("camkit-torch layers")
        .value("--model", model)
        .value("--input-shape", input_shape)
        .value("--model-output", model_output)
        .parse(args);
    if (model.empty()) camkit_cli::fail("--model is required");
    if (!model_output.empty() && input_shape.empty())
        camkit_cli::fail("--model-output goes with --input-shape (the forward that measures the layers' outputs)");
    const std::vector<std::int64_t> shape = input_shape.empty() ? std::vector<std::int64_t>{} : parse_input_shape(input_shape);
    if (camkit_torch_tool::is_package_path(model)) {
        if (!shape.empty()) camkit_cli::fail("--input-shape goes with a TorchScript model; a .pt2 package records its shapes");
        print_package_layer(model);
        return 0;
    }
    torch::jit::Module m = camkit_torch_tool::load_model(model);
    if (shape.empty()) {
        for (const std::string& name : camkit::torch::layer_names(m)) std::cout << name << "\n";
        return 0;
    }
    m.eval();
    const std::vector<camkit::torch::layer_info> layers = camkit_torch_tool::model_step(
        "this input", [&] { return camkit::torch::describe_layers(m, at::zeros(shape, camkit_torch_tool::model_dtype(m)), model_output); });
    print_table(layers);
    const camkit::torch::layer_info* chosen = camkit::torch::candidate_in(layers, static_cast<std::int64_t>(shape.size()));
    std::cout << "\n--layer auto: "
              << (chosen ? chosen->name : "none (no layer's output keeps the input's rank with a spatial extent above 1)")
              << "\n";
    return 0;
}

const camkit_cli::registration layers{{"layers", "lists the dotted names of a model's layers",
                                       "usage: camkit-torch layers --model M.pt|M.pt2 [--input-shape N,C,H,W [--model-output K]]\n\n"
                                       "Lists the names --layer accepts, one per line (for a .pt2\n"
                                       "package of tools/export_cam.py: the layers it records).\n"
                                       "With --input-shape (N,C,L, N,C,H,W or N,C,D,H,W): a table of every layer's\n"
                                       "type and output shape in one forward of zeros of that shape, to choose a\n"
                                       "layer by resolution and depth; a layer camkit cannot record, or that the\n"
                                       "forward does not reach, says why. --model-output: the output of a forward\n"
                                       "that returns a dict or a tuple (as for explain). The last line names\n"
                                       "the layer --layer auto chooses for that shape: the last in the forward's\n"
                                       "order whose output keeps the input's rank with a spatial extent above 1\n"
                                       "and which the model output depends on.\n",
                                       run_layers}};

}  // namespace
