// Heatmaps, overlays and slice grids (include/camkit/overlay.hpp).
#include <camkit/overlay.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <vector>
#include "common/error_message.hpp"

using camkit::colormap;
using camkit::rgb;
using camkit::rgb_image;
using camkit::shape_t;
using camkit::tensor;

namespace {

const tensor<float> map2x3({2, 3}, {0.0f, 0.2f, 0.5f, 0.75f, 0.9f, 1.0f});

rgb_image image2x3() {
    rgb_image img(2, 3);
    img.pixels = {10, 20, 30, 200, 100, 50, 255, 255, 255, 0, 0, 0, 128, 64, 32, 90, 180, 45};
    return img;
}

}  // namespace

TEST(heatmap, colours_each_pixel) {
    // cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * m), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB).ravel()
    const rgb_image h = camkit::heatmap(map2x3);
    EXPECT_EQ(h.height, 2u);
    EXPECT_EQ(h.width, 3u);
    EXPECT_EQ(h.pixels, (std::vector<std::uint8_t>{0, 0, 128, 0, 76, 255, 126, 255, 130, 255, 128, 0, 232, 0, 0, 128,
                                                   0, 0}));
    EXPECT_EQ(camkit::heatmap(map2x3, colormap::viridis).at(1, 2), (rgb{253, 231, 37}));
}

TEST(overlay, equals_pytorch_grad_cam_show_cam_on_image) {
    // show_cam_on_image(np.float32(img) / 255, m, use_rgb=True, colormap, image_weight), i.e.
    //   heat = np.float32(cvtColor(applyColorMap(np.uint8(255 * m), cmap), BGR2RGB)) / 255
    //   cam = (1 - w) * heat + w * img; cam = cam / np.max(cam); np.uint8(255 * cam)
    // with m = map2x3 and img = image2x3, run once with numpy and OpenCV 4.6 on this machine.
    EXPECT_EQ(camkit::overlay(map2x3, image2x3()).pixels,
              (std::vector<std::uint8_t>{5, 10, 79, 100, 88, 152, 190, 255, 192, 127, 64, 0, 180, 32, 16, 109, 90, 22}));
    // Viridis: camkit's table is within 2 units of OpenCV's, so the bytes are within 1 of cv2's
    // result here, and equal to the same numpy steps run on camkit's own table (colormap_lut dump).
    const auto viridis = camkit::overlay(map2x3, image2x3(), colormap::viridis, 0.3).pixels;
    const std::vector<std::uint8_t> cv2_viridis{59, 7, 80, 124, 91, 129, 117, 209, 207, 76, 165, 81, 199, 206, 44, 241, 255, 46};
    const std::vector<std::uint8_t> numpy_on_camkit_table{59, 7,   80, 124, 90, 129, 117, 209, 206,
                                                          76, 165, 81, 199, 206, 44, 241, 255, 46};
    EXPECT_EQ(viridis, numpy_on_camkit_table);
    for (std::size_t i = 0; i < viridis.size(); ++i) EXPECT_LE(std::abs(viridis[i] - cv2_viridis[i]), 1) << i;
}

TEST(overlay, value_image_in_double) {
    // As above with img = img8.astype(np.float64) / 255 and image_weight = 0.25 (numpy computes in float64).
    tensor<double> img({2, 3, 3});
    const auto bytes = image2x3().pixels;
    for (std::size_t i = 0; i < bytes.size(); ++i) img.values[i] = bytes[i] / 255.0;
    EXPECT_EQ(camkit::overlay(map2x3, img, colormap::jet, 0.25).pixels,
              (std::vector<std::uint8_t>{2, 5, 103, 50, 82, 203, 158, 255, 161, 191, 96, 0, 206, 16, 8, 118, 45, 11}));
}

