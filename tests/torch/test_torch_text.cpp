// The message and metadata helpers of the torch adapter (adapters/torch/include/camkit/torch/text.hpp),
// shared by its TorchScript and exported-package parts and by camkit-torch's messages.
#include <camkit/torch/text.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using strings = std::vector<std::string>;
namespace text = camkit::torch::detail;

TEST(TorchText, SplitKeepsEmptyPartsAndTheWholeText) {
    EXPECT_EQ(text::split("layer4.1.conv1", '.'), (strings{"layer4", "1", "conv1"}));
    EXPECT_EQ(text::split("a,,b,", ','), (strings{"a", "", "b", ""}));
    EXPECT_EQ(text::split("", ','), (strings{""}));
    EXPECT_EQ(text::split("enc2", '.'), (strings{"enc2"}));
    EXPECT_EQ(text::path_depth("layer4"), 0);
    EXPECT_EQ(text::path_depth("layer4.1.conv1"), 2);
}

TEST(TorchText, JoinCutsLongListsWithTheirCount) {
    EXPECT_EQ(text::join({}), "(none)");
    EXPECT_EQ(text::join({"enc2", "dec2"}), "enc2, dec2");
    // "aaaa, bbbb" is 10 characters; the third name would take it past 12.
    EXPECT_EQ(text::join({"aaaa", "bbbb", "cccc", "dddd"}, 12), "aaaa, bbbb, ... (4 in all)");
    strings many(200, "layer");
    const std::string cut = text::join(many);
    EXPECT_LE(cut.size(), 400u + 20u);
    EXPECT_NE(cut.find("... (200 in all)"), std::string::npos) << cut;
}

TEST(TorchText, LayersPhraseQuotesEachName) {
    EXPECT_EQ(text::layers_phrase({"dec2"}), "layer 'dec2'");
    EXPECT_EQ(text::layers_phrase({"enc2", "dec2", "dec1"}), "layers 'enc2', 'dec2', 'dec1'");
    EXPECT_EQ(text::layers_phrase({}), "layers (none)");
}

}  // namespace

TEST(TorchText, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
    EXPECT_EQ(camkit::torch::detail::edit_distance("", ""), 0u);
    EXPECT_EQ(camkit::torch::detail::edit_distance("layer4", ""), 6u);
    EXPECT_EQ(camkit::torch::detail::edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(camkit::torch::detail::edit_distance("layer4.1.conv9", "layer4.1.conv2"), 1u);
    EXPECT_EQ(camkit::torch::detail::edit_distance("enc", "enc.0"), 2u);
}

// An unknown layer lists the valid ones and, when some are a few edits away, the nearest.
TEST(TorchText, UnknownLayerSuggestsTheNearestNames) {
    using camkit::torch::detail::unknown_layer;
    const std::vector<std::string> names{"layer4", "layer4.0", "layer4.1", "layer4.1.conv1", "layer4.1.conv2", "fc"};
    EXPECT_EQ(unknown_layer("layer4.1.conv9", names),
              "unknown layer 'layer4.1.conv9'; valid layers: layer4, layer4.0, layer4.1, layer4.1.conv1, layer4.1.conv2, fc; "
              "did you mean 'layer4.1.conv1' or 'layer4.1.conv2'?");
    EXPECT_EQ(unknown_layer("layer5", names),
              "unknown layer 'layer5'; valid layers: layer4, layer4.0, layer4.1, layer4.1.conv1, layer4.1.conv2, fc; did you "
              "mean 'layer4'?");
    EXPECT_EQ(unknown_layer("classifier", names),
              "unknown layer 'classifier'; valid layers: layer4, layer4.0, layer4.1, layer4.1.conv1, layer4.1.conv2, fc");
    EXPECT_EQ(unknown_layer("x", {}), "unknown layer 'x'; valid layers: (none)");
}
