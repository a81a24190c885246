#pragma once
// Fused host kernels. Each (sample, channel) plane of A and G is read from memory once: its
// statistics are computed and its contribution folded into the output while it is in cache.
// Work is split over samples and channel blocks; partial maps are added in a fixed order, so a
// result depends on the thread count only through float rounding.
#include <camkit/methods/policy.hpp>
#include <camkit/parallel.hpp>
#include <camkit/reductions.hpp>
#include <camkit/strided.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

#if defined(__GNUC__)  // wide packs inside the dispatched kernels: see simd.hpp
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace camkit::detail {

/// Bytes of gathered planes a plane_reader may keep (a block of channels gathered in one walk).
inline constexpr std::size_t gathered_block_bytes = std::size_t{4} << 20;
/// Most channels gathered in one walk of channels-last memory: 64 floats are four cache lines, read
/// in order (fewer leave the neighbouring lines the prefetchers fetch to be read again later).
inline constexpr std::size_t gathered_block_channels = 64;
/// Block sizes of channels-last gathers come in multiples of 16 channels (16 floats: one cache line).
inline constexpr std::size_t gather_tile = 16;

/// Buffers for gathered planes that each thread keeps between plane_readers (and calls), up to 40
/// MiB: a fresh buffer of megabytes is fresh pages, which the system faults in and zeroes on first
/// touch (at the segmentation shape, 16 such buffers a call doubled explain's time on channels-last
/// input). 40 MiB holds the blocks of two readers (activations and gradients) of 16 planes of 1 MiB
/// (a 64³ volume): with 16 MiB kept, such a volume's blocks were new pages at every call (1.6×
/// the time).
template <class Acc>
class gather_buffers {
public:
    static constexpr std::size_t kept_bytes = std::size_t{40} << 20;

    /// A buffer of at least n values (its size in `size`), kept or new.
    std::unique_ptr<Acc[]> take(std::size_t n, std::size_t& size) {
        for (std::size_t i = 0; i < kept_.size(); ++i)
            if (kept_[i].size >= n) {
                std::unique_ptr<Acc[]> b = std::move(kept_[i].data);
                size = kept_[i].size;
                bytes_ -= size * sizeof(Acc);
                kept_.erase(kept_.begin() + static_cast<std::ptrdiff_t>(i));
                return b;
            }
        size = n;
        return std::unique_ptr<Acc[]>(new Acc[n]);  // no zeroing: every value is written before it is read
    }
    /// Keeps a buffer for a later take while the kept ones stay within kept_bytes.
    void give(std::unique_ptr<Acc[]> b, std::size_t size) {
        if (!b || bytes_ + size * sizeof(Acc) > kept_bytes) return;
        bytes_ += size * sizeof(Acc);
        kept_.push_back({std::move(b), size});
    }
    static gather_buffers& of_this_thread() {
        thread_local gather_buffers buffers;
        return buffers;
    }

private:
    struct buffer {
        std::unique_ptr<Acc[]> data;
        std::size_t size;
    };
    std::vector<buffer> kept_;
    std::size_t bytes_ = 0;
};

/// Channels c..c+3 of four positions (at[q] + c) into four planes `pitch` apart, positions 0..3
/// (channels-last rows made planes: plane_reader's gather, blocked_product).
template <class Acc, class E>
void transpose4(const E* const* at, std::size_t c, Acc* out, std::size_t pitch) {
#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 12)
    if constexpr (std::is_same_v<E, float> && std::is_same_v<Acc, float>) {
        typedef float v4 __attribute__((vector_size(16)));
        v4 v[4];
        for (std::size_t q = 0; q < 4; ++q) std::memcpy(&v[q], at[q] + c, sizeof(v4));
        const v4 t0 = __builtin_shufflevector(v[0], v[1], 0, 4, 1, 5), t1 = __builtin_shufflevector(v[0], v[1], 2, 6, 3, 7),
                 t2 = __builtin_shufflevector(v[2], v[3], 0, 4, 1, 5), t3 = __builtin_shufflevector(v[2], v[3], 2, 6, 3, 7);
        const v4 o[4] = {__builtin_shufflevector(t0, t2, 0, 1, 4, 5), __builtin_shufflevector(t0, t2, 2, 3, 6, 7),
                         __builtin_shufflevector(t1, t3, 0, 1, 4, 5), __builtin_shufflevector(t1, t3, 2, 3, 6, 7)};
        for (std::size_t j = 0; j < 4; ++j) std::memcpy(out + j * pitch, &o[j], sizeof(v4));
        return;
    }
#endif
    for (std::size_t j = 0; j < 4; ++j)
        for (std::size_t q = 0; q < 4; ++q) out[j * pitch + q] = static_cast<Acc>(at[q][c + j]);
}

/// Gives the (n, k) plane of an [N, K, *S] view as dense Acc values: the memory itself when it
/// already is, otherwise a gather (strided views, half precision) into a scratch buffer.
///
/// Gathered planes come in blocks of channels read in one walk over the positions. Where a view's
/// channels are interleaved with its positions (channel stride smaller than every position
/// stride: channels-last memory, PyTorch's channels_last), a block holds up to 64 channels within
/// 4 MiB (at least 16 where planes are 1 MiB or less), so memory is read in order rather than a
/// value of each cache line per plane; otherwise a block is `min_block` channels (1, or a channel
/// group for group_reader). A plane stays valid until get() asks for a channel outside its block.
template <class Acc, class E>
class plane_reader {
public:
    explicit plane_reader(const host_view<const E>& v, std::size_t min_block = 1)
        : v_(v), spatial_(element_count(shape_t(v.shape.begin() + 2, v.shape.end()))),
          channels_(v.shape[1]),
          direct_(std::is_same_v<E, Acc> && v.contiguous_from(2)) {
        if (direct_) return;
        block_ = std::min(channels_, min_block);
        interleaved_ = interleaved(v);
        if (interleaved_) {
            const std::size_t plane_bytes = std::max<std::size_t>(1, spatial_ * sizeof(Acc));
            std::size_t fit = gathered_block_bytes / plane_bytes;
            if (gather_tile * plane_bytes <= 4 * gathered_block_bytes) fit = std::max(fit, gather_tile);
            if (fit >= gather_tile) fit = fit / gather_tile * gather_tile;  // whole tiles of channels
            const std::size_t wanted = std::min(gathered_block_channels, fit) / min_block * min_block;
            block_ = std::min(channels_, std::max(min_block, wanted));
        }
        block_ = std::max<std::size_t>(block_, 1);
        // Planes of a block one cache line apart beyond their size: a gather writes to all of them at
        // once, and planes a power of two of bytes apart would share the L1 cache's sets.
        constexpr std::size_t line = 64 / sizeof(Acc) > 0 ? 64 / sizeof(Acc) : 1;
        pitch_ = block_ > 1 ? (spatial_ + line - 1) / line * line + line : spatial_;
        scratch_ = gather_buffers<Acc>::of_this_thread().take((block_ - 1) * pitch_ + spatial_, scratch_size_);
    }
    ~plane_reader() {
        if (scratch_) gather_buffers<Acc>::of_this_thread().give(std::move(scratch_), scratch_size_);
    }
    plane_reader(const plane_reader&) = delete;
    plane_reader& operator=(const plane_reader&) = delete;

    plane<Acc> get(std::size_t n, std::size_t k) { return get(n, k, k, k + 1); }

    /// Plane k of sample n, where a gather takes channels [first, last) (first ≤ k < last, at most
    /// the block's size; cut at the last channel) into one block unless the block gathered last
    /// holds them all.
    plane<Acc> get(std::size_t n, std::size_t k, std::size_t first, std::size_t last) {
        if constexpr (std::is_same_v<E, Acc>) {
            if (direct_) return {v_.data + offset(n, k), spatial_};
        }
        if (n != held_n_ || first < held_k_ || std::min(last, channels_) > held_k_ + held_count_) gather(n, first);
        return {scratch_.get() + (k - held_k_) * pitch_, spatial_};
    }

    /// True when get() returns the memory itself (no gather), so a plane's positions can be read
    /// in any order and any number of times at no extra cost.
    bool direct() const { return direct_; }

private:
    /// Whether the channel stride is below every stride of a spatial axis of more than one position.
    static bool interleaved(const host_view<const E>& v) {
        if (v.shape.size() < 3 || v.shape[1] < 2) return false;
        const auto channel = v.strides[1] < 0 ? -v.strides[1] : v.strides[1];
        for (std::size_t a = 2; a < v.shape.size(); ++a) {
            const auto stride = v.strides[a] < 0 ? -v.strides[a] : v.strides[a];
            if (v.shape[a] > 1 && stride <= channel) return false;
        }
        return true;
    }

    /// Whether the positions of a plane are one sequence of equal steps (the spatial axes nest densely).
    bool uniform_positions() const {
        std::ptrdiff_t expected = v_.strides.back();
        for (std::size_t a = v_.shape.size(); a-- > 2;) {
            if (v_.shape[a] != 1 && v_.strides[a] != expected) return false;
            expected *= static_cast<std::ptrdiff_t>(v_.shape[a]);
        }
        return true;
    }

    std::ptrdiff_t offset(std::size_t n, std::size_t k) const {
        return static_cast<std::ptrdiff_t>(n) * v_.strides[0] + static_cast<std::ptrdiff_t>(k) * v_.strides[1];
    }

    /// Channels first.. (a block, cut at the last channel) of sample n into the scratch, plane by plane.
    [[gnu::noinline]] void gather(std::size_t n, std::size_t first) {
        const std::size_t count = std::min(block_, channels_ - first), S = pitch_;
        const std::ptrdiff_t step = v_.strides[1];
        Acc* out = scratch_.get();
        if (interleaved_ && step == 1 && count % 4 == 0 && uniform_positions()) {
            // Channels-last: a block's values of a position are adjacent, positions `stride` apart:
            // transposed in 4 × 4 tiles of (position, channel), read in order and written to the
            // planes four positions at a time.
            const E* p = v_.data + offset(n, first);
            const std::ptrdiff_t stride = v_.strides.back();
            std::size_t s = 0;
            for (; s + 4 <= spatial_; s += 4) {
                const E* at[4];
                for (std::size_t q = 0; q < 4; ++q) at[q] = p + static_cast<std::ptrdiff_t>(s + q) * stride;
                for (std::size_t c = 0; c < count; c += 4) transpose4<Acc>(at, c, out + c * S + s, S);
            }
            for (; s < spatial_; ++s)
                for (std::size_t j = 0; j < count; ++j)
                    out[j * S + s] = static_cast<Acc>(p[static_cast<std::ptrdiff_t>(s) * stride + static_cast<std::ptrdiff_t>(j)]);
        } else if (interleaved_) {
            std::size_t i = 0;
            for_each_strided(v_.data + offset(n, first), std::span<const std::size_t>(v_.shape).subspan(2),
                             std::span<const std::ptrdiff_t>(v_.strides).subspan(2), [&](const E* p) {
                                 for (std::size_t j = 0; j < count; ++j)
                                     out[j * S + i] = static_cast<Acc>(p[static_cast<std::ptrdiff_t>(j) * step]);
                                 ++i;
                             });
        } else {
            // Planes apart in memory: each in a walk of its own (one stream, the plain strided copy).
            for (std::size_t j = 0; j < count; ++j)
                gather_strided(v_.data + offset(n, first + j), std::span<const std::size_t>(v_.shape).subspan(2),
                               std::span<const std::ptrdiff_t>(v_.strides).subspan(2), out + j * S);
        }
        held_n_ = n, held_k_ = first, held_count_ = count;
    }

    host_view<const E> v_;
    std::size_t spatial_, channels_;
    bool direct_, interleaved_ = false;
    std::size_t block_ = 0, pitch_ = 0;  ///< channels a block holds; values from one plane to the next
    std::size_t held_n_ = static_cast<std::size_t>(-1), held_k_ = 0, held_count_ = 0;  ///< the block in the scratch
    std::unique_ptr<Acc[]> scratch_;
    std::size_t scratch_size_ = 0;
};

/// Largest map (bytes) for_channel_blocks sums in a private buffer on several threads.
inline constexpr std::size_t private_map_bytes = 4096;

/// Runs `chunk(n, k0, k1, out)` over channel blocks of every sample on `threads` threads; `out`
/// points at `spatial` accumulators for sample n (zeroed). The first block of a sample adds into
/// `raw` itself, the others into partial maps, which are then added to it in block order (the
/// same sums as adding every block's map to zeros). The first exception thrown by a chunk is
/// rethrown here.
template <class Acc, class Chunk>
void for_channel_blocks(std::size_t N, std::size_t K, std::size_t spatial, unsigned threads, Acc* raw,
                        Chunk&& chunk) {
    const std::size_t blocks = std::min<std::size_t>(K, threads > N ? (threads + N - 1) / N : 1);
    const std::size_t items = N * blocks;
    // Partial map of block b > 0 of sample n at ((n · (blocks − 1)) + b − 1) · spatial.
    std::vector<Acc> partial = make_values<Acc>(N * (blocks - 1) * spatial);  // zeros, pre-faulted when large
    auto partial_of = [&](std::size_t n, std::size_t b) { return partial.data() + (n * (blocks - 1) + b - 1) * spatial; };
    std::fill(raw, raw + N * spatial, Acc(0));
    // Maps that share cache lines with their neighbours' (a 7 × 7 plane is 196 bytes) are summed
    // in a private buffer when threads run samples side by side, and copied once: summing in place
    // would move the shared line between the cores at every channel group.
    const bool private_map = threads > 1 && items > 1 && spatial * sizeof(Acc) <= private_map_bytes;
    auto run_item = [&](std::size_t item) {
        const std::size_t n = item / blocks, b = item % blocks;
        const std::size_t k0 = K * b / blocks, k1 = K * (b + 1) / blocks;
        Acc* out = b == 0 ? raw + n * spatial : partial_of(n, b);
        if (!private_map) return chunk(n, k0, k1, out);
        alignas(64) std::array<Acc, private_map_bytes / sizeof(Acc)> local;
        std::fill_n(local.data(), spatial, Acc(0));
        chunk(n, k0, k1, local.data());
        std::copy_n(local.data(), spatial, out);
    };
    parallel_for(items, threads, run_item);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t b = 1; b < blocks; ++b) {
            const Acc* p = partial_of(n, b);
            Acc* o = raw + n * spatial;
            for (std::size_t s = 0; s < spatial; ++s) o[s] += p[s];
        }
}