TEST(overlay, gray_value_image_is_its_three_channel_copy) {
    // A gray image [H, W] blends as the RGB image [H, W, 3] with each value in all three channels;
    // pinned for one pixel by hand: map 0 is jet (0, 0, 128), gray 0.8, α 0.5: (0.4, 0.4, 0.651),
    // over the blend's maximum 0.75 (pixel 3: jet (255, 128, 0), gray 0.5: red 0.5 + 0.25)
    // → bytes 255·(0.4, 0.4, 0.651) / 0.75 = (136, 136, 221).
    const tensor<float> gray({2, 3}, {0.8f, 0.1f, 0.25f, 0.5f, 0.0f, 0.96f});
    tensor<float> rgb3({2, 3, 3});
    for (std::size_t i = 0; i < rgb3.size(); ++i) rgb3.values[i] = gray.values[i / 3];
    for (double alpha : {0.0, 0.3, 0.5, 1.0})
        EXPECT_EQ(camkit::overlay(map2x3, gray, colormap::turbo, alpha).pixels,
                  camkit::overlay(map2x3, rgb3, colormap::turbo, alpha).pixels)
            << alpha;
    const rgb_image o = camkit::overlay(map2x3, gray);
    EXPECT_EQ(o.at(0, 0), (rgb{136, 136, 221}));
    const auto msg = camkit_test::error_message([&] { camkit::overlay(map2x3, tensor<float>({3, 2})); });
    EXPECT_NE(msg.find("must be [2, 3, 3] (or [2, 3] for gray)"), std::string::npos) << msg;
}

TEST(overlay, alpha_extremes) {
    // α = 0: the heatmap rescaled by its maximum (255 is present, so it is unchanged).
    EXPECT_EQ(camkit::overlay(map2x3, image2x3(), colormap::jet, 0.0).pixels, camkit::heatmap(map2x3).pixels);
    // α = 1: the image rescaled by its maximum (255 present); a black image stays black, not 0/0.
    EXPECT_EQ(camkit::overlay(map2x3, image2x3(), colormap::jet, 1.0).pixels, image2x3().pixels);
    const rgb_image black(2, 3);
    EXPECT_EQ(camkit::overlay(map2x3, black, colormap::jet, 1.0).pixels, black.pixels);
}

TEST(overlay, errors) {
    const rgb_image img = image2x3();
    auto msg = camkit_test::error_message([&] { camkit::overlay(tensor<float>({3, 2}), img); });
    EXPECT_NE(msg.find("map shape [3, 2] must equal the image size [2, 3]"), std::string::npos) << msg;
    EXPECT_NE(camkit_test::error_message([&] { camkit::overlay(tensor<float>({1, 2, 3}), img); }).find("overlay: map must be [H, W]"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] { camkit::overlay(tensor<float>({0, 3}), rgb_image(0, 3)); }).find("empty axis"),
              std::string::npos);
    rgb_image short_img = img;
    short_img.pixels.pop_back();
    EXPECT_NE(camkit_test::error_message([&] { camkit::overlay(map2x3, short_img); }).find("17 bytes"), std::string::npos);
    EXPECT_NE(camkit_test::error_message([&] { camkit::overlay(map2x3, img, colormap::jet, 1.5); }).find("alpha must be in [0, 1]"),
              std::string::npos);
    EXPECT_THROW(camkit::overlay(map2x3, img, colormap::jet, -0.1), camkit::error);
    tensor<float> fimg({2, 3, 3}, 0.5f);
    EXPECT_NE(camkit_test::error_message([&] { camkit::overlay(map2x3, tensor<float>({2, 3, 4})); }).find("must be [2, 3, 3]"),
              std::string::npos);
    fimg.values[4] = 1.5f;
    msg = camkit_test::error_message([&] { camkit::overlay(map2x3, fimg); });
    EXPECT_NE(msg.find("image values must be in [0, 1], got 1.5"), std::string::npos) << msg;
    fimg.values[4] = std::nanf("");
    EXPECT_THROW(camkit::overlay(map2x3, fimg), camkit::error);
    fimg.values[4] = 0.5f;
    EXPECT_THROW(camkit::overlay(map2x3, fimg, colormap::jet, 2.0), camkit::error);
    EXPECT_NE(camkit_test::error_message([] { camkit::heatmap(tensor<float>({4})); }).find("heatmap: map must be [H, W]"),
              std::string::npos);
}

