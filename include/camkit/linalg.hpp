#pragma once
// Small dense linear algebra of the host kernels: the symmetric eigenproblem behind Eigen-CAM.
// Only the largest eigenpair is needed, so the matrix is reduced to tridiagonal form once
// (Householder, 4/3·n³ flops), its largest eigenvalue found by bisection on Sturm counts and its
// eigenvector by inverse iteration (both O(n) per step), then mapped back through the reflectors:
// at n = 49 this is ~10× cheaper than a full cyclic-Jacobi diagonalization.
#include <camkit/simd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace camkit::detail {

/// Σ x[i]·y[i] over n values, in packs (the lanes summed at the end) and a scalar tail.
inline double dot(const double* x, const double* y, std::size_t n) {
    constexpr std::size_t W = pack_width<double>;
    pack_t<double> acc = broadcast<double>(0);
    std::size_t i = 0;
    for (; i + W <= n; i += W) acc += load(x + i) * load(y + i);
    double total = lane_sum(acc);
    for (; i < n; ++i) total += x[i] * y[i];
    return total;
}

/// row[j] −= a·x[j] + b·y[j] for j < n, in packs and a scalar tail.
inline void subtract_two_scaled(double* row, double a, const double* x, double b, const double* y, std::size_t n) {
    constexpr std::size_t W = pack_width<double>;
    const pack_t<double> pa = broadcast(a), pb = broadcast(b);
    std::size_t j = 0;
    for (; j + W <= n; j += W) store(row + j, load(row + j) - (pa * load(x + j) + pb * load(y + j)));
    for (; j < n; ++j) row[j] -= a * x[j] + b * y[j];
}

/// A symmetric tridiagonal matrix: diagonal d[0..n), off-diagonal e[i] between rows i and i+1.
struct tridiagonal {
    std::vector<double> d, e;
};

/// Reduces the symmetric n×n row-major `a` to tridiagonal form T = Qᵀ a Q with Q = H₀H₁…H_{n−3},
/// H_k = I − β_k v_k v_kᵀ. Row k of `a` is overwritten by v_k (entries k+1..n−1) and beta[k] by β_k.
inline tridiagonal householder_tridiagonalize(std::vector<double>& a, std::size_t n, std::vector<double>& beta) {
    tridiagonal t{std::vector<double>(n, 0.0), std::vector<double>(n > 0 ? n - 1 : 0, 0.0)};
    beta.assign(n, 0.0);
    std::vector<double> p(n), w(n);
    for (std::size_t k = 0; k + 1 < n; ++k) {
        double* v = &a[k * n];  // row k right of the diagonal: column k below it (symmetric)
        t.d[k] = v[k];
        const double norm2 = dot(v + k + 1, v + k + 1, n - k - 1);
        if (k + 2 == n || norm2 == 0) {  // nothing below the subdiagonal to annihilate
            t.e[k] = v[k + 1];
            continue;
        }
        const double norm = std::sqrt(norm2);
        const double alpha = v[k + 1] > 0 ? -norm : norm;  // the sign that avoids cancellation in v − αe₁
        v[k + 1] -= alpha;
        const double b = 1 / (norm * (norm + std::abs(v[k + 1] + alpha)));  // 2 / vᵀv
        beta[k] = b;
        t.e[k] = alpha;
        // Trailing block B ← H B H = B − v wᵀ − w vᵀ with p = βBv, w = p − (β pᵀv / 2) v.
        const std::size_t m = n - k - 1;
        double pv = 0;
        for (std::size_t i = k + 1; i < n; ++i) {
            p[i] = b * dot(&a[i * n + k + 1], v + k + 1, m);
            pv += p[i] * v[i];
        }
        const double half = b * pv / 2;
        for (std::size_t i = k + 1; i < n; ++i) w[i] = p[i] - half * v[i];
        for (std::size_t i = k + 1; i < n; ++i)
            subtract_two_scaled(&a[i * n + k + 1], v[i], &w[k + 1], w[i], v + k + 1, m);
    }
    if (n > 0) t.d[n - 1] = a[(n - 1) * n + n - 1];
    return t;
}

/// Number of eigenvalues of T below x (Sturm sequence of the LDLᵀ pivots of T − xI).
inline std::size_t eigenvalues_below(const tridiagonal& t, double x, double tiny) {
    std::size_t count = 0;
    double q = 1;
    for (std::size_t i = 0; i < t.d.size(); ++i) {
        q = t.d[i] - x - (i > 0 ? t.e[i - 1] * t.e[i - 1] / q : 0.0);
        if (q == 0) q = -tiny;  // a zero pivot counts as negative: x is then (just above) an eigenvalue
        if (q < 0) ++count;
    }
    return count;
}

