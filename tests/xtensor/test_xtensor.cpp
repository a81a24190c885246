// The xtensor binding: explain<M> on xtensor containers and strided views equals explain<M> on
// camkit::tensor for every registered method, and a user type binds in a few lines.
#include <camkit/explain.hpp>
#include <camkit/methods/registry.hpp>
#include <camkit/xtensor/xtensor.hpp>

#include <gtest/gtest.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xstrided_view.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

// ---- BindOwnType: the README example, a std::vector<float> plus a shape ----
struct my_tensor {
    std::vector<float> values;
    std::vector<std::size_t> shape;
};

}  // namespace

// The three lines that bind a user type: its element type, a view of its memory, and what results look like.
template <>
struct camkit::tensor_traits<my_tensor> {
    using value_type = float;
    static host_view<const float> view(const my_tensor& t) { return {t.values.data(), t.shape, row_major_strides(t.shape)}; }
    template <class U> static tensor<U> make_result(tensor<U>&& r, const my_tensor&) { return std::move(r); }
};

namespace {

template <class T>
camkit::tensor<T> random_tensor(const camkit::shape_t& shape, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(-1.0, 1.0);
    camkit::tensor<T> t(shape);
    for (auto& v : t.values) v = static_cast<T>(d(rng));
    return t;
}

template <class T>
xt::xarray<T> as_xarray(const camkit::tensor<T>& t) {
    xt::xarray<T> x(t.shape);
    std::copy(t.values.begin(), t.values.end(), x.data());
    return x;
}

// Compares an xarray result with a camkit::tensor result: same shape, values to 1e-6 of the max.
template <class X, class T>
void expect_same(const X& x, const camkit::tensor<T>& t, const std::string& what) {
    ASSERT_EQ(camkit::shape_t(x.shape().begin(), x.shape().end()), t.shape) << what;
    double scale = 1e-30;
    for (auto v : t.values) scale = std::max(scale, std::abs(static_cast<double>(v)));
    const xt::xarray<T> dense = x;
    for (std::size_t i = 0; i < t.size(); ++i)
        ASSERT_NEAR(static_cast<double>(dense.data()[i]), static_cast<double>(t[i]), 1e-6 * scale) << what << " at " << i;
}

template <class Result, class Reference>
void expect_same_explanation(const Result& r, const Reference& ref, const std::string& what) {
    expect_same(r.raw, ref.raw, what + " raw");
    expect_same(r.map, ref.map, what + " map");
    ASSERT_EQ(r.weights.has_value(), ref.weights.has_value()) << what;
    if (ref.weights) expect_same(*r.weights, *ref.weights, what + " weights");
}

template <class T>
void check_every_method_on_containers(const camkit::shape_t& shape, const camkit::shape_t& size) {
    const auto A = random_tensor<T>(shape, 1), G = random_tensor<T>(shape, 2);
    const xt::xarray<T> xa = as_xarray(A), xg = as_xarray(G);
    camkit::options opt;
    opt.size = size;
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        const auto ref = camkit::explain<M>(A, G, opt);
        const auto got = camkit::explain<M>(xa, xg, opt);
        static_assert(std::is_same_v<decltype(got.map), camkit::xtensor::result_array<camkit::accumulator_t<T>>>);
        expect_same_explanation(got, ref, std::string(M::name) + " xarray " + camkit::to_string(shape));
    });
}

TEST(XtensorBinding, EveryMethodMatchesCamkitTensorFloat) {
    check_every_method_on_containers<float>({2, 3, 7}, {11});
    check_every_method_on_containers<float>({2, 4, 5, 6}, {9, 8});
    check_every_method_on_containers<float>({1, 3, 3, 4, 5}, {});
}

TEST(XtensorBinding, EveryMethodMatchesCamkitTensorDouble) {
    check_every_method_on_containers<double>({2, 3, 7}, {});
    check_every_method_on_containers<double>({2, 4, 5, 6}, {10, 12});
    check_every_method_on_containers<double>({1, 3, 3, 4, 5}, {4, 6, 7});
}

