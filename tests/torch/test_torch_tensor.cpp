// The torch binding (adapters/torch/include/camkit/torch/tensor.hpp) and the torch seeds: on the
// same A and G every method gives the same maps through the host kernels on a CPU tensor, the
// torch-ops path, camkit::tensor and xtensor; seeds built with torch ops equal the host seeds.
#include <camkit/methods/registry.hpp>
#include <camkit/position_major.hpp>
#include <camkit/targets.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/tensor.hpp>
#include <camkit/xtensor/xtensor.hpp>
#include <xtensor/xadapt.hpp>

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include "common/error_message.hpp"
#include "torch/torch_testing.hpp"

namespace ct = camkit::torch;
using camkit_test::close;
using camkit_test::random_tensor;
using camkit_test::from_camkit;
using camkit_test::to_camkit;

namespace {

template <class X>
at::Tensor from_xarray(const X& x) {
    using T = typename X::value_type;
    std::vector<T> v(x.begin(), x.end());
    std::vector<std::int64_t> sizes(x.shape().begin(), x.shape().end());
    return at::tensor(at::ArrayRef<T>(v), at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value)).reshape(sizes);
}

struct pipeline_case {
    const char* name;
    camkit::options opt;
};

std::vector<pipeline_case> pipelines(std::size_t spatial_rank) {
    camkit::options plain;
    camkit::options raw;
    raw.relu = false;
    raw.normalize = camkit::normalization::none;
    camkit::options by_max;
    by_max.normalize = camkit::normalization::max;
    camkit::options resized;
    resized.size = camkit::shape_t(spatial_rank, 7);
    resized.renormalize = true;
    camkit::options renormalize_only = raw;  // step 4 follows a resize only
    renormalize_only.renormalize = true;
    return {{"default", plain}, {"raw", raw}, {"max", by_max}, {"resized+renormalized", resized},
            {"renormalize without resize", renormalize_only}};
}

}  // namespace

// Every registered method, 1-D, 2-D and 3-D, projection on both sides of the Gram choice (S ≤ K
// and S > K), float and double, every pipeline variant: host kernels on the torch tensor's own
// memory, the torch-ops path, camkit::tensor and xtensor give the same raw map, weights and map.
TEST(TorchTensor, EveryMethodAgreesWithHostBackends) {
    const std::vector<std::vector<std::int64_t>> shapes = {{2, 6, 9}, {2, 3, 4, 5}, {2, 8, 2, 2}, {1, 3, 3, 4, 2}};
    int checked = 0;
    for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
        for (const auto& shape : shapes) {
            const at::Tensor A = random_tensor(shape, dtype, 1 + shape.size()).abs();  // activations after a ReLU
            const at::Tensor G = random_tensor(shape, dtype, 100 + shape.size());
            for (const auto& p : pipelines(shape.size() - 2)) {
                camkit::for_each_method([&](auto type) {
                    using M = typename decltype(type)::type;
                    SCOPED_TRACE(std::string(M::name) + " " + p.name + " dtype " + c10::toString(dtype) + " rank " +
                                 std::to_string(shape.size()));
                    const auto fused = camkit::explain<M>(A, G, p.opt);  // CPU tensor: the host kernels
                    const auto ops = ct::explain_with_ops<M>(A, G, p.opt);
                    EXPECT_EQ(fused.map.scalar_type(), dtype);
                    EXPECT_EQ(ops.map.scalar_type(), dtype);
                    const double tol = dtype == at::kFloat ? 2e-5 : 1e-10;
                    if (dtype == at::kFloat) {
                        const auto host = camkit::explain<M>(to_camkit<float>(A), to_camkit<float>(G), p.opt);
                        EXPECT_TRUE(close(fused.raw, from_camkit(host.raw), 0));
                        EXPECT_TRUE(close(fused.map, from_camkit(host.map), 0));
                        const auto xa = xt::xarray<float>(xt::adapt(A.contiguous().data_ptr<float>(),
                                                                    static_cast<std::size_t>(A.numel()),
                                                                    xt::no_ownership(), ct::shape_of(A)));
                        const auto xg = xt::xarray<float>(xt::adapt(G.contiguous().data_ptr<float>(),
                                                                    static_cast<std::size_t>(G.numel()),
                                                                    xt::no_ownership(), ct::shape_of(G)));
                        const auto viax = camkit::explain<M>(xa, xg, p.opt);
                        EXPECT_TRUE(close(from_xarray(viax.map), fused.map, 0));
                    }
                    EXPECT_TRUE(close(ops.raw, fused.raw, M::form == camkit::method_form::projection ? 1e-4 : tol));
                    EXPECT_TRUE(close(ops.map, fused.map, M::form == camkit::method_form::projection ? 1e-4 : tol));
                    ASSERT_EQ(ops.weights.has_value(), fused.weights.has_value());
                    if (ops.weights) {
                        EXPECT_TRUE(close(*ops.weights, *fused.weights, tol));
                    }
                    ++checked;
                });
            }
        }
    }
    EXPECT_EQ(checked, 2 * 4 * 5 * 9);
}

