// Connected-component labelling (include/camkit/regions/labels.hpp): hand-labelled 1-D, 2-D and
// 3-D masks where the connectivity decides whether diagonal neighbours join, the raster-order
// numbering after merges, and every error path.
#include <camkit/regions/labels.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>
#include "common/error_message.hpp"

using camkit::shape_t;
using camkit::tensor;
using camkit_test::error_message;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

namespace {

// Three pieces: a pair in row 0, an L at (1,2), (2,2), (2,3) touching the pair only by the corner
// (0,1)–(1,2), and (3,0) alone.
const tensor<int> diagonal({4, 4}, {1, 1, 0, 0,  //
                                    0, 0, 1, 0,  //
                                    0, 0, 1, 1,  //
                                    1, 0, 0, 0});

std::vector<std::uint32_t> labels_of(const camkit::components& c) { return c.labels.values; }

}  // namespace

TEST(LabelComponents, FourConnectivitySeparatesDiagonalNeighbours) {
    const auto c = camkit::label_components(diagonal, 4);
    EXPECT_EQ(c.labels.shape, (shape_t{4, 4}));
    EXPECT_THAT(labels_of(c), ElementsAreArray<std::uint32_t>({1, 1, 0, 0,  //
                                                               0, 0, 2, 0,  //
                                                               0, 0, 2, 2,  //
                                                               3, 0, 0, 0}));
    EXPECT_THAT(c.sizes, ElementsAre(2u, 3u, 1u));
    EXPECT_EQ(c.count(), 3u);
}

TEST(LabelComponents, EightConnectivityJoinsThemAndIsTheDefault) {
    const std::vector<std::uint32_t> expected{1, 1, 0, 0,  //
                                              0, 0, 1, 0,  //
                                              0, 0, 1, 1,  //
                                              2, 0, 0, 0};
    const auto c8 = camkit::label_components(diagonal, 8);
    EXPECT_THAT(labels_of(c8), ElementsAreArray(expected));
    EXPECT_THAT(c8.sizes, ElementsAre(5u, 1u));
    EXPECT_THAT(labels_of(camkit::label_components(diagonal)), ElementsAreArray(expected));
}

// Provisional labels 1 (0,0), 2 (0,2) and 3 (1,4) start separately; 1 and 2 meet in row 2, so the
// lone (1,4) is numbered 2: the final numbering is the raster order of first positions.
TEST(LabelComponents, MergedTreesAreNumberedInRasterOrder) {
    const tensor<float> v({3, 5}, {1, 0, 1, 0, 0,  //
                                   1, 0, 1, 0, 1,  //
                                   1, 1, 1, 0, 0});
    const auto c = camkit::label_components(v, 4);
    EXPECT_THAT(labels_of(c), ElementsAreArray<std::uint32_t>({1, 0, 1, 0, 0,  //
                                                               1, 0, 1, 0, 2,  //
                                                               1, 1, 1, 0, 0}));
    EXPECT_THAT(c.sizes, ElementsAre(7u, 1u));
    // A merge from the right: (0,3) starts label 1, (1,0) label 2; they join at (2,1)-(2,3).
    const tensor<bool> w({3, 4}, std::vector<bool>{0, 0, 0, 1,  //
                                                   1, 0, 0, 1,  //
                                                   1, 1, 1, 1});
    const auto cw = camkit::label_components(w, 4);
    EXPECT_THAT(labels_of(cw), ElementsAreArray<std::uint32_t>({0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1}));
    EXPECT_THAT(cw.sizes, ElementsAre(7u));
}

TEST(LabelComponents, OneDimension) {
    const tensor<double> v({6}, {1, 1, 0, -2, 0, 0.5});  // any nonzero value is inside
    const auto c = camkit::label_components(v, 2);
    EXPECT_THAT(labels_of(c), ElementsAre(1u, 1u, 0u, 2u, 0u, 3u));
    EXPECT_THAT(c.sizes, ElementsAre(2u, 1u, 1u));
    EXPECT_THAT(labels_of(camkit::label_components(v)), ElementsAre(1u, 1u, 0u, 2u, 0u, 3u));
}