TEST(XtensorBinding, FloatAndDoubleAgree) {
    const auto A = random_tensor<double>({2, 4, 5, 6}, 3), G = random_tensor<double>({2, 4, 5, 6}, 4);
    const xt::xarray<double> ad = as_xarray(A), gd = as_xarray(G);
    const xt::xarray<float> af = xt::cast<float>(ad), gf = xt::cast<float>(gd);
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        const auto d = camkit::explain<M>(ad, gd);
        const auto f = camkit::explain<M>(af, gf);
        static_assert(std::is_same_v<decltype(f.map), camkit::xtensor::result_array<float>>);
        const double err = xt::amax(xt::abs(xt::cast<double>(f.raw) - d.raw))();
        EXPECT_LT(err, 1e-5 * std::max(1.0, static_cast<double>(xt::amax(xt::abs(d.raw))()))) << M::name;
    });
}

TEST(XtensorBinding, FixedRankXtensorAndAdapt) {
    const auto A = random_tensor<float>({2, 3, 4, 5}, 5), G = random_tensor<float>({2, 3, 4, 5}, 6);
    xt::xtensor<float, 4> ta = xt::adapt(A.values, std::array<std::size_t, 4>{2, 3, 4, 5});
    xt::xtensor<float, 4> tg = xt::adapt(G.values, std::array<std::size_t, 4>{2, 3, 4, 5});
    expect_same_explanation(camkit::explain<camkit::grad_cam>(ta, tg), camkit::explain<camkit::grad_cam>(A, G), "xtensor");
    // xt::adapt over a caller's buffer: no copy, read in place.
    const auto pa = xt::adapt(A.values.data(), A.size(), xt::no_ownership(), A.shape);
    const auto pg = xt::adapt(G.values.data(), G.size(), xt::no_ownership(), G.shape);
    static_assert(camkit::host_tensor<decltype(pa)>);
    EXPECT_EQ(camkit::tensor_traits<std::remove_cvref_t<decltype(pa)>>::view(pa).data, A.values.data());
    expect_same_explanation(camkit::explain<camkit::hires_cam>(pa, pg), camkit::explain<camkit::hires_cam>(A, G), "adapt");
}

TEST(XtensorBinding, StridedViewsMatchDenseCopies) {
    // A step on the last axis and an offset on the first: strides (…, 2) and a non-zero data offset.
    const auto big_a = as_xarray(random_tensor<float>({3, 4, 5, 12}, 7));
    const auto big_g = as_xarray(random_tensor<float>({3, 4, 5, 12}, 8));
    const auto va = xt::view(big_a, xt::range(1, 3), xt::all(), xt::all(), xt::range(1, 12, 2));
    const auto vg = xt::view(big_g, xt::range(1, 3), xt::all(), xt::all(), xt::range(1, 12, 2));
    static_assert(camkit::host_tensor<decltype(va)>);
    const auto view = camkit::tensor_traits<std::remove_cvref_t<decltype(va)>>::view(va);
    EXPECT_EQ(view.strides.back(), 2);
    EXPECT_FALSE(view.contiguous_from(1));
    const xt::xarray<float> da = va, dg = vg;  // dense copies of the same values
    camkit::options opt;
    opt.size = {7, 9};
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        const auto dense = camkit::explain<M>(da, dg, opt);
        const auto strided = camkit::explain<M>(va, vg, opt);
        EXPECT_EQ(strided.raw.shape(), (xt::xarray<float>::shape_type{2, 5, 6}));
        const double scale = std::max(1e-30, static_cast<double>(xt::amax(xt::abs(dense.raw))()));
        EXPECT_LT(xt::amax(xt::abs(strided.raw - dense.raw))(), 1e-6 * scale) << M::name;
        EXPECT_LT(xt::amax(xt::abs(strided.map - dense.map))(), 1e-6) << M::name;
    });
}

TEST(XtensorBinding, TransposedAndColumnMajorLayouts) {
    const auto A = random_tensor<double>({2, 3, 4, 5}, 9), G = random_tensor<double>({2, 3, 4, 5}, 10);
    const xt::xarray<double> xa = as_xarray(A), xg = as_xarray(G);
    // A column-major container holding the same logical values: only its strides differ.
    const xt::xarray<double, xt::layout_type::column_major> ca = xa, cg = xg;
    ASSERT_EQ(ca.strides()[0], 1);
    // A transposed view of a [W, H, K, N] array is [N, K, H, W] with reversed strides.
    const xt::xarray<double> wa = xt::transpose(xa), wg = xt::transpose(xg);
    const auto ta = xt::transpose(wa), tg = xt::transpose(wg);
    static_assert(camkit::host_tensor<decltype(ta)>);
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        const auto ref = camkit::explain<M>(A, G);
        expect_same_explanation(camkit::explain<M>(ca, cg), ref, std::string(M::name) + " column-major");
        expect_same_explanation(camkit::explain<M>(ta, tg), ref, std::string(M::name) + " transposed");
    });
}

