#pragma once
// Region growing as SimpleITK's ConnectedThreshold (its default face connectivity): from each
// seed whose value lies in [lower, upper], every face-connected pixel reachable through values
// in [lower, upper]. A seed outside the interval starts nothing, as in ITK.
#include <camkit/refine/grid.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace camkit {

/// The pixels of a 2-D or 3-D map reachable from `seeds` ([n, rank] integer coordinates, outermost
/// axis first: row then column) through face-connected values in [lower, upper].
template <class T, class I>
CAMKIT_OPTIMIZE mask_t grow_region(const tensor<T>& map, const tensor<I>& seeds, double lower, double upper,
                   connectivity conn = connectivity::face) {
    detail::check_grid(map.shape, "grow_region: map");
    detail::require(lower <= upper,
                    "grow_region: lower " + std::to_string(lower) + " must not exceed upper " + std::to_string(upper));
    detail::require(seeds.rank() == 2 && seeds.shape[1] == map.rank(),
                    "grow_region: seeds must be [n, " + std::to_string(map.rank()) +
                        "] coordinates for a map of shape " + to_string(map.shape) + ", got shape " +
                        to_string(seeds.shape));
    const detail::grid g(map.shape);
    auto inside = [&](std::size_t p) {
        const double v = static_cast<double>(map[p]);
        return lower <= v && v <= upper;
    };
    mask_t out(map.shape, std::uint8_t{0});
    std::vector<std::size_t> queue;
    for (std::size_t s = 0; s < seeds.shape[0]; ++s) {
        std::size_t p = 0;
        for (std::size_t a = 0; a < map.rank(); ++a) {
            const I c = seeds[s * map.rank() + a];
            detail::require(c >= I(0) && static_cast<std::size_t>(c) < map.shape[a], [&] {
                return "grow_region: seed " + std::to_string(s) + " has coordinate " +
                       std::to_string(static_cast<long long>(c)) + " on axis " + std::to_string(a) +
                       ", outside a map of shape " + to_string(map.shape);
            });
            p = p * map.shape[a] + static_cast<std::size_t>(c);
        }
        if (!out[p] && inside(p)) {
            out[p] = 1;
            queue.push_back(p);
        }
    }
    for (std::size_t k = 0; k < queue.size(); ++k)
        g.for_each_neighbour(queue[k], conn, [&](std::size_t q) {
            if (!out[q] && inside(q)) {
                out[q] = 1;
                queue.push_back(q);
            }
        });
    return out;
}

}  // namespace camkit