// Cold: kept out of line, so the per-ISA chunk functions (flatten) do not inline the message building.
[[gnu::noinline]] inline void throw_non_finite(const char* which, std::size_t n, std::size_t k) {
    throw error(std::string("camkit: ") + which + " contain NaN or Inf (sample " + std::to_string(n) +
                ", channel " + std::to_string(k) + ")");
}

/// The error for a map that came out NaN or Inf from finite activations and gradients (sample n).
[[gnu::noinline]] inline void throw_non_finite_map(std::size_t n) {
    throw error("camkit: the map of sample " + std::to_string(n) +
                " is NaN or Inf although its activations and gradients are finite: a sum or product beyond the "
                "range of the element type (explain in double precision, or scale the inputs), or a channel "
                "weight that divides by 0 (XGrad-CAM: a channel whose activations sum to -epsilon)");
}

/// Sentinel of the `gradient_label` parameters: gradients are labelled by their sample.
inline constexpr std::size_t own_sample = static_cast<std::size_t>(-1);

/// Shape facts of an [N, K, *S] pair.
struct cam_dims {
    std::size_t N, K, S;
};

inline cam_dims dims_of(const shape_t& shape) {
    return {shape[0], shape[1], element_count(shape_t(shape.begin() + 2, shape.end()))};
}

