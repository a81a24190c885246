#pragma once
// Umbrella header of the LibTorch adapter: tensor binding, capture (taps and TorchScript named
// layers) and end-to-end explanation of a model.
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/tensor.hpp>
