// Spatial tiling of the host kernels (kernels.hpp: tile_positions, for_tiles): when a group's planes
// and the output plane outgrow L2, the kernels add every channel of a chunk into one output tile
// at a time. Hand-computed maps across tile remainders, tiled against whole planes to the bit in
// every instruction set and thread count, non-finite values in the last tile, gathered input
// (strided views) and explain_many.
#include <camkit/camkit.hpp>
#include <camkit/explain_many.hpp>
#include <gtest/gtest.h>

#include "common/error_message.hpp"
#include "common/kernel_scopes.hpp"
#include "common/reference_cam.hpp"

#include <limits>
#include <string>
#include <vector>

namespace {

using camkit::shape_t;
using camkit::tensor;
using camkit_test::tiling_scope;

const camkit::options raw_only{.relu = false, .normalize = camkit::normalization::none, .threads = 1};

/// Calls f(type tag) for every method with a fused kernel that tiles (channel weights, element-wise).
template <class F>
void for_each_tiled_method(F&& f) {
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        if constexpr (M::form != camkit::method_form::projection) f(t);
    });
}

}  // namespace

TEST(Tiling, WholePlanesUntilAGroupOutgrowsL2) {
    using camkit::detail::tile_positions;
    const std::size_t l2 = camkit::detail::l2_cache_bytes();
    // Whole planes while the output plane and a group's planes of A and G (9 planes) fit in L2.
    const std::size_t fits = l2 / (9 * sizeof(float));
    EXPECT_EQ(tile_positions<float>(fits), 0u);
    EXPECT_EQ(tile_positions<float>(1), 0u);
    const std::size_t tile = tile_positions<float>(fits + 1);
    EXPECT_GT(tile, 0u);
    EXPECT_EQ(tile % camkit::detail::tile_quantum, 0u);
    EXPECT_LE(tile * sizeof(float), l2 / 16) << "a tile is a sixteenth of L2";
    // Doubles take twice the bytes: they tile from half the positions.
    EXPECT_GT(tile_positions<double>(fits / 2 + 1), 0u);
    EXPECT_EQ(tile_positions<double>(fits / 2), 0u);
    {
        tiling_scope forced(128);
        EXPECT_EQ(tile_positions<float>(1), 128u);
        EXPECT_EQ(tile_positions<float>(fits + 1), 128u);
    }
    {
        tiling_scope whole(0);
        EXPECT_EQ(tile_positions<float>(fits + 1), 0u);
    }
    EXPECT_EQ(tile_positions<float>(fits + 1), tile) << "the scopes restore the automatic choice";
    EXPECT_EQ(camkit_test::error_message([] { camkit::detail::set_tiling(100); }),
              "camkit: set_tiling: positions 100 is not a multiple of 64");
}

TEST(Tiling, HandComputedMapsAcrossTileRemainders) {
    // A[n,k,s] = s mod 7 + k + n, G[n,k,s] = c(n,k) = (k + 1)(n + 1), negative for k = 2 and 5. Grad-CAM's
    // weight is c, so Grad-CAM and HiResCAM give Σ_k c·a and LayerCAM Σ_k relu(c)·a; element-wise
    // Grad-CAM Σ_k relu(c·a). All small integers: exact in float whatever the order. 6 channels (a
    // group and a partial group), 407 positions: six tiles of 64 and one of 23 (AVX-512 runs its own
    // packs from 384 positions, simd.hpp's dispatch_plane).
    const std::size_t N = 2, K = 6, S = 407;
    auto c = [](std::size_t n, std::size_t k) {
        return static_cast<float>((k + 1) * (n + 1)) * (k == 2 || k == 5 ? -1.f : 1.f);
    };
    auto a = [](std::size_t n, std::size_t k, std::size_t s) { return static_cast<float>(s % 7 + k + n); };
    tensor<float> A(shape_t{N, K, 11, 37}), G(A.shape);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
            for (std::size_t s = 0; s < S; ++s) {
                A.values[(n * K + k) * S + s] = a(n, k, s);
                G.values[(n * K + k) * S + s] = c(n, k);
            }
    std::vector<float> weighted(N * S, 0.f), relu_weight(N * S, 0.f), relu_product(N * S, 0.f);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t s = 0; s < S; ++s)
            for (std::size_t k = 0; k < K; ++k) {
                weighted[n * S + s] += c(n, k) * a(n, k, s);
                relu_weight[n * S + s] += std::max(c(n, k), 0.f) * a(n, k, s);
                relu_product[n * S + s] += std::max(c(n, k) * a(n, k, s), 0.f);
            }
    tiling_scope tiles(64);
    for (camkit::isa i : camkit_test::supported_isas()) {
        camkit_test::isa_scope scope(i);
        for (int threads : {1, 2, 3}) {
            camkit::options opt = raw_only;
            opt.threads = threads;
            const std::string where = std::string(camkit::isa_name(i)) + " t" + std::to_string(threads);
            const auto gc = camkit::explain<camkit::grad_cam>(A, G, opt);
            for (std::size_t n = 0; n < N; ++n)
                for (std::size_t k = 0; k < K; ++k) EXPECT_EQ((*gc.weights)(n, k), c(n, k)) << where;
            EXPECT_EQ(gc.raw.values, weighted) << where;
            EXPECT_EQ(camkit::explain<camkit::hires_cam>(A, G, opt).raw.values, weighted) << where;
            EXPECT_EQ(camkit::explain<camkit::layer_cam>(A, G, opt).raw.values, relu_weight) << where;
            EXPECT_EQ(camkit::explain<camkit::grad_cam_elementwise>(A, G, opt).raw.values, relu_product) << where;
        }
    }
}

