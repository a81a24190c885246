// Channels-last memory read in place (position_major.hpp): which views take the position-major
// kernels, their maps and weights against SPEC.md's reference loops and against the plane kernels
// on the same values stored contiguously (every method, every instruction set, channels that fill
// no whole pack, positions split over threads), CAM with head weights, explain_many's element-wise
// methods, and the finite checks' errors, which name the same plane as the plane kernels'.
#include <camkit/camkit.hpp>
#include <camkit/position_major.hpp>
#include <gtest/gtest.h>

#include "common/channels_last.hpp"
#include "common/closeness.hpp"
#include "common/error_message.hpp"
#include "common/kernel_scopes.hpp"
#include "common/random_tensor.hpp"
#include "common/reference_cam.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using camkit::shape_t;
using camkit::tensor;
using camkit_test::channels_last_copy;
using camkit_test::error_message;

template <class T>
double relative_error(const std::vector<T>& got, const std::vector<T>& want, std::size_t maps) {
    return camkit_test::max_relative_error_per_map<T, T>(got, want, maps);
}

/// Every method on channels-last (A, G) against the same values contiguous: raw maps and weights
/// within `tol` of each map's (each sample's weights') largest magnitude, normalized maps within
/// 10·tol (min-max scaling magnifies a raw map's rounding where its range is small against its
/// values), in every instruction set. The tolerances are the plane kernels' own float rounding:
/// their sums run in float (in the scalar path one value after another), the position-major ones
/// add blocks of 64 positions in double.
template <class T>
void expect_every_method_matches(const shape_t& shape, int threads, double tol) {
    const tensor<T> A = camkit_test::cast<T>(camkit_test::random_tensor(shape, 41, 0, 2));
    const tensor<T> G = camkit_test::cast<T>(camkit_test::random_tensor(shape, 42));
    const auto Acl = channels_last_copy<T>(A), Gcl = channels_last_copy<T>(G);
    ASSERT_TRUE((camkit::detail::reads_position_major<T>(Acl.view, &Gcl.view)));
    const camkit::options opt{.threads = threads};
    for (camkit::isa i : camkit_test::supported_isas()) {
        camkit_test::isa_scope scope(i);
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            const std::string where = std::string(M::name) + " " + camkit::to_string(shape) + " threads " +
                                      std::to_string(threads) + " " + std::string(camkit::isa_name(i));
            const auto cl = camkit::explain<M>(Acl.view, Gcl.view, opt), dense = camkit::explain<M>(A, G, opt);
            EXPECT_LE(relative_error(cl.raw.values, dense.raw.values, shape[0]), tol) << where;
            EXPECT_LE(relative_error(cl.map.values, dense.map.values, shape[0]), 10 * tol) << where;
            ASSERT_EQ(cl.weights.has_value(), dense.weights.has_value()) << where;
            if (dense.weights) {
                EXPECT_LE(relative_error(cl.weights->values, dense.weights->values, shape[0]), tol) << where;
            }
        });
    }
}


/// NaN or Inf at a place: sample n (explain_many: target n), channel k, position s of the
/// activations or of the gradients.
struct poison {
    bool in_a;
    std::size_t n, k, s;
    float value;
};

/// For each case of places poisoned in copies of A0 and G0 ([·, K, 96, 96]): `run(method tag, A, G,
/// options)` on channels-last copies throws the contiguous arrays' error, for every method, on one
/// thread and on four.
template <class Run>
void expect_errors_of_contiguous_memory(const tensor<float>& A0, const tensor<float>& G0,
                                        const std::vector<std::vector<poison>>& cases, Run run) {
    const std::size_t K = A0.shape[1], S = 96 * 96;
    auto at = [&](std::size_t n, std::size_t k, std::size_t s) { return (n * K + k) * S + s; };
    for (const auto& places : cases) {
        tensor<float> A = A0, G = G0;
        for (const poison& p : places) (p.in_a ? A : G)[at(p.n, p.k, p.s)] = p.value;
        const auto Acl = channels_last_copy<float>(A), Gcl = channels_last_copy<float>(G);
        for (int threads : {1, 4}) {
            camkit::for_each_method([&](auto t) {
                using M = typename decltype(t)::type;
                const camkit::options opt{.threads = threads};
                const std::string want = error_message([&] { run(t, A, G, opt); });
                const std::string got = error_message([&] { run(t, Acl.view, Gcl.view, opt); });
                EXPECT_NE(want.find("contain NaN or Inf"), std::string::npos) << M::name << ": " << want;
                EXPECT_EQ(got, want) << M::name << " threads " << threads;
            });
        }
    }
}

}  // namespace

