#pragma once
// Small dense linear algebra of the host kernels: the symmetric eigenproblem behind Eigen-CAM.
// Only the largest eigenpair is needed, so the matrix is reduced to tridiagonal form once
// (Householder, 4/3·n³ flops, in the active instruction set's packs), its largest eigenvalue found by
// multisection on Sturm counts and its eigenvector by inverse iteration (both O(n) per step), then
// mapped back through the reflectors: at n = 49 this is ~10× cheaper than a full cyclic-Jacobi
// diagonalization.
#include <camkit/simd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace camkit::detail {

/// Σ x[i]·y[i] over n values, in packs of W (the lanes summed at the end) and a scalar tail.
template <std::size_t W>
CAMKIT_KERNEL_INLINE double dot_in(const double* x, const double* y, std::size_t n) {
    double total = 0;
    std::size_t i = 0;
    if constexpr (W > 1) {
        pack_t<double, W> acc[2] = {broadcast<double, W>(0), broadcast<double, W>(0)};  // two chains: the add's latency
        for (; i + 2 * W <= n; i += 2 * W) {
            acc[0] += load<double, W>(x + i) * load<double, W>(y + i);
            acc[1] += load<double, W>(x + i + W) * load<double, W>(y + i + W);
        }
        if (i + W <= n) acc[0] += load<double, W>(x + i) * load<double, W>(y + i), i += W;
        total = lane_sum(acc[0] + acc[1]);
    }
    for (; i < n; ++i) total += x[i] * y[i];
    return total;
}

/// A symmetric tridiagonal matrix: diagonal d[0..n), off-diagonal e[i] between rows i and i+1.
struct tridiagonal {
    std::vector<double> d, e;
};

/// Row stride of the padded copy householder_tridiagonalize_in works on: n rounded up to whole
/// packs of every instruction set (8 doubles), so that every row update runs in whole packs, and one
/// pack more where that is a multiple of 4 KiB (rows 4 KiB apart share the L1 cache's sets: at
/// n = 512 the solve took 15.5 ms against 23.7 at n = 768, and 8.4 ms with the extra pack).
inline std::size_t householder_stride(std::size_t n) {
    const std::size_t ld = (n + 7) / 8 * 8;
    return ld % 512 == 0 ? ld + 8 : ld;
}

/// Over rows r < count of the block at `rows` (ld apart), columns [0, R·W): with Update, row −=
/// vr[r]·w + wr[r]·x (w, x: the strip's columns of two vectors, held in registers); with Sum,
/// out = β·Σ_r s[r]·row (the row as updated), R packs summed in registers over all rows.
template <std::size_t W, std::size_t R, bool Update, bool Sum>
CAMKIT_KERNEL_INLINE void reflect_strip(double* rows, std::size_t ld, std::size_t count, const double* vr, const double* wr,
                                        const double* w, const double* x, const double* s, double beta, double* out) {
    using pack = pack_t<double, W>;
    pack wp[R], xp[R], acc[R];
    for (std::size_t q = 0; q < R; ++q) {
        if constexpr (Update) wp[q] = load<double, W>(w + q * W), xp[q] = load<double, W>(x + q * W);
        if constexpr (Sum) acc[q] = broadcast<double, W>(0);
    }
    for (std::size_t r = 0; r < count; ++r) {
        double* row = rows + r * ld;
        for (std::size_t q = 0; q < R; ++q) {
            pack y = load<double, W>(row + q * W);
            if constexpr (Update) {
                y -= vr[r] * wp[q] + wr[r] * xp[q];
                store(row + q * W, y);
            }
            if constexpr (Sum) acc[q] += s[r] * y;
        }
    }
    if constexpr (Sum)
        for (std::size_t q = 0; q < R; ++q) store(out + q * W, beta * acc[q]);
}

/// reflect_strip over columns [c, end) (whole packs of W) in strips of four packs and one of one
/// to three; w, x and out are indexed by column (valid pointers even where unused: they are offset).
template <std::size_t W, bool Update, bool Sum>
CAMKIT_KERNEL_INLINE void reflect_rows(double* rows, std::size_t ld, std::size_t count, std::size_t c, std::size_t end,
                                       const double* vr, const double* wr, const double* w, const double* x, const double* s,
                                       double beta, double* out) {
    for (; c + 4 * W <= end; c += 4 * W)
        reflect_strip<W, 4, Update, Sum>(rows + c, ld, count, vr, wr, w + c, x + c, s, beta, out + c);
    switch ((end - c) / W) {
        case 3: reflect_strip<W, 3, Update, Sum>(rows + c, ld, count, vr, wr, w + c, x + c, s, beta, out + c); break;
        case 2: reflect_strip<W, 2, Update, Sum>(rows + c, ld, count, vr, wr, w + c, x + c, s, beta, out + c); break;
        case 1: reflect_strip<W, 1, Update, Sum>(rows + c, ld, count, vr, wr, w + c, x + c, s, beta, out + c); break;
        default: break;
    }
}

