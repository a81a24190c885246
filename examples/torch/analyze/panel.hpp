#pragma once
// The comparison panel of one image: a first row with the input, the ground truth and the
// prediction (as class colours over the input), a strip naming the columns (method, layer), then
// one row per target: the target's region over the input (named in its corner), one overlay per
// method × layer (method-major), and a colour bar (value 1 at the top, 0 at the bottom). Volumes
// show one slice, chosen and named by the caller (image_caption), 1-D inputs a strip of equal rows
// (the caller's panel_slice).
#include "../../common/picture.hpp"
#include "../../common/font.hpp"

#include <camkit/colormap.hpp>
#include <camkit/overlay.hpp>
#include <camkit/tensor.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace camkit_analyze {

using camkit_cli::draw_text;
using camkit_cli::glyph_h;

/// Black space between the panel's cells, in pixels.
inline constexpr std::size_t panel_gap = 4;

/// `image` resized to h × w by nearest neighbour (the panel enlarges small inputs so each cell is readable).
inline camkit::rgb_image scale_nearest(const camkit::rgb_image& image, std::size_t h, std::size_t w) {
    camkit::rgb_image out(h, w);
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x) out.set(y, x, image.at(y * image.height / h, x * image.width / w));
    return out;
}

/// The cell size of an image h × w in the panel: enlarged by a whole factor to at least 96 pixels
/// on its short side, or shrunk to at most 256 on its long side.
inline std::array<std::size_t, 2> cell_size(std::size_t h, std::size_t w) {
    const std::size_t shortest = std::min(h, w), longest = std::max(h, w);
    if (shortest < 96) {
        const std::size_t f = (96 + shortest - 1) / shortest;
        if (longest * f <= 1024) return {h * f, w * f};
    }
    if (longest > 256) return {std::max<std::size_t>(1, h * 256 / longest), std::max<std::size_t>(1, w * 256 / longest)};
    return {h, w};
}

/// Images stacked top to bottom, `gap` black pixels apart, left-aligned.
inline camkit::rgb_image stack(const std::vector<camkit::rgb_image>& rows, std::size_t gap) {
    std::size_t h = 0, w = 0;
    for (const auto& r : rows) h += r.height, w = std::max(w, r.width);
    h += rows.empty() ? 0 : gap * (rows.size() - 1);
    camkit::rgb_image out(h, w);
    std::size_t y0 = 0;
    for (const auto& r : rows) {
        for (std::size_t y = 0; y < r.height; ++y)
            std::copy_n(r.pixels.data() + 3 * y * r.width, 3 * r.width, out.pixels.data() + 3 * ((y0 + y) * w));
        y0 += r.height + gap;
    }
    return out;
}

/// The colour of class c in label pictures: class 0 (background) shows the image unchanged.
inline camkit::rgb class_colour(std::size_t c) {
    static constexpr std::array<camkit::rgb, 10> palette{{{230, 25, 75},
                                                           {60, 180, 75},
                                                           {255, 225, 25},
                                                           {0, 130, 200},
                                                           {245, 130, 48},
                                                           {145, 30, 180},
                                                           {70, 240, 240},
                                                           {240, 50, 230},
                                                           {210, 245, 60},
                                                           {250, 190, 190}}};
    return palette[(c + palette.size() - 1) % palette.size()];
}

/// Labels [H, W] (class indices) as class colours blended half and half over `image`; class 0 is left as the image.
inline camkit::rgb_image label_picture(const camkit::tensor<float>& labels, const camkit::rgb_image& image) {
    camkit::rgb_image out = image;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const auto c = static_cast<std::size_t>(labels[i]);
        if (c == 0) continue;
        const camkit::rgb k = class_colour(c);
        for (std::size_t ch = 0; ch < 3; ++ch)
            out.pixels[3 * i + ch] = static_cast<std::uint8_t>((out.pixels[3 * i + ch] + k[ch] + 1) / 2);
    }
    return out;
}

/// A region [H, W] (nonzero inside) shown over `image`: the outside darkened to a third, the inside kept.
inline camkit::rgb_image region_picture(const camkit::tensor<float>& region, const camkit::rgb_image& image) {
    camkit::rgb_image out = image;
    for (std::size_t i = 0; i < region.size(); ++i)
        if (region[i] == 0)
            for (std::size_t ch = 0; ch < 3; ++ch) out.pixels[3 * i + ch] = static_cast<std::uint8_t>(out.pixels[3 * i + ch] / 3);
    return out;
}

/// A vertical colour bar `h` pixels high: jet from 1 at the top to 0 at the bottom, white ticks at 0, ½ and 1.
inline camkit::rgb_image colour_bar(std::size_t h, std::size_t w = 14) {
    camkit::rgb_image out(h, w);
    for (std::size_t y = 0; y < h; ++y) {
        const double v = h > 1 ? 1.0 - static_cast<double>(y) / static_cast<double>(h - 1) : 1.0;
        const camkit::rgb c = camkit::colorize(v, camkit::colormap::jet);
        const bool tick = y == 0 || y + 1 == h || y == (h - 1) / 2;
        for (std::size_t x = 0; x < w; ++x) out.set(y, x, tick && x >= w / 2 ? camkit::rgb{255, 255, 255} : c);
    }
    return out;
}

