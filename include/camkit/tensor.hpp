#pragma once
// The binding layer: camkit::tensor_traits<T> is the one customization point a tensor type
// specializes. A host tensor exposes a strided view of its memory; a device tensor exposes an
// `ops` type with op-level reductions instead. camkit::tensor<T> is the built-in host tensor.
#include <camkit/error.hpp>
#include <camkit/optimize.hpp>
#include <camkit/shape.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace camkit {

namespace detail {

/// Fresh host storage of this many bytes or more is pre-faulted (make_values, resize_values).
inline constexpr std::size_t prefault_bytes = std::size_t{256} << 10;

/// Maps the whole 4 KiB pages of [p, p + bytes) writable now, in one system call, instead of one
/// page fault per page at first touch: on Linux 5.14 or later (MADV_POPULATE_WRITE); elsewhere,
/// or where a call fails (an older kernel, larger pages), nothing happens and the pages fault in
/// as usual. Memory the allocator reuses is mapped already: when the last page is resident
/// (mincore, one page) nothing is done, since asking for every page would walk them all for nothing.
inline void prefault(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    constexpr std::uintptr_t page = 4096;
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(page - 1);
    if (end <= begin) return;
    unsigned char resident = 0;
    if (::mincore(reinterpret_cast<void*>(end - page), page, &resident) == 0 && (resident & 1)) return;
    (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
    (void)p, (void)bytes;
#endif
}

/// n copies of `fill`; storage of prefault_bytes or more is pre-faulted before it is written.
/// A fresh large result (a map at 3-D is 1 MiB) is often new memory from the system: writing it
/// page by page cost about twice as long as prefaulting it first (2 MiB: 0.71 against 0.36 ms on
/// a KVM guest, benchmarks/README.md).
template <class T>
CAMKIT_OPTIMIZE std::vector<T> make_values(std::size_t n, const T& fill = T{}) {
    std::vector<T> v;
    if constexpr (!std::is_same_v<T, bool>) {  // std::vector<bool> has no data()
        if (n * sizeof(T) >= prefault_bytes) {
            v.reserve(n);
            prefault(v.data(), n * sizeof(T));
        }
    }
    v.assign(n, fill);
    return v;
}

/// Gives `v` n values for the caller to overwrite: its storage is kept when it has room (values
/// unspecified), else replaced by make_values(n) (the old values are not copied).
template <class T>
void resize_values(std::vector<T>& v, std::size_t n) {
    if (n > v.capacity()) v = make_values<T>(n);
    else v.resize(n);
}

}  // namespace detail

/// Non-owning view of host memory: a pointer, a shape and strides counted in elements.
template <class E>
struct host_view {
    /// The element type without const: a host_view<const float> reads floats.
    using element_type = std::remove_const_t<E>;

    E* data = nullptr;
    shape_t shape;
    std::vector<std::ptrdiff_t> strides;

    /// Number of axes.
    std::size_t rank() const { return shape.size(); }
    /// Number of elements.
    std::size_t size() const { return element_count(shape); }
    /// True when the elements of axes [from, rank) are dense and row-major.
    bool contiguous_from(std::size_t from) const {
        std::ptrdiff_t expected = 1;
        for (std::size_t i = shape.size(); i-- > from;) {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= static_cast<std::ptrdiff_t>(shape[i]);
        }
        return true;
    }
};

/// camkit's own owning host tensor: dense row-major values with a shape.
template <class T>
struct tensor {
    shape_t shape;
    std::vector<T> values;

    tensor() = default;
    /// A copy. Written out: GCC 12 at -O3 inlines the defaulted one's vector copy into callers that
    /// have just built a tensor and warns falsely (-Wstringop-overread reading 2^63 bytes, e.g. on
    /// std::vector<target>(2, mask_sum(c, predicted_region(Y, c)))); assign() gives it no such path.
    tensor(const tensor& o) : shape(o.shape) { values.assign(o.values.begin(), o.values.end()); }
    tensor(tensor&&) noexcept = default;
    tensor& operator=(const tensor&) = default;
    tensor& operator=(tensor&&) noexcept = default;
    /// A tensor of `shape` filled with `fill`.
    explicit tensor(shape_t s, T fill = T{}) : shape(std::move(s)), values(detail::make_values(element_count(shape), fill)) {}
    /// A tensor of `shape` holding `v`; throws camkit::error when the sizes differ.
    tensor(shape_t s, std::vector<T> v) : shape(std::move(s)), values(std::move(v)) {
        detail::require(values.size() == element_count(shape),
                        "tensor: " + std::to_string(values.size()) + " values do not fill shape " +
                            to_string(shape));
    }

    /// Number of elements.
    std::size_t size() const { return values.size(); }
    /// Number of axes.
    std::size_t rank() const { return shape.size(); }
    T* data() { return values.data(); }
    const T* data() const { return values.data(); }
    T& operator[](std::size_t i) { return values[i]; }
    const T& operator[](std::size_t i) const { return values[i]; }
    /// Element at a multi-index (no bounds check beyond the vector's).
    template <class... I>
    T& operator()(I... idx) { return values[offset({static_cast<std::size_t>(idx)...})]; }
    template <class... I>
    const T& operator()(I... idx) const { return values[offset({static_cast<std::size_t>(idx)...})]; }

private:
    std::size_t offset(std::initializer_list<std::size_t> idx) const {
        std::size_t o = 0, i = 0;
        for (std::size_t v : idx) o = o * shape[i++] + v;
        return o;
    }
};

/// The customization point: specialize for a tensor type to let camkit read it.
///
/// A host tensor specialization provides
///   `using value_type = E;`  (float, double, or a type convertible to float such as a half)
///   `static host_view<const E> view(const T&);`  (throw camkit::error if the data is not on the host)
///   `template <class U> static R make_result(tensor<U>&& r, const T& like);`  (the caller's kind of result)
/// A device tensor specialization provides `using ops = ...;` instead (see concepts.hpp).
template <class T>
struct tensor_traits;

template <class T>
struct tensor_traits<tensor<T>> {
    using value_type = T;
    static host_view<const T> view(const tensor<T>& t) {
        // Its members are public: a tensor whose values do not fill its shape is refused here,
        // before a kernel reads past them.
        detail::require(t.values.size() == element_count(t.shape), [&] {
            return "a tensor of shape " + to_string(t.shape) + " holds " + std::to_string(t.values.size()) +
                   " values instead of " + std::to_string(element_count(t.shape));
        });
        return {t.data(), t.shape, row_major_strides(t.shape)};
    }
    template <class U>
    static tensor<U> make_result(tensor<U>&& r, const tensor<T>&) { return std::move(r); }
};

template <class E>
struct tensor_traits<host_view<E>> {
    using value_type = std::remove_const_t<E>;
    static host_view<const value_type> view(const host_view<E>& v) {
        return {v.data, v.shape, v.strides};
    }
    template <class U>
    static tensor<U> make_result(tensor<U>&& r, const host_view<E>&) { return std::move(r); }
};

/// Accumulation type for element type E: double for double, float otherwise (half, bfloat16, float).
template <class E>
using accumulator_t = std::conditional_t<std::is_same_v<std::remove_cv_t<E>, double> ||
                                             std::is_same_v<std::remove_cv_t<E>, long double>,
                                         double, float>;

}  // namespace camkit
