// Run-time ISA dispatch (isa.hpp, simd.hpp's dispatch): the choice of the best instruction set,
// the override by set_isa and CAMKIT_ISA with its errors, and the host kernels of every method run
// in each instruction set this CPU supports, against hand-computed maps, the reference loops and
// the scalar path.
#include <camkit/camkit.hpp>
#include <camkit/isa.hpp>
#include <gtest/gtest.h>

#include "common/error_message.hpp"
#include "common/kernel_scopes.hpp"
#include "common/reference_cam.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using camkit::isa;
using camkit_test::error_message;

using camkit_test::all_isas;
using camkit_test::supported_isas;

using camkit_test::isa_scope;

/// The flags of the first processor in /proc/cpuinfo (empty where there is no such file).
std::set<std::string> cpuinfo_flags() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("flags", 0) == 0) {
            std::istringstream words(line.substr(line.find(':') + 1));
            std::set<std::string> flags;
            for (std::string w; words >> w;) flags.insert(w);
            return flags;
        }
    return {};
}

/// Raw maps of method M on (A, G) and on their float casts, with two threads: first in the
/// scalar path, then in every instruction set this CPU supports, each handed to
/// check(where, float map, double map, scalar float map, scalar double map).
template <class M, class Check>
void compare_with_scalar_path(const camkit::tensor<double>& A, const camkit::tensor<double>& G, Check&& check) {
    const auto Af = camkit_test::cast<float>(A), Gf = camkit_test::cast<float>(G);
    const camkit::options opt{.relu = false, .normalize = camkit::normalization::none, .threads = 2};
    camkit::tensor<float> scalar_f;
    camkit::tensor<double> scalar_d;
    {
        isa_scope scope(isa::scalar);
        scalar_f = camkit::explain<M>(Af, Gf, opt).raw;
        scalar_d = camkit::explain<M>(A, G, opt).raw;
    }
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        const std::string where = std::string(M::name) + " " + camkit::to_string(A.shape) + " " +
                                  std::string(camkit::isa_name(i));
        check(where, camkit::explain<M>(Af, Gf, opt).raw, camkit::explain<M>(A, G, opt).raw, scalar_f, scalar_d);
    }
}

/// The largest difference over each of n maps relative to that map's largest magnitude in `want`.
template <class T>
double per_map_error(const camkit::tensor<T>& got, const camkit::tensor<T>& want, std::size_t n) {
    return camkit_test::max_relative_error_per_map<T, T>(got.values, want.values, n);
}

}  // namespace

TEST(Isa, NamesRoundTrip) {
    for (isa i : all_isas) EXPECT_EQ(camkit::parse_isa(camkit::isa_name(i)), i);
    EXPECT_EQ(camkit::isa_name(isa::avx512), "avx512");
    EXPECT_EQ(camkit::isa_name(isa::scalar), "scalar");
}

TEST(Isa, UnknownNamesAreRejected) {
    const std::string want = "camkit: unknown instruction set 'avx' (CAMKIT_ISA expects scalar, sse2, avx2 or avx512)";
    EXPECT_EQ(error_message([] { (void)camkit::parse_isa("avx"); }), want);
    EXPECT_EQ(error_message([] { (void)camkit::detail::isa_from_setting("avx"); }), want);
    EXPECT_EQ(error_message([] { (void)camkit::parse_isa("AVX2"); }),
              "camkit: unknown instruction set 'AVX2' (CAMKIT_ISA expects scalar, sse2, avx2 or avx512)");
}

TEST(Isa, NoSettingMeansTheBest) {
    EXPECT_EQ(camkit::detail::isa_from_setting(nullptr), camkit::best_isa());
    EXPECT_EQ(camkit::detail::isa_from_setting(""), camkit::best_isa());
    EXPECT_EQ(camkit::detail::isa_from_setting("scalar"), isa::scalar);
}

