// A translation unit as a user who drops the headers in writes it, compiled by the CTest tests
// DropIn.CompilesWithoutWarnings.O0, .O2 and .O3 with nothing but -I include, that level and -Wall
// -Wextra -Werror (none of camkit's CMake flags, -Wno-psabi among them): it must compile without a
// warning at each level (the hot functions carry GCC's optimize attribute, include/camkit/optimize.hpp).
// At -O2 and -O3 (CAMKIT_DROP_IN_FEW_METHODS) one method of each kind of kernel stands for all
// (every method took two and a half minutes of a core at -O3; camkit's own builds compile every
// registered method's kernels with -Wpsabi at their level: camkit_kernel_instances in
// ../../CMakeLists.txt): the one-pass channel weights (Grad-CAM), the weights from sums over the
// plane (XGrad-CAM), the gradient term (Grad-CAM++), element-wise (LayerCAM, whose contribution
// calls a pack function: GCC's -Wpsabi once came from there at -O2 only); the projections below
// (explain_many, double).
#include <camkit/camkit.hpp>

#include <vector>

// GCC's -Wpsabi for the kernels' packs, reported at the end of the unit (include/camkit/simd.hpp),
// and for a pack returned by a call the compiler did not inline (plane_ops in reductions.hpp:
// Eigen-CAM's finiteness check, explain_many's kernels): every registered method through explain
// in float, explain_many (channel weights, element-wise, projection), explain_into, and double.
int explain_once() {
    const camkit::tensor<float> A(camkit::shape_t{2, 4, 8, 8}, 1.0f), G(camkit::shape_t{2, 4, 8, 8}, 0.5f);
    const camkit::tensor<float> one(camkit::shape_t{1, 4, 8, 8}, 1.0f);
    int empty = 0;
#if defined(CAMKIT_DROP_IN_FEW_METHODS)  // -O2, -O3: the levels' difference is in the entry points, not the methods
    empty += camkit::explain<camkit::grad_cam>(A, G).map.values.empty();
    empty += camkit::explain<camkit::xgrad_cam>(A, G).map.values.empty();
    empty += camkit::explain<camkit::grad_cam_plus_plus>(A, G).map.values.empty();
    empty += camkit::explain<camkit::layer_cam>(A, G).map.values.empty();
#else
    camkit::for_each_method([&](auto type) { empty += camkit::explain<typename decltype(type)::type>(A, G).map.values.empty(); });
#endif
    empty += camkit::explain_many<camkit::xgrad_cam>(one, G).map.values.empty();
    empty += camkit::explain_many<camkit::layer_cam>(one, G).map.values.empty();
    empty += camkit::explain_many<camkit::eigen_grad_cam>(one, G).map.values.empty();
    // Memory stored channels-last ([N, H, W, K], read in place: the position-major kernels).
    const std::vector<float> stored(A.size(), 0.25f);
    const camkit::host_view<const float> cl{stored.data(), A.shape, camkit::channels_last_strides(A.shape)};
    empty += camkit::explain<camkit::layer_cam>(cl, cl).map.values.empty();
    camkit::explanation<camkit::tensor<float>> into;
    camkit::explain_into<camkit::grad_cam_plus_plus>(into, A, G);
    const camkit::tensor<double> Ad(camkit::shape_t{2, 4, 8, 8}, 1.0), Gd(camkit::shape_t{2, 4, 8, 8}, 0.5);
    empty += camkit::explain<camkit::grad_cam>(Ad, Gd).map.values.empty();
    empty += camkit::explain<camkit::eigen_cam>(Ad).map.values.empty();
    return empty + into.map.values.empty();
}

// GCC 12 at -O3 warned falsely (-Wstringop-overread) on copies of a tensor built in the same unit
// (camkit::tensor's copy constructor).
float score_of_region(const camkit::tensor<float>& Y) {
    const auto region = camkit::predicted_region(Y, 2);
    const auto r = camkit::seed_and_score(Y, std::vector<camkit::target>(2, camkit::mask_sum(2, region)));
    return r.scores.values[0];
}

// The post-processing functions that carry CAMKIT_OPTIMIZE (include/camkit/optimize.hpp), called from
// a unit built at another level: ReLU and normalization, resizing, colouring and blending, the
// refinements.
double post_process(const camkit::tensor<float>& maps) {
    camkit::tensor<float> m = camkit::resize(maps, camkit::shape_t{16, 16});
    camkit::relu_inplace(m);
    camkit::normalize_inplace(m, camkit::normalization::min_max);
    const camkit::tensor<float> plane(camkit::shape_t{16, 16}, std::vector<float>(m.values.begin(), m.values.begin() + 256));
    const camkit::rgb_image shown = camkit::overlay(plane, camkit::heatmap(plane));
    const auto refined = camkit::refine(camkit::resize_low(plane, camkit::shape_t{16, 16}), plane, &shown);
    return camkit::percentile(plane, 50) + static_cast<double>(camkit::local_maxima(plane).values.size()) +
           static_cast<double>(refined.merged.values.size());
}