TEST(Tiling, TiledMapsEqualWholePlanesInEveryIsaAndThreadCount) {
    // Tiles are multiples of every pack width, so each position goes through the same packs and
    // additions in the same order as over whole planes: equal to the bit, weights included.
    // 405 positions (6 tiles of 64 and 21; AVX-512 runs its own packs from 384), 7 channels, 2 samples;
    // 1–5 threads split channels.
    using namespace camkit_test;
    const auto A = random_tensor({2, 7, 5, 9, 9}, 31, 0, 2), G = random_tensor({2, 7, 5, 9, 9}, 32);
    const auto Af = cast<float>(A), Gf = cast<float>(G);
    for_each_tiled_method([&](auto t) {
        using M = typename decltype(t)::type;
        const auto want = reference_raw(M::name, A, G);
        for (camkit::isa i : supported_isas()) {
            isa_scope scope(i);
            for (int threads = 1; threads <= 5; ++threads) {
                camkit::options opt = raw_only;
                opt.threads = threads;
                const std::string where =
                    std::string(M::name) + " " + std::string(camkit::isa_name(i)) + " t" + std::to_string(threads);
                auto run = [&](std::size_t tile) {
                    tiling_scope tiles(tile);
                    return std::pair{camkit::explain<M>(Af, Gf, opt), camkit::explain<M>(A, G, opt)};
                };
                const auto [whole_f, whole_d] = run(0);
                const auto [tiled_f, tiled_d] = run(64);
                EXPECT_EQ(tiled_f.raw.values, whole_f.raw.values) << where;
                EXPECT_EQ(tiled_d.raw.values, whole_d.raw.values) << where;
                EXPECT_EQ(tiled_f.weights.has_value(), whole_f.weights.has_value()) << where;
                if (tiled_f.weights) {
                    EXPECT_EQ(tiled_f.weights->values, whole_f.weights->values) << where;
                }
                EXPECT_LT(max_relative_error(tiled_d.raw, want), 1e-12) << where;
                EXPECT_LT(max_relative_error(tiled_f.raw, want), 2e-5) << where;
            }
        }
    });
}

TEST(Tiling, NonFiniteInTheLastTileIsNamed) {
    // 407 positions in tiles of 64: position 406 is the last tile's last value, 250 a middle tile's.
    // Channel 5 of sample 1 (a partial group); 1 and 3 threads (channel blocks of the sample).
    using namespace camkit_test;
    const shape_t shape{2, 6, 407};
    const auto A = cast<float>(random_tensor(shape, 33, 0, 2)), G = cast<float>(random_tensor(shape, 34));
    tiling_scope tiles(64);
    for_each_tiled_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()})
            for (std::size_t s : {std::size_t{250}, std::size_t{406}})
                for (bool in_gradients : {false, true})
                    for (int threads : {1, 3}) {
                        auto a = A, g = G;
                        (in_gradients ? g : a).values[(1 * 6 + 5) * 407 + s] = bad;
                        const std::string want = std::string("camkit: ") + (in_gradients ? "gradients" : "activations") +
                                                 " contain NaN or Inf (sample 1, channel 5)";
                        EXPECT_EQ(error_message([&] { (void)camkit::explain<M>(a, g, {.threads = threads}); }), want)
                            << M::name << " value " << bad << " at " << s << " t" << threads;
                    }
    });
}

