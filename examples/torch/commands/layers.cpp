// `camkit-torch layers`: the dotted names of a model's layers.
#include "../../common/app.hpp"
#include "../torch_support.hpp"

#include <camkit/torch/torch.hpp>
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
#include <camkit/torch/exported.hpp>  // --model M.pt2 (LibTorch 2.6+)
#endif

#include <filesystem>

#include <iostream>
#include <string>
#include <vector>

namespace {

/// A package of tools/export_cam.py (M.pt2) explains one layer, which it records: that one name.
void print_package_layer(const std::string& model) {
#ifdef CAMKIT_TORCH_TOOL_EXPORTED
    std::cout << camkit::torch::exported_model(model).layer() << "\n";
#else
    camkit_cli::fail("--model " + model + ": this camkit-torch was built with a LibTorch without AOTInductor (before "
                     "2.6), which cannot load .pt2 packages");
#endif
}

int run_layers(const std::vector<std::string>& args) {
    std::string model;
    camkit_cli::option_parser("camkit-torch layers").value("--model", model).parse(args);
    if (model.empty()) camkit_cli::fail("--model is required");
    if (std::filesystem::path(model).extension() == ".pt2") {
        print_package_layer(model);
        return 0;
    }
    const torch::jit::Module m = camkit_torch_tool::load_model(model);
    for (const std::string& name : camkit::torch::layer_names(m)) std::cout << name << "\n";
    return 0;
}

const camkit_cli::registration layers{{"layers", "lists the dotted names of a model's layers",
                                       "usage: camkit-torch layers --model M.pt|M.pt2\n\n"
                                       "Lists the names --layer accepts, one per line (for a .pt2\n"
                                       "package of tools/export_cam.py: the one layer it records).\n",
                                       run_layers}};

}  // namespace
