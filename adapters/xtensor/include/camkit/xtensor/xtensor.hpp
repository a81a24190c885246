#pragma once
// The xtensor binding: camkit::tensor_traits for every xtensor expression whose elements live in
// memory with known strides (xarray, xtensor, xt::adapt, strided views, transposes, column-major
// containers), so camkit's fused host kernels read them in place. Results are xt::xarray<U>.
#include <camkit/concepts.hpp>
#include <camkit/tensor.hpp>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xutils.hpp>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

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

/// Copies a camkit::tensor into an xt::xarray of the same shape (row-major).
template <class U>
xt::xarray<U> to_xarray(tensor<U>&& t) {
    xt::xarray<U> out(t.shape);
    std::copy(t.values.begin(), t.values.end(), out.data());
    return out;
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

    /// Results are owning row-major xt::xarray<U>, never views into camkit's buffers.
    template <class U>
    static xt::xarray<U> make_result(tensor<U>&& r, const X&) {
        return xtensor::to_xarray(std::move(r));
    }
};

}  // namespace camkit