TEST(Isa, BestIsTheWidestTheProcessorReports) {
    // Independent of __builtin_cpu_supports: the kernel's own list of the processor's features.
    const auto flags = cpuinfo_flags();
    if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo";
#if defined(CAMKIT_ISA_DISPATCH)
    const bool has512 = flags.count("avx512f") && flags.count("avx512vl") && flags.count("avx512dq") &&
                        flags.count("avx512bw");
    const isa want = has512 ? isa::avx512 : flags.count("avx2") && flags.count("fma") ? isa::avx2 : isa::sse2;
    EXPECT_EQ(camkit::best_isa(), want) << "best " << camkit::isa_name(camkit::best_isa());
    EXPECT_TRUE(camkit::isa_supported(isa::sse2));  // part of x86-64
#else
    EXPECT_EQ(camkit::best_isa(), isa::sse2);
#endif
    EXPECT_TRUE(camkit::isa_supported(isa::scalar));
}

TEST(Isa, SetIsaHonoursTheChoiceAndRoutesTheKernels) {
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        EXPECT_EQ(camkit::active_isa(), i);
        // The pack bytes the dispatched kernels are compiled for, and the lanes of float and double.
        const std::size_t bytes = camkit::detail::dispatch([](auto b) { return b(); });
        const std::size_t want = i == isa::scalar ? 0 : i == isa::sse2 ? 16 : i == isa::avx2 ? 32 : 64;
        EXPECT_EQ(bytes, want) << camkit::isa_name(i);
        const std::size_t lanes = camkit::detail::dispatch([](auto b) { return camkit::detail::lanes_in<float, b()>; });
        EXPECT_EQ(lanes, want == 0 ? 1 : want / 4) << camkit::isa_name(i);
        EXPECT_EQ((camkit::detail::lanes_in<double, 16>), 2u);
        EXPECT_EQ((camkit::detail::lanes_in<double, 0>), 1u);
    }
}

TEST(Isa, SmallPlanesRunInAvx2PacksUnderAvx512) {
    // Planes under 1536 bytes (float: 383 positions, double: 191) run AVX2's 32-byte packs where the
    // active set is AVX-512; every other set, and larger planes, run the set's own packs.
    using camkit::detail::plane_pack_bytes;
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        const std::size_t own = camkit::detail::dispatch([](auto b) { return b(); });
        const std::size_t small = i == isa::avx512 ? 32 : own;
        EXPECT_EQ(plane_pack_bytes<float>(1), small) << camkit::isa_name(i);
        EXPECT_EQ(plane_pack_bytes<float>(383), small) << camkit::isa_name(i);
        EXPECT_EQ(plane_pack_bytes<float>(384), own) << camkit::isa_name(i);
        EXPECT_EQ(plane_pack_bytes<double>(191), small) << camkit::isa_name(i);
        EXPECT_EQ(plane_pack_bytes<double>(192), own) << camkit::isa_name(i);
    }
}

TEST(Isa, SmallPlanesSumInOneOrderOnEveryPath) {
    // A 7×7 plane under AVX-512 goes through AVX2's packs in every path that sums it: the kernels'
    // weights equal the policy's per-plane sums, and explain's weights and maps explain_many's.
    using namespace camkit_test;
    const auto A = cast<float>(random_tensor({1, 9, 7, 7}, 41, 0, 2)), G = cast<float>(random_tensor({1, 9, 7, 7}, 42));
    const camkit::options raw_only{.relu = false, .normalize = camkit::normalization::none};
    const camkit::plane_ops<float> ops;
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        const std::string where(camkit::isa_name(i));
        const auto x = camkit::explain<camkit::xgrad_cam>(A, G, raw_only);
        const auto many = camkit::explain_many<camkit::xgrad_cam>(A, G, raw_only);
        EXPECT_EQ(x.weights->values, many.weights->values) << where;
        EXPECT_EQ(x.raw.values, many.raw.values) << where;
        for (std::size_t k = 0; k < 9; ++k) {
            const camkit::plane<float> a{A.data() + k * 49, 49}, g{G.data() + k * 49, 49};
            const float sum_a = ops.sum(a), sum_ag = ops.sum(a, g, [](const auto& u, const auto& v) { return u * v; });
            // As xgrad_cam::channel_weight: float sums, divided in double (the constant is a double).
            EXPECT_EQ((*x.weights)(0, k), static_cast<float>(sum_ag / (sum_a + 1e-7))) << where << " channel " << k;
        }
    }
}