/// Channels folded into the output together: the output is loaded and stored once per group
/// instead of once per channel, which halves (or better) the kernels' memory operations.
inline constexpr std::size_t channel_group = 4;

/// Bytes of one core's level-2 cache as the system reports it (glibc's sysconf), else 1 MiB.
inline std::size_t l2_cache_bytes() {
    static const std::size_t bytes = [] {
        long v = 0;
#if defined(_SC_LEVEL2_CACHE_SIZE)
        v = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
        return v > 0 ? static_cast<std::size_t>(v) : std::size_t{1} << 20;
    }();
    return bytes;
}

/// Tiles are multiples of this many positions: of every pack width, so a tile's positions go
/// through the same packs in the same order as over the whole plane, and tiled maps equal
/// untiled ones to the bit.
inline constexpr std::size_t tile_quantum = 64;

/// set_tiling's value for tiles chosen from the cache sizes (the default).
inline constexpr std::size_t automatic_tiles = static_cast<std::size_t>(-1);

/// The set_tiling override: automatic_tiles while none is set.
inline std::atomic<std::size_t>& tiling_override() {
    static std::atomic<std::size_t> value{automatic_tiles};
    return value;
}

/// Makes the kernels walk tiles of `positions` (a multiple of tile_quantum; 0: whole planes;
/// automatic_tiles: chosen from the cache sizes) from now on, whatever the plane size: for tests
/// and measurements (set it while no kernel runs). Returns the setting used until now.
inline std::size_t set_tiling(std::size_t positions) {
    require(positions == automatic_tiles || positions % tile_quantum == 0, [&] {
        return "set_tiling: positions " + std::to_string(positions) + " is not a multiple of " +
               std::to_string(tile_quantum);
    });
    return tiling_override().exchange(positions, std::memory_order_relaxed);
}

/// Positions per spatial tile over planes of S values of Acc, or 0 for whole planes. A pass over
/// whole planes reads a group's planes once only while they and the output plane (2·channel_group
/// + 1 planes) fit in L2; beyond that (3-D planes) the kernels walk spatial tiles, each a sixteenth
/// of L2, so the output tile stays in cache while every channel of the chunk adds into it.
template <class Acc>
std::size_t tile_positions(std::size_t S) {
    const std::size_t forced = tiling_override().load(std::memory_order_relaxed);
    if (forced != automatic_tiles) return forced;
    const std::size_t l2 = l2_cache_bytes();
    if ((2 * channel_group + 1) * S * sizeof(Acc) <= l2) return 0;
    return std::max(tile_quantum, l2 / 16 / sizeof(Acc) / tile_quantum * tile_quantum);
}

/// Calls f(std::integral_constant<std::size_t, m>) for a run-time m in [1, channel_group].
template <class F>
CAMKIT_KERNEL_INLINE_CLANG void with_group_size(std::size_t m, F&& f) {
    switch (m) {
        case 1: f(std::integral_constant<std::size_t, 1>{}); break;
        case 2: f(std::integral_constant<std::size_t, 2>{}); break;
        case 3: f(std::integral_constant<std::size_t, 3>{}); break;
        default: f(std::integral_constant<std::size_t, 4>{}); break;
    }
}

/// add_scaled in packs of W values.
template <std::size_t M, std::size_t W, class Acc>
CAMKIT_KERNEL_INLINE void add_scaled_in(Acc* out, const Acc* w, const Acc* const* planes, std::size_t S) {
    using B = pack_t<Acc, W>;
    // Local copies: stores to `out` could otherwise alias the caller's arrays and force reloads.
    const Acc* a[M];
    Acc wl[M];
    B wv[M];
    for (std::size_t j = 0; j < M; ++j) a[j] = planes[j], wl[j] = w[j], wv[j] = broadcast<Acc, W>(w[j]);
    std::size_t s = 0;
    for (; s + W <= S; s += W) {
        B o = load<Acc, W>(out + s);
        for (std::size_t j = 0; j < M; ++j) o += wv[j] * load<Acc, W>(a[j] + s);
        store(out + s, o);
    }
    if constexpr (W > 1)  // one lane: the loop above took every position (GCC -O1 warned of the tail)
        for (; s < S; ++s)
            for (std::size_t j = 0; j < M; ++j) out[s] += wl[j] * a[j][s];
}

/// out[s] += Σ_j w[j] · a[j][s] over S positions for M channels (added in channel order).
template <std::size_t M, class Acc>
void add_scaled(Acc* out, const Acc* w, const Acc* const* planes, std::size_t S) {
    dispatch_plane<Acc>(S, [&](auto bytes) { add_scaled_in<M, lanes_in<Acc, bytes()>>(out, w, planes, S); });
}

/// One pack of V positions from s of add_contributions_in: out += Σ_j contribution(a[j], g[j]),
/// and `check(j, a[j]·g[j])` per channel when Check.
template <class Method, bool Check, std::size_t M, std::size_t V, class Acc, class CheckSum>
CAMKIT_KERNEL_INLINE void add_contributions_step(Acc* out, const Acc* const (&a)[M], const Acc* const (&g)[M], std::size_t s,
                                                 CheckSum&& check) {
    using B = pack_t<Acc, V>;
    const plane_ops<Acc> ops;
    B o = load<Acc, V>(out + s);
    for (std::size_t j = 0; j < M; ++j) {
        const B av = load<Acc, V>(a[j] + s), gv = load<Acc, V>(g[j] + s);
        o += static_cast<B>(Method::contribution(ops, av, gv));
        if constexpr (Check) check(j, av * gv);
    }
    store(out + s, o);
}

/// The tail of add_contributions_in from position s: one pack of V values where V fit, then V/2,
/// …, down to 16-byte packs (as reduce_tail): up to 15 positions of a plane would otherwise take
/// single steps in AVX-512, a quarter of the work at 5×5. Each position gets the same operations
/// whichever pack takes it.
template <class Method, bool Check, std::size_t M, std::size_t V, class Acc>
CAMKIT_KERNEL_INLINE void add_contributions_tail(Acc* out, const Acc* const (&a)[M], const Acc* const (&g)[M],
                                                 std::size_t& s, std::size_t S, Acc& check) {
    if constexpr (V > 1 && V * sizeof(Acc) >= 16) {
        if (s + V <= S) {
            pack_t<Acc, V> c{};
            add_contributions_step<Method, Check, M, V>(out, a, g, s, [&](std::size_t, const auto& p) CAMKIT_LAMBDA_INLINE { c += p; });
            if constexpr (Check) check += lane_sum(c);
            s += V;
        }
        add_contributions_tail<Method, Check, M, V / 2>(out, a, g, s, S, check);
    }
}

/// add_contributions in packs of W values.
template <class Method, bool Check, std::size_t M, std::size_t W, class Acc>
CAMKIT_KERNEL_INLINE Acc add_contributions_in(Acc* out, const Acc* const* a_planes, const Acc* const* g_planes, std::size_t S) {
    using B = pack_t<Acc, W>;
    const plane_ops<Acc> ops;
    const Acc* a[M];  // local copies, as in add_scaled
    const Acc* g[M];
    for (std::size_t j = 0; j < M; ++j) a[j] = a_planes[j], g[j] = g_planes[j];
    B c[M] = {};
    std::size_t s = 0;
    for (; s + W <= S; s += W)
        add_contributions_step<Method, Check, M, W>(out, a, g, s, [&](std::size_t j, const B& p) CAMKIT_LAMBDA_INLINE { c[j] += p; });
    Acc check = 0;
    if constexpr (Check)
        for (std::size_t j = 0; j < M; ++j) check += lane_sum(c[j]);
    add_contributions_tail<Method, Check, M, W / 2>(out, a, g, s, S, check);
    for (; s < S; ++s)
        for (std::size_t j = 0; j < M; ++j) {
            out[s] += static_cast<Acc>(Method::contribution(ops, a[j][s], g[j][s]));
            if constexpr (Check) check += a[j][s] * g[j][s];
        }
    return check;
}