// Eigen-CAM at two positions: every centred channel is (c, −c), so max = |min| (a tie the sign rule
// cannot break) and the map is ±(‖c‖, −‖c‖); the torch ops and the host kernels both keep the
// eigenvector's own sign, positive at the first position, whichever position is the larger (each
// second sample is the first with its positions swapped), in float and double, with values that
// centre exactly and with values whose centring rounds in float (1.1, 0.3, ...).
TEST(TorchTensor, EigenCamTieKeepsTheEigenvectorsSign) {
    camkit::options raw;
    raw.relu = false;
    raw.normalize = camkit::normalization::none;
    for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
        for (const std::vector<double>& values : {std::vector<double>{3, 1, 0, 4, 2, 2, 1, 3, 4, 0, 2, 2},
                                                  std::vector<double>{1.1, 0.3, 0.7, 2.9, 0.2, 0.2, 0.3, 1.1, 2.9, 0.7, 0.2, 0.2}}) {
            const at::Tensor A = at::tensor(values, at::dtype(dtype)).reshape({2, 3, 1, 2});
            const at::Tensor x = A.to(at::kDouble).reshape({2, 3, 2});
            const double norm = ((x.select(2, 0) - x.select(2, 1)) / 2).pow(2).sum(1).sqrt()[0].item<double>();  // ‖c‖
            const at::Tensor want = at::tensor({1., -1., 1., -1.}, at::dtype(at::kDouble)).reshape({2, 1, 2}) * norm;
            for (const auto& e : {ct::explain_with_ops<camkit::eigen_cam>(A, A, raw), camkit::explain<camkit::eigen_cam>(A, A, raw)})
                EXPECT_TRUE(close(e.raw, want, dtype == at::kFloat ? 1e-6 : 1e-12)) << c10::toString(dtype) << " " << values[0] << "\n"
                                                                                   << e.raw;
        }
    }
}

// The fused path reads strided (non-contiguous) CPU tensors in place and agrees with a dense copy.
TEST(TorchTensor, StridedInputNeedsNoCopy) {
    const at::Tensor base = random_tensor({4, 3, 5, 6}, at::kFloat, 3);
    const at::Tensor A = base.transpose(2, 3).abs();  // [4, 3, 6, 5], non-contiguous
    const at::Tensor G = random_tensor({4, 3, 6, 5}, at::kFloat, 4).transpose(0, 0).narrow(0, 0, 4);
    ASSERT_FALSE(A.is_contiguous());
    const auto a = camkit::explain<camkit::hires_cam>(A, G);
    const auto b = camkit::explain<camkit::hires_cam>(A.contiguous(), G.contiguous());
    EXPECT_TRUE(close(a.map, b.map, 0));
    const auto view = ct::host_view_of<float>(A, "activations");
    EXPECT_EQ(view.data, A.data_ptr<float>());
    EXPECT_EQ(view.strides, (std::vector<std::ptrdiff_t>{90, 30, 1, 6}));
}

