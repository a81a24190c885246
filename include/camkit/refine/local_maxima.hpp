#pragma once
// Local maxima with plateaus, as scikit-image's morphology.local_maxima(map) with its defaults
// (full connectivity, maxima on the border allowed): a maximum is a connected set of equal
// values (a plateau, one pixel or more) whose every neighbour outside it is strictly lower.
// scikit-image pads the map with its minimum, so a plateau at the minimum that touches the border
// is never a maximum; a constant map has none.
#include <camkit/refine/grid.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace camkit {

/// The mask of the local maxima (plateaus included) of a 2-D or 3-D map.
template <class T>
CAMKIT_OPTIMIZE mask_t local_maxima(const tensor<T>& map, connectivity conn = connectivity::full) {
    detail::check_grid(map.shape, "local_maxima: map");
    const detail::grid g(map.shape);
    const T mn = detail::min_max(map.data(), map.size()).first;
    mask_t out(map.shape, std::uint8_t{0});
    // 0: not yet seen; 1: in a flooded plateau; 2: has a higher neighbour, so its plateau is no
    // maximum (found by a quick look before any flood: most pixels of a smooth map end there).
    std::vector<std::uint8_t> state(g.size, 0);
    std::vector<std::size_t> plateau;
    for (std::size_t start = 0; start < g.size; ++start) {
        if (state[start]) continue;
        const T v = map[start];
        bool higher = false;
        g.for_each_neighbour(start, conn, [&](std::size_t q) { higher = higher || map[q] > v; });
        if (higher) {
            state[start] = 2;
            continue;
        }
        // Flood the plateau of equal values around `start`, noting whether any neighbour is higher
        // or any member was already found to have one.
        bool maximum = v > mn;
        plateau.assign(1, start);
        state[start] = 1;
        for (std::size_t k = 0; k < plateau.size(); ++k)
            g.for_each_neighbour(plateau[k], conn, [&](std::size_t q) {
                if (map[q] > v) maximum = false;
                if (map[q] != v) return;
                if (state[q] == 2) maximum = false;
                if (state[q] == 0) {
                    state[q] = 1;
                    plateau.push_back(q);
                }
            });
        if (maximum)
            for (std::size_t p : plateau) out[p] = 1;
    }
    return out;
}

}  // namespace camkit