/// out[s] += Σ_j contribution(a[j][s], g[j][s]) over S positions for M channels (added in channel
/// order). With Check, also returns Σ a·g over the planes as a finite check: a·g is NaN or Inf
/// whenever a or g is (Inf·0 is NaN), and a sum stays so; without, returns 0.
template <class Method, bool Check, std::size_t M, class Acc>
Acc add_contributions(Acc* out, const Acc* const* a_planes, const Acc* const* g_planes, std::size_t S) {
    return dispatch([&](auto bytes) {
        return add_contributions_in<Method, Check, M, lanes_in<Acc, bytes()>>(out, a_planes, g_planes, S);
    });
}

/// The gradients of target t alone: G's slice t as a [1, K, *S] view.
template <class E>
host_view<const E> target_slice(const host_view<const E>& G, std::size_t t) {
    host_view<const E> g = G;
    g.data += static_cast<std::ptrdiff_t>(t) * G.strides[0];
    g.shape[0] = 1;
    return g;
}

/// Exact finite check of planes k0..k1 of sample n, in order (activations before gradients of a
/// channel); throws for the first non-finite plane, naming gradients' sample `gradient_label` when
/// given (explain_many names its targets). Runs only when a fused check saw NaN or Inf.
template <class Acc, class E>
[[gnu::noinline]] void locate_non_finite(const host_view<const E>& A, const host_view<const E>* G, std::size_t n, std::size_t k0,
                       std::size_t k1, std::size_t gradient_label = own_sample) {
    const plane_ops<Acc> ops;
    plane_reader<Acc, E> ra(A);
    std::optional<plane_reader<Acc, E>> rg;
    if (G) rg.emplace(*G);
    for (std::size_t k = k0; k < k1; ++k) {
        if (!ops.all_finite(ra.get(n, k))) throw_non_finite("activations", n, k);
        if (G && !ops.all_finite(rg->get(n, k)))
            throw_non_finite("gradients", gradient_label == own_sample ? n : gradient_label, k);
    }
}

/// Exact finite check of sample n's gradients alone (those a method ignores), in channel order;
/// throws for the first non-finite plane, naming `gradient_label` when given, else the sample.
template <class Acc, class E>
[[gnu::noinline]] void locate_non_finite_gradients(const host_view<const E>& G, std::size_t n,
                                                   std::size_t gradient_label = own_sample) {
    plane_reader<Acc, E> rg(G);
    for (std::size_t k = 0; k < G.shape[1]; ++k)
        if (!plane_ops<Acc>::all_finite(rg.get(n, k)))
            throw_non_finite("gradients", gradient_label == own_sample ? n : gradient_label, k);
}

/// True when every accumulator is finite, in packs of W values (x − x is 0 for finite x, NaN otherwise).
template <std::size_t W, class Acc>
CAMKIT_KERNEL_INLINE_CLANG bool finite_map_in(const Acc* out, std::size_t S) {
    return reduce_planes_in<Acc, W>(S, [out](auto at) CAMKIT_LAMBDA_INLINE_CLANG { return at(out) - at(out); }) == Acc(0);
}

/// True when every accumulator is finite.
template <class Acc>
bool finite_map(const Acc* out, std::size_t S) {
    return plane_ops<Acc>::all_finite(plane<Acc>{out, S});
}

/// Dense planes of channels k..k+m of sample n (a channel group, k ≥ k0 in steps of channel_group):
/// gathered planes (strided or half-precision input) come in blocks that hold the whole group, so
/// the planes of a group stay valid together. Constructed with `read` false, it reads nothing:
/// get() gives planes of the right size without data (for passes that need only the plane's size,
/// such as explain_many's weights where Σ a is known).
template <class Acc, class E>
struct group_reader {
    std::optional<plane_reader<Acc, E>> reader;
    const Acc* data[channel_group] = {};
    std::size_t unread_size = 0;  ///< the plane size get() gives when nothing is read

    explicit group_reader(const host_view<const E>* v, bool read = true) {
        if (v && read) reader.emplace(*v, channel_group);
        else if (v) unread_size = element_count(shape_t(v->shape.begin() + 2, v->shape.end()));
    }
    /// Plane j of the group that starts at channel k − j.
    plane<Acc> get(std::size_t j, std::size_t n, std::size_t k) {
        if (!reader) return {nullptr, unread_size};
        const std::size_t first = k - j;
        const plane<Acc> p = reader->get(n, k, first, first + channel_group);
        data[j] = p.data;
        return p;
    }
    /// True when planes are the memory itself (see plane_reader::direct), or when nothing is read.
    bool direct() const { return !reader || reader->direct(); }
    /// Plane k of sample n without taking a slot: only where direct() (the memory itself).
    plane<Acc> peek(std::size_t n, std::size_t k) { return reader->get(n, k); }
};

/// Calls f(s0, len, k, m) for the spatial tiles [s0, s0 + len) of `tile` positions (0: one tile of
/// the whole plane) of S, and in each for the channel groups [k, k + m) of k0..k1: every channel
/// of the chunk adds into one output tile while it is in cache.
template <class F>
CAMKIT_KERNEL_INLINE void for_tiles(std::size_t S, std::size_t tile, std::size_t k0, std::size_t k1, F&& f) {
    const std::size_t T = tile == 0 || tile > S ? S : tile;
    std::size_t s0 = 0;
    do {
        const std::size_t len = std::min(T, S - s0);
        for (std::size_t k = k0; k < k1; k += channel_group) f(s0, len, k, std::min(channel_group, k1 - k));
        s0 += T;
    } while (s0 < S);
}

/// Σ_s over one plane of the selected sums, in one pass: A (SA), G (SG), A·G (SAG). Returns
/// {Σ a, Σ g, Σ a·g}, with 0 for a sum not selected; planes not needed are not read.
template <std::size_t W, class Acc, bool SA, bool SG, bool SAG>
CAMKIT_KERNEL_INLINE_CLANG std::array<Acc, 3> plane_sums(const Acc* a, const Acc* g, std::size_t n) {
    constexpr std::size_t M = std::size_t{SA} + SG + SAG, ig = SA, iag = std::size_t{SA} + SG;
    std::array<Acc, 3> out{};
    if constexpr (M == 1) {
        // One sum: a plain accumulator (a one-element sums<> costs the compiler extra moves).
        constexpr std::size_t slot = SA ? 0 : SG ? 1 : 2;
        if constexpr (SAG)
            out[slot] = reduce_planes_in<Acc, W>(n, [a, g](auto at) CAMKIT_LAMBDA_INLINE_CLANG { return at(a) * at(g); });
        else out[slot] = reduce_planes_in<Acc, W>(n, [p = SA ? a : g](auto at) CAMKIT_LAMBDA_INLINE_CLANG { return at(p); });
        return out;
    } else {
        const auto r = reduce_planes_in<Acc, W>(n, [a, g](auto at) CAMKIT_LAMBDA_INLINE_CLANG {
            using V = decltype(at(a));
            sums<V, M> s{};
            if constexpr (SA) s.v[0] = at(a);
            if constexpr (SG) s.v[ig] = at(g);
            if constexpr (SAG) {
                if constexpr (SA && SG) s.v[iag] = s.v[0] * s.v[ig];
                else s.v[iag] = at(a) * at(g);
            }
            return s;
        });
        if constexpr (SA) out[0] = r.v[0];
        if constexpr (SG) out[1] = r.v[ig];
        if constexpr (SAG) out[2] = r.v[iag];
        return out;
    }
}

