// `camkit-torch methods`: the method names and titles, Score-CAM and CAM included.
#include "../../common/app.hpp"

#include <camkit/camkit.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace {

int run_methods(const std::vector<std::string>& args) {
    if (!args.empty()) camkit_cli::fail("'camkit-torch methods' takes no arguments");
    const auto line = [](std::string name, std::string_view title) {
        name.resize(std::max<std::size_t>(name.size() + 2, 22), ' ');
        std::cout << name << title << "\n";
    };
    camkit::for_each_method([&](auto type) {
        using M = typename decltype(type)::type;
        line(std::string(M::name), M::title);
    });
    line("scorecam", "Score-CAM (gradient-free: one forward pass per activation channel)");
    line("cam", "CAM (Zhou et al.; no gradients: needs --head PARAM, the linear head's weight)");
    return 0;
}

const camkit_cli::registration methods{{"methods", "lists the method names",
                                        "usage: camkit-torch methods\n\nLists the names --method accepts.\n",
                                        run_methods}};

}  // namespace