/// The slice along the first axis that a volume's panel shows: where the targets' regions lie
/// (each region weighs equally: the share of its voxels in the slice, summed over the targets,
/// so a background class spread over every slice does not decide), else where the maps' mass lies
/// (each map's share likewise), else the middle slice; equal scores go to the slice nearest the
/// middle. 0 for other inputs.
/// Volumes of another size than `size` (an empty region: a classifier's target) are left out.
inline std::size_t panel_depth(const camkit::shape_t& size, const std::vector<const camkit::tensor<float>*>& regions,
                               const std::vector<const camkit::tensor<float>*>& maps) {
    if (size.size() != 3) return 0;
    const std::size_t D = size[0], plane = size[1] * size[2];
    const auto argmax_share = [&](const std::vector<const camkit::tensor<float>*>& volumes) -> std::optional<std::size_t> {
        std::vector<double> score(D, 0.0);
        for (const camkit::tensor<float>* v : volumes) {
            if (v->size() != D * plane) continue;
            std::vector<double> per(D, 0.0);
            double total = 0;
            for (std::size_t i = 0; i < v->size(); ++i) {
                const double x = std::abs(static_cast<double>((*v)[i]));
                per[i / plane] += x, total += x;
            }
            if (total > 0)
                for (std::size_t d = 0; d < D; ++d) score[d] += per[d] / total;
        }
        // The highest score; among equal ones (a region spread evenly) the one nearest the middle.
        std::size_t best = D / 2;
        const auto off_middle = [&](std::size_t d) { return d > D / 2 ? d - D / 2 : D / 2 - d; };
        for (std::size_t d = 0; d < D; ++d)
            if (score[d] > score[best] * (1 + 1e-12) || (score[d] >= score[best] * (1 - 1e-12) && off_middle(d) < off_middle(best)))
                best = d;
        if (score[best] <= 0) return std::nullopt;
        return best;
    };
    if (auto d = argmax_share(regions)) return *d;
    if (auto d = argmax_share(maps)) return *d;
    return D / 2;
}

/// What the panel of one image shows; every picture is [H, W] at the input's size (a volume's slice).
struct panel_content {
    camkit::rgb_image image;                           ///< the input as RGB
    std::string image_caption;                         ///< a second line under "input" (a volume's slice), or empty
    std::optional<camkit::tensor<float>> truth;        ///< ground-truth labels, if any
    std::optional<camkit::tensor<float>> prediction;   ///< predicted labels of a segmentation
    std::vector<std::array<std::string, 2>> columns;   ///< each map column's method and layer
    /// One row per target: its name, its region (empty for a classifier) and its maps, one per column.
    struct target_row {
        std::string name;
        std::string caption;  ///< a second line under the name (the class's name), or empty
        camkit::tensor<float> region;
        std::vector<camkit::tensor<float>> maps;
    };
    std::vector<target_row> rows;
};

/// Draws the panel of `p`.
inline camkit::rgb_image draw_panel(const panel_content& p) {
    const auto [ch, cw] = cell_size(p.image.height, p.image.width);
    const auto cell = [&, ch = ch, cw = cw](const camkit::rgb_image& im, const std::string& label, const std::string& caption = "") {
        camkit::rgb_image c = scale_nearest(im, ch, cw);
        if (!label.empty()) draw_text(c, 1, 1, label, cw - 1);
        if (!caption.empty() && ch > 2 * (glyph_h + 3)) draw_text(c, glyph_h + 3, 1, caption, cw - 1);
        return c;
    };
    std::vector<camkit::rgb_image> first{cell(p.image, "input", p.image_caption)};
    if (p.truth) first.push_back(cell(label_picture(*p.truth, p.image), "truth"));
    if (p.prediction) first.push_back(cell(label_picture(*p.prediction, p.image), "prediction"));
    std::vector<camkit::rgb_image> rows{camkit_cli::side_by_side(first, panel_gap)};
    // The column names: method over layer, above each map column.
    camkit::rgb_image header(2 * (glyph_h + 3), (1 + p.columns.size()) * (cw + panel_gap) + 14);
    for (std::size_t k = 0; k < p.columns.size(); ++k) {
        const std::size_t x = (k + 1) * (cw + panel_gap);
        draw_text(header, 0, x, p.columns[k][0], cw);
        draw_text(header, glyph_h + 3, x, p.columns[k][1], cw);
    }
    if (!p.rows.empty()) rows.push_back(header);
    for (const auto& r : p.rows) {
        std::vector<camkit::rgb_image> cells{cell(r.region.size() ? region_picture(r.region, p.image) : p.image, r.name, r.caption)};
        for (const auto& m : r.maps) cells.push_back(cell(camkit::overlay(m, p.image), ""));
        cells.push_back(colour_bar(ch));
        rows.push_back(camkit_cli::side_by_side(cells, panel_gap));
    }
    return stack(rows, panel_gap);
}

}  // namespace camkit_analyze