/// Σ_s gradient_term(statistics, g) over one plane, in one pass with Σ g (SG, a finite check)
/// and Σ of the next channel's activations (NA, see channel_weight_of). Returns {Σ term, Σ g, Σ next a}.
template <std::size_t W, class Method, class Acc, bool SG, bool NA>
CAMKIT_KERNEL_INLINE_CLANG
std::array<Acc, 3> term_sums(const plane_statistics<Acc>& st, const Acc* g, const Acc* next_a, std::size_t n) {
    constexpr std::size_t M = 1 + std::size_t{SG} + NA, ina = 1 + std::size_t{SG};
    const plane_ops<Acc> ops;
    if constexpr (M == 1) {
        // The term alone: a plain accumulator, as in plane_sums.
        return {reduce_planes_in<Acc, W>(n, [g, &ops, &st](auto at) CAMKIT_LAMBDA_INLINE_CLANG {
                    using V = decltype(at(g));
                    return static_cast<V>(Method::gradient_term(ops, st, at(g)));
                }),
                0, 0};
    } else {
        const auto r = reduce_planes_in<Acc, W>(n, [g, next_a, &ops, &st](auto at) CAMKIT_LAMBDA_INLINE_CLANG {
            using V = decltype(at(g));
            sums<V, M> s{};
            const V vg = at(g);
            s.v[0] = static_cast<V>(Method::gradient_term(ops, st, vg));
            if constexpr (SG) s.v[1] = vg;
            if constexpr (NA) s.v[ina] = at(next_a);
            else (void)next_a;  // captured for NA only
            return s;
        });
        std::array<Acc, 3> out{r.v[0], 0, 0};
        if constexpr (SG) out[1] = r.v[1];
        if constexpr (NA) out[2] = r.v[ina];
        return out;
    }
}

/// A channel weight and what its passes learned on the way.
template <class Acc>
struct weight_outcome {
    Acc weight = 0;
    bool suspect = false;              ///< a finite check saw NaN or Inf (or a sum overflowed)
    std::optional<Acc> next_sum_a;     ///< Σ a of the next channel, when it was given to the term pass
};

/// Whether the kernels fold the next channel's Σ a into this channel's gradient-term pass: for a
/// method that needs Σ a and a second pass over G but otherwise never reads A before the map
/// (Grad-CAM++). That read then overlaps the term's arithmetic, and the next channel needs no
/// pass of its own over A.
template <class Method>
inline constexpr bool folds_next_sum_a = [] {
    if constexpr (channel_weight_method<Method>)
        return has_gradient_term<Method> && has(Method::needs, statistic::sum_a) &&
               !has(Method::needs, statistic::sum_ag);
    else
        return false;
}();

/// Whether Σ a of a channel can be computed once and shared by all targets of one sample: the
/// method needs it, and no other pass over A computes it on the way (Σ a·g would).
template <class Method>
inline constexpr bool shares_sum_a = [] {
    if constexpr (channel_weight_method<Method>)
        return has(Method::needs, statistic::sum_a) && !has(Method::needs, statistic::sum_ag);
    else
        return false;
}();

/// Whether a method's weight is a function of Σ g alone (Grad-CAM): then a group's weights take one
/// pass over its gradient planes together, each summed exactly as channel_weight_of sums it.
template <class Method>
inline constexpr bool weights_from_sum_g = [] {
    if constexpr (channel_weight_method<Method>)
        return Method::needs == statistic::sum_g && !has_gradient_term<Method>;
    else
        return false;
}();

/// Whether group_weights takes a group's weights in sweeps over all its planes at once (statistics,
/// then the gradient term): a method with more than Σ g, in packs of 32 or 64 bytes (AVX2, AVX-512;
/// measured 2026-12-06 on an Intel Xeon VM, one thread: XGrad-CAM and Grad-CAM++ 5–40 % faster at
/// the segmentation, large and 3-D shapes). SSE2's 16-byte packs keep the per-channel passes.
template <class Method, class Acc, std::size_t W>
inline constexpr bool sweeps_groups = [] {
    if constexpr (channel_weight_method<Method>)
        return !weights_from_sum_g<Method> && W * sizeof(Acc) >= 32;
    else
        return false;
}();

/// Whether a group's term sweep also sums the next group's activation planes (folds_next_sum_a
/// methods, in 64-byte packs: the fold's sums would spill 16 registers).
template <class Method, class Acc, std::size_t W>
inline constexpr bool sweep_folds = folds_next_sum_a<Method> && W * sizeof(Acc) >= 64;

/// The weights of one group's M planes as channel_weight_checked takes them plane by plane (the same
/// sums, each in the same order, so the same weights to the bit), but in sweeps that read all M
/// planes together: the declared statistics, then the gradient term. M planes a sweep are M (or 2M)
/// streams for the prefetchers, which read memory faster than the one or two of a plane's passes.
///
/// `known_sum_a` (M values), when given, is Σ a of the planes computed elsewhere (the previous group's
/// term sweep, or once for all targets of explain_many): then the statistics sweep leaves Σ a out
/// (shares_sum_a methods) and sums only what else the method declares (Σ g), if anything.
/// `next_a` (channel_group planes), when given, are the next group's activation planes, summed in
/// this group's term sweep into `next_sum_a`: eight streams in one sweep instead of two sweeps of four.
template <std::size_t W, class Method, bool Check, std::size_t M, class Acc>
CAMKIT_KERNEL_INLINE_CLANG
void sweep_group(const Acc* const* a_planes, const Acc* const* g_planes, std::size_t S,
                 plane_statistics<Acc>* st, bool* suspect, const Acc* known_sum_a = nullptr,
                 const Acc* const* next_a = nullptr, Acc* next_sum_a = nullptr) {
    constexpr statistic needs = Method::needs;
    constexpr bool need_a = has(needs, statistic::sum_a), need_g = has(needs, statistic::sum_g),
                   need_ag = has(needs, statistic::sum_ag), term = has_gradient_term<Method>;
    constexpr bool first_pass_reads_g = need_g || need_ag;
    // Σ a·g is NaN or Inf whenever an a or a g is (Inf·0 is NaN), so it checks G where it is summed:
    // Σ g as a check only where it is not (fewer accumulators than the per-plane pass).
    constexpr bool SA_declared = (need_a || need_ag) && (need_a || Check),
                   SG = need_g || (Check && first_pass_reads_g && !need_ag), SAG = need_ag;
    const Acc* a[M];  // local copies: the sums are the only stores
    const Acc* g[M];
    for (std::size_t j = 0; j < M; ++j) a[j] = a_planes[j], g[j] = g_planes[j], st[j].positions = static_cast<Acc>(S);
    // The statistics sweep; without Σ a where it is known (its other sums, Σ g, are still needed).
    auto statistics = [&](auto read_a) CAMKIT_LAMBDA_INLINE_CLANG {
        constexpr bool RA = decltype(read_a)::value;
        constexpr bool SA = RA && SA_declared;
        constexpr std::size_t P = std::size_t{SA} + SG + SAG, ig = SA, iag = std::size_t{SA} + SG;
        if constexpr (P > 0) {
            const auto r = reduce_planes_in<Acc, W>(S, [&](auto at) CAMKIT_LAMBDA_INLINE {  // reads g only where SG or SAG
                using V = decltype(at(a[0]));
                sums<V, M * P> s{};
                for (std::size_t j = 0; j < M; ++j) {
                    if constexpr (SA) s.v[j * P] = at(a[j]);
                    if constexpr (SG) s.v[j * P + ig] = at(g[j]);
                    if constexpr (SAG) {
                        if constexpr (SA && SG) s.v[j * P + iag] = s.v[j * P] * s.v[j * P + ig];
                        else s.v[j * P + iag] = at(a[j]) * at(g[j]);
                    }
                }
                return s;
            });
            for (std::size_t j = 0; j < M; ++j) {
                const Acc ra = SA ? r.v[j * P] : Acc(0), rg = SG ? r.v[j * P + ig] : Acc(0),
                          rag = SAG ? r.v[j * P + iag] : Acc(0);
                if constexpr (SA) st[j].sum_a = ra;
                if constexpr (SG) st[j].sum_g = rg;
                if constexpr (SAG) st[j].sum_ag = rag;
                if constexpr (Check)
                    suspect[j] = suspect[j] || !std::isfinite(ra) || !std::isfinite(rg) || !std::isfinite(rag);
            }
        }
    };
    if constexpr (shares_sum_a<Method>) {
        if (known_sum_a) {
            for (std::size_t j = 0; j < M; ++j) {
                st[j].sum_a = known_sum_a[j];
                if constexpr (Check) suspect[j] = suspect[j] || !std::isfinite(known_sum_a[j]);
            }
            statistics(std::false_type{});
        } else {
            statistics(std::true_type{});
        }
    } else {
        statistics(std::true_type{});
    }
    if constexpr (term) {
        constexpr bool TG = Check && !first_pass_reads_g;
        constexpr std::size_t Q = 1 + std::size_t{TG};
        const plane_ops<Acc> ops;
        const auto take = [&](const auto& r) CAMKIT_LAMBDA_INLINE_CLANG {
            for (std::size_t j = 0; j < M; ++j) {
                st[j].sum_term = r.v[j * Q];
                if constexpr (TG) suspect[j] = suspect[j] || !std::isfinite(r.v[j * Q + 1]);
            }
        };
        auto sweep = [&](auto fold) CAMKIT_LAMBDA_INLINE_CLANG {
            constexpr std::size_t F = decltype(fold)::value ? channel_group : 0;
            const Acc* na[channel_group] = {};
            if constexpr (F > 0)
                for (std::size_t j = 0; j < F; ++j) na[j] = next_a[j];
            const auto r = reduce_planes_in<Acc, W>(S, [&](auto at) CAMKIT_LAMBDA_INLINE {
                using V = decltype(at(g[0]));
                sums<V, M * Q + F> s{};
                for (std::size_t j = 0; j < M; ++j) {
                    const V vg = at(g[j]);
                    s.v[j * Q] = static_cast<V>(Method::gradient_term(ops, st[j], vg));
                    if constexpr (TG) s.v[j * Q + 1] = vg;
                }
                if constexpr (F > 0)
                    for (std::size_t j = 0; j < F; ++j) s.v[M * Q + j] = at(na[j]);
                return s;
            });
            take(r);
            if constexpr (F > 0)
                for (std::size_t j = 0; j < F; ++j) next_sum_a[j] = r.v[M * Q + j];
        };
        if constexpr (sweep_folds<Method, Acc, W> && M == channel_group) {
            if (next_a) sweep(std::true_type{});
            else sweep(std::false_type{});
        } else {
            sweep(std::false_type{});
        }
    } else if constexpr (Check && !first_pass_reads_g) {
        for (std::size_t j = 0; j < M; ++j) suspect[j] = suspect[j] || !finite_map_in<W>(g[j], S);
    }
}

