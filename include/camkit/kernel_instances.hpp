#pragma once
// Compiling the host kernels once per program instead of once per translation unit.
//
// camkit is header-only, so every translation unit that explains on host memory compiles the
// fused kernel of each method it names, for every instruction set of isa.hpp and each element
// type: with optimization, tens of seconds per translation unit (LibTorch's headers cost less).
// A program of several such translation units can compile them once:
//
//   - include this header in the translation units that explain: there the kernels of the
//     registered methods and of CAM (camkit::cam), and explain_many's of the registered methods
//     (camkit's own product W · A), in float and double with camkit's own eigen-solver, are
//     declared, not compiled (explicit instantiation declarations);
//   - in one translation unit of the program, after including it, write
//     CAMKIT_INSTANTIATE_KERNELS(float) and CAMKIT_INSTANTIATE_KERNELS(double) (in one file or in
//     two, which then compile in parallel): that one compiles them.
//
// Forgetting the second step is a link error naming camkit::detail::fused_channel_weights (or
// fused_elementwise, projection_map, explain_many_host). Every translation unit of the program
// must be compiled with the same camkit settings and -m flags (docs/pitfalls.md): the instantiating
// one included. Methods of your own, other element types, the LAPACK eigen-solver of the BLAS
// adapter and camkit::blas::explain_many (BLAS's product W · A) compile where they are used, as
// without this header.
#include <camkit/explain_many.hpp>
#include <camkit/kernels.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/projection.hpp>

#include <boost/hana/drop_front.hpp>
#include <boost/hana/equal.hpp>

#include <cstddef>

// The registered methods in registry order, each with its form (method_form), as X(FORM, M, ...):
// the one list from which the declarations, the definitions and the checks below are made.
#define CAMKIT_DETAIL_REGISTERED_METHODS(X, ...)                                                               \
    X(channel_weights, camkit::grad_cam, __VA_ARGS__)                                                          \
    X(elementwise, camkit::hires_cam, __VA_ARGS__)                                                             \
    X(channel_weights, camkit::grad_cam_plus_plus, __VA_ARGS__)                                                \
    X(channel_weights, camkit::xgrad_cam, __VA_ARGS__)                                                         \
    X(elementwise, camkit::layer_cam, __VA_ARGS__)                                                             \
    X(elementwise, camkit::grad_cam_elementwise, __VA_ARGS__)                                                  \
    X(projection, camkit::eigen_cam, __VA_ARGS__)                                                              \
    X(projection, camkit::eigen_grad_cam, __VA_ARGS__)                                                         \
    X(channel_weights, camkit::respond_cam, __VA_ARGS__)

namespace camkit::detail {
#define CAMKIT_DETAIL_METHOD_TYPE(FORM, M, ...) , M
/// The methods this header instantiates: the registry, checked (a leading void keeps the list's
/// commas uniform and is dropped).
inline constexpr auto instantiated_methods =
    boost::hana::drop_front(boost::hana::tuple_t<void CAMKIT_DETAIL_REGISTERED_METHODS(CAMKIT_DETAIL_METHOD_TYPE, )>);
#undef CAMKIT_DETAIL_METHOD_TYPE
static_assert(instantiated_methods == method_types,
              "camkit/kernel_instances.hpp lists other methods than the registry: add the new one to "
              "CAMKIT_DETAIL_REGISTERED_METHODS, in registry order");

#define CAMKIT_DETAIL_FORM_CHECK(FORM, M, ...)                                                                 \
    static_assert(M::form == camkit::method_form::FORM,                                                         \
                  "CAMKIT_DETAIL_REGISTERED_METHODS gives " #M " another form than its own");
CAMKIT_DETAIL_REGISTERED_METHODS(CAMKIT_DETAIL_FORM_CHECK, )
#undef CAMKIT_DETAIL_FORM_CHECK
}  // namespace camkit::detail

// One kernel of method M (void: CAM's given weights) for element type E, as an explicit
// instantiation declaration (KIND extern) or definition (KIND empty), by the method's form.
#define CAMKIT_DETAIL_KERNEL_channel_weights(KIND, M, E)                                                       \
    KIND template void camkit::detail::fused_channel_weights<M, E, E>(                                          \
        const camkit::host_view<const E>&, const camkit::host_view<const E>*, E*, E*, int, bool);
#define CAMKIT_DETAIL_KERNEL_elementwise(KIND, M, E)                                                           \
    KIND template void camkit::detail::fused_elementwise<M, E, E>(                                              \
        const camkit::host_view<const E>&, const camkit::host_view<const E>&, E*, int, bool, std::size_t);
#define CAMKIT_DETAIL_KERNEL_projection(KIND, M, E)                                                            \
    KIND template void camkit::detail::projection_map<M, E, E, camkit::detail::host_eigen>(                     \
        const camkit::host_view<const E>&, const camkit::host_view<const E>&, E*, int, bool,                    \
        const camkit::detail::host_eigen&, std::size_t);
// explain_many's kernels of method M (every form) with camkit's product and eigen-solver.
#define CAMKIT_DETAIL_KERNEL_MANY(KIND, M, E)                                                                  \
    KIND template camkit::explanation<camkit::tensor<E>>                                                        \
    camkit::detail::explain_many_host<M, E, E, camkit::detail::loop_product, camkit::detail::host_eigen>(       \
        const camkit::detail::cam_request&, const camkit::host_view<const E>&, const camkit::host_view<const E>&, \
        const camkit::options&, const camkit::detail::loop_product&, const camkit::detail::host_eigen&);
#define CAMKIT_DETAIL_KERNEL(FORM, M, KIND, E) CAMKIT_DETAIL_KERNEL_##FORM(KIND, M, E) CAMKIT_DETAIL_KERNEL_MANY(KIND, M, E)

// The kernels of every registered method (explain's and explain_many's) and of CAM for element type E.
#define CAMKIT_DETAIL_KERNELS(KIND, E)                                                                         \
    CAMKIT_DETAIL_KERNEL_channel_weights(KIND, void, E)                                                        \
    CAMKIT_DETAIL_REGISTERED_METHODS(CAMKIT_DETAIL_KERNEL, KIND, E)

/// Compiles, in this translation unit, the kernels this header declares for element type E
/// (float or double). Write it at namespace scope, in one translation unit of the program.
#define CAMKIT_INSTANTIATE_KERNELS(E) CAMKIT_DETAIL_KERNELS(, E)

CAMKIT_DETAIL_KERNELS(extern, float)
CAMKIT_DETAIL_KERNELS(extern, double)
