// Every registered method against the straightforward reference (tests/common/reference_cam.hpp):
// 1-, 2- and 3-D maps, batches, float and double, contiguous and strided memory, one and several threads.
#include <camkit/camkit.hpp>
#include <camkit/position_major.hpp>
#include <gtest/gtest.h>

#include "common/channels_last.hpp"
#include "common/closeness.hpp"
#include "common/reference_cam.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

using namespace camkit_test;

namespace {

const std::vector<shape_t> shapes = {
    {3, 5, 17},         // 1-D maps
    {2, 6, 7, 9},       // 2-D maps
    {1, 4, 3, 5, 6},    // 3-D maps
    {4, 16, 5, 5},      // more channels than positions (Eigen-CAM's X Xᵀ branch)
};

template <class M>
void expect_matches_reference(const shape_t& shape, int threads) {
    const auto A = random_tensor(shape, 11);
    auto G = random_tensor(shape, 12);
    const auto expected = reference_raw(M::name, A, G);
    camkit::options opt;
    opt.threads = threads;
    const auto got_double = camkit::explain<M>(A, G, opt);
    EXPECT_LT(max_relative_error(got_double.raw, expected), 1e-9) << M::name << " double " << camkit::to_string(shape);
    // Float runs are compared with the reference on the same (rounded) values; activations are
    // non-negative as after a ReLU, which keeps XGrad-CAM's Σ_s A away from 0 (its division
    // would otherwise amplify float rounding without bound).
    const auto Af = cast<float>(random_tensor(shape, 13, 0, 1)), Gf = cast<float>(G);
    const auto got_float = camkit::explain<M>(Af, Gf, opt);
    static_assert(std::is_same_v<decltype(got_float.raw), tensor<float>>);
    EXPECT_LT(max_relative_error(got_float.raw, reference_raw(M::name, cast<double>(Af), cast<double>(Gf))), 1e-6)
        << M::name << " float " << camkit::to_string(shape);
    if constexpr (M::form == camkit::method_form::channel_weights) {
        ASSERT_TRUE(got_double.weights.has_value());
        const auto w = reference_weights(M::name, A, G);
        EXPECT_EQ(got_double.weights->shape, (shape_t{shape[0], shape[1]}));
        for (std::size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(got_double.weights->values[i], w[i], 1e-9 * (1 + std::abs(w[i])));
    } else {
        EXPECT_FALSE(got_double.weights.has_value());
    }
}

}  // namespace

TEST(Methods, EveryMethodMatchesReferenceOneThread) {
    camkit::for_each_method([](auto t) {
        using M = typename decltype(t)::type;
        for (const auto& s : shapes) expect_matches_reference<M>(s, 1);
    });
}

TEST(Methods, EveryMethodMatchesReferenceSeveralThreads) {
    // 3 threads on one sample forces channel blocks whose partial maps are summed.
    camkit::for_each_method([](auto t) {
        using M = typename decltype(t)::type;
        for (const auto& s : shapes) expect_matches_reference<M>(s, 3);
        expect_matches_reference<M>({1, 9, 4, 4}, 3);
    });
}

TEST(Methods, ThreadCountChangesOnlyRounding) {
    const auto A = cast<float>(random_tensor({2, 64, 16, 16}, 3));
    const auto G = cast<float>(random_tensor({2, 64, 16, 16}, 4));
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        camkit::options one, many;
        one.threads = 1;
        many.threads = 5;
        const auto a = camkit::explain<M>(A, G, one), b = camkit::explain<M>(A, G, many);
        EXPECT_LT(max_relative_error(a.raw, b.raw), 1e-6) << M::name;
    });
}