/// What one group's weight passes learned for the next group of the chunk, or Σ a of every channel
/// computed before (explain_many's, shared by its targets).
template <class Acc>
struct group_carry {
    std::optional<Acc> first;                                 ///< Σ a of its first channel (per-channel passes)
    std::optional<std::array<Acc, channel_group>> planes;     ///< Σ a of each of its planes (group sweeps)
    const Acc* all_sum_a = nullptr;                           ///< Σ a of channel k at [k] (K values), when known
};

/// group_weights by sweep_group: the weights of channels k..k+m of sample n, planes left in ra's
/// slots. For folds_next_sum_a methods, a full group's term sweep also sums the next full group's
/// activation planes where planes are the memory itself (before k1), into carry.planes.
template <std::size_t W, class Method, class Acc, class E>
CAMKIT_KERNEL_INLINE_CLANG
void group_sweep_weights(const host_view<const E>& A, const host_view<const E>* G, group_reader<Acc, E>& ra,
                         group_reader<Acc, E>& rg, std::size_t n, std::size_t k0, std::size_t k1, std::size_t k,
                         std::size_t m, Acc* weights, bool check_finite, group_carry<Acc>& carry,
                         std::size_t gradient_label) {
    const std::size_t K = A.shape[1];
    const Acc* a[channel_group];
    const Acc* g[channel_group];
    std::size_t S = 0;
    for (std::size_t j = 0; j < m; ++j) {
        const plane<Acc> p = ra.get(j, n, k + j);
        a[j] = p.data;
        g[j] = rg.get(j, n, k + j).data;
        S = p.size;
    }
    plane_statistics<Acc> st[channel_group];
    bool suspect[channel_group] = {};
    std::array<Acc, channel_group> known{}, next_sums{};
    const bool has_known = carry.all_sum_a || (carry.planes.has_value() && m == channel_group);
    if (carry.all_sum_a) std::copy_n(carry.all_sum_a + k, m, known.data());
    else if (has_known) known = *carry.planes;
    carry.planes.reset();
    const Acc* next[channel_group] = {};
    // Not over small planes: at 7×7 the fold's sums cost more than the statistics sweep they save
    // (Grad-CAM++ 15 % slower at [32, 2048, 7, 7]; 3–7 % faster at 128×128 and 64³, 2026-12-06).
    const bool fold = sweep_folds<Method, Acc, W> && !carry.all_sum_a && m == channel_group &&
                      k + 2 * channel_group <= k1 && ra.direct() && S >= 1024;
    if (fold)
        for (std::size_t j = 0; j < channel_group; ++j) next[j] = ra.peek(n, k + m + j).data;
    with_group_size(m, [&](auto M) CAMKIT_LAMBDA_INLINE_CLANG {
        const Acc* kn = has_known ? known.data() : nullptr;
        const Acc* const* na = fold ? next : nullptr;
        if (check_finite) sweep_group<W, Method, true, M()>(a, g, S, st, suspect, kn, na, next_sums.data());
        else sweep_group<W, Method, false, M()>(a, g, S, st, suspect, kn, na, next_sums.data());
    });
    if (fold) carry.planes = next_sums;
    for (std::size_t j = 0; j < m; ++j) {
        const Acc w = static_cast<Acc>(Method::channel_weight(st[j]));
        if (check_finite && (suspect[j] || !std::isfinite(w))) locate_non_finite<Acc>(A, G, n, k0, k + j + 1, gradient_label);
        weights[n * K + k + j] = w;
    }
}

/// channel_weight_of in packs of W values, with the finite checks when Check.
template <std::size_t W, class Method, bool Check, class Acc>
CAMKIT_KERNEL_INLINE_CLANG
weight_outcome<Acc> channel_weight_checked(plane<Acc> a, plane<Acc> g, const Acc* known_sum_a, const Acc* next_a) {
    constexpr statistic needs = Method::needs;
    constexpr bool need_a = has(needs, statistic::sum_a), need_g = has(needs, statistic::sum_g),
                   need_ag = has(needs, statistic::sum_ag), term = has_gradient_term<Method>;
    constexpr bool first_pass_reads_g = need_g || need_ag;
    weight_outcome<Acc> o;
    plane_statistics<Acc> st;
    st.positions = static_cast<Acc>(a.size);
    // Pass 1: the declared statistics, with Σ a and Σ g as finite checks of the planes it reads.
    auto first_pass = [&](auto read_a) CAMKIT_LAMBDA_INLINE_CLANG {
        constexpr bool RA = decltype(read_a)::value;
        constexpr bool SA = RA && (need_a || Check), SG = need_g || (Check && first_pass_reads_g);
        if constexpr (SA || SG || need_ag) {
            const auto r = plane_sums<W, Acc, SA, SG, need_ag>(a.data, g.data, a.size);
            if constexpr (SA) st.sum_a = r[0];
            if constexpr (SG) st.sum_g = r[1];
            if constexpr (need_ag) st.sum_ag = r[2];
            if constexpr (Check) o.suspect = !std::isfinite(r[0]) || !std::isfinite(r[1]) || !std::isfinite(r[2]);
        }
    };
    if (need_a && !need_ag && known_sum_a) {
        st.sum_a = *known_sum_a;
        if constexpr (Check) o.suspect = !std::isfinite(*known_sum_a);
        first_pass(std::false_type{});
    } else if constexpr (need_a || need_ag) {
        first_pass(std::true_type{});
    } else {
        first_pass(std::false_type{});
    }
    // Pass 2: the gradient term's sum over G (Check: with Σ g), and the next channel's Σ a.
    if constexpr (term) {
        constexpr bool SG = Check && !first_pass_reads_g;
        auto second_pass = [&](auto fold) CAMKIT_LAMBDA_INLINE_CLANG {
            constexpr bool NA = decltype(fold)::value;
            const auto r = term_sums<W, Method, Acc, SG, NA>(st, g.data, next_a, g.size);
            st.sum_term = r[0];
            if constexpr (SG) o.suspect = o.suspect || !std::isfinite(r[1]);
            if constexpr (NA) o.next_sum_a = r[2];
        };
        if (next_a) second_pass(std::true_type{});
        else second_pass(std::false_type{});
    } else if constexpr (Check && !first_pass_reads_g) {
        o.suspect = o.suspect || !finite_map_in<W>(g.data, g.size);
    }
    o.weight = static_cast<Acc>(Method::channel_weight(st));
    if constexpr (Check) o.suspect = o.suspect || !std::isfinite(o.weight);
    return o;
}