// A user's policy that declares Σ a and Σ g and has a gradient term: where the group sweeps carry a
// group's Σ a from the previous group's term sweep (AVX-512, planes of 1024 positions and more), the
// group still needs its Σ g. w_k = Σ relu(g) + Σ g · Σ a / |S|.
struct term_with_sum_a_and_sum_g {
    static constexpr std::string_view name = "term-a-g";
    static constexpr std::string_view title = "Σ relu(G) + Σ G · mean A";
    static constexpr camkit::method_form form = camkit::method_form::channel_weights;
    static constexpr camkit::statistic needs = camkit::statistic::sum_a | camkit::statistic::sum_g;
    template <class Ops, class S, class X>
    static auto gradient_term(const Ops& ops, const S&, const X& g) { return ops.relu(g); }
    template <class S>
    static auto channel_weight(const S& s) { return s.sum_term + s.sum_g * s.sum_a / s.positions; }
};
static_assert(camkit::detail::folds_next_sum_a<term_with_sum_a_and_sum_g>);

TEST(Isa, CarriedSumsOfActivationsKeepTheOtherStatistics) {
    using namespace camkit_test;
    const std::size_t K = 13, S = 32 * 32;  // groups of 4: three full ones (the fold) and one of 1
    const auto A = random_tensor({2, K, 32, 32}, 43, 0, 2), G = random_tensor({2, K, 32, 32}, 44);
    const auto Af = cast<float>(A), Gf = cast<float>(G);
    std::vector<double> want(2 * K);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t k = 0; k < K; ++k) {
            double term = 0, sg = 0, sa = 0;
            for (std::size_t s = 0; s < S; ++s) {
                const double a = Af[(n * K + k) * S + s], g = Gf[(n * K + k) * S + s];
                term += std::max(g, 0.0), sg += g, sa += a;
            }
            want[n * K + k] = term + sg * sa / static_cast<double>(S);
        }
    const camkit::options raw_only{.relu = false, .normalize = camkit::normalization::none};
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        const std::string where(camkit::isa_name(i));
        for (bool check : {true, false}) {
            camkit::options opt = raw_only;
            opt.check_finite = check;
            const auto r = camkit::explain<term_with_sum_a_and_sum_g>(Af, Gf, opt);
            for (std::size_t w = 0; w < 2 * K; ++w)
                ASSERT_NEAR((*r.weights)[w], want[w], 1e-4 * (1 + std::abs(want[w]))) << where << " weight " << w;
            // explain_many on sample 1 alone (as its only target): the same weights, bit for bit.
            const camkit::tensor<float> A1({1, K, 32, 32}, std::vector<float>(Af.values.begin() + K * S, Af.values.end()));
            const camkit::tensor<float> G1({1, K, 32, 32}, std::vector<float>(Gf.values.begin() + K * S, Gf.values.end()));
            const auto many = camkit::explain_many<term_with_sum_a_and_sum_g>(A1, G1, opt);
            for (std::size_t k = 0; k < K; ++k) ASSERT_EQ((*many.weights)[k], (*r.weights)[K + k]) << where << " channel " << k;
        }
    }
}