TEST(Methods, StridedViewEqualsContiguous) {
    // Logical [N, K, H, W] stored as [N, K, W, H]: the view swaps the last two strides.
    const shape_t stored{2, 3, 5, 4};  // W = 5, H = 4
    const auto storage = cast<float>(random_tensor(stored, 21));
    const auto gstorage = cast<float>(random_tensor(stored, 22));
    camkit::host_view<const float> A{storage.data(), {2, 3, 4, 5}, {60, 20, 1, 4}};
    camkit::host_view<const float> G{gstorage.data(), {2, 3, 4, 5}, {60, 20, 1, 4}};
    tensor<float> Ac({2, 3, 4, 5}), Gc({2, 3, 4, 5});
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t k = 0; k < 3; ++k)
            for (std::size_t h = 0; h < 4; ++h)
                for (std::size_t w = 0; w < 5; ++w) {
                    Ac(n, k, h, w) = storage(n, k, w, h);
                    Gc(n, k, h, w) = gstorage(n, k, w, h);
                }
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        const auto strided = camkit::explain<M>(A, G), dense = camkit::explain<M>(Ac, Gc);
        EXPECT_EQ(strided.raw.values, dense.raw.values) << M::name;
        EXPECT_EQ(strided.map.values, dense.map.values) << M::name;
    });
}

namespace {
/// A bfloat16 stand-in: the upper 16 bits of a float, convertible to float like a framework's half types.
struct bfloat16 {
    std::uint16_t bits;
    explicit bfloat16(float f) {
        std::uint32_t u;
        std::memcpy(&u, &f, 4);
        bits = static_cast<std::uint16_t>(u >> 16);
    }
    operator float() const {
        const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};
}  // namespace

TEST(Methods, HalfPrecisionAccumulatesInFloat) {
    // Values that bfloat16 holds exactly: the float run and the bfloat16 run see the same numbers.
    tensor<float> Af({2, 4, 3, 3}), Gf({2, 4, 3, 3});
    tensor<bfloat16> Ab(Af.shape, bfloat16(0.f)), Gb(Gf.shape, bfloat16(0.f));
    for (std::size_t i = 0; i < Af.size(); ++i) {
        Af[i] = static_cast<float>(static_cast<int>(i * 7 % 13) - 6) / 8.f;
        Gf[i] = static_cast<float>(static_cast<int>(i * 5 % 11) - 5) / 4.f;
        Ab[i] = bfloat16(Af[i]);
        Gb[i] = bfloat16(Gf[i]);
    }
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        const auto half = camkit::explain<M>(Ab, Gb);
        static_assert(std::is_same_v<decltype(half.raw), tensor<float>>, "half input gives float maps");
        EXPECT_EQ(half.raw.values, camkit::explain<M>(Af, Gf).raw.values) << M::name;
    });
}

TEST(Methods, HalfPrecisionExplainManyEqualsFloat) {
    // explain_many gathers half-precision planes group slot by group slot (9 channels: two groups of
    // 4 and one of 1, over 32 × 32 planes as the group sweeps take them): the float run's maps and
    // weights, to the bit, on one thread and on two.
    tensor<float> Af({1, 9, 32, 32}), Gf({3, 9, 32, 32});
    tensor<bfloat16> Ab(Af.shape, bfloat16(0.f)), Gb(Gf.shape, bfloat16(0.f));
    for (std::size_t i = 0; i < Af.size(); ++i) {
        Af[i] = static_cast<float>(static_cast<int>(i * 7 % 13)) / 8.f;
        Ab[i] = bfloat16(Af[i]);
    }
    for (std::size_t i = 0; i < Gf.size(); ++i) {
        Gf[i] = static_cast<float>(static_cast<int>(i * 5 % 11) - 5) / 4.f;
        Gb[i] = bfloat16(Gf[i]);
    }
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (int threads : {1, 2}) {
            const camkit::options opt{.threads = threads};
            const auto half = camkit::explain_many<M>(Ab, Gb, opt);
            const auto full = camkit::explain_many<M>(Af, Gf, opt);
            EXPECT_EQ(half.raw.values, full.raw.values) << M::name << " threads " << threads;
            if (full.weights) {
                EXPECT_EQ(half.weights->values, full.weights->values) << M::name << " threads " << threads;
            }
        }
    });
}

