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
}  // namespace user

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

TEST(Binding, OwnTensorTypeWorks) {
    user::image_batch A{{1, 3, 2, -1}, {1, 2, 1, 2}}, G{{0, 1, 2, -3}, {1, 2, 1, 2}};
    const auto r = camkit::explain<camkit::hires_cam>(A, G);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 0), 4.f);
    EXPECT_FLOAT_EQ(r.raw(0, 0, 1), 6.f);
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