TEST(PositionMajor, TakesChannelsLastViewsOfTheAccumulationType) {
    using camkit::detail::reads_position_major;
    const tensor<float> x = camkit_test::cast<float>(camkit_test::random_tensor({2, 16, 3, 5}, 1));
    const auto cl = channels_last_copy<float>(x);
    const camkit::host_view<const float> dense{x.values.data(), x.shape, {240, 15, 5, 1}};
    EXPECT_TRUE((reads_position_major<float>(cl.view, &cl.view)));
    const camkit::host_view<const float>* none = nullptr;  // CAM with head weights: no gradients
    EXPECT_TRUE((reads_position_major<float>(cl.view, none)));
    EXPECT_FALSE((reads_position_major<float>(dense, &dense)));
    EXPECT_FALSE((reads_position_major<float>(cl.view, &dense)));  // both must be channels-last
    EXPECT_FALSE((reads_position_major<float>(dense, &cl.view)));
    EXPECT_FALSE((reads_position_major<double>(cl.view, &cl.view)));  // another accumulation type: gathered
    // 15 channels: fewer than a cache line of floats, gathered.
    const auto cl15 = channels_last_copy<float>(camkit_test::cast<float>(camkit_test::random_tensor({2, 15, 3, 5}, 2)));
    EXPECT_FALSE((reads_position_major<float>(cl15.view, &cl15.view)));
    // Positions padded apart (a row of 20 values for 16 channels): not dense, gathered.
    std::vector<float> padded(2 * 15 * 20);
    const camkit::host_view<const float> pad{padded.data(), {2, 16, 3, 5}, {300, 1, 100, 20}};
    EXPECT_FALSE(camkit::detail::channels_last_dense(pad));
    EXPECT_FALSE((reads_position_major<float>(pad, &pad)));
    // An axis of one position may have any stride; a single position is contiguous either way.
    const camkit::host_view<const float> one_row{cl.storage.data(), {2, 16, 1, 15}, {240, 1, 7, 16}};
    EXPECT_TRUE(camkit::detail::channels_last_dense(one_row));
    const camkit::host_view<const float> single{cl.storage.data(), {2, 16, 1, 1}, {16, 1, 16, 16}};
    EXPECT_FALSE((reads_position_major<float>(single, &single)));
}

TEST(PositionMajor, MapsEqualTheReferenceLoops) {
    // SPEC.md's definitions in double (reference_cam.hpp) against the position-major kernels in double.
    const shape_t shape{2, 19, 4, 6};  // 19 channels: packs and single channels in every ISA
    const tensor<double> A = camkit_test::random_tensor(shape, 43, 0, 2), G = camkit_test::random_tensor(shape, 44);
    const auto Acl = channels_last_copy<double>(A), Gcl = channels_last_copy<double>(G);
    const camkit::options opt{.relu = false, .normalize = camkit::normalization::none, .threads = 1};
    for (camkit::isa i : camkit_test::supported_isas()) {
        camkit_test::isa_scope scope(i);
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            if constexpr (M::form != camkit::method_form::projection) {
                const auto got = camkit::explain<M>(Acl.view, Gcl.view, opt);
                const tensor<double> want = camkit_test::reference_raw(M::name, A, G);
                EXPECT_LE(relative_error(got.raw.values, want.values, shape[0]), 1e-12)
                    << M::name << " " << camkit::isa_name(i);
            }
        });
    }
    // In float over 9216 positions: the sums' blocks of 64 positions are added in double, so the
    // maps stay within a few float roundings of the exact ones.
    const shape_t big{1, 32, 96, 96};
    const tensor<float> Af = camkit_test::cast<float>(camkit_test::random_tensor(big, 53, 0, 2));
    const tensor<float> Gf = camkit_test::cast<float>(camkit_test::random_tensor(big, 54));
    const auto Afl = channels_last_copy<float>(Af), Gfl = channels_last_copy<float>(Gf);
    const tensor<double> Ad = camkit_test::cast<double>(Af), Gd = camkit_test::cast<double>(Gf);
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        if constexpr (M::form != camkit::method_form::projection) {
            const auto got = camkit::explain<M>(Afl.view, Gfl.view, opt);
            const tensor<double> want = camkit_test::reference_raw(M::name, Ad, Gd);
            EXPECT_LE((camkit_test::max_relative_error_per_map<float, double>(got.raw.values, want.values, 1)), 2e-6) << M::name;
        }
    });
}

