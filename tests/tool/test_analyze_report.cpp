// The statistics and the report of `camkit-torch analyze` (examples/torch/analyze: records.hpp and
// report.hpp hold no LibTorch header), on rows written by hand: the median and the population
// standard deviation, infinite ratios left out and counted, the class-balanced ranking (a class
// with many rows does not outweigh the others; ties to the pointing game), the model's IoU and
// Dice per class summed over the data set, and record files that keep the class overlaps.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../examples/torch/analyze/panel.hpp"
#include "../../examples/torch/analyze/records.hpp"
#include "../../examples/torch/analyze/report.hpp"
#include "common/temp_dir.hpp"

namespace {

using namespace camkit_analyze;

/// A metric row: image, class, method, layer, energy inside, pointing hit, attention ratio.
row make_row(const std::string& image, const std::string& cls, const std::string& method, const std::string& layer,
             double energy, int hit, double ratio) {
    row r;
    r.cells[0] = image, r.cells[1] = "predicted" + cls, r.cells[2] = cls, r.cells[3] = method, r.cells[4] = layer;
    r.cells[5] = number(0.25), r.cells[6] = number(0.1);
    r.cells[7] = number(ratio), r.cells[8] = number(energy), r.cells[9] = hit ? "1" : "0";
    return r;
}

/// A record of image `stem` with `rows`.
record make_record(const std::string& stem, std::vector<row> rows = {}) {
    record r;
    r.stem = stem;
    r.rows = std::move(rows);
    return r;
}

TEST(AnalyzeStatistics, MeanPopulationStdMedianAndCountOfTheFiniteValues) {
    const statistic s = summarize({1.0, 2.0, 4.0, HUGE_VAL, 10.0, std::nan("")});
    EXPECT_EQ(s.n, 4u) << "inf and NaN are left out";
    EXPECT_DOUBLE_EQ(s.mean, 17.0 / 4);
    // Population variance: ((1-4.25)² + (2-4.25)² + (4-4.25)² + (10-4.25)²) / 4 = 48.75 / 4.
    EXPECT_DOUBLE_EQ(s.std, std::sqrt(48.75 / 4));
    EXPECT_DOUBLE_EQ(s.median, 3.0) << "the mean of the two middle values";
    EXPECT_DOUBLE_EQ(summarize({5.0, 1.0, 3.0}).median, 3.0);
    EXPECT_EQ(summarize({HUGE_VAL}).n, 0u);
}

TEST(AnalyzeStatistics, ClassBalancedMeansCountEveryClassOnce) {
    // Method m, layer L: class 0 in three images with energy 0.9, class 1 in one image with 0.1.
    // The mean over the rows is (3·0.9 + 0.1) / 4 = 0.7; over the classes (0.9 + 0.1) / 2 = 0.5.
    const record a = make_record("a", {make_row("a", "0", "m", "L", 0.9, 1, 2.0), make_row("a", "1", "m", "L", 0.1, 0, 4.0)});
    const record b = make_record("b", {make_row("b", "0", "m", "L", 0.9, 1, 6.0)});
    const record c = make_record("c", {make_row("c", "0", "m", "L", 0.9, 0, HUGE_VAL)});
    const auto gs = groups({a, b, c}, false);
    ASSERT_EQ(gs.size(), 1u);
    EXPECT_EQ(gs[0].rows, 4u);
    EXPECT_EQ(gs[0].classes, 2u);
    EXPECT_NEAR(gs[0].stats.at("energy_inside").mean, 0.7, 1e-12);
    EXPECT_NEAR(gs[0].class_balanced.at("energy_inside"), 0.5, 1e-12);
    // Pointing hit: class 0 hits in 2 of 3, class 1 in 0 of 1 -> (2/3 + 0) / 2.
    EXPECT_NEAR(gs[0].class_balanced.at("pointing_hit"), 1.0 / 3, 1e-12);
    // The ratio: class 0's finite values 2 and 6 (inf left out), class 1's 4 -> (4 + 4) / 2.
    EXPECT_NEAR(gs[0].class_balanced.at("attention_ratio"), 4.0, 1e-12);
    EXPECT_EQ(gs[0].stats.at("attention_ratio").n, 3u);
    EXPECT_DOUBLE_EQ(gs[0].stats.at("attention_ratio").median, 4.0);
    EXPECT_TRUE(std::isnan(gs[0].class_balanced.at("iou_gt"))) << "no class has a value";
    const auto by_class = groups({a, b, c}, true);
    ASSERT_EQ(by_class.size(), 2u);
    EXPECT_EQ(by_class[0].cls, "0");
    EXPECT_EQ(by_class[0].rows, 3u);
}

TEST(AnalyzeReport, RanksOnTheClassBalancedFocusTiesToThePointingGame) {
    // "bg" focuses on the class with many rows, "fg" on the rare one: by rows bg wins
    // ((3·0.9 + 0.1) / 4 = 0.7 against (3·0.5 + 0.8) / 4 = 0.575), by classes fg wins (0.65 > 0.5).
    // "tie" has fg's class-balanced focus with a higher pointing hit: it ranks above fg.
    std::vector<record> rs;
    for (const std::string image : {"a", "b", "c"}) {
        record r = make_record(image, {make_row(image, "0", "bg", "L", 0.9, 0, 2), make_row(image, "0", "fg", "L", 0.5, 0, 2),
                                       make_row(image, "0", "tie", "L", 0.5, 1, 2)});
        if (image == "a") {
            r.rows.push_back(make_row(image, "1", "bg", "L", 0.1, 0, 2));
            r.rows.push_back(make_row(image, "1", "fg", "L", 0.8, 0, 2));
            r.rows.push_back(make_row(image, "1", "tie", "L", 0.8, 0, 2));
        }
        rs.push_back(r);
    }
    run_info info{"m.pt", "predicted", {"bg", "fg", "tie"}, {"L"}, 3, false, {"background", "thing"}, {}};
    const std::string page = report_html(info, rs, tables_of(rs), {});
    EXPECT_NE(page.find("Most focused: <b>tie</b> at layer <b>L</b> (share of the map's energy inside the target region 0.650, "
                        "the mean over its 2 classes"),
              std::string::npos)
        << page;
    const auto at = [&](const std::string& s) { return page.find("<td class=\"name\">" + s + "</td><td class=\"name\">L"); };
    ASSERT_NE(at("fg"), std::string::npos);
    ASSERT_NE(at("bg"), std::string::npos);
    EXPECT_LT(at("tie"), at("fg"));
    EXPECT_LT(at("fg"), at("bg"));
    EXPECT_NE(page.find("0 (background), 1 (thing)"), std::string::npos) << "classes named";
    EXPECT_NE(page.find("population standard deviation"), std::string::npos);
}

TEST(AnalyzeReport, CountsAppearWhereFewerRowsHaveAValue) {
    const record a = make_record("a", {make_row("a", "1", "m", "L", 0.5, 1, HUGE_VAL), make_row("a", "1", "m", "L", 0.7, 1, 3.0)});
    const std::string page = report_html({"m.pt", "predicted", {"m"}, {"L"}, 1, false, {}, {0}}, {a}, tables_of({a}), {});
    // The ratio's median over its one finite value, with its count; the energy has both rows.
    EXPECT_NE(page.find("<td>3 <small>(n = 1)</small></td>"), std::string::npos) << page;
    EXPECT_NE(page.find("0.600 <small>&plusmn; 0.100</small></td>"), std::string::npos) << page;
    EXPECT_NE(page.find("left out by <code>--skip-class</code>: 0"), std::string::npos);
    // The per-class table: the mean, its standard deviation and count on hovering.
    EXPECT_NE(page.find("<td title=\"&plusmn; 0.100, n = 2\">0.600</td>"), std::string::npos) << page;
}

TEST(AnalyzeReport, ModelIouAndDicePerClassAreSummedOverTheDataSet) {
    // Class 1: image a 3 pixels both, 4 predicted, 5 true; image b 0 both, 2 predicted, 0 true;
    // image c 0 predicted, 6 true. Σ: 3 both, 6 predicted, 11 true -> IoU 3 / 14, Dice 6 / 17.
    // The mean of the per-image IoUs would be (3/6 + 0 + 0) / 3, and over the images where the
    // class is predicted (3/6 + 0) / 2: neither is the data set's.
    record a = make_record("a"), b = make_record("b"), c = make_record("c");
    a.overlaps = {{0, 10, 11, 12}, {1, 3, 4, 5}};
    b.overlaps = {{1, 0, 2, 0}};
    c.overlaps = {{1, 0, 0, 6}};
    const auto q = class_qualities({a, b, c});
    ASSERT_EQ(q.size(), 2u);
    EXPECT_DOUBLE_EQ(q.at(1).iou(), 3.0 / 14);
    EXPECT_DOUBLE_EQ(q.at(1).dice(), 6.0 / 17);
    EXPECT_EQ(q.at(1).images_predicted, 2u);
    EXPECT_EQ(q.at(1).images_true, 2u);
    EXPECT_DOUBLE_EQ(q.at(0).iou(), 10.0 / 13);
    const std::string json = summary_json({a, b, c}, tables_of({a, b, c}), {}, {"background", "thing"});
    EXPECT_NE(json.find("{\"class\": \"1\", \"name\": \"thing\", \"images_true\": 2, \"images_predicted\": 2, \"iou\": " +
                        number(3.0 / 14) + ", \"dice\": " + number(6.0 / 17) + "}"),
              std::string::npos)
        << json;
    const std::string page = report_html({"m.pt", "predicted", {}, {}, 3, false, {"background", "thing"}, {}}, {a, b, c}, tables_of({a, b, c}), {});
    EXPECT_NE(page.find("<td class=\"name\">1 (thing)</td><td>0</td><td>2</td><td>2</td><td>0.214</td><td>0.353</td>"),
              std::string::npos)
        << page;
}

TEST(AnalyzeRecords, KeepTheClassOverlapsAndRedoAnEarlierVersion) {
    const auto dir = camkit_test::unique_temp_dir("camkit_analyze_records");
    record r{"a", {make_row("a", "1", "m", "L", 0.5, 1, 2.0)}, 1, 2, 3, 4, {"predicted1"}, {{0, 7, 8, 9}, {1, 2.5, 3, 4}}};
    const std::string file = (dir / "a.csv").string();
    write_text(file, record_text(r));
    const auto back = read_record(file, "a");
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(back->overlaps.size(), 2u);
    EXPECT_EQ(back->overlaps[1].cls, 1u);
    EXPECT_DOUBLE_EQ(back->overlaps[1].both, 2.5);
    EXPECT_DOUBLE_EQ(back->overlaps[1].truth, 4.0);
    ASSERT_EQ(back->rows.size(), 1u);
    EXPECT_EQ(back->rows[0].cells, r.rows[0].cells);
    EXPECT_EQ(back->backward, 2u);
    // A record of the first version has no overlaps: the image is redone.
    std::string old = record_text(r);
    old.replace(0, old.find('\n'), "# camkit-torch analyze record 1");
    write_text(file, old);
    EXPECT_FALSE(read_record(file, "a").has_value());
    // A damaged overlap line is not a record either.
    std::string bad = record_text(r);
    bad.replace(bad.find("overlap,1,"), 10, "overlap,x,");
    write_text(file, bad);
    EXPECT_FALSE(read_record(file, "a").has_value());
    std::filesystem::remove_all(dir);
}

// Classes are listed in numeric order, 2 before 10 (not as text).
TEST(AnalyzeReport, ClassesInNumericOrder) {
    const record a = make_record("a", {make_row("a", "10", "m", "L", 0.5, 1, 2.0), make_row("a", "2", "m", "L", 0.7, 1, 3.0)});
    const std::string page = report_html({"m.pt", "predicted", {"m"}, {"L"}, 1, false, {}, {}}, {a}, tables_of({a}), {});
    EXPECT_NE(page.find("Classes among the targets: 2, 10"), std::string::npos) << page;
    EXPECT_LT(page.find("<td class=\"name\">2</td>"), page.find("<td class=\"name\">10</td>"));
    EXPECT_TRUE(by_class_index("2", "10"));
    EXPECT_TRUE(by_class_index("9", "x"));
    EXPECT_FALSE(by_class_index("x", "9"));
}

TEST(AnalyzeReport, ClassLabelsNameIndicesThatHaveANameOnly) {
    EXPECT_EQ(class_label("2", {"a", "b", "c"}), "2 (c)");
    EXPECT_EQ(class_label("3", {"a", "b", "c"}), "3");
    EXPECT_EQ(class_label("x", {"a"}), "x");
    EXPECT_EQ(class_label("0", {}), "0");
}

}  // namespace