/// Reduces the symmetric n×n matrix `a` (row stride householder_stride(n), zero beyond column n) to
/// tridiagonal form T = Qᵀ a Q with Q = H₀H₁…H_{n−3}, H_k = I − β_k v_k v_kᵀ, in packs of W: row k is
/// overwritten by v_k (entries k+1..n−1) and beta[k] by β_k.
///
/// Step k updates the trailing block B ← H B H = B − v wᵀ − w vᵀ, with p = βBv and w = p − (β pᵀv/2)v,
/// in whole packs: each row from the pack holding its first column at or right of the diagonal (v
/// and w zero left of k + 1; entries below the diagonal are never read again). One pass over the
/// block a step: row k + 1 is updated first, step k + 1's reflector made from it, and the other rows'
/// update also sums step k + 1's p = β′B′v′ (B's rows are its columns), in strips of packs held in
/// registers.
template <std::size_t W>
CAMKIT_KERNEL_INLINE tridiagonal householder_tridiagonalize_in(std::vector<double>& a, std::size_t n, std::vector<double>& beta) {
    const std::size_t ld = householder_stride(n);
    tridiagonal t{std::vector<double>(n, 0.0), std::vector<double>(n > 0 ? n - 1 : 0, 0.0)};
    beta.assign(n, 0.0);
    std::vector<double> p(ld, 0.0), w(ld, 0.0), vk(ld, 0.0);
    // Step k's reflector from row k (as step k − 1 left it): v_k in place, β_k, T's entries; false
    // where H_k = I (nothing below the subdiagonal to annihilate).
    const auto reflector = [&](std::size_t k) {
        double* v = &a[k * ld];  // row k right of the diagonal: column k below it (symmetric)
        t.d[k] = v[k];
        const double norm2 = dot_in<W>(v + k + 1, v + k + 1, n - k - 1);
        if (k + 2 == n || norm2 == 0) {
            t.e[k] = v[k + 1];
            return false;
        }
        const double norm = std::sqrt(norm2);
        const double alpha = v[k + 1] > 0 ? -norm : norm;  // the sign that avoids cancellation in v − αe₁
        v[k + 1] -= alpha;
        beta[k] = 1 / (norm * (norm + std::abs(v[k + 1] + alpha)));  // 2 / vᵀv
        t.e[k] = alpha;
        return true;
    };
    const auto first_column = [](std::size_t k) { return (k + 1) / W * W; };  // of step k's packs
    bool ready = false, reflects = false;  // step k's reflector and p made by step k − 1
    for (std::size_t k = 0; k + 1 < n; ++k) {
        const std::size_t m = n - k - 1, c0 = first_column(k);
        double* v = &a[k * ld];
        if (!ready) {
            reflects = reflector(k);
            if (reflects)
                reflect_rows<W, false, true>(&a[(k + 1) * ld], ld, m, c0, ld, nullptr, nullptr, w.data(), vk.data(), v + k + 1,
                                             beta[k], p.data());
        }
        ready = false;
        if (!reflects) continue;
        const double half = beta[k] * dot_in<W>(&p[k + 1], v + k + 1, m) / 2;
        for (std::size_t i = c0; i < ld; ++i) {
            vk[i] = i > k ? v[i] : 0.0;
            w[i] = i > k ? p[i] - half * v[i] : 0.0;
        }
        reflect_rows<W, true, false>(&a[(k + 1) * ld], ld, 1, c0, ld, &vk[k + 1], &w[k + 1], w.data(), vk.data(), nullptr, 0, p.data());
        if (k + 2 == n) continue;  // row k + 1 was the last
        // Rows k + 2.. from the pack holding column k + 2 on (left of it they are below the diagonal,
        // never read again).
        double* rows = &a[(k + 2) * ld];
        const std::size_t c1 = first_column(k + 1);
        ready = true;
        reflects = reflector(k + 1);
        if (reflects)
            reflect_rows<W, true, true>(rows, ld, m - 1, c1, ld, &vk[k + 2], &w[k + 2], w.data(), vk.data(), &a[(k + 1) * ld + k + 2],
                                        beta[k + 1], p.data());
        else
            reflect_rows<W, true, false>(rows, ld, m - 1, c1, ld, &vk[k + 2], &w[k + 2], w.data(), vk.data(), nullptr, 0, p.data());
    }
    if (n > 0) t.d[n - 1] = a[(n - 1) * ld + n - 1];
    return t;
}

/// Points of each step of largest_eigenvalue's multisection: the interval cut in P + 1 parts.
inline constexpr std::size_t multisection_points = 8;