TEST(PositionMajor, EveryMethodMatchesContiguousMemory) {
    expect_every_method_matches<float>({2, 83, 5, 7}, 1, 1e-5);   // 83 channels: 5 packs of 16 and 3 more
    expect_every_method_matches<float>({3, 64, 6, 6}, 2, 1e-5);   // samples side by side on two threads
    expect_every_method_matches<float>({1, 16, 3, 4, 5}, 1, 1e-5);  // a volume of exactly one pack of channels
    expect_every_method_matches<float>({2, 1024, 3, 3}, 1, 1e-5);  // long rows: walked a few at a time
    expect_every_method_matches<double>({2, 40, 9, 9}, 2, 1e-13);
}

TEST(PositionMajor, PositionsSplitOverThreads) {
    // One sample of 96 × 96 positions: two and three threads take ranges of positions (each at
    // least 4096), whose per-channel sums are added in range order.
    expect_every_method_matches<float>({1, 32, 96, 96}, 2, 1e-5);
    expect_every_method_matches<float>({1, 32, 96, 96}, 3, 1e-5);
    const tensor<float> A = camkit_test::cast<float>(camkit_test::random_tensor({1, 32, 96, 96}, 45, 0, 2));
    const tensor<float> G = camkit_test::cast<float>(camkit_test::random_tensor({1, 32, 96, 96}, 46));
    const auto Acl = channels_last_copy<float>(A), Gcl = channels_last_copy<float>(G);
    const auto one = camkit::explain<camkit::xgrad_cam>(Acl.view, Gcl.view, {.threads = 1});
    const auto three = camkit::explain<camkit::xgrad_cam>(Acl.view, Gcl.view, {.threads = 3});
    EXPECT_LE(relative_error(three.weights->values, one.weights->values, 1), 1e-6);
    EXPECT_EQ(camkit::detail::split_positions(1, 96 * 96, 3).ranges, 2u);  // 9216 positions: two ranges of ≥ 4096
    EXPECT_EQ(camkit::detail::split_positions(4, 96 * 96, 2).ranges, 1u);  // samples enough for the threads
    EXPECT_EQ(camkit::detail::split_positions(1, 4095, 8).ranges, 1u);
}

TEST(PositionMajor, CamWithHeadWeights) {
    const shape_t shape{2, 48, 7, 7};
    const tensor<float> A = camkit_test::cast<float>(camkit_test::random_tensor(shape, 47, 0, 2));
    const tensor<float> W = camkit_test::cast<float>(camkit_test::random_tensor({5, 48}, 48));
    const auto Acl = channels_last_copy<float>(A);
    const std::vector<std::size_t> classes{3, 1};
    const auto cl = camkit::cam(Acl.view, W, classes), dense = camkit::cam(A, W, classes);
    EXPECT_LE(relative_error(cl.raw.values, dense.raw.values, 2), 2e-6);
    EXPECT_EQ(cl.weights->values, dense.weights->values);  // the head's rows, as given
    // Hand-checked value: position (1, 2) of sample 1 is Σ_k W[1, k] · A[1, k, 1, 2].
    double want = 0;
    for (std::size_t k = 0; k < 48; ++k) want += double(W[48 + k]) * double(A[(48 + k) * 49 + 9]);
    EXPECT_NEAR(cl.raw[49 + 9], want, 1e-5 * std::abs(want) + 1e-6);
}

