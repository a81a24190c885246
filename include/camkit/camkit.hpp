#pragma once
// Umbrella header: the whole core (methods, targets, post-processing). Adapters are included
// separately: <camkit/xtensor/xtensor.hpp>, <camkit/torch/torch.hpp>.
#include <camkit/version.hpp>
#include <camkit/error.hpp>
#include <camkit/shape.hpp>
#include <camkit/tensor.hpp>
#include <camkit/strided.hpp>
#include <camkit/parallel.hpp>
#include <camkit/linalg.hpp>
#include <camkit/concepts.hpp>
#include <camkit/reductions.hpp>
#include <camkit/kernels.hpp>
#include <camkit/methods/policy.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/normalize.hpp>
#include <camkit/resize.hpp>
#include <camkit/explain.hpp>
#include <camkit/explain_many.hpp>
#include <camkit/targets.hpp>
#include <camkit/targets/all_class_targets.hpp>
#include <camkit/segmentation.hpp>
#include <camkit/fusion.hpp>
#include <camkit/metrics.hpp>
#include <camkit/colormap.hpp>
#include <camkit/overlay.hpp>