TEST(slice_grid, places_slices_with_separators) {
    // D = 5 slices of 2×3 → 3 columns, 2 rows: (2·2 + 1) × (3·3 + 2); slice s holds the value s/4.
    tensor<double> vol({5, 2, 3});
    for (std::size_t s = 0; s < 5; ++s)
        for (std::size_t i = 0; i < 6; ++i) vol.values[s * 6 + i] = s / 4.0;
    const rgb_image g = camkit::slice_grid(vol, colormap::viridis);
    EXPECT_EQ(g.height, 5u);
    EXPECT_EQ(g.width, 11u);
    const auto& lut = camkit::colormap_lut(colormap::viridis);
    const rgb black{0, 0, 0};
    for (std::size_t s = 0; s < 5; ++s) {
        const std::size_t y0 = (s / 3) * 3, x0 = (s % 3) * 4;
        for (std::size_t y = 0; y < 2; ++y)
            for (std::size_t x = 0; x < 3; ++x)
                EXPECT_EQ(g.at(y0 + y, x0 + x), lut[camkit::colormap_index(s / 4.0)]) << s;
    }
    for (std::size_t x = 0; x < 11; ++x) EXPECT_EQ(g.at(2, x), black) << x;  // row separator
    for (std::size_t y = 0; y < 5; ++y) {
        EXPECT_EQ(g.at(y, 3), black);  // column separators
        EXPECT_EQ(g.at(y, 7), black);
    }
    for (std::size_t y = 3; y < 5; ++y)
        for (std::size_t x = 8; x < 11; ++x) EXPECT_EQ(g.at(y, x), black);  // the unused sixth cell
}

TEST(slice_grid, column_counts) {
    const auto size = [](std::size_t d) {
        const rgb_image g = camkit::slice_grid(tensor<float>({d, 1, 1}));
        return std::pair{g.height, g.width};
    };
    EXPECT_EQ(size(1), (std::pair<std::size_t, std::size_t>{1, 1}));
    EXPECT_EQ(size(4), (std::pair<std::size_t, std::size_t>{3, 3}));   // 2×2
    EXPECT_EQ(size(10), (std::pair<std::size_t, std::size_t>{5, 7}));  // 4 columns, 3 rows
    // the columns that lay the grid out, for callers that mark its cells
    static_assert(camkit::slice_grid_columns(0) == 1 && camkit::slice_grid_columns(1) == 1);
    EXPECT_EQ(camkit::slice_grid_columns(4), 2u);
    EXPECT_EQ(camkit::slice_grid_columns(5), 3u);
    EXPECT_EQ(camkit::slice_grid_columns(10), 4u);
    EXPECT_EQ(camkit::slice_grid_columns(64), 8u);
    EXPECT_EQ(camkit::slice_grid_columns(65), 9u);
    // one slice: the grid is the heatmap
    const tensor<float> one({1, 2, 3}, map2x3.values);
    EXPECT_EQ(camkit::slice_grid(one).pixels, camkit::heatmap(map2x3).pixels);
}

TEST(slice_grid, errors) {
    EXPECT_NE(camkit_test::error_message([] { camkit::slice_grid(tensor<float>({2, 2})); }).find("slice_grid: volume must be [D, H, W]"),
              std::string::npos);
    EXPECT_NE(camkit_test::error_message([] { camkit::slice_grid(tensor<float>({0, 2, 2})); }).find("empty axis"), std::string::npos);
}

TEST(overlay_slices, each_cell_is_the_overlay_of_its_slice) {
    // 5 slices of 2×3: a 3-column grid of 2 rows (slice d at row d / 3, column d % 3), 1-pixel black
    // lines between cells and the unused sixth cell black; each cell is overlay() of its slices.
    tensor<float> vol({5, 2, 3}), under({5, 2, 3});
    for (std::size_t i = 0; i < vol.size(); ++i) {
        vol.values[i] = static_cast<float>(i % 7) / 6.0f;
        under.values[i] = static_cast<float>((i * 5) % 11) / 10.0f;
    }
    const rgb_image g = camkit::overlay_slices(vol, under, colormap::viridis, 0.4);
    ASSERT_EQ(g.height, 2u * 2 + 1);
    ASSERT_EQ(g.width, 3u * 3 + 2);
    for (std::size_t d = 0; d < 5; ++d) {
        const tensor<float> m({2, 3}, std::vector<float>(vol.values.begin() + d * 6, vol.values.begin() + d * 6 + 6));
        const tensor<float> u({2, 3}, std::vector<float>(under.values.begin() + d * 6, under.values.begin() + d * 6 + 6));
        const rgb_image cell = camkit::overlay(m, u, colormap::viridis, 0.4);
        for (std::size_t y = 0; y < 2; ++y)
            for (std::size_t x = 0; x < 3; ++x) EXPECT_EQ(g.at((d / 3) * 3 + y, (d % 3) * 4 + x), cell.at(y, x)) << d;
    }
    for (std::size_t x = 0; x < g.width; ++x) EXPECT_EQ(g.at(2, x), (rgb{0, 0, 0})) << "separator row, column " << x;
    EXPECT_EQ(g.at(3, 8), (rgb{0, 0, 0})) << "the unused cell";
    // one slice: the grid is the overlay
    const tensor<float> one({1, 2, 3}, map2x3.values), gray({1, 2, 3}, 0.5f);
    EXPECT_EQ(camkit::overlay_slices(one, gray).pixels, camkit::overlay(map2x3, tensor<float>({2, 3}, 0.5f)).pixels);
}