TEST(PositionMajor, ExplainManyEveryMethod) {
    // explain_many on channels-last memory: element-wise methods take the position-major kernel for
    // each target, channel-weight methods walk the rows of A and of each target's gradients for the
    // weights and make blocks of positions planes for W · A; Eigen-CAM sums blocks of rows' outer
    // products (42 positions of 32 channels).
    const shape_t shape{1, 32, 6, 7}, gshape{4, 32, 6, 7};
    const tensor<float> A = camkit_test::cast<float>(camkit_test::random_tensor(shape, 49, 0, 2));
    const tensor<float> G = camkit_test::cast<float>(camkit_test::random_tensor(gshape, 50));
    const auto Acl = channels_last_copy<float>(A), Gcl = channels_last_copy<float>(G);
    for (int threads : {1, 3}) {
        camkit::for_each_method([&](auto t) {
            using M = typename decltype(t)::type;
            const camkit::options opt{.threads = threads};
            const auto cl = camkit::explain_many<M>(Acl.view, Gcl.view, opt), dense = camkit::explain_many<M>(A, G, opt);
            EXPECT_LE(relative_error(cl.raw.values, dense.raw.values, 4), 2e-6) << M::name << " threads " << threads;
            ASSERT_EQ(cl.weights.has_value(), dense.weights.has_value()) << M::name;
            if (dense.weights) {
                EXPECT_LE(relative_error(cl.weights->values, dense.weights->values, 4), 2e-6) << M::name;
            }
        });
    }
}

TEST(PositionMajor, ExplainManyWeightsAreExplainsWeights) {
    // Each target's weights are explain's on its gradients to the bit: the same walks over the same
    // ranges of positions (Σ a summed once, as explain's first walk sums it), on one thread and with
    // 9216 positions split over two; with more threads than ranges the targets go side by side, each
    // as explain on one thread.
    const shape_t shape{1, 24, 96, 96}, gshape{3, 24, 96, 96};
    const tensor<float> A = camkit_test::cast<float>(camkit_test::random_tensor(shape, 55, 0, 2));
    const tensor<float> G = camkit_test::cast<float>(camkit_test::random_tensor(gshape, 56));
    const auto Acl = channels_last_copy<float>(A), Gcl = channels_last_copy<float>(G);
    const std::size_t K = 24, S = 96 * 96;
    for (camkit::isa i : camkit_test::supported_isas()) {
        camkit_test::isa_scope scope(i);
        for (int threads : {1, 2, 4}) {
            const int each = threads == 4 ? 1 : threads;  // four threads, two ranges: targets side by side
            camkit::for_each_method([&](auto t) {
                using M = typename decltype(t)::type;
                if constexpr (M::form == camkit::method_form::channel_weights) {
                    const std::string where = std::string(M::name) + " threads " + std::to_string(threads) + " " +
                                              std::string(camkit::isa_name(i));
                    const auto many = camkit::explain_many<M>(Acl.view, Gcl.view, {.threads = threads});
                    for (std::size_t target = 0; target < 3; ++target) {
                        const auto g = camkit::detail::target_slice(Gcl.view, target);
                        const auto one = camkit::explain<M>(Acl.view, g, {.threads = each});
                        const std::vector<float> w(many.weights->values.begin() + target * K,
                                                   many.weights->values.begin() + (target + 1) * K);
                        EXPECT_EQ(w, one.weights->values) << where << " target " << target;
                    }
                    // The maps: the product of channels-last rows equals the contiguous planes' and explain_many's own.
                    std::vector<float> dense(3 * S), cl(3 * S);
                    const camkit::host_view<const float> Av{A.values.data(), A.shape, camkit::row_major_strides(A.shape)};
                    camkit::detail::loop_product{}(many.weights->values.data(), 3, K, Av, S, dense.data(), threads);
                    camkit::detail::loop_product{}(many.weights->values.data(), 3, K, Acl.view, S, cl.data(), threads);
                    EXPECT_EQ(cl, dense) << where;
                    EXPECT_EQ(cl, many.raw.values) << where;
                }
            });
        }
    }
}

