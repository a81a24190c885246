#pragma once
// A straightforward reference implementation of every method, written from SPEC.md's formulas
// with plain loops in double and no shared code with the fused kernels, for tests to compare to.
#include <camkit/tensor.hpp>

#include "common/closeness.hpp"
#include "common/random_tensor.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace camkit_test {

using camkit::shape_t;
using camkit::tensor;

struct dims {
    std::size_t N, K, S;
};
inline dims dims_of(const shape_t& s) {
    std::size_t S = 1;
    for (std::size_t i = 2; i < s.size(); ++i) S *= s[i];
    return {s[0], s[1], S};
}

inline double relu(double x) { return std::max(x, 0.0); }

/// Channel weights w[n][k] of the channel-weight methods.
inline std::vector<double> reference_weights(std::string_view method, const tensor<double>& A, const tensor<double>& G) {
    const auto [N, K, S] = dims_of(A.shape);
    std::vector<double> w(N * K, 0.0);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k) {
            const double* a = &A.values[(n * K + k) * S];
            const double* g = &G.values[(n * K + k) * S];
            double sum_a = 0, sum_g = 0, sum_ga = 0, pp = 0;
            for (std::size_t s = 0; s < S; ++s) sum_a += a[s], sum_g += g[s], sum_ga += g[s] * a[s];
            for (std::size_t s = 0; s < S; ++s) {
                const double alpha = g[s] == 0 ? 0 : g[s] * g[s] / (2 * g[s] * g[s] + sum_a * g[s] * g[s] * g[s] + 1e-6);
                pp += relu(g[s]) * alpha;
            }
            if (method == "gradcam") w[n * K + k] = sum_g / static_cast<double>(S);
            else if (method == "gradcam++") w[n * K + k] = pp;
            else if (method == "xgradcam" || method == "respondcam") w[n * K + k] = sum_ga / (sum_a + 1e-7);
            else throw std::logic_error("no weights for this method");
        }
    return w;
}

/// First principal component projection of X[s,k] (centred columns), by power iteration on XᵀX.
inline std::vector<double> reference_projection(const std::vector<double>& X, std::size_t S, std::size_t K) {
    std::vector<double> Xc = X;  // row-major [S][K]
    for (std::size_t k = 0; k < K; ++k) {
        double m = 0;
        for (std::size_t s = 0; s < S; ++s) m += Xc[s * K + k];
        m /= static_cast<double>(S);
        for (std::size_t s = 0; s < S; ++s) Xc[s * K + k] -= m;
    }
    std::vector<double> v(K, 1.0), proj(S);
    for (std::size_t k = 0; k < K; ++k) v[k] = 1.0 + 0.1 * static_cast<double>(k);
    for (int it = 0; it < 20000; ++it) {
        for (std::size_t s = 0; s < S; ++s) {
            double d = 0;
            for (std::size_t k = 0; k < K; ++k) d += Xc[s * K + k] * v[k];
            proj[s] = d;
        }
        std::vector<double> nv(K, 0.0);
        for (std::size_t s = 0; s < S; ++s)
            for (std::size_t k = 0; k < K; ++k) nv[k] += Xc[s * K + k] * proj[s];
        double norm = 0;
        for (double x : nv) norm += x * x;
        norm = std::sqrt(norm);
        if (norm == 0) break;
        for (std::size_t k = 0; k < K; ++k) v[k] = nv[k] / norm;
    }
    for (std::size_t s = 0; s < S; ++s) {
        double d = 0;
        for (std::size_t k = 0; k < K; ++k) d += Xc[s * K + k] * v[k];
        proj[s] = d;
    }
    const double hi = *std::max_element(proj.begin(), proj.end()), lo = *std::min_element(proj.begin(), proj.end());
    if (hi < -lo)
        for (double& p : proj) p = -p;
    return proj;
}

/// The raw map [N, *S] of `method` (its command-line name) from SPEC.md's definition.
inline tensor<double> reference_raw(std::string_view method, const tensor<double>& A, const tensor<double>& G) {
    const auto [N, K, S] = dims_of(A.shape);
    shape_t out_shape{N};
    out_shape.insert(out_shape.end(), A.shape.begin() + 2, A.shape.end());
    tensor<double> raw(out_shape, 0.0);
    const bool weighted = method == "gradcam" || method == "gradcam++" || method == "xgradcam" || method == "respondcam";
    const std::vector<double> w = weighted ? reference_weights(method, A, G) : std::vector<double>{};
    for (std::size_t n = 0; n < N; ++n) {
        if (method == "eigencam" || method == "eigengradcam") {
            std::vector<double> X(S * K);
            for (std::size_t k = 0; k < K; ++k)
                for (std::size_t s = 0; s < S; ++s) {
                    const std::size_t i = (n * K + k) * S + s;
                    X[s * K + k] = method == "eigencam" ? A.values[i] : A.values[i] * G.values[i];
                }
            const auto p = reference_projection(X, S, K);
            std::copy(p.begin(), p.end(), raw.values.begin() + static_cast<std::ptrdiff_t>(n * S));
            continue;
        }
        for (std::size_t s = 0; s < S; ++s) {
            double acc = 0;
            for (std::size_t k = 0; k < K; ++k) {
                const std::size_t i = (n * K + k) * S + s;
                const double a = A.values[i], g = G.values[i];
                if (weighted) acc += w[n * K + k] * a;
                else if (method == "hirescam") acc += a * g;
                else if (method == "gradcam-elementwise") acc += relu(a * g);
                else if (method == "layercam") acc += relu(g) * a;
                else throw std::logic_error("unknown method");
            }
            raw.values[n * S + s] = acc;
        }
    }
    return raw;
}

}  // namespace camkit_test