TEST(Methods, HalfPrecisionExplainManyNamesANonFiniteActivation) {
    // Grad-CAM's and Grad-CAM++'s per-target weights do not gather the half-precision activation
    // planes (Σ g, or the shared Σ a, is all they take of them): an Inf among them is still found
    // and named, by the shared Σ a (Grad-CAM++) or through the map (Grad-CAM); XGrad-CAM's weights
    // read them (Σ a·g).
    tensor<bfloat16> A({1, 6, 32, 32}, bfloat16(0.5f)), G({3, 6, 32, 32}, bfloat16(0.25f));
    A[4 * 1024 + 77] = bfloat16(std::numeric_limits<float>::infinity());  // channel 4
    const auto message = [&](auto method) {
        try {
            camkit::explain_many<typename decltype(method)::type>(A, G);
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const std::string expected = "activations contain NaN or Inf (sample 0, channel 4)";
    EXPECT_NE(message(std::type_identity<camkit::grad_cam>{}).find(expected), std::string::npos)
        << message(std::type_identity<camkit::grad_cam>{});
    EXPECT_NE(message(std::type_identity<camkit::grad_cam_plus_plus>{}).find(expected), std::string::npos)
        << message(std::type_identity<camkit::grad_cam_plus_plus>{});
    EXPECT_NE(message(std::type_identity<camkit::xgrad_cam>{}).find(expected), std::string::npos)
        << message(std::type_identity<camkit::xgrad_cam>{});
}

TEST(Methods, ChannelsLastStrides) {
    // [2, 3, 4, 5] viewed over [2, 4, 5, 3] memory: channel 1 apart, w 3, h 15, sample 60.
    EXPECT_EQ(camkit::channels_last_strides(shape_t{2, 3, 4, 5}), (std::vector<std::ptrdiff_t>{60, 1, 15, 3}));
    EXPECT_EQ(camkit::channels_last_strides(shape_t{1, 8, 2, 3, 4}), (std::vector<std::ptrdiff_t>{192, 1, 96, 32, 8}));
    EXPECT_EQ(camkit::channels_last_strides(shape_t{4, 7}), (std::vector<std::ptrdiff_t>{7, 1}));
}

TEST(Methods, ChannelsLastViewsEqualContiguous) {
    // Channels-last memory of 16 channels or more in the accumulation type is read in place
    // (position_major.hpp; its own tests in test_position_major.cpp): maps and weights equal the
    // contiguous arrays' to rounding, and the projection methods' (gathered) to the bit. Otherwise
    // it is gathered in blocks of up to 64 channels read position by position (kernels.hpp,
    // plane_reader), as for the projection methods: 80 channels are a block of 64 and one of 16
    // (4 × 4 transposes), or on two threads of one sample blocks from channel 40; 7 × 9 positions
    // leave three after the last four; 6 channels take the element-by-element walk; 3-D maps,
    // double and half precision too. Gathered planes give every map and weight to the bit.
    const auto check = [](const shape_t& shape, auto element, int threads) {
        using E = decltype(element);
        using Acc = std::conditional_t<std::is_same_v<E, double>, double, float>;
        const tensor<float> A = cast<float>(random_tensor(shape, 31, 0, 2)), G = cast<float>(random_tensor(shape, 32));
        const auto Acl = camkit_test::channels_last_copy<E>(A), Gcl = camkit_test::channels_last_copy<E>(G);
        tensor<Acc> Ad(shape), Gd(shape);  // the same values, dense
        for (std::size_t i = 0; i < A.size(); ++i) Ad[i] = static_cast<Acc>(static_cast<float>(E(A[i]))), Gd[i] = static_cast<Acc>(static_cast<float>(E(G[i])));
        const camkit::options opt{.threads = threads};
        const bool in_place = camkit::detail::reads_position_major<Acc>(Acl.view, &Gcl.view);
        EXPECT_EQ(in_place, (shape[1] >= 16 && !std::is_same_v<E, bfloat16>)) << camkit::to_string(shape);
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            const auto strided = camkit::explain<M>(Acl.view, Gcl.view, opt), dense = camkit::explain<M>(Ad, Gd, opt);
            const std::string where = std::string(M::name) + " " + camkit::to_string(shape) + " threads " + std::to_string(threads);
            if (in_place && M::form != camkit::method_form::projection) {
                const double tol = std::is_same_v<Acc, double> ? 1e-13 : 2e-6;
                EXPECT_LE(camkit_test::max_relative_error(strided.raw, dense.raw), tol) << where;
                if (dense.weights) {
                    EXPECT_LE(camkit_test::max_relative_error(*strided.weights, *dense.weights), tol) << where;
                }
                return;
            }
            EXPECT_EQ(strided.raw.values, dense.raw.values) << where;
            if (dense.weights) {
                EXPECT_EQ(strided.weights->values, dense.weights->values) << where;
            }
        });
    };
    for (int threads : {1, 2}) {
        check({1, 80, 7, 9}, 0.f, threads);
        check({2, 80, 7, 9}, 0.f, threads);
        check({1, 20, 3, 4, 5}, 0.f, threads);
        check({2, 6, 5, 5}, 0.f, threads);
    }
    check({2, 64, 8, 8}, 0.0, 1);
    check({1, 32, 6, 6}, bfloat16(0.f), 2);
}

