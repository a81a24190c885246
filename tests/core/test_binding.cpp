// Binding a user's own tensor type: a std::vector<float> plus a shape, in a few lines.
#include <camkit/camkit.hpp>
#include <gtest/gtest.h>

#include <vector>

namespace user {
struct image_batch {
    std::vector<float> values;
    std::vector<std::size_t> shape;  // [N, K, H, W], row-major
};
}  // namespace user

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