TEST(LabelComponents, EmptyAndFullMasks) {
    const auto none = camkit::label_components(tensor<int>({2, 3}, 0), 8);
    EXPECT_EQ(none.count(), 0u);
    EXPECT_THAT(labels_of(none), ElementsAre(0u, 0u, 0u, 0u, 0u, 0u));
    const auto all = camkit::label_components(tensor<int>({2, 2, 2}, 7), 6);
    EXPECT_THAT(all.sizes, ElementsAre(8u));
}

// Voxels that share a corner only: one component with 26 neighbours, two with 6 or 18.
TEST(LabelComponents, ThreeDCornerNeighbours) {
    tensor<int> v({2, 2, 2}, 0);
    v(0, 0, 0) = 1;
    v(1, 1, 1) = 1;
    EXPECT_THAT(labels_of(camkit::label_components(v, 6)), ElementsAre(1u, 0u, 0u, 0u, 0u, 0u, 0u, 2u));
    EXPECT_THAT(labels_of(camkit::label_components(v, 18)), ElementsAre(1u, 0u, 0u, 0u, 0u, 0u, 0u, 2u));
    EXPECT_THAT(labels_of(camkit::label_components(v, 26)), ElementsAre(1u, 0u, 0u, 0u, 0u, 0u, 0u, 1u));
    EXPECT_THAT(labels_of(camkit::label_components(v)), ElementsAre(1u, 0u, 0u, 0u, 0u, 0u, 0u, 1u));
}

// Voxels that share an edge (differ in two axes): joined by 18 and 26, not by 6.
// z = 0: (0,0,0) and (0,2,2); z = 1: (1,0,1), an edge neighbour of (0,0,0) (dz = 1, dx = 1).
TEST(LabelComponents, ThreeDEdgeNeighbours) {
    tensor<int> v({2, 3, 3}, 0);
    v(0, 0, 0) = 1;
    v(0, 2, 2) = 1;
    v(1, 0, 1) = 1;
    const auto c6 = camkit::label_components(v, 6);
    EXPECT_EQ(c6.labels(0, 0, 0), 1u);
    EXPECT_EQ(c6.labels(0, 2, 2), 2u);
    EXPECT_EQ(c6.labels(1, 0, 1), 3u);
    EXPECT_THAT(c6.sizes, ElementsAre(1u, 1u, 1u));
    for (unsigned conn : {18u, 26u}) {
        const auto c = camkit::label_components(v, conn);
        EXPECT_EQ(c.labels(0, 0, 0), 1u);
        EXPECT_EQ(c.labels(1, 0, 1), 1u);
        EXPECT_EQ(c.labels(0, 2, 2), 2u);
        EXPECT_THAT(c.sizes, ElementsAre(2u, 1u));
    }
    // Face neighbours join at every connectivity.
    tensor<int> f({2, 1, 1}, 1);
    for (unsigned conn : {6u, 18u, 26u}) EXPECT_THAT(camkit::label_components(f, conn).sizes, ElementsAre(2u));
}

// An oblique 3-D staircase: each step moves one voxel in y and z (an edge neighbour), so 18 and 26
// connect all four steps while 6 leaves four single voxels.
TEST(LabelComponents, ThreeDStaircase) {
    tensor<int> v({4, 4, 3}, 0);
    for (std::size_t i = 0; i < 4; ++i) v(i, i, 1) = 1;
    EXPECT_EQ(camkit::label_components(v, 6).count(), 4u);
    EXPECT_THAT(camkit::label_components(v, 18).sizes, ElementsAre(4u));
    EXPECT_THAT(camkit::label_components(v, 26).sizes, ElementsAre(4u));
}

