// camkit: class-activation maps from saved activations and gradients (.npy) on the command line.
// The commands live in commands/*.cpp, one file each; the skeleton is ../common/app.hpp.
#include "../common/app.hpp"

int main(int argc, char** argv) {
    return camkit_cli::run_app({"camkit",
                                "Computes class-activation maps from a layer's activations and the gradients of a target\n"
                                "score with respect to them, both saved as .npy (float32 or float64, C order).",
                                {}},
                               argc, argv);
}
