#pragma once
// Small dense linear algebra of the host kernels: the symmetric eigenproblem behind Eigen-CAM.
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace camkit::detail {

/// Eigenvector of the largest eigenvalue of a symmetric n×n matrix (row-major), by cyclic Jacobi.
inline std::pair<double, std::vector<double>> top_eigenpair(std::vector<double> m, std::size_t n) {
    std::vector<double> v(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
    auto at = [&](std::size_t i, std::size_t j) -> double& { return m[i * n + j]; };
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0, diag = 0;
        for (std::size_t i = 0; i < n; ++i) {
            diag += at(i, i) * at(i, i);
            for (std::size_t j = i + 1; j < n; ++j) off += at(i, j) * at(i, j);
        }
        if (off <= 1e-30 * diag || off == 0) break;
        for (std::size_t p = 0; p < n; ++p)
            for (std::size_t q = p + 1; q < n; ++q) {
                const double apq = at(p, q);
                if (std::abs(apq) < 1e-300) continue;
                const double theta = (at(q, q) - at(p, p)) / (2 * apq);
                const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1), s = t * c;
                for (std::size_t r = 0; r < n; ++r) {  // columns p, q
                    const double arp = at(r, p), arq = at(r, q);
                    at(r, p) = c * arp - s * arq;
                    at(r, q) = s * arp + c * arq;
                }
                for (std::size_t r = 0; r < n; ++r) {  // rows p, q
                    const double apr = at(p, r), aqr = at(q, r);
                    at(p, r) = c * apr - s * aqr;
                    at(q, r) = s * apr + c * aqr;
                }
                for (std::size_t r = 0; r < n; ++r) {
                    const double vrp = v[r * n + p], vrq = v[r * n + q];
                    v[r * n + p] = c * vrp - s * vrq;
                    v[r * n + q] = s * vrp + c * vrq;
                }
            }
    }
    std::size_t best = 0;
    for (std::size_t i = 1; i < n; ++i)
        if (at(i, i) > at(best, best)) best = i;
    std::vector<double> vec(n);
    for (std::size_t r = 0; r < n; ++r) vec[r] = v[r * n + best];
    return {at(best, best), vec};
}

}  // namespace camkit::detail
