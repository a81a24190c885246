#pragma once
// The one application skeleton of the `camkit` and `camkit-torch` tools: the command registry,
// `--help` / `--version`, the catch ladder and the exit codes (0 success, 2 bad input with one
// line "<tool>: <message>" on stderr, 1 internal error).
//
// Adding a subcommand (e.g. `camkit refine`) is one file, examples/cli/commands/refine.cpp (or
// examples/torch/commands/ for camkit-torch), picked up by the folder's CMake glob; it holds the
// function that runs the command and one registration line:
//
//     namespace {
//     constexpr const char* help = "usage: camkit refine --in MAP.npy --out OUT.npy\n  ...";
//     int run_refine(const std::vector<std::string>& args) {
//         std::string in, out;
//         camkit_cli::option_parser("camkit refine").value("--in", in).value("--out", out).parse(args);
//         camkit_cli::file_set files({{"--in", in}});  // inputs and outputs checked before any work
//         const std::size_t o = files.output("--out", out);
//         ...                                  // compute; camkit_cli::fail("...") on bad input
//         files.write_npy(o, map);             // or files.write(o, bytes); PNGs: picture.hpp
//         files.commit();                      // all outputs appear together, or none
//         return 0;
//     }
//     const camkit_cli::registration refine{{"refine", "one-line summary for 'camkit --help'", help, run_refine}};
//     }  // namespace
//
// The skeleton prints `help` for `camkit refine --help`, lists the summary under `camkit --help`,
// and turns usage_error (fail), camkit::error, std::bad_alloc into one line and exit status 2.
// Inputs read through camkit::io are bounded and refuse special files by themselves; check the
// memory an input implies from its header (io::read_npy_header, io::read_image_info, and
// camkit_cli::check_values) before reading it.
#include "cli_support.hpp"

#include <camkit/error.hpp>
#include <camkit/version.hpp>

#include <algorithm>
#include <exception>
#include <functional>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace camkit_cli {

/// One subcommand of a tool.
struct command {
    std::string name;     ///< what the user types after the tool's name
    std::string summary;  ///< one line for the tool's --help
    std::string help;     ///< the command's --help text
    std::function<int(const std::vector<std::string>&)> run;  ///< runs it on the arguments after its name
};

/// The commands of this program, in registration order.
inline std::vector<command>& commands() {
    static std::vector<command> all;
    return all;
}

/// Registers a command at program start: one `const registration x{{...}};` per command file.
struct registration {
    explicit registration(command c) { commands().push_back(std::move(c)); }
};

/// What distinguishes one tool: its name, a description for --help, and optionally a translation
/// of framework exceptions (LibTorch's) into a bad-input message.
struct tool {
    std::string name;
    std::string description;
    /// Returns a message when `e` is bad input the tool recognises (exit 2), nullopt otherwise (exit 1).
    std::function<std::optional<std::string>(const std::exception& e)> bad_input;
};

namespace detail {

inline int dispatch(const tool& t, const std::vector<std::string>& args) {
    std::vector<command> all = commands();
    std::sort(all.begin(), all.end(), [](const command& a, const command& b) { return a.name < b.name; });
    std::string names;
    for (const auto& c : all) names += (names.empty() ? "" : ", ") + c.name;
    if (args.empty()) fail("no command given (see '" + t.name + " --help')");
    const std::string& name = args[0];
    if (name == "--help" || name == "-h" || name == "help") {
        std::cout << "usage: " << t.name << " <command> [options]\n       " << t.name << " --help | --version\n\n"
                  << t.description << "\n\ncommands:\n";
        for (const auto& c : all) {
            std::string n = c.name;
            n.resize(std::max<std::size_t>(n.size() + 2, 10), ' ');
            std::cout << "  " << n << c.summary << "\n";
        }
        std::cout << "\nRun '" << t.name << " <command> --help' for a command's options. Exit status: 0 success,\n"
                  << "2 bad input (one line on stderr), 1 internal error.\n";
        return 0;
    }
    if (name == "--version") {
        std::cout << t.name << " " << CAMKIT_VERSION_STRING << "\n";
        return 0;
    }
    for (const auto& c : all) {
        if (c.name != name) continue;
        const std::vector<std::string> rest(args.begin() + 1, args.end());
        if (std::find_if(rest.begin(), rest.end(), [](const std::string& r) { return r == "--help" || r == "-h"; }) !=
            rest.end()) {
            std::cout << c.help;
            return 0;
        }
        return c.run(rest);
    }
    if (name.starts_with("-")) fail("unknown option '" + name + "' (see '" + t.name + " --help')");
    fail("unknown command '" + name + "' (commands: " + names + "; see '" + t.name + " --help')");
}

}  // namespace detail

/// The tool's main: runs the command named by argv[1]; every error becomes one line on stderr.
inline int run_app(const tool& t, int argc, char** argv) {
    const auto report = [&](const std::string& message) { std::cerr << t.name << ": " << one_line(message) << "\n"; };
    try {
        return detail::dispatch(t, std::vector<std::string>(argv + 1, argv + argc));
    } catch (const usage_error& e) {
        report(e.what());
    } catch (const camkit::error& e) {
        std::string what = e.what();
        if (what.starts_with("camkit: ")) what = what.substr(8);
        report(what);
    } catch (const std::bad_alloc&) {
        report("out of memory (the input or --size is too large for this machine)");
    } catch (const std::exception& e) {
        if (t.bad_input)
            if (auto message = t.bad_input(e)) {
                report(*message);
                return 2;
            }
        report(std::string("internal error: ") + e.what());
        return 1;
    }
    return 2;
}

}  // namespace camkit_cli