// explain_many takes each target's weights by explain's group passes (sweeps, the carried Σ a):
// over 32 × 32 planes and 13 channels (three full groups and one of 1) its weights equal those of
// explain on each target, to the bit, in every instruction set, on one thread and on two.
TEST(Isa, ExplainManyWeightsAreExplainsOnLargePlanes) {
    using namespace camkit_test;
    const std::size_t K = 13, T = 3;
    const auto A = cast<float>(random_tensor({1, K, 32, 32}, 45, 0, 2));
    const auto G = cast<float>(random_tensor({T, K, 32, 32}, 46));
    const std::size_t per = K * 32 * 32;
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        camkit::for_each_method([&](auto m) {
            using M = typename decltype(m)::type;
            if constexpr (M::form == camkit::method_form::channel_weights) {
                for (int threads : {1, 2}) {
                    const std::string where = std::string(camkit::isa_name(i)) + " " + std::string(M::name) + " threads " +
                                              std::to_string(threads);
                    const camkit::options opt{.threads = threads};
                    const auto many = camkit::explain_many<M>(A, G, opt);
                    for (std::size_t t = 0; t < T; ++t) {
                        const camkit::tensor<float> Gt({1, K, 32, 32}, std::vector<float>(G.values.begin() + t * per,
                                                                                       G.values.begin() + (t + 1) * per));
                        const auto one = camkit::explain<M>(A, Gt, opt);
                        for (std::size_t k = 0; k < K; ++k)
                            ASSERT_EQ((*many.weights)(t, k), (*one.weights)[k]) << where << " target " << t << " channel " << k;
                    }
                }
            }
        });
    }
}

TEST(Isa, UnsupportedChoicesAreRejected) {
    const auto ok = supported_isas();
    if (ok.size() == std::size(all_isas)) GTEST_SKIP() << "this CPU supports every instruction set";
    for (isa i : all_isas) {
        if (camkit::isa_supported(i)) continue;
        const std::string name(camkit::isa_name(i)), best(camkit::isa_name(camkit::best_isa()));
        EXPECT_EQ(error_message([&] { camkit::set_isa(i); }),
                  "camkit: set_isa: this CPU or build cannot run " + name + " (best here: " + best + ")");
        EXPECT_EQ(error_message([&] { (void)camkit::detail::isa_from_setting(name.c_str()); }),
                  "camkit: CAMKIT_ISA=" + name + ": this CPU or build cannot run it (best here: " + best + ")");
    }
}

// Run by CTest with CAMKIT_ISA set (tests/CMakeLists.txt): the kernels run in the variable's choice,
// and an unknown name makes every kernel call fail with the parser's message.
TEST(Isa, EnvironmentChoiceIsActive) {
    const char* env = std::getenv("CAMKIT_ISA");
    if (!env || !*env) {
        EXPECT_EQ(camkit::active_isa(), camkit::best_isa());
        return;
    }
    const std::string parse_error = error_message([&] { (void)camkit::parse_isa(env); });
    if (parse_error != "no error") {
        EXPECT_EQ(error_message([] { (void)camkit::active_isa(); }), parse_error);
        const camkit::tensor<float> A({1, 2, 3}, 1.f), G({1, 2, 3}, 1.f);
        EXPECT_EQ(error_message([&] { (void)camkit::explain<camkit::grad_cam>(A, G); }), parse_error);
        return;
    }
    EXPECT_EQ(camkit::active_isa(), camkit::parse_isa(env));
}