// CPU tensors in PyTorch's channels_last format are read in place, position by position
// (position_major.hpp), and every method agrees with the contiguous tensors to float rounding.
TEST(TorchTensor, ChannelsLastIsReadInPlace) {
    const at::Tensor A = random_tensor({2, 32, 9, 11}, at::kFloat, 21).abs().contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor G = random_tensor({2, 32, 9, 11}, at::kFloat, 22).contiguous(at::MemoryFormat::ChannelsLast);
    ASSERT_FALSE(A.is_contiguous());
    const auto view = ct::host_view_of<float>(A, "activations");
    EXPECT_EQ(view.data, A.data_ptr<float>());
    EXPECT_EQ(view.strides, camkit::channels_last_strides(view.shape));
    const auto gview = ct::host_view_of<float>(G, "gradients");
    EXPECT_TRUE((camkit::detail::reads_position_major<float>(view, &gview)));
    camkit::for_each_method([&](auto t) {
        using M = typename decltype(t)::type;
        const auto a = camkit::explain<M>(A, G), b = camkit::explain<M>(A.contiguous(), G.contiguous());
        EXPECT_TRUE(close(a.raw, b.raw, 1e-5)) << M::name;
        EXPECT_TRUE(close(a.map, b.map, 1e-4)) << M::name;
    });
}

// Grad-CAM by hand on a 1×2×2×2 case: w = mean G per channel, raw = Σ_k w_k A_k, then min-max.
TEST(TorchTensor, GradCamByHand) {
    const at::Tensor A = at::tensor({1.f, 2.f, 3.f, 4.f, 4.f, 3.f, 2.f, 1.f}).reshape({1, 2, 2, 2});
    const at::Tensor G = at::tensor({1.f, 1.f, 1.f, 1.f, 0.f, 0.f, 0.f, 2.f}).reshape({1, 2, 2, 2});
    // w = [1, 0.5]; raw = [1+2, 2+1.5, 3+1, 4+0.5] = [3, 3.5, 4, 4.5]; min-max → [0, 1/3, 2/3, 1].
    for (const auto& e : {ct::explain_with_ops<camkit::grad_cam>(A, G), camkit::explain<camkit::grad_cam>(A, G)}) {
        EXPECT_TRUE(close(*e.weights, at::tensor({1.f, 0.5f}).reshape({1, 2}), 1e-7));
        EXPECT_TRUE(close(e.raw, at::tensor({3.f, 3.5f, 4.f, 4.5f}).reshape({1, 2, 2}), 1e-7));
        EXPECT_TRUE(close(e.map, at::tensor({0.f, 1.f / 3, 2.f / 3, 1.f}).reshape({1, 2, 2}), 1e-6));
    }
}

// Half and bfloat16 run the torch-ops path, accumulate in float and return their own dtype.
TEST(TorchTensor, HalfAndBfloat16AccumulateInFloat) {
    const at::Tensor A = random_tensor({2, 16, 6, 6}, at::kFloat, 11).abs();
    const at::Tensor G = random_tensor({2, 16, 6, 6}, at::kFloat, 12);
    for (at::ScalarType t : {at::kHalf, at::kBFloat16}) {
        const at::Tensor a = A.to(t), g = G.to(t);
        camkit::for_each_method([&](auto type) {
            using M = typename decltype(type)::type;
            SCOPED_TRACE(std::string(M::name) + " " + c10::toString(t));
            const auto e = camkit::explain<M>(a, g);
            EXPECT_EQ(e.map.scalar_type(), t);
            EXPECT_EQ(e.raw.scalar_type(), t);
            // Reference: the same rounded inputs in float through the host kernels.
            const auto ref = camkit::explain<M>(a.to(at::kFloat), g.to(at::kFloat));
            EXPECT_TRUE(close(e.map, ref.map, t == at::kHalf ? 2e-3 : 1e-2));
        });
    }
}

