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