TEST(Isa, HandComputedGradCamInEveryIsa) {
    // 1 sample, 2 channels, 37 positions (a tail after the packs of every width):
    // A[0,s] = s + 1, A[1,s] = 2; G[0,·] = 1, G[1,·] = −0.5, so w = {1, −0.5} and raw[s] = s + 1 − 1 = s.
    // Every sum is of small integers and halves: exact in float whatever the order.
    const std::size_t S = 37;
    camkit::tensor<float> A({1, 2, S}), G({1, 2, S});
    for (std::size_t s = 0; s < S; ++s) {
        A.values[s] = static_cast<float>(s + 1), A.values[S + s] = 2.f;
        G.values[s] = 1.f, G.values[S + s] = -0.5f;
    }
    const camkit::options raw_only{.relu = false, .normalize = camkit::normalization::none};
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        const auto e = camkit::explain<camkit::grad_cam>(A, G, raw_only);
        ASSERT_EQ(e.weights->values, (std::vector<float>{1.f, -0.5f})) << camkit::isa_name(i);
        for (std::size_t s = 0; s < S; ++s) EXPECT_EQ(e.raw.values[s], static_cast<float>(s)) << camkit::isa_name(i);
        // HiResCAM: raw[s] = (s + 1)·1 + 2·(−0.5) = s as well; normalized, s / (36 + ε).
        const auto h = camkit::explain<camkit::hires_cam>(A, G);
        for (std::size_t s = 0; s < S; ++s)
            EXPECT_NEAR(h.map.values[s], static_cast<float>(s) / 36.f, 1e-6f) << camkit::isa_name(i) << " " << s;
    }
}

TEST(Isa, EveryMethodMatchesTheScalarPathAndTheReference) {
    using namespace camkit_test;
    // Planes of 1 to 297 positions, and 397 and 1100: AVX-512's own packs from 384 (dispatch_plane).
    const std::vector<camkit::shape_t> shapes{{1, 1, 1},   {2, 9, 17},        {1, 7, 2, 3, 5}, {2, 6, 130},
                                              {1, 5, 9, 11, 3}, {2, 6, 397}, {1, 5, 10, 110}};
    for (const auto& shape : shapes) {
        const auto A = random_tensor(shape, 21, 0, 2);
        const auto G = random_tensor(shape, 22);
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            const auto want = reference_raw(M::name, A, G);
            compare_with_scalar_path<M>(A, G, [&](const std::string& where, const auto& f, const auto& d,
                                                  const auto& scalar_f, const auto& scalar_d) {
                EXPECT_LT(max_relative_error(f, scalar_f), 2e-5) << where << " float vs scalar";
                EXPECT_LT(max_relative_error(d, scalar_d), 1e-12) << where << " double vs scalar";
                EXPECT_LT(max_relative_error(d, want), 1e-12) << where << " double vs reference";
            });
        });
    }
}

TEST(Isa, EigenMethodsMatchTheScalarPathOnBothGramSides) {
    using namespace camkit_test;
    // The Gram matrix of the smaller side: of X's channel planes when S ≤ K (rows past one 64-row
    // panel at [1, 80, 7, 7]), of its positions when S > K, made block by block (2173 positions:
    // a block of 2048 and a partial one, split across the two threads at [1, 9, 41, 53]);
    // d = 15, 49, 70 leave partial tiles and packs at every width.
    struct gram_case {
        camkit::shape_t shape;
        bool by_channels;
    };
    const std::vector<gram_case> cases{{{2, 40, 3, 5}, true},  {{1, 80, 7, 7}, true}, {{2, 9, 17}, false},
                                       {{1, 70, 9, 11}, false}, {{1, 9, 41, 53}, false}};
    for (const auto& [shape, by_channels] : cases) {
        const auto dims = camkit::detail::dims_of(shape);
        ASSERT_EQ(dims.S <= dims.K, by_channels) << camkit::to_string(shape);
        const auto A = random_tensor(shape, 31, 0, 2);
        const auto G = random_tensor(shape, 32);
        const auto check = [&](const std::string& where, const auto& f, const auto& d, const auto& scalar_f,
                               const auto& scalar_d) {
            // Relative to each map's largest magnitude.
            EXPECT_LT(per_map_error(f, scalar_f, dims.N), 1e-5) << where;
            EXPECT_LT(per_map_error(d, scalar_d, dims.N), 1e-12) << where;
        };
        compare_with_scalar_path<camkit::eigen_cam>(A, G, check);
        compare_with_scalar_path<camkit::eigen_grad_cam>(A, G, check);
    }
}

