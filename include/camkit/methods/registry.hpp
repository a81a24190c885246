#pragma once
// The registry of method types: a Boost.Hana tuple that maps `--method NAME` to a type and that
// tests and benchmarks iterate (method × target × backend).
#include <camkit/methods/eigen_cam.hpp>
#include <camkit/methods/grad_cam.hpp>
#include <camkit/methods/grad_cam_elementwise.hpp>
#include <camkit/methods/grad_cam_plus_plus.hpp>
#include <camkit/methods/hires_cam.hpp>
#include <camkit/methods/layer_cam.hpp>
#include <camkit/methods/respond_cam.hpp>
#include <camkit/methods/xgrad_cam.hpp>

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace camkit {

/// Every gradient-based method camkit registers, in the order the tool lists them.
inline constexpr auto method_types =
    boost::hana::tuple_t<grad_cam, hires_cam, grad_cam_plus_plus, xgrad_cam, layer_cam, grad_cam_elementwise,
                         eigen_cam, eigen_grad_cam, respond_cam>;

/// Calls `f(boost::hana::type_c<M>)` for every registered method M.
template <class F>
void for_each_method(F&& f) {
    boost::hana::for_each(method_types, f);
}

/// Calls `f(boost::hana::type_c<M>)` for the method named `name`; false when there is none.
template <class F>
bool with_method(std::string_view name, F&& f) {
    bool found = false;
    for_each_method([&](auto t) {
        if (!found && decltype(t)::type::name == name) {
            found = true;
            f(t);
        }
    });
    return found;
}

/// The registered method names, for help texts and error messages.
inline std::vector<std::string_view> method_names() {
    std::vector<std::string_view> names;
    for_each_method([&](auto t) { names.push_back(decltype(t)::type::name); });
    return names;
}

/// The names joined by spaces: `gradcam hirescam …`.
inline std::string method_names_joined() {
    std::string s;
    for (auto n : method_names()) (s += s.empty() ? "" : " ") += n;
    return s;
}

}  // namespace camkit
