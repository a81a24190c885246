#pragma once
// The xtensor binding: camkit::tensor_traits for every xtensor expression whose elements live in
// memory with known strides (xarray, xtensor, xt::adapt, strided views, transposes, column-major
// containers), so camkit's fused host kernels read them in place. Results are owning row-major
// xtensor arrays that took over camkit's buffer (no copy).
#include <camkit/concepts.hpp>
#include <camkit/tensor.hpp>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xutils.hpp>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace camkit {

namespace xtensor {

/// An xtensor expression with a data interface: a pointer, an offset and element strides.
/// Lazy expressions (`a + b`, `xt::exp(a)`) are not strided: evaluate them with xt::eval first.
template <class X>
concept strided_expression = xt::is_xexpression<X>::value && requires(const X& x) {
    typename X::value_type;
    { x.data() } -> std::convertible_to<const typename X::value_type*>;
    { x.data_offset() } -> std::convertible_to<std::size_t>;
    x.shape();
    x.strides();
};

/// The xtensor array camkit's results come back as: row-major, owning the std::vector that
/// held the values in camkit (an xt::xarray_adaptor; it converts to xt::xarray<U> by copy).
template <class U>
using result_array = xt::xarray_adaptor<std::vector<U>, xt::layout_type::row_major, shape_t>;

/// A camkit::tensor as an xtensor array that takes over its buffer: no element is copied.
template <class U>
result_array<U> to_xarray(tensor<U>&& t) {
    return result_array<U>(std::move(t.values), std::move(t.shape));
}

}  // namespace xtensor

/// Traits for strided xtensor expressions: a host view in place, results as xt::xarray<U>.
template <class X>
    requires xtensor::strided_expression<X>
struct tensor_traits<X> {
    using value_type = std::remove_cv_t<typename X::value_type>;

    /// A view of the expression's memory; strides come from xtensor, so any layout works.
    static host_view<const value_type> view(const X& x) {
        host_view<const value_type> v;
        v.data = x.data() + x.data_offset();
        v.shape.assign(x.shape().begin(), x.shape().end());
        v.strides.resize(v.shape.size());
        std::transform(x.strides().begin(), x.strides().end(), v.strides.begin(),
                       [](auto s) { return static_cast<std::ptrdiff_t>(s); });
        return v;
    }

    /// Results own their memory (camkit's buffer, taken over), never views into the inputs.
    template <class U>
    static xtensor::result_array<U> make_result(tensor<U>&& r, const X&) {
        return xtensor::to_xarray(std::move(r));
    }
};

}  // namespace camkit
