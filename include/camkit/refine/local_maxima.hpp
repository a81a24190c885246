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
mask_t local_maxima(const tensor<T>& map, connectivity conn = connectivity::full) {
    detail::check_grid(map.shape, "local_maxima: map");
    const detail::grid g(map.shape);
    const T mn = detail::min_max(map.data(), map.size()).first;
    mask_t out(map.shape, std::uint8_t{0});
    std::vector<std::uint8_t> seen(g.size, 0);
    std::vector<std::size_t> plateau;
    for (std::size_t start = 0; start < g.size; ++start) {
        if (seen[start]) continue;
        // Flood the plateau of equal values around `start`, noting whether any neighbour is higher.
        const T v = map[start];
        bool maximum = v > mn;
        plateau.assign(1, start);
        seen[start] = 1;
        for (std::size_t k = 0; k < plateau.size(); ++k)
            g.for_each_neighbour(plateau[k], conn, [&](std::size_t q) {
                if (map[q] > v) maximum = false;
                if (map[q] == v && !seen[q]) {
                    seen[q] = 1;
                    plateau.push_back(q);
                }
            });
        if (maximum)
            for (std::size_t p : plateau) out[p] = 1;
    }
    return out;
}

}  // namespace camkit