// The shape checks give the host path's messages; device and dtype disagreements are named.
TEST(TorchTensor, ErrorsNameTheArgument) {
    const at::Tensor A = at::ones({2, 3, 4, 4});
    const auto message = [](auto&& f) { return camkit_test::error_message(f); };
    const std::string host_rank = message([] {
        camkit::explain<camkit::grad_cam>(camkit::tensor<float>({2, 3}), camkit::tensor<float>({2, 3}));
    });
    EXPECT_EQ(message([] { camkit::explain<camkit::grad_cam>(at::ones({2, 3}), at::ones({2, 3})); }), host_rank);
    EXPECT_NE(host_rank.find("must be [N, K, L]"), std::string::npos);
    const std::string host_mismatch = message([] {
        camkit::explain<camkit::grad_cam>(camkit::tensor<float>({2, 3, 4, 4}), camkit::tensor<float>({2, 3, 4, 5}));
    });
    EXPECT_EQ(message([&] { camkit::explain<camkit::grad_cam>(A, at::ones({2, 3, 4, 5})); }), host_mismatch);
    EXPECT_EQ(message([&] { ct::explain_with_ops<camkit::grad_cam>(A, at::ones({2, 3, 4, 5})); }), host_mismatch);
    // On the host the core reads both through one front door, which names the odd one out.
    EXPECT_NE(message([&] { camkit::explain<camkit::grad_cam>(A, at::ones({2, 3, 4, 4}, at::kDouble)); })
                  .find("gradients has another element type than the call's first tensor argument"),
              std::string::npos);
    EXPECT_NE(message([&] { camkit::explain<camkit::grad_cam>(A.to(at::kLong), A.to(at::kLong)); })
                  .find("floating-point"),
              std::string::npos);
    camkit::options bad_size;
    bad_size.size = {8};
    EXPECT_NE(message([&] { camkit::explain<camkit::grad_cam>(A, A, bad_size); }).find("options.size [8]"),
              std::string::npos);
    EXPECT_NE(message([&] { camkit::explain<camkit::grad_cam>(at::Tensor(), A); }).find("undefined"),
              std::string::npos);
    EXPECT_NE(message([&] { camkit::explain<camkit::grad_cam>(at::ones({2, 0, 4, 4}), at::ones({2, 0, 4, 4})); })
                  .find("empty axis"),
              std::string::npos);
    EXPECT_THROW(ct::resize(at::ones({2, 4, 4}), {0, 3}), camkit::error);
    EXPECT_THROW(ct::resize(at::ones({2, 4, 4}), {3}), camkit::error);
    EXPECT_THROW(ct::host_view_of<double>(A, "activations"), camkit::error);
}

