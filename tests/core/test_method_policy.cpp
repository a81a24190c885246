// The method_policy concept: what each form requires, checked at the concept (static tests), and a
// user-defined policy of each form explained end to end with hand-computed numbers.
#include <camkit/explain.hpp>
#include <camkit/explain_many.hpp>
#include <camkit/methods/registry.hpp>
#include <gtest/gtest.h>

#include <string_view>

namespace {

using camkit::method_form;
using camkit::statistic;

// Σ_s A·G / |S| per channel: declared with two statistics, no gradient term.
struct mean_product_weights {
    static constexpr std::string_view name = "mean-product";
    static constexpr std::string_view title = "mean of A·G";
    static constexpr method_form form = method_form::channel_weights;
    static constexpr statistic needs = statistic::sum_ag | statistic::sum_g;
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_ag / s.positions + 0 * s.sum_g; }
};

// w_k = Σ_s relu(G)² (a gradient term that uses no statistic).
struct squared_positive_gradients {
    static constexpr std::string_view name = "squared-positive";
    static constexpr std::string_view title = "Σ relu(G)²";
    static constexpr method_form form = method_form::channel_weights;
    static constexpr statistic needs = statistic::none;
    template <class Ops, class S, class X>
    static auto gradient_term(const Ops& ops, const S&, const X& g) { return ops.relu(g) * ops.relu(g); }
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_term; }
};

// Wrong policies: each misses what its form requires.
struct no_needs {
    static constexpr std::string_view name = "x", title = "x";
    static constexpr method_form form = method_form::channel_weights;
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_g; }
};
struct weights_form_with_contribution {
    static constexpr std::string_view name = "x", title = "x";
    static constexpr method_form form = method_form::channel_weights;
    static constexpr statistic needs = statistic::sum_g;
    template <class Ops, class X>
    static auto contribution(const Ops&, const X& a, const X& g) { return a * g; }
};
struct elementwise_without_contribution {
    static constexpr std::string_view name = "x", title = "x";
    static constexpr method_form form = method_form::elementwise;
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_g; }
};
struct projection_without_projected {
    static constexpr std::string_view name = "x", title = "x";
    static constexpr method_form form = method_form::projection;
};
struct no_name {
    [[maybe_unused]] static constexpr method_form form = method_form::elementwise;  // lacks only a name
    template <class Ops, class X>
    static auto contribution(const Ops&, const X& a, const X& g) { return a * g; }
};

static_assert(camkit::method_policy<mean_product_weights>);
static_assert(camkit::method_policy<squared_positive_gradients>);
static_assert(camkit::has_gradient_term<squared_positive_gradients>);
static_assert(!camkit::has_gradient_term<mean_product_weights>);
static_assert(!camkit::method_policy<no_needs>);
static_assert(!camkit::method_policy<weights_form_with_contribution>);
static_assert(!camkit::method_policy<elementwise_without_contribution>);
static_assert(!camkit::method_policy<projection_without_projected>);
static_assert(!camkit::method_policy<no_name>);
static_assert(!camkit::method_policy<int>);

// The registered methods and their declarations: the statistics the kernels plan passes from.
static_assert(camkit::grad_cam::needs == statistic::sum_g);
static_assert(camkit::xgrad_cam::needs == (statistic::sum_a | statistic::sum_ag));
static_assert(camkit::grad_cam_plus_plus::needs == statistic::sum_a);
static_assert(camkit::has_gradient_term<camkit::grad_cam_plus_plus>);
static_assert(camkit::detail::folds_next_sum_a<camkit::grad_cam_plus_plus>);
static_assert(!camkit::detail::folds_next_sum_a<camkit::xgrad_cam>);
static_assert(camkit::detail::shares_sum_a<camkit::grad_cam_plus_plus>);
static_assert(!camkit::detail::shares_sum_a<camkit::xgrad_cam>);
static_assert(!camkit::detail::shares_sum_a<camkit::hires_cam>);

// One sample, two channels of four positions:
//   A0 = 1 2 3 4   G0 = 1 -1  2  0
//   A1 = 0 1 0 1   G1 = -2 3 -1  1
camkit::tensor<double> A({1, 2, 2, 2}, {1, 2, 3, 4, 0, 1, 0, 1});
camkit::tensor<double> G({1, 2, 2, 2}, {1, -1, 2, 0, -2, 3, -1, 1});

TEST(MethodPolicy, UserDefinedChannelWeightsFromDeclaredStatistics) {
    // w0 = (1 - 2 + 6 + 0) / 4 = 1.25, w1 = (0 + 3 + 0 + 1) / 4 = 1; raw = 1.25 A0 + A1.
    const auto r = camkit::explain<mean_product_weights>(A, G, {.relu = false, .normalize = camkit::normalization::none});
    ASSERT_TRUE(r.weights);
    EXPECT_DOUBLE_EQ((*r.weights)[0], 1.25);
    EXPECT_DOUBLE_EQ((*r.weights)[1], 1.0);
    const double want[] = {1.25, 3.5, 3.75, 6.0};
    for (std::size_t s = 0; s < 4; ++s) EXPECT_DOUBLE_EQ(r.raw[s], want[s]) << s;
}

TEST(MethodPolicy, UserDefinedGradientTerm) {
    // w0 = 1 + 4 = 5, w1 = 9 + 1 = 10; raw = 5 A0 + 10 A1, the same through explain_many.
    const auto r = camkit::explain<squared_positive_gradients>(A, G, {.relu = false, .normalize = camkit::normalization::none});
    EXPECT_DOUBLE_EQ((*r.weights)[0], 5.0);
    EXPECT_DOUBLE_EQ((*r.weights)[1], 10.0);
    const double want[] = {5, 20, 15, 30};
    for (std::size_t s = 0; s < 4; ++s) EXPECT_DOUBLE_EQ(r.raw[s], want[s]) << s;
    const auto many = camkit::explain_many<squared_positive_gradients>(A, G, {.relu = false, .normalize = camkit::normalization::none});
    for (std::size_t s = 0; s < 4; ++s) EXPECT_DOUBLE_EQ(many.raw[s], want[s]) << s;
}

TEST(MethodPolicy, FiniteChecksCoverPlanesADeclarationNeverReads) {
    // squared_positive_gradients never reads A for its weights: a NaN activation is still found
    // (through the map), and a NaN gradient through the term pass.
    auto a = A, g = G;
    a[5] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(camkit::explain<squared_positive_gradients>(a, G), camkit::error);
    g[2] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(camkit::explain<squared_positive_gradients>(A, g), camkit::error);
    EXPECT_THROW(camkit::explain<mean_product_weights>(A, g), camkit::error);
}

}  // namespace
