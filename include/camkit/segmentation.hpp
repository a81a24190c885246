#pragma once
// Named combinations for segmentation models.
//
// Seg-Grad-CAM (Vinogradova et al.) is grad_cam explaining a mask_sum target: the score is
// Σ_p M[p] Y[c, p], the class-c output summed over a region M of interest (the predicted region,
// a box, one pixel or the whole image), and its seed ∂score/∂Y = M on channel c is what the
// framework back-propagates to the explained layer to get the gradients G.
//
// Seg-HiRes-Grad-CAM is hires_cam (raw = Σ_k A ⊙ G) with the same mask_sum target: it keeps the
// gradient's spatial layout instead of averaging it per channel, so the map follows the region.
//
// The steps, for any backend:
//   1. targets  = all_class_targets(Y, mask_kind::predicted_region)        (or mask_sum(c, M))
//   2. seeds    = seed_and_score_many(Y, targets).seed                       [T, C, *P]
//   3. G        = backward of each seed to the layer's activations A         (framework autograd)
//   4. maps     = explain<seg_grad_cam>(A, G) or explain<seg_hires_grad_cam>(A, G)
// mask_mean gives the same normalized maps as mask_sum (its seed is smaller by the factor nnz(M)).
#include <camkit/methods/grad_cam.hpp>
#include <camkit/methods/hires_cam.hpp>
#include <camkit/targets.hpp>
#include <camkit/targets/all_class_targets.hpp>

