#pragma once
// Colormaps that turn a map value in [0, 1] into an RGB colour (docs/math.md, "Overlay").
//
// A value x picks entry floor(255·x) of a 256-entry table, as pytorch-grad-cam does
// (cv2.applyColorMap on np.uint8(255·x)), so camkit's heatmaps equal that library's byte for byte
// where the tables agree. The tables are built at compile time:
// - jet: OpenCV's COLORMAP_JET, written as its piecewise-linear definition in the 0..255 index
//   domain; equal to cv2 4.6 on all 256 entries (one entry is a documented correction, below).
// - turbo, viridis: 33 anchor colours (every 8th entry of OpenCV's COLORMAP_TURBO / _VIRIDIS,
//   and the last) with linear interpolation between them; within 3 units of cv2 on every entry.
#include <camkit/error.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace camkit {

/// A colormap from [0, 1] to RGB.
enum class colormap {
    jet,      ///< OpenCV's COLORMAP_JET (pytorch-grad-cam's default)
    turbo,    ///< Google's Turbo, an improved rainbow
    viridis,  ///< perceptually uniform, readable in grey and by colour-blind viewers
};

/// One RGB colour, red first.
using rgb = std::array<std::uint8_t, 3>;

/// A colormap's 256 colours, entry i for the value i/255.
using colormap_table = std::array<rgb, 256>;

namespace detail {

constexpr int clamp_byte(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

/// OpenCV's jet in the index domain v = 0..255: each channel rises with slope 4 per index, stays
/// at 255 and falls with slope 4 (red and green a quarter later than green and blue).
constexpr colormap_table make_jet_table() {
    colormap_table t{};
    for (int v = 0; v < 256; ++v) {
        const int r = clamp_byte(std::min(4 * v - 382, 1148 - 4 * v));
        const int g = clamp_byte(std::min(4 * v - 128, 892 - 4 * v));
        const int b = clamp_byte(std::min(4 * v + 128, 638 - 4 * v));
        t[static_cast<std::size_t>(v)] = {static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g),
                                          static_cast<std::uint8_t>(b)};
    }
    // OpenCV's own table has blue 1 (not 2) at entry 159, a rounding of its float table; copied so
    // that heatmaps equal cv2.applyColorMap exactly.
    t[159][2] = 1;
    return t;
}

/// Anchor colours at indices 0, 8, …, 248 and 255, read from OpenCV 4.6's tables
/// (cv2.applyColorMap(np.arange(256, dtype=np.uint8)[None], cv2.COLORMAP_TURBO)[0][:, ::-1]).
inline constexpr std::array<rgb, 33> turbo_anchors = {{
    {48, 18, 59},    {57, 42, 115},   {64, 64, 162},   {68, 86, 199},   {70, 107, 227},  {70, 128, 246},
    {66, 148, 255},  {55, 168, 250},  {40, 188, 235},  {28, 205, 216},  {24, 221, 194},  {31, 233, 175},
    {50, 242, 152},  {78, 249, 125},  {109, 254, 98},  {139, 255, 75},  {164, 252, 60},  {185, 246, 53},
    {205, 236, 52},  {223, 223, 55},  {238, 207, 58},  {248, 190, 57},  {253, 172, 52},  {254, 150, 43},
    {251, 126, 33},  {244, 102, 23},  {235, 80, 14},   {223, 63, 8},    {208, 47, 5},    {190, 33, 2},
    {169, 22, 1},    {146, 11, 1},    {122, 4, 3},
}};

/// As turbo_anchors, for COLORMAP_VIRIDIS.
inline constexpr std::array<rgb, 33> viridis_anchors = {{
    {68, 1, 84},     {71, 13, 96},    {72, 24, 106},   {72, 35, 116},   {71, 45, 123},   {69, 55, 129},
    {66, 64, 134},   {62, 73, 137},   {59, 82, 139},   {55, 91, 141},   {51, 99, 141},   {47, 107, 142},
    {44, 114, 142},  {41, 122, 142},  {38, 130, 142},  {35, 137, 142},  {33, 145, 140},  {31, 152, 139},
    {31, 160, 136},  {34, 167, 133},  {40, 174, 128},  {50, 182, 122},  {63, 188, 115},  {78, 195, 107},
    {94, 201, 98},   {112, 207, 87},  {132, 212, 75},  {152, 216, 62},  {173, 220, 48},  {194, 223, 35},
    {216, 226, 25},  {236, 229, 27},  {253, 231, 37},
}};

/// Linear interpolation between anchors at indices 0, 8, …, 248, 255, rounded half up.
constexpr colormap_table make_anchor_table(const std::array<rgb, 33>& anchors) {
    colormap_table t{};
    for (int v = 0; v < 256; ++v) {
        const int k = v / 8 < 31 ? v / 8 : 31;  // segment [8k, 8k + 8], the last one [248, 255]
        const int i0 = 8 * k, i1 = k == 31 ? 255 : 8 * k + 8;
        const int den = i1 - i0, num_t = v - i0;
        for (std::size_t c = 0; c < 3; ++c) {
            const int a = anchors[static_cast<std::size_t>(k)][c], b = anchors[static_cast<std::size_t>(k) + 1][c];
            const int num = a * den + (b - a) * num_t;  // ≥ 0: between two non-negative anchors
            t[static_cast<std::size_t>(v)][c] = static_cast<std::uint8_t>((2 * num + den) / (2 * den));
        }
    }
    return t;
}

inline constexpr colormap_table jet_table = make_jet_table();
inline constexpr colormap_table turbo_table = make_anchor_table(turbo_anchors);
inline constexpr colormap_table viridis_table = make_anchor_table(viridis_anchors);

}  // namespace detail

/// The 256-entry table of a colormap (entry i is the colour of the value i/255).
constexpr const colormap_table& colormap_lut(colormap map) {
    switch (map) {
        case colormap::turbo: return detail::turbo_table;
        case colormap::viridis: return detail::viridis_table;
        case colormap::jet: break;
    }
    return detail::jet_table;
}

/// Table index of a value: floor(255·x) computed in the value's own precision (as numpy's
/// np.uint8(255 * x) does), after clamping x to [0, 1]; NaN counts as 0.
template <class T>
    requires std::is_floating_point_v<T>
constexpr std::size_t colormap_index(T x) {
    if (!(x > T(0))) return 0;  // negatives and NaN
    if (x >= T(1)) return 255;
    return static_cast<std::size_t>(T(255) * x);
}

/// The colour of value `x` (clamped to [0, 1], NaN as 0) in colormap `map`.
template <class T>
    requires std::is_floating_point_v<T>
constexpr rgb colorize(T x, colormap map) {
    return colormap_lut(map)[colormap_index(x)];
}

/// The lower-case name of a colormap ("jet", "turbo", "viridis").
constexpr std::string_view colormap_name(colormap map) {
    switch (map) {
        case colormap::turbo: return "turbo";
        case colormap::viridis: return "viridis";
        case colormap::jet: break;
    }
    return "jet";
}

/// Parses a colormap name; throws camkit::error listing the valid names.
inline colormap parse_colormap(std::string_view name) {
    for (colormap m : {colormap::jet, colormap::turbo, colormap::viridis})
        if (name == colormap_name(m)) return m;
    throw error("camkit: colormap: unknown name '" + std::string(name) + "'; valid names: jet, turbo, viridis");
}

}  // namespace camkit
