#pragma once
// Compiling the host kernels once per program instead of once per translation unit.
//
// camkit is header-only, so every translation unit that explains on host memory compiles the
// fused kernel of each method it names, for every instruction set of isa.hpp and each element
// type: with optimization, tens of seconds per translation unit (LibTorch's headers cost less).
// A program of several such translation units can compile them once:
//
//   - include this header in the translation units that explain: there the kernels of the
//     registered methods and of CAM (camkit::cam), in float and double with camkit's own
//     eigen-solver, are declared, not compiled (explicit instantiation declarations);
//   - in one translation unit of the program, after including it, write
//     CAMKIT_INSTANTIATE_KERNELS(float) and CAMKIT_INSTANTIATE_KERNELS(double) (in one file or in
//     two, which then compile in parallel): that one compiles them.
//
// Forgetting the second step is a link error naming camkit::detail::fused_channel_weights (or
// fused_elementwise, projection_map). Every translation unit of the program must be compiled with
// the same camkit settings and -m flags (docs/pitfalls.md): the instantiating one included. Methods
// of your own, other element types, and the LAPACK eigen-solver of the BLAS adapter compile where
// they are used, as without this header.
#include <camkit/kernels.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/projection.hpp>

#include <boost/hana/equal.hpp>

#include <cstddef>

namespace camkit::detail {
/// The methods this header instantiates, grouped by form as below: the registry, checked.
inline constexpr auto instantiated_methods =
    boost::hana::tuple_t<grad_cam, hires_cam, grad_cam_plus_plus, xgrad_cam, layer_cam, grad_cam_elementwise,
                         eigen_cam, eigen_grad_cam, respond_cam>;
static_assert(instantiated_methods == method_types,
              "camkit/kernel_instances.hpp lists other methods than the registry: add the new one to both lists");
}  // namespace camkit::detail

// One kernel of method M (void: CAM's given weights) for element type E, as an explicit
// instantiation declaration (KIND extern) or definition (KIND empty).
#define CAMKIT_DETAIL_CHANNEL_WEIGHTS_KERNEL(KIND, M, E)                                                       \
    KIND template void camkit::detail::fused_channel_weights<M, E, E>(                                          \
        const camkit::host_view<const E>&, const camkit::host_view<const E>*, E*, E*, int, bool);
#define CAMKIT_DETAIL_ELEMENTWISE_KERNEL(KIND, M, E)                                                           \
    KIND template void camkit::detail::fused_elementwise<M, E, E>(                                              \
        const camkit::host_view<const E>&, const camkit::host_view<const E>&, E*, int, bool, std::size_t);
#define CAMKIT_DETAIL_PROJECTION_KERNEL(KIND, M, E)                                                            \
    KIND template void camkit::detail::projection_map<M, E, E, camkit::detail::host_eigen>(                     \
        const camkit::host_view<const E>&, const camkit::host_view<const E>&, E*, int, bool,                    \
        const camkit::detail::host_eigen&);

// The kernels of every registered method and of CAM for element type E.
#define CAMKIT_DETAIL_KERNELS(KIND, E)                                                                         \
    CAMKIT_DETAIL_CHANNEL_WEIGHTS_KERNEL(KIND, void, E)                                                        \
    CAMKIT_DETAIL_CHANNEL_WEIGHTS_KERNEL(KIND, camkit::grad_cam, E)                                            \
    CAMKIT_DETAIL_CHANNEL_WEIGHTS_KERNEL(KIND, camkit::grad_cam_plus_plus, E)                                  \
    CAMKIT_DETAIL_CHANNEL_WEIGHTS_KERNEL(KIND, camkit::xgrad_cam, E)                                           \
    CAMKIT_DETAIL_CHANNEL_WEIGHTS_KERNEL(KIND, camkit::respond_cam, E)                                         \
    CAMKIT_DETAIL_ELEMENTWISE_KERNEL(KIND, camkit::hires_cam, E)                                               \
    CAMKIT_DETAIL_ELEMENTWISE_KERNEL(KIND, camkit::layer_cam, E)                                               \
    CAMKIT_DETAIL_ELEMENTWISE_KERNEL(KIND, camkit::grad_cam_elementwise, E)                                    \
    CAMKIT_DETAIL_PROJECTION_KERNEL(KIND, camkit::eigen_cam, E)                                                \
    CAMKIT_DETAIL_PROJECTION_KERNEL(KIND, camkit::eigen_grad_cam, E)

/// Compiles, in this translation unit, the kernels this header declares for element type E
/// (float or double). Write it at namespace scope, in one translation unit of the program.
#define CAMKIT_INSTANTIATE_KERNELS(E) CAMKIT_DETAIL_KERNELS(, E)

CAMKIT_DETAIL_KERNELS(extern, float)
CAMKIT_DETAIL_KERNELS(extern, double)