// Every argument check of the torch ops (explain_with_ops, normalize, resize, cam, host_view_of)
// names the argument and what it expected; a meta tensor stands in for another device.
TEST(TorchTensor, OpsArgumentErrors) {
    const at::Tensor A = at::ones({2, 3, 4, 4});
    const auto message = [](auto&& f) { return camkit_test::error_message(f); };
    const auto has = [](const std::string& m, const std::string& part) {
        return m.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                                 : ::testing::AssertionFailure() << "message: " << m;
    };
    using M = camkit::grad_cam;
    EXPECT_TRUE(has(message([&] { ct::explain_with_ops<M>(at::Tensor(), A); }), "activations is an undefined tensor"));
    EXPECT_TRUE(has(message([&] { ct::explain_with_ops<M>(A, at::Tensor()); }), "gradients is an undefined tensor"));
    EXPECT_TRUE(has(message([&] { ct::explain_with_ops<M>(A.to(at::kInt), A.to(at::kInt)); }),
                    "activations must be a floating-point tensor, got dtype Int"));
    EXPECT_TRUE(has(message([&] { ct::explain_with_ops<M>(A, A.to(at::kDouble)); }),
                    "gradients dtype Double must equal activations dtype Float"));
    const at::Tensor meta = at::empty({2, 3, 4, 4}, at::device(at::kMeta));
    EXPECT_TRUE(has(message([&] { ct::explain_with_ops<M>(A, meta); }), "gradients are on device meta but activations on cpu"));
    EXPECT_TRUE(has(message([&] { ct::explain_with_ops<M>(A.to_sparse(), A.to_sparse()); }),
                    "activations and gradients must be dense tensors"));
    camkit::options bad_size;
    bad_size.size = {8};
    EXPECT_TRUE(has(message([&] { ct::explain_with_ops<M>(A, A, bad_size); }),
                    "options.size [8] must give one extent per spatial axis of activations [2, 3, 4, 4]"));
    EXPECT_TRUE(has(message([&] { ct::normalize(A, camkit::normalization::min_max, -1e-3); }), "normalize: eps must be ≥ 0"));
    EXPECT_TRUE(has(message([&] { ct::normalize(at::ones({}), camkit::normalization::max); }),
                    "normalize: maps need a batch axis"));
    EXPECT_TRUE(has(message([&] { ct::resize(at::ones({2}), {3}); }),
                    "resize: maps must be [N, *S] with 1 to 3 spatial axes, got shape [2]"));
    EXPECT_TRUE(has(message([&] { ct::resize(at::ones({2, 4, 4}), {3}); }),
                    "resize: size [3] must give one extent per spatial axis of maps [2, 4, 4]"));
    EXPECT_TRUE(has(message([&] { ct::resize(at::ones({2, 4, 4}), {0, 3}); }), "resize: size [0, 3] has a zero extent"));
    const at::Tensor W = at::ones({5, 3});
    const std::vector<std::size_t> two{1, 4};
    EXPECT_TRUE(has(message([&] { ct::cam(at::Tensor(), W, two); }), "activations and head_weights must be defined tensors"));
    EXPECT_TRUE(has(message([&] { ct::cam(A, at::ones({5, 2}), two); }),
                    "head_weights must be [C, K] with K = 3 channels, got shape [5, 2]"));
    EXPECT_TRUE(has(message([&] { ct::cam(A, W, std::vector<std::size_t>{1}); }),
                    "classes holds 1 entries but the batch has 2 samples"));
    EXPECT_TRUE(has(message([&] { ct::cam(A, W, std::vector<std::size_t>{1, 5}); }),
                    "classes[1] = 5 is out of range for 5 classes"));
    EXPECT_TRUE(has(message([&] { ct::cam(A.to(at::kLong), W, two); }), "activations must be a floating-point tensor"));
    EXPECT_TRUE(has(message([&] { ct::cam(A, W, two, bad_size); }),
                    "options.size [8] must give one extent per spatial axis of activations [2, 3, 4, 4]"));
    EXPECT_TRUE(has(message([&] { ct::host_view_of<float>(at::Tensor(), "maps"); }), "maps is an undefined tensor"));
    EXPECT_TRUE(has(message([&] { ct::host_view_of<float>(meta, "maps"); }),
                    "maps must be on the CPU for a host view, got device meta"));
    EXPECT_TRUE(has(message([&] { ct::host_view_of<double>(A, "maps"); }),
                    "maps has dtype Float, the host view expects Double"));
    EXPECT_TRUE(has(message([&] { ct::host_view_of<float>(A.to_sparse(), "maps"); }), "maps must be a dense (strided) tensor"));
}

// Resize and normalization with torch ops equal the host post-processing.
TEST(TorchTensor, PostProcessingMatchesHost) {
    for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{2, 5}, {2, 4, 6}, {1, 3, 4, 5}}) {
        const at::Tensor m = random_tensor(shape, at::kFloat, 21);
        camkit::shape_t size;
        for (std::size_t i = 1; i < shape.size(); ++i) size.push_back(static_cast<std::size_t>(shape[i] * 2 + 1));
        EXPECT_TRUE(close(ct::resize(m, size), from_camkit(camkit::resize(to_camkit<float>(m), size)), 1e-6));
        for (auto mode : {camkit::normalization::min_max, camkit::normalization::max, camkit::normalization::none}) {
            auto host = to_camkit<float>(m);
            camkit::normalize_inplace(host, mode);
            EXPECT_TRUE(close(ct::normalize(m, mode), from_camkit(host), 1e-6));
        }
    }
    // A constant map normalizes to zeros, never NaN.
    EXPECT_EQ(ct::normalize(at::full({1, 3, 3}, 2.f), camkit::normalization::min_max).abs().sum().item<float>(), 0.f);
}

