#pragma once
// Umbrella header of the LibTorch adapter: tensor binding, taps, end-to-end explanation,
// Score-CAM, faithfulness metrics and TorchScript named layers (scripted.hpp, the one part that
// needs LibTorch's JIT headers; include the narrower headers to leave it out).
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/faithfulness.hpp>
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/scripted.hpp>
#include <camkit/torch/tensor.hpp>
