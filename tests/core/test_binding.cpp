// Binding a user's own tensor type: a std::vector<float> plus a shape, in a few lines.
#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include <vector>
#include "common/error_message.hpp"

namespace user {
struct image_batch {
    std::vector<float> values;
    std::vector<std::size_t> shape;  // [N, K, H, W], row-major
};
// A binding that forgets the strides (host_view is an aggregate: `{data, shape}` compiles).
struct no_strides {
    std::vector<float> values;
    std::vector<std::size_t> shape;
};
// A read-only binding that declares its element type const.
struct read_only {
    const float* data;
    std::vector<std::size_t> shape;
};
// A binding whose make_result returns nothing.
struct void_result {
    std::vector<float> values;
    std::vector<std::size_t> shape;
};
}  // namespace user

template <>
struct camkit::tensor_traits<user::read_only> {
    using value_type = const float;
    static camkit::host_view<const float> view(const user::read_only& t) {
        return {t.data, t.shape, camkit::row_major_strides(t.shape)};
    }
    template <class U>
    static camkit::tensor<U> make_result(camkit::tensor<U>&& r, const user::read_only&) { return std::move(r); }
};

template <>
struct camkit::tensor_traits<user::void_result> {
    using value_type = float;
    static camkit::host_view<const float> view(const user::void_result& t) {
        return {t.values.data(), t.shape, camkit::row_major_strides(t.shape)};
    }
    template <class U>
    static void make_result(camkit::tensor<U>&&, const user::void_result&) {}
};

template <>
struct camkit::tensor_traits<user::no_strides> {
    using value_type = float;
    static camkit::host_view<const float> view(const user::no_strides& t) { return {t.values.data(), t.shape, {}}; }
    template <class U>
    static camkit::tensor<U> make_result(camkit::tensor<U>&& r, const user::no_strides&) { return std::move(r); }
};

// The whole binding: where the memory is, its shape and strides, and what to return results as.
template <>
struct camkit::tensor_traits<user::image_batch> {
    using value_type = float;
    static camkit::host_view<const float> view(const user::image_batch& t) {
        return {t.values.data(), t.shape, camkit::row_major_strides(t.shape)};
    }
    template <class U>
    static camkit::tensor<U> make_result(camkit::tensor<U>&& r, const user::image_batch&) { return std::move(r); }
};

static_assert(camkit::host_tensor<user::image_batch>);
static_assert(!camkit::host_tensor<std::vector<float>>, "a type without traits is rejected by the concept");
// make_result must return a result: one returning void is rejected by the concept (it failed deep
// inside <optional>), not by the library's code.
static_assert(!camkit::host_tensor<user::void_result>);
static_assert(camkit::host_tensor<user::read_only>);

TEST(Binding, OwnTensorTypeWorks) {
    user::image_batch A{{1, 3, 2, -1}, {1, 2, 1, 2}}, G{{0, 1, 2, -3}, {1, 2, 1, 2}};
    const auto r = camkit::explain<camkit::hires_cam>(A, G);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 0), 4.f);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 1), 6.f);
}

// `using value_type = const float` works as float does (the call's arguments share an element
// type; it failed a static_assert saying they did not).
TEST(Binding, ReadOnlyValueTypeWorks) {
    const std::vector<float> a{1, 3, 2, -1}, g{0, 1, 2, -3};
    const user::read_only A{a.data(), {1, 2, 1, 2}}, G{g.data(), {1, 2, 1, 2}};
    const auto r = camkit::explain<camkit::hires_cam>(A, G);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 0), 4.f);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 1), 6.f);
    camkit::explanation<camkit::tensor<float>> into;
    camkit::explain_into<camkit::hires_cam>(into, A, G);
    EXPECT_EQ(into.raw.values, r.raw.values);
    EXPECT_EQ(camkit::explain_many<camkit::hires_cam>(A, G).raw.values, r.raw.values);
}

TEST(Binding, TensorRejectsWrongValueCount) {
    EXPECT_THROW(camkit::tensor<float>({2, 2}, std::vector<float>{1, 2, 3}), camkit::error);
}

// A view without one stride per axis is refused before a kernel reads through it (it crashed),
// naming the argument.
TEST(Binding, ViewWithoutStridesIsAnError) {
    const user::no_strides A{{1, 3, 2, -1}, {1, 2, 1, 2}};
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(A, A); }),
              "camkit: activations: its tensor_traits view has 0 strides for the rank-4 shape [1, 2, 1, 2] (one stride "
              "per axis, in elements)");
}

// camkit::tensor's members are public: one whose values do not fill its shape is refused when
// read (it was read past its end).
TEST(Binding, TensorWithTooFewValuesIsRefusedWhenRead) {
    camkit::tensor<float> t({1, 2, 2, 2}, 1.f);
    t.values.resize(3);
    EXPECT_EQ(camkit_test::error_message([&] { camkit::explain<camkit::grad_cam>(t, t); }),
              "camkit: a tensor of shape [1, 2, 2, 2] holds 3 values instead of 8");
}