// Seeds and scores computed with torch ops equal the host's, for every target kind, masks [*P]
// and [N, *P], sum and mean, empty masks, NaN outside the mask, and one-channel outputs.
TEST(TorchTensor, SeedsEqualHostSeeds) {
    const at::Tensor Y = random_tensor({2, 3, 4, 5}, at::kFloat, 31);
    const at::Tensor mask = (random_tensor({4, 5}, at::kFloat, 32) > 0).to(at::kFloat) * 0.5;
    const at::Tensor batch_mask = random_tensor({2, 4, 5}, at::kFloat, 33);
    const std::vector<camkit::target> targets = {camkit::mask_mean(2, to_camkit<float>(mask)),
                                                 camkit::mask_sum(1, to_camkit<float>(mask))};
    auto check = [](const at::Tensor& y, std::span<const camkit::target> t) {
        const auto dev = ct::seed_and_score(y, t);
        const auto host = camkit::seed_and_score(to_camkit<float>(y), t);
        EXPECT_TRUE(close(dev.seed, from_camkit(host.seed), 1e-7));
        EXPECT_TRUE(close(dev.scores, from_camkit(host.scores), 1e-6));
    };
    check(Y, targets);
    check(Y, std::vector<camkit::target>{camkit::class_score(0), camkit::whole_image(2)});
    check(Y, std::vector<camkit::target>{camkit::mask_sum(1, to_camkit<float>(batch_mask)),
                                         camkit::mask_mean(0, to_camkit<float>(batch_mask))});
    check(Y, std::vector<camkit::target>{camkit::mask_mean(0, camkit::tensor<float>({4, 5})),
                                         camkit::mask_sum(2, camkit::tensor<float>({4, 5}))});  // empty masks
    // One channel: class 1 is Y[0], class 0 is −Y[0].
    const at::Tensor Y1 = random_tensor({2, 1, 4, 5}, at::kFloat, 34);
    check(Y1, std::vector<camkit::target>{camkit::class_score(1), camkit::mask_mean(0, to_camkit<float>(mask))});
    const auto one = ct::seed_and_score(Y1, std::vector<camkit::target>{camkit::class_score(0), camkit::class_score(1)});
    EXPECT_NEAR(one.scores[0].item<float>(), -Y1[0].sum().item<float>(), 1e-4);
    EXPECT_NEAR(one.scores[1].item<float>(), Y1[1].sum().item<float>(), 1e-4);
    // NaN where the mask is zero is never read.
    at::Tensor Yn = Y.clone();
    Yn.index_put_({0, 1, 0, 0}, std::numeric_limits<float>::quiet_NaN());
    camkit::tensor<float> corner({4, 5}, 1.f);
    corner(0, 0) = 0.f;
    const auto s = ct::seed_and_score(Yn, std::vector<camkit::target>{camkit::mask_sum(1, corner), camkit::class_score(0)});
    EXPECT_TRUE(std::isfinite(s.scores[0].item<float>()));
    // Classifier [N, C].
    const at::Tensor logits = random_tensor({3, 4}, at::kFloat, 35);
    check(logits, std::vector<camkit::target>{camkit::class_score(3), camkit::class_score(0), camkit::class_score(2)});
    // Many targets for one sample.
    const auto many = ct::seed_and_score_many(Y, targets, 1);
    const auto many_host = camkit::seed_and_score_many(to_camkit<float>(Y), targets, 1);
    EXPECT_TRUE(close(many.seed, from_camkit(many_host.seed), 1e-7));
    EXPECT_TRUE(close(many.scores, from_camkit(many_host.scores), 1e-6));
}

TEST(TorchTensor, SeedErrors) {
    const at::Tensor Y = at::zeros({2, 3, 4, 5});
    EXPECT_THROW(ct::seed_and_score(Y, std::vector<camkit::target>{camkit::class_score(0)}), camkit::error);
    EXPECT_THROW(ct::seed_and_score(Y, std::vector<camkit::target>{camkit::class_score(0), camkit::class_score(3)}),
                 camkit::error);
    EXPECT_THROW(ct::seed_and_score(Y, std::vector<camkit::target>{camkit::mask_sum(0, camkit::tensor<float>({4, 4})),
                                                                   camkit::class_score(0)}),
                 camkit::error);
    EXPECT_THROW(ct::seed_and_score(at::zeros({2}), std::vector<camkit::target>{camkit::class_score(0)}), camkit::error);
    EXPECT_THROW(ct::seed_and_score_many(Y, std::vector<camkit::target>{camkit::class_score(0)}, 2), camkit::error);
    try {
        ct::seed_and_score(Y, std::vector<camkit::target>{camkit::class_score(0)});
    } catch (const camkit::error& e) {
        EXPECT_NE(std::string(e.what()).find("1 given for a batch of 2"), std::string::npos) << e.what();
    }
}