/// count[p] = the number of eigenvalues of T below x[p] (the Sturm sequence of the LDLᵀ pivots of
/// T − x[p]·I; a zero pivot counts as negative: x[p] is then just above an eigenvalue), for P points
/// side by side in packs of W: P independent chains of divisions (one point's pivots are one chain).
template <std::size_t W, std::size_t P>
CAMKIT_KERNEL_INLINE void eigenvalues_below(const tridiagonal& t, const double (&x)[P], double tiny, double (&count)[P]) {
    for (std::size_t p = 0; p < P; ++p) count[p] = 0;
    if (t.d.empty()) return;
    const std::size_t n = t.d.size();
    if constexpr (W > 1 && P % W == 0) {
        using pack = pack_t<double, W>;
        constexpr std::size_t J = P / W;
        const pack zero = broadcast<double, W>(0), one = broadcast<double, W>(1), minus_tiny = broadcast<double, W>(-tiny);
        pack xs[J], q[J], c[J];
        for (std::size_t j = 0; j < J; ++j) xs[j] = load<double, W>(x + j * W), q[j] = broadcast<double, W>(INFINITY), c[j] = zero;
        for (std::size_t i = 0; i < n; ++i) {
            const double d = t.d[i], e2 = i > 0 ? t.e[i - 1] * t.e[i - 1] : 0.0;  // the first pivot: d₀ − x − 0/∞
            for (std::size_t j = 0; j < J; ++j) {
                pack r = d - xs[j] - e2 / q[j];
                r = pack_select(r == zero, minus_tiny, r);
                c[j] += pack_select(r < zero, one, zero);
                q[j] = r;
            }
        }
        for (std::size_t j = 0; j < J; ++j) store(count + j * W, c[j]);
    } else {
        double q[P];
        for (std::size_t p = 0; p < P; ++p) q[p] = INFINITY;
        for (std::size_t i = 0; i < n; ++i) {
            const double d = t.d[i], e2 = i > 0 ? t.e[i - 1] * t.e[i - 1] : 0.0;
            for (std::size_t p = 0; p < P; ++p) {
                double r = d - x[p] - e2 / q[p];
                r = r == 0 ? -tiny : r;
                count[p] += r < 0 ? 1.0 : 0.0;
                q[p] = r;
            }
        }
    }
}

/// The largest eigenvalue of T between Gershgorin's bounds, to a few ulps: by multisection, each
/// step the Sturm counts at multisection_points points of the interval (a ninth of it left), in
/// packs of W.
template <std::size_t W>
CAMKIT_KERNEL_INLINE double largest_eigenvalue_in(const tridiagonal& t, double norm) {
    constexpr std::size_t P = multisection_points;
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
    for (int it = 0; it < 100 && hi - lo > 2 * eps * std::max(std::abs(lo), std::abs(hi)) + tiny; ++it) {
        double x[P], count[P];
        for (std::size_t p = 0; p < P; ++p) x[p] = lo + (hi - lo) * static_cast<double>(p + 1) / static_cast<double>(P + 1);
        eigenvalues_below<W>(t, x, tiny, count);
        // The first point with every eigenvalue below it bounds the largest from above; the point
        // before it (some eigenvalue at or above it) from below.
        std::size_t above = 0;
        while (above < P && count[above] < static_cast<double>(n)) ++above;
        const double new_lo = above > 0 ? std::max(lo, x[above - 1]) : lo, new_hi = above < P ? std::min(hi, x[above]) : hi;
        if (new_lo == lo && new_hi == hi) break;  // the points fell on the ends: the interval is a few ulps
        lo = new_lo, hi = new_hi;
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

/// Negates u where needed so that its first entry of at least half the largest magnitude is
/// positive: a sign of the eigenvector's own (a solve's sign follows its rounding, which differs
/// between instruction sets and between solvers).
inline void set_eigenvector_sign(std::vector<double>& u) {
    double big = 0;
    for (double v : u) big = std::max(big, std::abs(v));
    const auto first = std::find_if(u.begin(), u.end(), [big](double v) { return std::abs(v) >= big / 2; });
    if (first != u.end() && *first < 0)
        for (double& v : u) v = -v;
}

/// Largest eigenvalue and a unit eigenvector of a symmetric n×n row-major matrix (n ≥ 1), signed so
/// that its first entry of at least half the largest magnitude is positive. A zero matrix gives
/// (0, e₀).
inline std::pair<double, std::vector<double>> top_eigenpair(const std::vector<double>& m, std::size_t n) {
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
    const std::size_t ld = householder_stride(n);
    std::vector<double> a(n * ld, 0.0), beta, u;  // m with rows ld apart, zero beyond column n
    for (std::size_t i = 0; i < n; ++i) std::copy_n(&m[i * n], n, &a[i * ld]);
    double lambda = 0;
    dispatch([&](auto bytes) {  // the reduction and the back-transformation in the active instruction set
        constexpr std::size_t W = lanes_in<double, bytes()>;
        const tridiagonal t = householder_tridiagonalize_in<W>(a, n, beta);
        lambda = largest_eigenvalue_in<W>(t, norm);
        u = tridiagonal_eigenvector(t, lambda, norm);
        for (std::size_t k = n >= 2 ? n - 2 : 0; k-- > 0;) {  // u ← H₀(H₁(…H_{n−3} y))
            if (beta[k] == 0) continue;
            const double* v = &a[k * ld];
            const double c = beta[k] * dot_in<W>(v + k + 1, &u[k + 1], n - k - 1);
            for (std::size_t i = k + 1; i < n; ++i) u[i] -= c * v[i];
        }
    });
    double len = 0;
    for (double v : u) len += v * v;
    len = std::sqrt(len);
    for (double& v : u) v /= len;
    set_eigenvector_sign(u);
    return {lambda, std::move(u)};
}

}  // namespace camkit::detail