TEST(Methods, ChannelsLastExplainManyEqualsContiguous) {
    // explain_many on channels-last memory (80 channels, 5 targets): element-wise and channel-weight
    // methods read it in place (position_major.hpp), to rounding; Eigen-CAM gathers planes, so its
    // maps are the contiguous memory's to the bit.
    const shape_t shape{1, 80, 7, 9}, gshape{5, 80, 7, 9};
    const tensor<float> A = cast<float>(random_tensor(shape, 33, 0, 2)), G = cast<float>(random_tensor(gshape, 34));
    const auto Acl = camkit_test::channels_last_copy<float>(A), Gcl = camkit_test::channels_last_copy<float>(G);
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (int threads : {1, 2}) {
            const camkit::options opt{.threads = threads};
            const auto strided = camkit::explain_many<M>(Acl.view, Gcl.view, opt), dense = camkit::explain_many<M>(A, G, opt);
            if constexpr (M::form != camkit::method_form::projection) {
                EXPECT_LE((camkit_test::max_relative_error_per_map<float, float>(strided.raw.values, dense.raw.values, 5)), 2e-6)
                    << M::name << " threads " << threads;
                ASSERT_EQ(strided.weights.has_value(), dense.weights.has_value()) << M::name;
                if (dense.weights) {
                    EXPECT_LE((camkit_test::max_relative_error_per_map<float, float>(strided.weights->values,
                                                                                    dense.weights->values, 5)),
                              2e-6)
                        << M::name << " threads " << threads;
                }
                continue;
            }
            EXPECT_EQ(strided.raw.values, dense.raw.values) << M::name << " threads " << threads;
            if (dense.weights) {
                EXPECT_EQ(strided.weights->values, dense.weights->values) << M::name << " threads " << threads;
            }
        }
    });
}

TEST(Methods, RegistryNamesAndLookup) {
    EXPECT_EQ(camkit::method_names_joined(),
              "gradcam hirescam gradcam++ xgradcam layercam gradcam-elementwise eigencam eigengradcam respondcam");
    std::string_view seen;
    EXPECT_TRUE(camkit::with_method("layercam", [&](auto t) { seen = decltype(t)::type::title; }));
    EXPECT_EQ(seen, "LayerCAM");
    EXPECT_FALSE(camkit::with_method("nosuchcam", [&](auto) { FAIL(); }));
}

TEST(Methods, SegmentationNamesAreTheMethods) {
    static_assert(std::is_same_v<camkit::seg_grad_cam, camkit::grad_cam>);
    static_assert(std::is_same_v<camkit::seg_hires_grad_cam, camkit::hires_cam>);
    SUCCEED();
}
