// camkit-torch: class-activation maps of a TorchScript model's named layer, on the command line.
// The commands live in commands/*.cpp, one file each; the skeleton is ../common/app.hpp.
#include "../common/app.hpp"
#include "torch_support.hpp"

#include <c10/util/Exception.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/runtime/jit_exception.h>

#include <exception>
#include <optional>
#include <string>

int main(int argc, char** argv) {
    // One run explains a model with two or three passes: the graph executor's optimization of the
    // profiled graph (after its first run) costs more than it saves in so few passes (measured:
    // ~85 ms of CPU per run of a ResNet-18 at batch 8, benchmarks/README.md "End to end").
    torch::jit::setGraphExecutorOptimize(false);
    camkit_cli::tool tool{
        "camkit-torch",
        "Explains a TorchScript model (torch.jit.script or torch.jit.trace, saved with .save()) at a layer\n"
        "named by its dotted path (e.g. layer4.1), with no change to the model file.",
        // The model rejected the input (wrong channel count, size, dtype): bad input, not a crash.
        [](const std::exception& e) -> std::optional<std::string> {
            if (const auto* c10 = dynamic_cast<const c10::Error*>(&e))
                return "the model failed on this input: " + camkit_torch_tool::model_error(c10->what_without_backtrace());
            if (dynamic_cast<const torch::jit::JITException*>(&e))
                return "the model failed on this input: " + camkit_torch_tool::model_error(e.what());
            return std::nullopt;
        }};
    return camkit_cli::run_app(tool, argc, argv);
}