/// The weight of one channel from its planes a and g: the statistics the method declares, in
/// the passes they need. `known_sum_a`, when given, is Σ a computed elsewhere (once for many
/// targets, or by the previous channel's term pass); `next_a`, when given (only where
/// folds_next_sum_a), is the next channel's activation plane, summed in this channel's term pass.
/// With `check`, the passes also check the planes they read for NaN and Inf (`suspect`).
template <class Method, class Acc>
weight_outcome<Acc> channel_weight_of(plane<Acc> a, plane<Acc> g, const Acc* known_sum_a, const Acc* next_a,
                                      bool check) {
    return dispatch_plane<Acc>(a.size, [&](auto bytes) {
        constexpr std::size_t W = lanes_in<Acc, bytes()>;
        return check ? channel_weight_checked<W, Method, true>(a, g, known_sum_a, next_a)
                     : channel_weight_checked<W, Method, false>(a, g, known_sum_a, next_a);
    });
}

/// The weights of channels k..k+m of sample n (one group) into weights[n·K + ·], their planes
/// left in ra's slots; a suspect weight (finite checks) locates its plane and throws.
///
/// `carry` holds what the previous group's term passes summed of this group's activation planes
/// (folds_next_sum_a): Σ a of channel k in `first` (per-channel passes), of each plane in `planes`
/// (group sweeps), and comes back with the same for the next group where this group's term passes
/// read those planes too: where planes are the memory itself (direct) and before `k1`. Where
/// `carry.all_sum_a` is given, Σ a comes from it and no term pass reads the next planes. Errors
/// name the gradients' sample `gradient_label` (own_sample: n).
template <std::size_t W, class Method, class Acc, class E>
CAMKIT_KERNEL_INLINE_CLANG
void group_weights(const host_view<const E>& A, const host_view<const E>* G, group_reader<Acc, E>& ra,
                   group_reader<Acc, E>& rg, std::size_t n, std::size_t k0, std::size_t k1, std::size_t k,
                   std::size_t m, Acc* weights, bool check_finite, group_carry<Acc>& carry,
                   std::size_t gradient_label = own_sample) {
    const std::size_t K = A.shape[1];
    if constexpr (weights_from_sum_g<Method>) {
        // Σ g of the group's planes in one pass: m streams read memory faster than one.
        const Acc* g[channel_group];
        std::size_t S = 0;
        for (std::size_t j = 0; j < m; ++j) {
            ra.get(j, n, k + j);  // the group's activation planes, for the weighted sum
            const plane<Acc> p = rg.get(j, n, k + j);
            g[j] = p.data;
            S = p.size;
        }
        with_group_size(m, [&](auto M) CAMKIT_LAMBDA_INLINE_CLANG {
            const auto r = reduce_planes_in<Acc, W>(S, [&g, M](auto at) CAMKIT_LAMBDA_INLINE_CLANG {
                sums<decltype(at(g[0])), M()> v;
                for (std::size_t j = 0; j < M(); ++j) v.v[j] = at(g[j]);
                return v;
            });
            for (std::size_t j = 0; j < M(); ++j) {
                plane_statistics<Acc> st;
                st.positions = static_cast<Acc>(S);
                st.sum_g = r.v[j];
                const Acc w = static_cast<Acc>(Method::channel_weight(st));
                if (check_finite && !(std::isfinite(st.sum_g) && std::isfinite(w)))
                    locate_non_finite<Acc>(A, G, n, k0, k + j + 1, gradient_label);
                weights[n * K + k + j] = w;
            }
        });
        return;
    } else if constexpr (sweeps_groups<Method, Acc, W>) {
        group_sweep_weights<W, Method>(A, G, ra, rg, n, k0, k1, k, m, weights, check_finite, carry, gradient_label);
        return;
    }
    plane<Acc> next;  // plane j, read ahead by channel j − 1's term pass (null data: none)
    for (std::size_t j = 0; j < m; ++j) {
        const plane<Acc> a = next.data ? next : ra.get(j, n, k + j);
        const plane<Acc> g = rg.get(j, n, k + j);
        next = {};
        // Into the next group only for direct planes: gathered ones would overwrite a slot of this group.
        if constexpr (folds_next_sum_a<Method>) {
            if (!carry.all_sum_a) {
                if (j + 1 < m) next = ra.get(j + 1, n, k + j + 1);
                else if (k + m < k1 && ra.direct()) next = ra.peek(n, k + m);
            }
        }
        const Acc* known = carry.all_sum_a ? carry.all_sum_a + k + j : carry.first ? &*carry.first : nullptr;
        const Acc* next_a = next.data;
        const auto o = check_finite ? channel_weight_checked<W, Method, true>(a, g, known, next_a)
                                    : channel_weight_checked<W, Method, false>(a, g, known, next_a);
        if (check_finite && o.suspect) locate_non_finite<Acc>(A, G, n, k0, k + j + 1, gradient_label);
        weights[n * K + k + j] = o.weight;
        carry.first = o.next_sum_a;
    }
}

/// The weights of channels k0..k1 of sample 0 of A and G ([1, K, *S] views) into weights[k], by
/// group_weights (the sums of fused_channel_weights, so its weights to the bit), with Σ a of channel
/// k from sum_a[k] where sum_a is given (K values); errors name the gradients' sample `gradient_label`.
/// The activation planes are read only where the weights need more of them than the Σ a given
/// (Σ a·g, or Σ a itself): gathered planes (strided or half-precision A) are not gathered again for
/// every target of a Grad-CAM or Grad-CAM++.
template <class Method, class Acc, class E>
void sample_weights(const host_view<const E>& A, const host_view<const E>& G, std::size_t k0, std::size_t k1,
                    const Acc* sum_a, Acc* weights, bool check_finite, std::size_t gradient_label) {
    constexpr statistic needs = Method::needs;
    const bool read_a = has(needs, statistic::sum_ag) || (has(needs, statistic::sum_a) && !sum_a);
    group_reader<Acc, E> ra(&A, read_a), rg(&G);
    dispatch_plane<Acc>(dims_of(A.shape).S, [&](auto bytes) {
        group_carry<Acc> carry;
        carry.all_sum_a = sum_a;
        for (std::size_t k = k0; k < k1; k += channel_group)
            group_weights<lanes_in<Acc, bytes()>, Method>(A, &G, ra, rg, 0, k0, k1, k, std::min(channel_group, k1 - k),
                                                          weights, check_finite, carry, gradient_label);
    });
}

// The kernels for channels-last memory read in place (position_major.hpp, included at the end).
template <class Acc, class E>
bool reads_position_major(const host_view<const E>& A, const host_view<const E>* G);
template <class Method, class Acc>
void position_major_channel_weights(const host_view<const Acc>& A, const host_view<const Acc>* G, Acc* raw,
                                    Acc* weights, unsigned threads, bool check_finite);
