#pragma once
// Connected-component labelling of a binary mask with 1 to 3 axes (Seg-Grad-CAM's regions of
// interest are components of a class region).
//
// Connectivity counts the neighbours a position touches: 2 in 1-D; 4 (edges) or 8 (edges and
// corners) in 2-D; 6 (faces), 18 (faces and edges) or 26 (faces, edges and corners) in 3-D.
// full_connectivity (0) picks the largest for the mask's rank (8 in 2-D, 26 in 3-D): the default
// of skimage.measure.label, which Seg-Grad-CAM's component regions use.
//
// Components are numbered 1, 2, ... in the raster (row-major) order of their first position, as
// scipy.ndimage.label and skimage.measure.label number them; 0 is the background.
#include <camkit/error.hpp>
#include <camkit/tensor.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace camkit {

/// The connectivity value that means "every neighbour" for the mask's rank (8 in 2-D, 26 in 3-D).
inline constexpr unsigned full_connectivity = 0;

/// A labelling: labels [*S] (0 background, 1..count() the components) and the size of each component.
struct components {
    tensor<std::uint32_t> labels;    ///< the component of every position, 0 outside the mask
    std::vector<std::size_t> sizes;  ///< sizes[l − 1] = number of positions of component l

    /// Number of components.
    std::size_t count() const { return sizes.size(); }
};

namespace detail {

/// The neighbourhood "radius" for a connectivity: a neighbour differs by at most 1 per axis and
/// in at most `reach` axes (1: faces, 2: faces and edges, 3: every neighbour). Throws on a
/// connectivity that the rank does not have.
inline std::size_t connectivity_reach(unsigned connectivity, std::size_t rank, const std::string& who) {
    if (connectivity == full_connectivity) return rank;
    static constexpr unsigned valid[4][3] = {{0, 0, 0}, {2, 0, 0}, {4, 8, 0}, {6, 18, 26}};
    for (std::size_t reach = 1; reach <= rank; ++reach)
        if (valid[rank][reach - 1] == connectivity) return reach;
    const std::string allowed = rank == 1 ? "2" : rank == 2 ? "4 or 8" : "6, 18 or 26";
    throw error("camkit: " + who + ": connectivity " + std::to_string(connectivity) + " is not one of " + allowed +
                " (or 0 for full) for a " + std::to_string(rank) + "-D mask");
}

/// Validates a mask shape for labelling: 1 to 3 axes, none empty.
inline void check_label_shape(const shape_t& shape, const std::string& who) {
    require(!shape.empty() && shape.size() <= 3,
            who + ": mask must have 1 to 3 axes, got shape " + to_string(shape));
    for (std::size_t e : shape) require(e > 0, who + ": mask has an empty axis: shape " + to_string(shape));
}

/// Root of `x` in a union-find forest, halving the path on the way.
inline std::uint32_t find_root(std::vector<std::uint32_t>& parent, std::uint32_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/// Joins the trees of labels a and b under the smaller root and returns that root.
inline std::uint32_t unite(std::vector<std::uint32_t>& parent, std::uint32_t a, std::uint32_t b) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a == b) return a;
    if (a > b) std::swap(a, b);
    parent[b] = a;
    return a;
}

}  // namespace detail

