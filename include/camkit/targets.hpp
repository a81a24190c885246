#pragma once
// The targets layer: the target struct with seed_and_score, the four target builders, the
// mask builders and all_class_targets (docs/math.md "Targets (mask reductions)").
#include <camkit/targets/target.hpp>
#include <camkit/targets/class_score.hpp>
#include <camkit/targets/mask_sum.hpp>
#include <camkit/targets/mask_mean.hpp>
#include <camkit/targets/whole_image.hpp>
#include <camkit/targets/masks.hpp>
#include <camkit/targets/all_class_targets.hpp>