TEST(PositionMajor, ExplainManyProductOfEveryBlockShape) {
    // W · A by blocks of positions (blocked_product: contiguous planes in place, channels-last rows
    // made planes) against loop_product's group loop over gathered planes (every other value of
    // wider rows), to the bit: channels that fill no whole group, positions that fill no whole block
    // or pack (the rest in tiles of one to four packs, the last overlapping the one before it, and
    // fewer positions than a pack one by one), many targets (tiles of up to eight), more planes than
    // 64 (in place within 4 MiB: 2048 of 7 × 7; beyond it the group loop), double.
    const auto check = [](auto zero, const shape_t& shape, std::size_t Tn, int threads) {
        using T = decltype(zero);
        const tensor<T> A = camkit_test::cast<T>(camkit_test::random_tensor(shape, 57, 0, 2));
        const tensor<T> W = camkit_test::cast<T>(camkit_test::random_tensor({Tn, shape[1]}, 58));
        const auto Acl = channels_last_copy<T>(A);
        const std::size_t K = shape[1], S = A.size() / K;
        ASSERT_TRUE((camkit::detail::reads_position_major<T, T>(Acl.view, nullptr)));
        const camkit::host_view<const T> Av{A.values.data(), A.shape, camkit::row_major_strides(A.shape)};
        std::vector<T> wide(2 * A.size());  // A's values at the even places
        for (std::size_t i = 0; i < A.size(); ++i) wide[2 * i] = A[i];
        std::vector<std::ptrdiff_t> strides = camkit::row_major_strides(A.shape);
        for (auto& x : strides) x *= 2;
        const camkit::host_view<const T> every_other{wide.data(), A.shape, strides};
        ASSERT_FALSE(every_other.contiguous_from(2));
        std::vector<T> dense(Tn * S), cl(Tn * S, T(7)), gathered(Tn * S);
        camkit::detail::loop_product{}(W.values.data(), Tn, K, Av, S, dense.data(), threads);
        camkit::detail::loop_product{}(W.values.data(), Tn, K, Acl.view, S, cl.data(), threads);
        camkit::detail::loop_product{}(W.values.data(), Tn, K, every_other, S, gathered.data(), threads);
        const std::string where =
            camkit::to_string(shape) + " targets " + std::to_string(Tn) + " threads " + std::to_string(threads);
        EXPECT_EQ(dense, gathered) << where;
        EXPECT_EQ(cl, gathered) << where;
        // Hand-checked value: target Tn − 1 at position S − 1.
        double want = 0;
        for (std::size_t k = 0; k < K; ++k) want += double(W[(Tn - 1) * K + k]) * double(A[k * S + S - 1]);
        EXPECT_NEAR(cl[Tn * S - 1], want, 1e-5 * std::abs(want) + 1e-5);
    };
    for (camkit::isa i : camkit_test::supported_isas()) {
        camkit_test::isa_scope scope(i);
        check(0.f, {1, 19, 37, 29}, 5, 1);    // 19 channels: 4 groups and 3 more; 1073 positions
        check(0.f, {1, 64, 128, 40}, 21, 2);  // 5120 positions: blocks of 128 over two threads
        check(0.f, {1, 2048, 7, 7}, 3, 1);    // 49 positions of 2048 channels: one block of 64, in place
        check(0.f, {1, 96, 7, 7}, 37, 1);     // 37 targets: tiles of eight and five more
        check(0.f, {1, 80, 14, 14}, 19, 2);   // 196 positions, two blocks of 128 in place over two threads
        check(0.f, {1, 65, 128, 130}, 3, 1);  // 65 planes of 65 KiB (over 4 MiB): the group loop
        check(0.f, {1, 16, 2, 3}, 11, 1);     // 6 positions: fewer than a pack of floats
        check(0.f, {1, 24, 1, 250}, 9, 1);    // 122 positions after a block: four packs, then the last
        check(0.0, {1, 70, 5, 5}, 13, 1);     // 25 positions of doubles
        check(0.0, {1, 40, 9, 11}, 2, 3);
    }
    // The path of the contiguous shapes above: in place up to 64 planes or within 4 MiB.
    const auto in_place = [](const shape_t& shape) {
        const std::vector<float> v(camkit::element_count(shape));
        return camkit::detail::blocked_product_in_place<float>(
            camkit::host_view<const float>{v.data(), shape, camkit::row_major_strides(shape)});
    };
    EXPECT_TRUE(in_place({1, 64, 128, 40}));
    EXPECT_TRUE(in_place({1, 2048, 7, 7}));
    EXPECT_TRUE(in_place({1, 80, 14, 14}));
    EXPECT_FALSE(in_place({1, 65, 128, 130}));
}