TEST(Tiling, StridedInputGathersWholePlanesAndEqualsTiledContiguous) {
    // A strided view's planes are gathered (plane_reader), so its chunks walk whole planes; a
    // contiguous copy walks tiles. Both add the same numbers in the same order.
    const shape_t logical{2, 5, 9, 47};  // stored as [2, 5, 47, 9]: the view swaps the last two axes
    const auto Ac = camkit_test::cast<float>(camkit_test::random_tensor(logical, 35, 0, 2));
    const auto Gc = camkit_test::cast<float>(camkit_test::random_tensor(logical, 36));
    tensor<float> storage(shape_t{2, 5, 47, 9}), gstorage(storage.shape);
    for (std::size_t i = 0; i < Ac.size(); ++i) {  // i = ((n·5 + k)·9 + h)·47 + w
        const std::size_t w = i % 47, h = i / 47 % 9, plane = i / 423;
        storage.values[plane * 423 + w * 9 + h] = Ac.values[i];
        gstorage.values[plane * 423 + w * 9 + h] = Gc.values[i];
    }
    const camkit::host_view<const float> A{storage.data(), logical, {2115, 423, 1, 9}};
    const camkit::host_view<const float> G{gstorage.data(), logical, {2115, 423, 1, 9}};
    tiling_scope tiles(64);
    for_each_tiled_method([&](auto t) {
        using M = typename decltype(t)::type;
        for (int threads : {1, 2}) {
            camkit::options opt = raw_only;
            opt.threads = threads;
            EXPECT_EQ(camkit::explain<M>(A, G, opt).raw.values, camkit::explain<M>(Ac, Gc, opt).raw.values)
                << M::name << " t" << threads;
        }
    });
}

TEST(Tiling, ExplainManyEqualsTiledExplainPerTarget) {
    // Element-wise methods run the tiled kernel per target; channel-weight methods the weights per
    // target, then W·A over whole planes: both equal one explain per target to the bit.
    using namespace camkit_test;
    const auto A = cast<float>(random_tensor({1, 6, 3, 140}, 37, 0, 2));
    const auto G = cast<float>(random_tensor({4, 6, 3, 140}, 38));
    tiling_scope tiles(64);
    for_each_tiled_method([&](auto t) {
        using M = typename decltype(t)::type;
        const auto many = camkit::explain_many<M>(A, G, raw_only);
        for (std::size_t c = 0; c < 4; ++c) {
            tensor<float> g({1, 6, 3, 140});
            std::copy_n(G.values.begin() + static_cast<std::ptrdiff_t>(c * g.size()), g.size(), g.values.begin());
            const auto one = camkit::explain<M>(A, g, raw_only).raw;
            const std::vector<float> row(many.raw.values.begin() + static_cast<std::ptrdiff_t>(c * one.size()),
                                         many.raw.values.begin() + static_cast<std::ptrdiff_t>((c + 1) * one.size()));
            EXPECT_EQ(row, one.values) << M::name << " target " << c;
        }
    });
}

TEST(Tiling, PlanesLargerThanL2TakeTilesByThemselves) {
    // 48³ planes (432 KiB of float): 9 of them exceed a 2 MiB L2, so the automatic choice tiles
    // where L2 is that size or smaller; the maps equal whole planes' to the bit either way.
    using namespace camkit_test;
    const shape_t shape{1, 5, 48, 48, 48};
    const std::size_t S = 48 * 48 * 48;
    if (9 * S * sizeof(float) > camkit::detail::l2_cache_bytes()) {
        EXPECT_GT(camkit::detail::tile_positions<float>(S), 0u);
    }
    const auto A = cast<float>(random_tensor(shape, 39, 0, 2)), G = cast<float>(random_tensor(shape, 40));
    for (const char* name : {"gradcam", "hirescam", "xgradcam"})
        camkit::with_method(name, [&](auto t) {
            using M = typename decltype(t)::type;
            const auto automatic = camkit::explain<M>(A, G, raw_only);
            tiling_scope whole(0);
            EXPECT_EQ(automatic.raw.values, camkit::explain<M>(A, G, raw_only).raw.values) << M::name;
        });
}