// On a GPU: the ops path runs on the device, returns there in the input's dtype, and equals the CPU result.
TEST(TorchTensor, CudaMatchesCpu) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    const at::Tensor A = random_tensor({2, 32, 7, 7}, at::kFloat, 41).abs();
    const at::Tensor G = random_tensor({2, 32, 7, 7}, at::kFloat, 42);
    camkit::options opt;
    opt.size = {28, 28};
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        SCOPED_TRACE(std::string(M::name));
        for (at::ScalarType t : {at::kFloat, at::kHalf}) {
            const auto gpu = camkit::explain<M>(A.to(at::kCUDA).to(t), G.to(at::kCUDA).to(t), opt);
            EXPECT_TRUE(gpu.map.is_cuda());
            EXPECT_EQ(gpu.map.scalar_type(), t);
            const auto cpu = camkit::explain<M>(A.to(t).to(at::kFloat), G.to(t).to(at::kFloat), opt);
            EXPECT_TRUE(close(gpu.map, cpu.map, t == at::kHalf ? 3e-3 : 1e-4));
        }
    });
    const at::Tensor Y = random_tensor({2, 3, 4, 5}, at::kFloat, 43);
    const camkit::tensor<float> mask({4, 5}, 1.f);
    const std::vector<camkit::target> targets = {camkit::mask_mean(1, mask), camkit::class_score(2)};
    const auto dev = ct::seed_and_score(Y.to(at::kCUDA), targets);
    EXPECT_TRUE(dev.seed.is_cuda());
    const auto cpu = ct::seed_and_score(Y, targets);
    EXPECT_TRUE(close(dev.scores, cpu.scores, 1e-5));
}

// CAM with a linear head's weights: host kernels on CPU tensors and torch ops on half agree with
// camkit::cam on camkit::tensor; for a GAP + linear head it equals Grad-CAM (SPEC.md identity).
TEST(TorchTensor, CamFromHeadWeights) {
    const at::Tensor A = random_tensor({3, 4, 5, 6}, at::kFloat, 51).abs();
    const at::Tensor W = random_tensor({7, 4}, at::kFloat, 52);
    const std::vector<std::size_t> classes = {6, 0, 3};
    const auto e = ct::cam(A, W, classes);
    const auto host = camkit::cam(to_camkit<float>(A), to_camkit<float>(W), classes);
    EXPECT_TRUE(close(e.map, from_camkit(host.map), 0));
    EXPECT_TRUE(close(*e.weights, from_camkit(*host.weights), 0));
    const auto half = ct::cam(A.to(at::kHalf), W, classes);
    EXPECT_EQ(half.map.scalar_type(), at::kHalf);
    EXPECT_TRUE(close(half.map, ct::cam(A.to(at::kHalf).to(at::kFloat), W, classes).map, 2e-3));
    // Grad-CAM's gradients for a GAP + linear head are W[c] / |S| everywhere.
    const at::Tensor G = W.index_select(0, at::tensor({6, 0, 3}, at::kLong)).reshape({3, 4, 1, 1}).expand({3, 4, 5, 6}) / 30.f;
    EXPECT_TRUE(close(camkit::explain<camkit::grad_cam>(A, G.contiguous()).map, e.map, 1e-5));
    EXPECT_THROW(ct::cam(A, W, std::vector<std::size_t>{1, 2}), camkit::error);
    EXPECT_THROW(ct::cam(A, W, std::vector<std::size_t>{1, 2, 7}), camkit::error);
    EXPECT_THROW(ct::cam(A, W.narrow(1, 0, 3), classes), camkit::error);
}