TEST(PositionMajor, NonFiniteInputsNameThePlaneOfContiguousMemory) {
    // NaN or Inf at a place: the error of channels-last memory is the contiguous memory's, for every
    // method, on one thread and on four (channel blocks of contiguous memory; ranges of positions).
    const shape_t shape{2, 24, 96, 96};
    const tensor<float> A0 = camkit_test::cast<float>(camkit_test::random_tensor(shape, 51, 0, 2));
    const tensor<float> G0 = camkit_test::cast<float>(camkit_test::random_tensor(shape, 52));
    const std::size_t K = shape[1], S = 96 * 96;
    auto at = [&](std::size_t n, std::size_t k, std::size_t s) { return (n * K + k) * S + s; };
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::vector<std::vector<poison>> cases = {
        {{true, 1, 5, 9000, nan}},                           // activations, in the second range
        {{false, 0, 20, 7, -inf}},                           // gradients
        {{true, 0, 9, 100, inf}, {false, 0, 4, 4800, nan}},  // gradients of an earlier channel first
        {{false, 1, 2, 3, nan}, {true, 0, 23, 9215, nan}},   // an earlier sample first
    };
    expect_errors_of_contiguous_memory(A0, G0, cases, [](auto t, const auto& A, const auto& G, const camkit::options& opt) {
        (void)camkit::explain<typename decltype(t)::type>(A, G, opt);
    });
    // Finite inputs whose products overflow float: the map's error, as for contiguous memory.
    tensor<float> A = A0, G = G0;
    for (std::size_t s = 0; s < S; ++s) A[at(0, 3, s)] = 3e38f, G[at(0, 3, s)] = 3e38f;
    const auto Acl = channels_last_copy<float>(A), Gcl = channels_last_copy<float>(G);
    const std::string want = error_message([&] { (void)camkit::explain<camkit::hires_cam>(A, G); });
    EXPECT_NE(want.find("is NaN or Inf although its activations and gradients are finite"), std::string::npos) << want;
    EXPECT_EQ(error_message([&] { (void)camkit::explain<camkit::hires_cam>(Acl.view, Gcl.view); }), want);
}

TEST(PositionMajor, ExplainManyNonFiniteInputsNameThePlaneOfContiguousMemory) {
    // NaN or Inf in the activations or in a target's gradients: explain_many's error on channels-last
    // memory is the contiguous memory's (the target named by its index), for every method, on one
    // thread and on four (targets side by side; positions split into ranges).
    const tensor<float> A0 = camkit_test::cast<float>(camkit_test::random_tensor({1, 24, 96, 96}, 59, 0, 2));
    const tensor<float> G0 = camkit_test::cast<float>(camkit_test::random_tensor({3, 24, 96, 96}, 60));
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::vector<std::vector<poison>> cases = {
        {{true, 0, 5, 9000, nan}},                           // activations, in the second range
        {{false, 2, 20, 7, -inf}},                           // the last target's gradients
        {{true, 0, 9, 100, inf}, {false, 0, 4, 4800, nan}},  // target 0's gradients of an earlier channel first
        {{false, 1, 2, 3, nan}, {true, 0, 23, 9215, nan}},   // activations before a later target's gradients
    };
    expect_errors_of_contiguous_memory(A0, G0, cases, [](auto t, const auto& A, const auto& G, const camkit::options& opt) {
        (void)camkit::explain_many<typename decltype(t)::type>(A, G, opt);
    });
}