TEST(XtensorBinding, ErrorsNameTheArgument) {
    const xt::xarray<float> a = xt::zeros<float>({2, 3, 4}), g = xt::zeros<float>({2, 3, 5});
    try {
        camkit::explain<camkit::grad_cam>(a, g);
        FAIL() << "no error";
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("gradients shape [2, 3, 5] must equal activations shape [2, 3, 4]"),
                  std::string::npos);
    }
    const xt::xarray<float> flat = xt::zeros<float>({3, 4});
    EXPECT_THROW(camkit::explain<camkit::grad_cam>(flat, flat), camkit::error);
    // Lazy expressions have no memory to view: they are rejected at compile time, not copied silently.
    static_assert(!camkit::host_tensor<decltype(a + a)>);
}

TEST(XtensorBinding, BindOwnType) {
    // A user's own type (bound above in three lines) explains like any other tensor.
    my_tensor A{{1, 3, 2, -1}, {1, 2, 1, 2}}, G{{0, 1, 2, -3}, {1, 2, 1, 2}};
    camkit::options opt;
    opt.relu = false;
    opt.normalize = camkit::normalization::none;
    const auto e = camkit::explain<camkit::grad_cam>(A, G, opt);
    // w0 = mean(0, 1) = 0.5, w1 = mean(2, -3) = -0.5; raw = 0.5·(1, 3) − 0.5·(2, −1) = (−0.5, 2).
    ASSERT_EQ(e.raw.shape, (camkit::shape_t{1, 1, 2}));
    EXPECT_FLOAT_EQ(e.raw[0], -0.5f);
    EXPECT_FLOAT_EQ(e.raw[1], 2.0f);
    EXPECT_FLOAT_EQ((*e.weights)[0], 0.5f);
    EXPECT_FLOAT_EQ((*e.weights)[1], -0.5f);
}

}  // namespace

TEST(XtensorBinding, ExplainIntoTakesXtensorInputsAndViews) {
    // explain_into reads any host tensor (here an xarray and a strided view of one) and writes
    // camkit::tensor results into the caller's explanation, equal to explain's xtensor results.
    const auto big_a = as_xarray(random_tensor<float>({3, 4, 5, 12}, 9));
    const auto big_g = as_xarray(random_tensor<float>({3, 4, 5, 12}, 10));
    const auto va = xt::view(big_a, xt::range(1, 3), xt::all(), xt::all(), xt::range(1, 12, 2));
    const auto vg = xt::view(big_g, xt::range(1, 3), xt::all(), xt::all(), xt::range(1, 12, 2));
    camkit::explanation<camkit::tensor<float>> out;
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        camkit::explain_into<M>(out, big_a, big_g);
        expect_same(camkit::explain<M>(big_a, big_g).map, out.map, std::string(M::name) + " xarray");
        camkit::explain_into<M>(out, va, vg);
        const auto want = camkit::explain<M>(va, vg);
        expect_same(want.raw, out.raw, std::string(M::name) + " view raw");
        expect_same(want.map, out.map, std::string(M::name) + " view map");
    });
}

TEST(XtensorResults, TakeOverCamkitsBufferWithoutCopying) {
    camkit::tensor<float> t({2, 3}, {1, 2, 3, 4, 5, 6});
    const float* buffer = t.data();
    const auto x = camkit::xtensor::to_xarray(std::move(t));
    EXPECT_EQ(x.data(), buffer);  // the same memory, now owned by the xtensor array
    EXPECT_EQ(x.shape(), (camkit::shape_t{2, 3}));
    EXPECT_EQ(x(1, 2), 6.f);
    const xt::xarray<float> copy = x;  // and an xt::xarray by conversion
    EXPECT_EQ(copy(0, 1), 2.f);
}