TEST(LabelComponents, Errors) {
    EXPECT_EQ(error_message([] { camkit::label_components(diagonal, 6); }),
              "camkit: label_components: connectivity 6 is not one of 4 or 8 (or 0 for full) for a 2-D mask");
    EXPECT_EQ(error_message([] { camkit::label_components(tensor<int>({2, 2, 2}, 1), 8); }),
              "camkit: label_components: connectivity 8 is not one of 6, 18 or 26 (or 0 for full) for a 3-D mask");
    EXPECT_EQ(error_message([] { camkit::label_components(tensor<int>({5}, 1), 4); }),
              "camkit: label_components: connectivity 4 is not one of 2 (or 0 for full) for a 1-D mask");
    EXPECT_EQ(error_message([] { camkit::label_components(tensor<int>({1, 2, 2, 2}, 1)); }),
              "camkit: label_components: mask must have 1 to 3 axes, got shape [1, 2, 2, 2]");
    EXPECT_EQ(error_message([] { camkit::label_components(tensor<int>(shape_t{}, 1)); }),
              "camkit: label_components: mask must have 1 to 3 axes, got shape []");
    EXPECT_EQ(error_message([] { camkit::label_components(tensor<int>({3, 0}, 1)); }),
              "camkit: label_components: mask has an empty axis: shape [3, 0]");
    tensor<int> broken({2, 2}, 1);
    broken.values.pop_back();
    EXPECT_EQ(error_message([&] { camkit::label_components(broken); }),
              "camkit: label_components: mask holds 3 values for shape [2, 2]");
}

namespace {

// An independent labelling: a flood fill from each unlabelled position in raster order, with the
// neighbourhood spelled out as "differs by at most 1 in every axis and in at most `reach` axes".
std::vector<std::uint32_t> flood_fill_labels(const tensor<int>& m, std::size_t reach) {
    const shape_t& s = m.shape;
    std::vector<std::uint32_t> lab(m.size(), 0);
    std::uint32_t next = 0;
    const auto coords = [&](std::size_t p) {
        shape_t c(s.size());
        for (std::size_t a = s.size(); a-- > 0;) {
            c[a] = p % s[a];
            p /= s[a];
        }
        return c;
    };
    for (std::size_t start = 0; start < m.size(); ++start) {
        if (m[start] == 0 || lab[start] != 0) continue;
        lab[start] = ++next;
        std::vector<std::size_t> todo{start};
        while (!todo.empty()) {
            const shape_t c = coords(todo.back());
            todo.pop_back();
            for (std::size_t q = 0; q < m.size(); ++q) {
                if (m[q] == 0 || lab[q] != 0) continue;
                const shape_t d = coords(q);
                std::size_t moved = 0;
                bool near = true;
                for (std::size_t a = 0; a < s.size(); ++a) {
                    const std::size_t diff = c[a] > d[a] ? c[a] - d[a] : d[a] - c[a];
                    near = near && diff <= 1;
                    moved += diff != 0;
                }
                if (near && moved <= reach) {
                    lab[q] = next;
                    todo.push_back(q);
                }
            }
        }
    }
    return lab;
}

}  // namespace

// Random masks of every rank and connectivity against the flood fill.
TEST(LabelComponents, EqualsAFloodFillOnRandomMasks) {
    const std::vector<std::pair<shape_t, std::vector<unsigned>>> cases{
        {{40}, {2}}, {{9, 11}, {4, 8}}, {{5, 6, 7}, {6, 18, 26}},
        // one column: the first column is also the last, with neighbours on neither side
        {{13, 1}, {4, 8}}, {{4, 5, 1}, {6, 18, 26}}, {{1, 1, 9}, {6, 18, 26}}, {{8, 2}, {4, 8}}, {{3, 4, 2}, {6, 18, 26}}};
    unsigned seed = 12345;
    for (const auto& [shape, conns] : cases)
        for (int density : {30, 50, 70}) {
            tensor<int> m(shape);
            for (int& v : m.values) {
                seed = seed * 1103515245u + 12345u;
                v = static_cast<int>((seed >> 16) % 100) < density ? 1 : 0;
            }
            for (std::size_t i = 0; i < conns.size(); ++i) {
                const auto c = camkit::label_components(m, conns[i]);
                const auto expected = flood_fill_labels(m, i + 1);
                EXPECT_EQ(c.labels.values, expected) << camkit::to_string(shape) << " connectivity " << conns[i];
                std::vector<std::size_t> sizes(c.count(), 0);
                for (auto l : expected)
                    if (l) ++sizes.at(l - 1);
                EXPECT_EQ(c.sizes, sizes);
            }
        }
}
