// `camkit methods`: the method names and titles.
#include "../../common/app.hpp"

#include <camkit/camkit.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace {

int run_methods(const std::vector<std::string>& args) {
    if (!args.empty()) camkit_cli::fail("'camkit methods' takes no arguments");
    camkit::for_each_method([](auto type) {
        using M = typename decltype(type)::type;
        std::string name(M::name);
        name.resize(std::max<std::size_t>(name.size() + 2, 22), ' ');
        std::cout << name << M::title;
        if constexpr (!camkit::needs_gradients_v<M>) std::cout << " (no gradients needed)";
        std::cout << "\n";
    });
    return 0;
}

const camkit_cli::registration methods{
    {"methods", "lists the method names", "usage: camkit methods\n\nLists the method names --method accepts.\n", run_methods}};

}  // namespace