/// The largest eigenvalue of T by bisection between Gershgorin's bounds, to a few ulps.
inline double largest_eigenvalue(const tridiagonal& t, double norm) {
    const std::size_t n = t.d.size();
    double lo = INFINITY, hi = -INFINITY;
    for (std::size_t i = 0; i < n; ++i) {
        const double r = (i > 0 ? std::abs(t.e[i - 1]) : 0.0) + (i + 1 < n ? std::abs(t.e[i]) : 0.0);
        lo = std::min(lo, t.d[i] - r);
        hi = std::max(hi, t.d[i] + r);
    }
    const double eps = std::numeric_limits<double>::epsilon();
    const double tiny = std::numeric_limits<double>::min() + eps * eps * norm;
    hi += eps * norm;  // strictly above every eigenvalue
    for (int it = 0; it < 200 && hi - lo > 2 * eps * std::max(std::abs(lo), std::abs(hi)) + tiny; ++it) {
        const double mid = lo + (hi - lo) / 2;
        (eigenvalues_below(t, mid, tiny) == n ? hi : lo) = mid;
    }
    return lo + (hi - lo) / 2;
}

/// A unit eigenvector of T for its eigenvalue `lambda`, by inverse iteration: (T − λI) is
/// factorized once (Gaussian elimination with partial pivoting: a tridiagonal L, an upper U with
/// two superdiagonals), tiny pivots lifted to eps·‖T‖, and three solves from a fixed start.
inline std::vector<double> tridiagonal_eigenvector(const tridiagonal& t, double lambda, double norm) {
    const std::size_t n = t.d.size();
    std::vector<double> u0(n), u1(n, 0.0), u2(n, 0.0), l(n, 0.0);
    std::vector<char> swapped(n, 0);
    double c = t.d[0] - lambda, s1 = n > 1 ? t.e[0] : 0.0;
    for (std::size_t i = 0; i + 1 < n; ++i) {
        const double sub = t.e[i], nd = t.d[i + 1] - lambda, ns = i + 2 < n ? t.e[i + 1] : 0.0;
        if (std::abs(c) >= std::abs(sub)) {
            l[i] = c != 0 ? sub / c : 0.0;
            u0[i] = c, u1[i] = s1;
            c = nd - l[i] * s1, s1 = ns;
        } else {
            swapped[i] = 1;
            l[i] = c / sub;
            u0[i] = sub, u1[i] = nd, u2[i] = ns;
            c = s1 - l[i] * nd, s1 = -l[i] * ns;
        }
    }
    u0[n - 1] = c;
    const double floor = std::max(std::numeric_limits<double>::epsilon() * norm, std::numeric_limits<double>::min());
    for (double& p : u0)
        if (std::abs(p) < floor) p = p < 0 ? -floor : floor;
    std::vector<double> y(n);
    for (std::size_t i = 0; i < n; ++i) y[i] = 1 + static_cast<double>(i % 7) / 8;  // not orthogonal to any eigenvector in practice
    for (int it = 0; it < 3; ++it) {
        for (std::size_t i = 0; i + 1 < n; ++i) {
            if (swapped[i]) std::swap(y[i], y[i + 1]);
            y[i + 1] -= l[i] * y[i];
        }
        for (std::size_t i = n; i-- > 0;) {
            const double r = y[i] - (i + 1 < n ? u1[i] * y[i + 1] : 0.0) - (i + 2 < n ? u2[i] * y[i + 2] : 0.0);
            y[i] = r / u0[i];
        }
        double big = 0;
        for (double v : y) big = std::max(big, std::abs(v));
        for (double& v : y) v /= big;  // keep the next solve in range
    }
    return y;
}

/// Largest eigenvalue and a unit eigenvector of a symmetric n×n row-major matrix (n ≥ 1). A zero
/// matrix gives (0, a unit vector).
inline std::pair<double, std::vector<double>> top_eigenpair(std::vector<double> m, std::size_t n) {
    double norm = 0;  // max row sum: bounds every eigenvalue
    for (std::size_t i = 0; i < n; ++i) {
        double r = 0;
        for (std::size_t j = 0; j < n; ++j) r += std::abs(m[i * n + j]);
        norm = std::max(norm, r);
    }
    if (norm == 0) {  // every vector is an eigenvector of 0
        std::vector<double> e0(n, 0.0);
        e0[0] = 1;
        return {0.0, std::move(e0)};
    }
    std::vector<double> beta;
    const tridiagonal t = householder_tridiagonalize(m, n, beta);
    const double lambda = largest_eigenvalue(t, norm);
    std::vector<double> u = tridiagonal_eigenvector(t, lambda, norm);
    for (std::size_t k = n >= 2 ? n - 2 : 0; k-- > 0;) {  // u ← H₀(H₁(…H_{n−3} y))
        if (beta[k] == 0) continue;
        const double* v = &m[k * n];
        const double c = beta[k] * dot(v + k + 1, &u[k + 1], n - k - 1);
        for (std::size_t i = k + 1; i < n; ++i) u[i] -= c * v[i];
    }
    double len = 0;
    for (double v : u) len += v * v;
    len = std::sqrt(len);
    for (double& v : u) v /= len;
    return {lambda, std::move(u)};
}

}  // namespace camkit::detail