/// Labels the connected components of `mask` [*S] (nonzero = inside; 1 to 3 axes) with the given
/// connectivity (see the header comment). Two passes over the mask with a union-find of
/// provisional labels, so the cost is linear in the number of positions.
template <class M>
components label_components(const tensor<M>& mask, unsigned connectivity = full_connectivity) {
    const std::string who = "label_components";
    detail::check_label_shape(mask.shape, who);
    detail::require(mask.values.size() == element_count(mask.shape),
                    who + ": mask holds " + std::to_string(mask.values.size()) + " values for shape " +
                        to_string(mask.shape));
    const std::size_t rank = mask.rank();
    const std::size_t reach = detail::connectivity_reach(connectivity, rank, who);
    detail::require(mask.size() < std::numeric_limits<std::uint32_t>::max(),
                    who + ": mask has too many positions for 32-bit labels: shape " + to_string(mask.shape));

    // Pad to three axes (D, H, W) with extent 1, so one loop nest serves every rank.
    std::size_t ext[3] = {1, 1, 1};
    for (std::size_t a = 0; a < rank; ++a) ext[3 - rank + a] = mask.shape[a];
    const std::size_t D = ext[0], H = ext[1], W = ext[2];

    // The neighbours that come earlier in raster order: (dz, dy, dx) lexicographically negative.
    struct offset {
        std::ptrdiff_t dz, dy, dx, flat;
    };
    std::vector<offset> earlier;
    for (std::ptrdiff_t dz = -1; dz <= 0; ++dz)
        for (std::ptrdiff_t dy = -1; dy <= 1; ++dy)
            for (std::ptrdiff_t dx = -1; dx <= 1; ++dx) {
                const bool before = dz < 0 || (dz == 0 && (dy < 0 || (dy == 0 && dx < 0)));
                const auto moved = static_cast<std::size_t>((dz != 0) + (dy != 0) + (dx != 0));
                if (before && moved <= reach)
                    earlier.push_back({dz, dy, dx, (dz * static_cast<std::ptrdiff_t>(H) + dy) * static_cast<std::ptrdiff_t>(W) + dx});
            }

    components out{tensor<std::uint32_t>(mask.shape, 0u), {}};
    std::uint32_t* lab = out.labels.data();
    std::vector<std::uint32_t> parent{0};  // provisional label 0 is the background
    // Pass 1: a provisional label per position, merged with the labels of earlier neighbours.
    // A tree's root is its smallest label, so parent[l] ≤ l throughout. Per row, the neighbours
    // inside the volume are listed once for the first column, the inner ones and the last column,
    // so the inner loop has no bounds checks.
    // The values' pointer is held here, not reloaded after every push_back (std::vector<bool> has none).
    const M* values = nullptr;
    if constexpr (!std::is_same_v<M, bool>) values = mask.values.data();
    const auto foreground = [&](std::size_t q) {
        if constexpr (std::is_same_v<M, bool>) return static_cast<bool>(mask.values[q]);
        else return values[q] != M{};
    };
    // lists[c]: the neighbours of column kind c (0 first, 1 inner, 2 last); after_left[c]: those
    // still to look at when the left neighbour is inside, whose tree then already holds every
    // neighbour of ours that is also a neighbour of the left one (for 8- and 26-connectivity only
    // the ones to the upper right remain).
    std::vector<std::ptrdiff_t> lists[3], after_left[3];
    const auto left_covers = [&](const offset& o) {
        const auto moved = static_cast<std::size_t>((o.dz != 0) + (o.dy != 0) + (o.dx + 1 != 0));
        return o.dx < 1 && moved <= reach;  // (dz, dy, dx + 1) is a neighbour offset of the left position
    };
    std::size_t p = 0;
    for (std::size_t z = 0; z < D; ++z)
        for (std::size_t y = 0; y < H; ++y) {
            for (int c = 0; c < 3; ++c) {
                lists[c].clear();
                after_left[c].clear();
                for (const offset& o : earlier) {
                    // Unsigned wrap-around makes "z + dz < 0" a large value, caught by the same test.
                    const bool inside = z + static_cast<std::size_t>(o.dz) < D && y + static_cast<std::size_t>(o.dy) < H &&
                                        !(c == 0 && o.dx < 0) && !((c == 2 || W == 1) && o.dx > 0);
                    if (!inside) continue;
                    lists[c].push_back(o.flat);
                    const bool is_left = o.dz == 0 && o.dy == 0 && o.dx == -1;
                    if (!is_left && !left_covers(o)) after_left[c].push_back(o.flat);
                }
            }
            for (std::size_t x = 0; x < W; ++x, ++p) {
                if (!foreground(p)) continue;
                // One column (W = 1) is first and last at once: lists[0] then has neither side.
                const int kind = x == 0 ? 0 : x + 1 == W ? 2 : 1;
                std::uint32_t cur = x > 0 ? lab[p - 1] : 0;  // a label of the position's tree (its root once two trees met)
                for (const std::ptrdiff_t off : cur != 0 ? after_left[kind] : lists[kind]) {
                    const std::uint32_t n = lab[static_cast<std::ptrdiff_t>(p) + off];
                    if (n == 0 || n == cur) continue;
                    cur = cur == 0 ? n : detail::unite(parent, cur, n);
                }
                if (cur == 0) {
                    cur = static_cast<std::uint32_t>(parent.size());
                    parent.push_back(cur);
                }
                lab[p] = cur;
            }
        }
    // Pass 2: final labels. A component's root is the label its first position (in raster order)
    // created, so numbering roots in increasing order numbers components in raster order; as
    // parent[l] < l for a non-root, one ascending sweep resolves every label.
    std::vector<std::uint32_t> final_label(parent.size(), 0);
    std::uint32_t count = 0;
    for (std::size_t l = 1; l < parent.size(); ++l)
        final_label[l] = parent[l] == l ? ++count : final_label[parent[l]];
    out.sizes.assign(count, 0);
    // Sizes counted per run of one label: incrementing the same counter at every position would
    // wait on the previous increment's store.
    std::uint32_t run_label = 0;
    std::size_t run = 0;
    for (std::size_t q = 0; q < mask.size(); ++q) {
        const std::uint32_t l = final_label[lab[q]];  // final_label[0] = 0: the background stays 0
        lab[q] = l;
        if (l == run_label) {
            ++run;
            continue;
        }
        if (run_label != 0) out.sizes[run_label - 1] += run;
        run_label = l;
        run = 1;
    }
    if (run_label != 0) out.sizes[run_label - 1] += run;
    return out;
}

}  // namespace camkit