TEST(overlay_slices, errors) {
    const tensor<float> vol({2, 2, 2}, 0.5f);
    auto msg = camkit_test::error_message([&] { camkit::overlay_slices(tensor<float>({2, 2}), tensor<float>({2, 2})); });
    EXPECT_NE(msg.find("overlay_slices: volume must be [D, H, W], got shape [2, 2]"), std::string::npos) << msg;
    msg = camkit_test::error_message([&] { camkit::overlay_slices(vol, tensor<float>({2, 2, 3})); });
    EXPECT_NE(msg.find("the volume under the map has shape [2, 2, 3], the map [2, 2, 2]"), std::string::npos) << msg;
    msg = camkit_test::error_message([&] { camkit::overlay_slices(tensor<float>({0, 2, 2}), tensor<float>({0, 2, 2})); });
    EXPECT_NE(msg.find("empty axis"), std::string::npos) << msg;
    msg = camkit_test::error_message([&] { camkit::overlay_slices(vol, tensor<float>({2, 2, 2}, 2.0f)); });
    EXPECT_NE(msg.find("image values must be in [0, 1], got 2"), std::string::npos) << msg;
}

TEST(heatmaps, one_image_per_sample_for_each_rank) {
    // 1-D: a strip of the given height, every row the same
    const tensor<float> strips({2, 3}, {0.0f, 0.5f, 1.0f, 1.0f, 1.0f, 1.0f});
    const auto s = camkit::heatmaps(strips, colormap::jet, 4);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].height, 4u);
    EXPECT_EQ(s[0].width, 3u);
    for (std::size_t y = 0; y < 4; ++y) {
        EXPECT_EQ(s[0].at(y, 0), (rgb{0, 0, 128}));
        EXPECT_EQ(s[0].at(y, 1), (rgb{126, 255, 130}));
        EXPECT_EQ(s[1].at(y, 2), (rgb{128, 0, 0}));
    }
    EXPECT_EQ(camkit::heatmaps(strips)[0].height, 16u);  // default strip height
    // 2-D: each sample's heatmap
    tensor<float> two({2, 2, 3});
    std::copy(map2x3.values.begin(), map2x3.values.end(), two.values.begin() + 6);
    const auto h = camkit::heatmaps(two, colormap::turbo);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[1].pixels, camkit::heatmap(map2x3, colormap::turbo).pixels);
    EXPECT_EQ(h[0].at(0, 0), camkit::colormap_lut(colormap::turbo)[0]);
    // 3-D: each sample's slice grid
    tensor<double> three({2, 3, 2, 2});
    for (std::size_t i = 0; i < three.size(); ++i) three.values[i] = i / 23.0;
    const auto g = camkit::heatmaps(three);
    ASSERT_EQ(g.size(), 2u);
    const tensor<double> second({3, 2, 2}, std::vector<double>(three.values.begin() + 12, three.values.end()));
    EXPECT_EQ(g[1].pixels, camkit::slice_grid(second).pixels);
    EXPECT_EQ(g[1].height, 5u);
    EXPECT_EQ(g[1].width, 5u);
}

TEST(heatmaps, errors) {
    EXPECT_NE(camkit_test::error_message([] { camkit::heatmaps(tensor<float>({4})); }).find("[N, *S]"), std::string::npos);
    EXPECT_NE(camkit_test::error_message([] { camkit::heatmaps(tensor<float>({1, 1, 1, 1, 1})); }).find("[N, *S]"), std::string::npos);
    EXPECT_NE(camkit_test::error_message([] { camkit::heatmaps(tensor<float>({1, 0, 2})); }).find("empty axis"), std::string::npos);
    EXPECT_NE(camkit_test::error_message([] { camkit::heatmaps(tensor<float>({1, 3}), colormap::jet, 0); }).find("strip_height"),
              std::string::npos);
}