TEST(Isa, NonFiniteInputIsLocatedInEveryIsa) {
    // A NaN or Inf in any channel of a group (six channels: groups of 4 and 2, each channel's
    // place in its group) is reported with its sample and channel by every instruction set's
    // kernels: the group sweeps of the wide ones check the planes they read as the per-channel
    // passes do. Planes of 40 and 397 positions: AVX-512 runs its own packs from 384 (simd.hpp's
    // dispatch_plane), AVX2's below.
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            for (std::size_t S : {40, 397})
            for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()})
                for (std::size_t k = 0; k < 6; ++k) {
                    const std::string where = std::string(M::name) + " " + std::string(camkit::isa_name(i)) + " channel " +
                                              std::to_string(k) + " S " + std::to_string(S);
                    camkit::tensor<float> a({2, 6, S}, 1.f), g({2, 6, S}, 0.5f);
                    a(1, k, 37) = bad;
                    EXPECT_EQ(error_message([&] { camkit::explain<M>(a, g); }),
                              "camkit: activations contain NaN or Inf (sample 1, channel " + std::to_string(k) + ")")
                        << where;
                    a(1, k, 37) = 1.f;
                    g(0, k, 3) = bad;
                    if constexpr (camkit::needs_gradients_v<M>) {
                        EXPECT_EQ(error_message([&] { camkit::explain<M>(a, g); }),
                                  "camkit: gradients contain NaN or Inf (sample 0, channel " + std::to_string(k) + ")")
                            << where;
                    }
                }
        });
    }
}

TEST(Isa, NormalizationIsExactInEveryIsa) {
    // Min and max are exact, so the ReLU + min-max map equals the scalar path's bit for bit.
    const auto maps = camkit_test::cast<float>(camkit_test::random_tensor({3, 7, 11}, 23));
    camkit::tensor<float> want, got;
    {
        isa_scope scope(isa::scalar);
        camkit::relu_normalize_copy(maps, want, true, camkit::normalization::min_max);
    }
    for (isa i : supported_isas()) {
        isa_scope scope(i);
        camkit::relu_normalize_copy(maps, got, true, camkit::normalization::min_max);
        EXPECT_EQ(got.values, want.values) << camkit::isa_name(i);
        auto copy = maps;
        camkit::normalize_inplace(copy, camkit::normalization::max);
        for (std::size_t n = 0; n < 3; ++n) {
            float mx = -1;
            for (std::size_t s = 0; s < 77; ++s) mx = std::max(mx, maps.values[n * 77 + s]);
            EXPECT_EQ(copy.values[n * 77 + 5], maps.values[n * 77 + 5] / mx) << camkit::isa_name(i);
        }
    }
}

TEST(Isa, PackTraitsKnowTheVectorPacksOfEveryWidth) {
    using namespace camkit::detail;
    // The dispatched kernels' packs of float and double, of every width, are packs; scalars,
    // arrays and pointers (which also have p[0]) are not.
    static_assert(pack_traits<float>::lanes == 1 && !is_pack_v<float> && !is_pack_v<double>);
    static_assert(!is_pack_v<std::array<float, 4>> && !is_pack_v<const float*>);
#if defined(CAMKIT_VECTOR_EXTENSIONS)
    static_assert(is_pack_v<pack_t<float, 4>> && is_pack_v<pack_t<float, 8>> && is_pack_v<pack_t<float, 16>>);
    static_assert(is_pack_v<pack_t<double, 2>> && is_pack_v<pack_t<double, 8>>);
    EXPECT_EQ((pack_traits<pack_t<float, 16>>::lanes), 16u);
    EXPECT_EQ((pack_traits<pack_t<double, 4>>::lanes), 4u);
    EXPECT_EQ((sizeof(pack_t<float, 16>)), 64u);
#endif
    EXPECT_EQ((lanes_in<float, 64>), 16u);
    EXPECT_EQ((lanes_in<double, 32>), 4u);
    EXPECT_EQ((lanes_in<float, 0>), 1u);
}
