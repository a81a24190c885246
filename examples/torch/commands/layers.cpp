// `camkit-torch layers`: the dotted names of a model's layers.
#include "../../common/app.hpp"
#include "../torch_support.hpp"

#include <camkit/torch/torch.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace {

int run_layers(const std::vector<std::string>& args) {
    std::string model;
    camkit_cli::option_parser("camkit-torch layers").value("--model", model).parse(args);
    if (model.empty()) camkit_cli::fail("--model is required");
    const torch::jit::Module m = camkit_torch_tool::load_model(model);
    for (const std::string& name : camkit::torch::layer_names(m)) std::cout << name << "\n";
    return 0;
}

const camkit_cli::registration layers{{"layers", "lists the dotted names of a model's layers",
                                       "usage: camkit-torch layers --model M.pt\n\n"
                                       "Lists the names --layer accepts, one per line.\n",
                                       run_layers}};

}  // namespace