template <class Method, class Acc>
void position_major_elementwise(const host_view<const Acc>& A, const host_view<const Acc>& G, Acc* raw,
                                unsigned threads, bool check_finite, std::size_t gradient_label);

/// Sample n, channels k0..k1 of fused_channel_weights, in packs of W values: the whole chunk is
/// compiled for one instruction set (dispatch), so small planes pay no per-plane dispatch. Whole
/// planes (tile 0): each group's weights, then the group's weighted planes added while in cache.
/// Tiles: every weight of the chunk first, then the weighted sum tile by tile (for_tiles).
template <std::size_t W, class Method, class Acc, class E>
CAMKIT_KERNEL_INLINE_CLANG
void channel_weights_chunk(const host_view<const E>& A, const host_view<const E>* G, group_reader<Acc, E>& ra,
                           group_reader<Acc, E>& rg, std::size_t n, std::size_t k0, std::size_t k1, Acc* out,
                           std::size_t S, Acc* weights, bool check_finite, std::size_t tile) {
    const Acc* w = weights + n * A.shape[1];
    // Adds w·a of the group's planes (in ra's slots for whole planes; direct planes for tiles).
    auto add_group = [&](std::size_t s0, std::size_t len, std::size_t k, std::size_t m) CAMKIT_LAMBDA_INLINE_CLANG {
        const Acc* p[channel_group];
        for (std::size_t j = 0; j < m; ++j) p[j] = (tile ? ra.get(j, n, k + j).data : ra.data[j]) + s0;
        with_group_size(m, [&](auto M) CAMKIT_LAMBDA_INLINE_CLANG { add_scaled_in<M(), W>(out + s0, w + k, p, len); });
    };
    group_carry<Acc> carry;  // what the previous group's passes learned of this one (group_weights)
    for (std::size_t k = k0; k < k1; k += channel_group) {
        const std::size_t m = std::min(channel_group, k1 - k);
        if constexpr (!std::is_void_v<Method>)
            group_weights<W, Method>(A, G, ra, rg, n, k0, k1, k, m, weights, check_finite, carry);
        else if (!tile)
            for (std::size_t j = 0; j < m; ++j) ra.get(j, n, k + j);
        if (!tile) add_group(0, S, k, m);
    }
    if (tile) for_tiles(S, tile, k0, k1, add_group);
    if (check_finite && !finite_map_in<W>(out, S)) {
        locate_non_finite<Acc>(A, G, n, k0, k1);
        throw_non_finite_map(n);  // finite inputs: an overflow, or a weight that divided by 0
    }
}

/// raw[n,s] = Σ_k w[n,k] A[n,k,s] with w from the method's channel_weight (written to `weights`),
/// or taken from `weights` as given when `Method` is void. Channels go in groups: the weights of
/// a group, then one pass adding the group's weighted planes. The finite check rides on the passes
/// the weights make anyway and on the accumulated map (a non-finite activation makes w·a, and so
/// the map, non-finite for any finite w).
template <class Method, class Acc, class E>
void fused_channel_weights(const host_view<const E>& A, const host_view<const E>* G, Acc* raw, Acc* weights,
                           int threads, bool check_finite) {
    if constexpr (std::is_same_v<E, Acc>) {
        if (reads_position_major<Acc>(A, std::is_void_v<Method> ? nullptr : G))
            return position_major_channel_weights<Method, Acc>(A, G, raw, weights, resolve_threads(threads, 2 * A.size()),
                                                               check_finite);
    }
    const cam_dims dims = dims_of(A.shape);  // named, not a structured binding: lambdas below capture them
    const std::size_t N = dims.N, K = dims.K, S = dims.S;
    for_channel_blocks<Acc>(N, K, S, resolve_threads(threads, 2 * A.size()), raw,
                            [&](std::size_t n, std::size_t k0, std::size_t k1, Acc* out) {
        group_reader<Acc, E> ra(&A), rg(std::is_void_v<Method> ? nullptr : G);
        const std::size_t tile = ra.direct() && rg.direct() ? tile_positions<Acc>(S) : 0;
        dispatch_plane<Acc>(S, [&](auto bytes) {
            channel_weights_chunk<lanes_in<Acc, bytes()>, Method>(A, G, ra, rg, n, k0, k1, out, S, weights,
                                                                 check_finite, tile);
        });
    });
}

/// Sample n, channels k0..k1 of fused_elementwise, in packs of W values (compiled per ISA, as
/// channel_weights_chunk), over whole planes or tiles of `tile` positions (for_tiles; direct planes).
template <std::size_t W, class Method, class Acc, class E>
CAMKIT_KERNEL_INLINE_CLANG
void elementwise_chunk(const host_view<const E>& A, const host_view<const E>& G, group_reader<Acc, E>& ra,
                       group_reader<Acc, E>& rg, std::size_t n, std::size_t k0, std::size_t k1, Acc* out, std::size_t S,
                       bool check_finite, std::size_t gradient_label, std::size_t tile) {
    Acc check = 0;
    const auto add_tile = [&](std::size_t s0, std::size_t len, std::size_t k, std::size_t m) CAMKIT_LAMBDA_INLINE_CLANG {
        const Acc* a[channel_group];
        const Acc* g[channel_group];
        for (std::size_t j = 0; j < m; ++j) {
            a[j] = ra.get(j, n, k + j).data + s0;
            g[j] = rg.get(j, n, k + j).data + s0;
        }
        with_group_size(m, [&](auto M) CAMKIT_LAMBDA_INLINE_CLANG {
            if (check_finite)
                check += add_contributions_in<Method, true, M(), W>(out + s0, a, g, len);
            else
                add_contributions_in<Method, false, M(), W>(out + s0, a, g, len);
        });
    };
    for_tiles(S, tile, k0, k1, add_tile);
    if (check_finite && !std::isfinite(check)) {
        locate_non_finite<Acc>(A, &G, n, k0, k1, gradient_label);
        // Finite inputs whose Σ a·g overflowed: an error only where the contributions did too.
        if (!finite_map_in<W>(out, S)) throw_non_finite_map(gradient_label == own_sample ? n : gradient_label);
    }
}

/// raw[n,s] = Σ_k contribution(A[n,k,s], G[n,k,s]), channels in groups that share one pass over
/// the output. The finite check is Σ a·g in the same loop (a contribution such as relu(g)·a can
/// hide a −Inf, so the map is not enough).
template <class Method, class Acc, class E>
void fused_elementwise(const host_view<const E>& A, const host_view<const E>& G, Acc* raw, int threads,
                       bool check_finite, std::size_t gradient_label = own_sample) {
    if constexpr (std::is_same_v<E, Acc>) {
        if (reads_position_major<Acc>(A, &G))
            return position_major_elementwise<Method, Acc>(A, G, raw, resolve_threads(threads, 2 * A.size()), check_finite,
                                                           gradient_label);
    }
    const cam_dims dims = dims_of(A.shape);  // named, not a structured binding: lambdas below capture them
    const std::size_t N = dims.N, K = dims.K, S = dims.S;
    for_channel_blocks<Acc>(N, K, S, resolve_threads(threads, 2 * A.size()), raw,
                            [&](std::size_t n, std::size_t k0, std::size_t k1, Acc* out) {
        group_reader<Acc, E> ra(&A), rg(&G);
        const std::size_t tile = ra.direct() && rg.direct() ? tile_positions<Acc>(S) : 0;
        dispatch([&](auto bytes) {  // element-wise: no sum over positions but the finite check
            elementwise_chunk<lanes_in<Acc, bytes()>, Method>(A, G, ra, rg, n, k0, k1, out, S, check_finite,
                                                             gradient_label, tile);
        });
    });
}

}  // namespace camkit::detail

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <camkit/position_major.hpp>