// A volume's panel shows the slice where the targets' regions lie, each region counting once (a
// background spread over every slice does not decide), else where the maps' mass lies, else the
// middle; 2-D inputs have no slice.
TEST(AnalyzePanel, VolumeSliceFollowsTheRegionsThenTheMaps) {
    const camkit::shape_t size{5, 2, 2};
    const auto volume = [&](std::initializer_list<std::pair<std::size_t, float>> slices) {
        camkit::tensor<float> v(size, 0.0f);
        for (const auto& [d, value] : slices)
            for (std::size_t p = 0; p < 4; ++p) v[d * 4 + p] = value;
        return v;
    };
    const camkit::tensor<float> background = volume({{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}});
    camkit::tensor<float> lesion(size, 0.0f);
    lesion[3 * 4 + 1] = 1.0f;  // one voxel in slice 3
    const camkit::tensor<float> map_at_1 = volume({{1, 0.9f}, {4, 0.2f}}), empty(size, 0.0f), none;
    EXPECT_EQ(panel_depth(size, {&background, &lesion}, {&map_at_1}), 3u);
    EXPECT_EQ(panel_depth(size, {&background}, {&map_at_1}), 2u) << "an even region: the middle";
    EXPECT_EQ(panel_depth(size, {&empty, &none}, {&map_at_1}), 1u) << "no region: the maps' mass";
    EXPECT_EQ(panel_depth(size, {}, {&empty}), 2u) << "nothing: the middle";
    EXPECT_EQ(panel_depth({2, 2}, {&lesion}, {&map_at_1}), 0u);
}
