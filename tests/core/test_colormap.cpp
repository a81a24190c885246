// Colormaps (include/camkit/colormap.hpp) against OpenCV's tables.
#include <camkit/colormap.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>
#include <vector>

using camkit::colormap;
using camkit::rgb;

namespace {

// Expected colours from OpenCV 4.6 on this machine, as RGB:
//   x = np.arange(256, dtype=np.uint8).reshape(1, 256)
//   c = cv2.applyColorMap(x, cv2.COLORMAP_JET)[0][:, ::-1]      (likewise _TURBO, _VIRIDIS)
//   {i: c[i].tolist() for i in [0, 1, 31, 32, 64, 95, 96, 127, 128, 159, 160, 191, 192, 223, 224, 254, 255]}
const std::vector<std::pair<std::size_t, rgb>> cv2_jet = {
    {0, {0, 0, 128}},     {1, {0, 0, 132}},     {31, {0, 0, 252}},    {32, {0, 0, 255}},    {64, {0, 128, 255}},
    {95, {0, 252, 255}},  {96, {2, 255, 254}},  {127, {126, 255, 130}}, {128, {130, 255, 126}}, {159, {254, 255, 1}},
    {160, {255, 252, 0}}, {191, {255, 128, 0}}, {192, {255, 124, 0}}, {223, {255, 0, 0}},   {224, {252, 0, 0}},
    {254, {132, 0, 0}},   {255, {128, 0, 0}},
};
const std::vector<std::pair<std::size_t, rgb>> cv2_turbo = {
    {0, {48, 18, 59}},     {1, {50, 21, 67}},     {31, {70, 105, 224}},  {32, {70, 107, 227}},  {64, {40, 188, 235}},
    {95, {47, 241, 155}},  {96, {50, 242, 152}},  {127, {161, 253, 61}}, {128, {164, 252, 60}}, {159, {236, 209, 58}},
    {160, {238, 207, 58}}, {191, {251, 129, 34}}, {192, {251, 126, 33}}, {223, {210, 49, 5}},   {224, {208, 47, 5}},
    {254, {126, 5, 2}},    {255, {122, 4, 3}},
};
const std::vector<std::pair<std::size_t, rgb>> cv2_viridis = {
    {0, {68, 1, 84}},      {1, {68, 2, 86}},      {31, {71, 44, 122}},   {32, {71, 45, 123}},   {64, {59, 82, 139}},
    {95, {44, 113, 142}},  {96, {44, 114, 142}},  {127, {33, 144, 141}}, {128, {33, 145, 140}}, {159, {39, 173, 129}},
    {160, {40, 174, 128}}, {191, {92, 200, 99}},  {192, {94, 201, 98}},  {223, {170, 220, 50}}, {224, {173, 220, 48}},
    {254, {251, 231, 35}}, {255, {253, 231, 37}},
};

void expect_within(colormap map, const std::vector<std::pair<std::size_t, rgb>>& expected, int tolerance) {
    const auto& lut = camkit::colormap_lut(map);
    for (const auto& [i, want] : expected)
        for (std::size_t c = 0; c < 3; ++c)
            EXPECT_LE(std::abs(int(lut[i][c]) - int(want[c])), tolerance)
                << camkit::colormap_name(map) << " entry " << i << " channel " << c << ": " << int(lut[i][c])
                << " vs cv2 " << int(want[c]);
}

}  // namespace

TEST(colormap, jet_equals_opencv) { expect_within(colormap::jet, cv2_jet, 0); }

// Over all 256 entries (checked once with the table dump above): turbo within 3, viridis within 2.
TEST(colormap, turbo_within_three_units_of_opencv) { expect_within(colormap::turbo, cv2_turbo, 3); }
TEST(colormap, viridis_within_two_units_of_opencv) { expect_within(colormap::viridis, cv2_viridis, 2); }

TEST(colormap, jet_is_piecewise_linear_with_slope_four) {
    const auto& lut = camkit::colormap_lut(colormap::jet);
    for (std::size_t i = 0; i < 31; ++i) EXPECT_EQ(lut[i + 1][2] - lut[i][2], 4) << i;  // blue rises
    for (std::size_t i = 33; i < 95; ++i) EXPECT_EQ(lut[i + 1][1] - lut[i][1], 4) << i;  // green rises
    for (std::size_t i = 224; i < 255; ++i) EXPECT_EQ(lut[i][0] - lut[i + 1][0], 4) << i;  // red falls
}

TEST(colormap, index_truncates_like_numpy_uint8) {
    // np.uint8(255 * np.float32([0, .2, .5, .75, .9, 1])) == [0, 51, 127, 191, 229, 255]
    EXPECT_EQ(camkit::colormap_index(0.0f), 0u);
    EXPECT_EQ(camkit::colormap_index(0.2f), 51u);
    EXPECT_EQ(camkit::colormap_index(0.5f), 127u);
    EXPECT_EQ(camkit::colormap_index(0.75f), 191u);
    EXPECT_EQ(camkit::colormap_index(0.9f), 229u);
    EXPECT_EQ(camkit::colormap_index(1.0f), 255u);
    EXPECT_EQ(camkit::colormap_index(0.999), 254u);
}

TEST(colormap, clamps_outside_and_maps_nan_to_zero) {
    EXPECT_EQ(camkit::colormap_index(-3.0), 0u);
    EXPECT_EQ(camkit::colormap_index(7.5), 255u);
    EXPECT_EQ(camkit::colormap_index(std::numeric_limits<double>::infinity()), 255u);
    EXPECT_EQ(camkit::colormap_index(-std::numeric_limits<float>::infinity()), 0u);
    EXPECT_EQ(camkit::colormap_index(std::nanf("")), 0u);
    EXPECT_EQ(camkit::colorize(std::nan(""), colormap::jet), (rgb{0, 0, 128}));
    EXPECT_EQ(camkit::colorize(2.0, colormap::viridis), (rgb{253, 231, 37}));
    EXPECT_EQ(camkit::colorize(0.5f, colormap::jet), (rgb{126, 255, 130}));
    static_assert(camkit::colorize(1.0, colormap::jet)[0] == 128);  // usable at compile time
}

TEST(colormap, names_round_trip) {
    for (colormap m : {colormap::jet, colormap::turbo, colormap::viridis})
        EXPECT_EQ(camkit::parse_colormap(camkit::colormap_name(m)), m);
    EXPECT_EQ(camkit::colormap_name(colormap::turbo), "turbo");
}

TEST(colormap, parse_error_lists_valid_names) {
    try {
        camkit::parse_colormap("Jet");
        FAIL() << "accepted 'Jet'";
    } catch (const camkit::error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("'Jet'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("valid names: jet, turbo, viridis"), std::string::npos) << msg;
    }
    EXPECT_THROW(camkit::parse_colormap(""), camkit::error);
}
