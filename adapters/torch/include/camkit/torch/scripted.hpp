#pragma once
// TorchScript models, an opt-in part of the LibTorch adapter (the only one that needs the JIT
// headers): `scripted_layer` explains a submodule named by its dotted path (`layer4.1`,
// `encoder.7`) with no change to the model. It clones the module and edits the clone's forward
// graph so the named call also stores its output in an attribute; it is a layer_recorder, so
// capture_gradients, capture_activations and explain (explain.hpp) take it like a tap. This
// header adds explain and score_cam overloads that name the layer, and lets Score-CAM and the
// faithfulness metrics run a torch::jit::Module as a model.
#include <camkit/error.hpp>
#include <camkit/torch/capture.hpp>
#include <camkit/torch/explain.hpp>
#include <camkit/torch/forward.hpp>
#include <camkit/torch/score_cam.hpp>
#include <camkit/torch/tensor.hpp>
#include <camkit/torch/text.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>  // autograd::Node: describe_layers orders the layers by their outputs' nodes
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace camkit::torch {

/// Dotted names of every submodule of a TorchScript module (`layer4`, `layer4.1`, `layer4.1.conv1`...).
inline std::vector<std::string> layer_names(const ::torch::jit::Module& module) {
    std::vector<std::string> names;
    for (const auto& m : module.named_modules())
        if (!m.name.empty()) names.push_back(m.name);
    return names;
}

namespace detail {

/// The tensor a TorchScript method returned; `what` names the method in the error for anything else.
inline at::Tensor one_tensor(const c10::IValue& v, const char* what) {
    camkit::detail::require(v.isTensor(), std::string("model: ") + what + " must return one tensor, got " +
                                              std::string(v.tagKind()));
    return v.toTensor();
}

/// The values of a tuple or list output, in order.
inline std::vector<c10::IValue> output_elements(const c10::IValue& v) {
    if (v.isTuple()) {
        const auto& e = v.toTupleRef().elements();
        return std::vector<c10::IValue>(e.begin(), e.end());
    }
    const auto e = v.toListRef();
    return std::vector<c10::IValue>(e.begin(), e.end());
}

/// The string keys of a dict output, in its order.
inline std::vector<std::string> output_keys(const c10::IValue& v) {
    std::vector<std::string> keys;
    for (const auto& e : v.toGenericDict()) keys.push_back(e.key().isString() ? e.key().toStringRef() : e.key().tagKind());
    return keys;
}

/// The model output a TorchScript method (forward, or the fallback's head) returned: the tensor
/// itself, or, with `pick`, the value of that key of a dict output (torchvision's segmentation
/// models return {"out": ..., "aux": ...}) or of that index of a tuple or list output. Any other
/// case is an error that says what the method returned and how to choose.
inline at::Tensor model_output(const c10::IValue& v, const char* what, const std::string& pick) {
    const std::string head = std::string("model: ") + what;
    const bool dict = v.isGenericDict(), sequence = v.isTuple() || v.isList();
    const auto several = [&] {
        return std::string(v.isTuple() ? "a tuple" : "a list") + " of " + std::to_string(output_elements(v).size()) + " values";
    };
    if (pick.empty()) {
        camkit::detail::require(!dict, [&] {
            const auto keys = output_keys(v);
            return head + " returns a dict (keys: " + join(keys) + "); choose the output to explain by its key (model_output = \"" +
                   (keys.empty() ? std::string("KEY") : keys.front()) + "\"; camkit-torch: --model-output KEY)";
        });
        camkit::detail::require(!sequence, [&] {
            return head + " returns " + several() +
                   "; choose the output to explain by its index (model_output = \"0\"; camkit-torch: --model-output INDEX)";
        });
        return one_tensor(v, what);
    }
    c10::IValue chosen;
    if (dict) {
        for (const auto& e : v.toGenericDict())
            if (e.key().isString() && e.key().toStringRef() == pick) chosen = e.value();
        camkit::detail::require(!chosen.isNone(), [&] {
            return head + " returns a dict without the key '" + pick + "' (keys: " + join(output_keys(v)) + ")";
        });
    } else if (sequence) {
        const auto values = output_elements(v);
        const bool digits = !pick.empty() && pick.size() <= 9 &&
                            std::all_of(pick.begin(), pick.end(), [](char c) { return c >= '0' && c <= '9'; });
        const std::size_t i = digits ? static_cast<std::size_t>(std::stoul(pick)) : values.size();
        camkit::detail::require(i < values.size(), [&] {
            return head + " returns " + several() + "; the model output '" + pick + "' must be " +
                   (values.empty() ? std::string("an index, and there is none")
                                   : "an index from 0 to " + std::to_string(values.size() - 1));
        });
        chosen = values[i];
    } else {
        camkit::detail::require(!v.isTensor(), head + " returns one tensor; the model output '" + pick +
                                                   "' chooses from a dict or a tuple (give none)");
        camkit::detail::require(false, head + " must return one tensor, a dict or a tuple of tensors, got " + v.tagKind());
    }
    camkit::detail::require(chosen.isTensor(), [&] {
        return head + " output '" + pick + "' is a " + chosen.tagKind() + ", not a tensor";
    });
    return chosen.toTensor();
}

/// Every node of `block` and of the blocks nested in it, in order.
inline void collect_nodes(::torch::jit::Block* block, std::vector<::torch::jit::Node*>& out) {
    for (::torch::jit::Node* n : block->nodes()) {
        out.push_back(n);
        for (::torch::jit::Block* b : n->blocks()) collect_nodes(b, out);
    }
}

inline std::vector<::torch::jit::Node*> all_nodes(::torch::jit::Graph& g) {
    std::vector<::torch::jit::Node*> out;
    collect_nodes(g.block(), out);
    return out;
}

/// True for `forward` and for `forward1`, `forward2`...: the names torch.jit.trace gives the
/// second and later calls of one module.
inline bool is_forward(const std::string& method) {
    if (method.rfind("forward", 0) != 0) return false;
    return std::all_of(method.begin() + 7, method.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// True when `n` sits inside a loop body (its output would be overwritten on every iteration).
inline bool inside_loop(const ::torch::jit::Node* n) {
    for (const ::torch::jit::Block* b = n->owningBlock(); b && b->owningNode(); b = b->owningNode()->owningBlock())
        if (b->owningNode()->kind() == c10::prim::Loop) return true;
    return false;
}

/// Inlines every method call on a module value in `modules` until none is left, so that the
/// submodule reads of those modules' methods appear in `g` itself.
inline void inline_calls_on(::torch::jit::Graph& g, const std::unordered_set<::torch::jit::Value*>& modules,
                            const std::string& layer) {
    for (bool again = true; again;) {
        again = false;
        // Every call found in one sweep is inlined (inlining one replaces that node only); the
        // inlined bodies' own calls are found by the next sweep.
        for (::torch::jit::Node* n : all_nodes(g)) {
            if (n->kind() != c10::prim::CallMethod || !modules.count(n->input(0))) continue;
            auto cls = n->input(0)->type()->cast<c10::ClassType>();
            camkit::detail::require(cls != nullptr, "layer '" + layer + "': a module on its path is called through "
                                                    "an interface type, which cannot be edited; use the "
                                                    "features/head fallback");
            // Inline the method's own graph, not its optimized one: the latter has every call
            // inlined already, and the layer's call must stay visible.
            ::torch::jit::GraphFunction& callee = ::torch::jit::toGraphFunction(cls->getMethod(n->s(c10::attr::name)));
            ::torch::jit::inlineCallTo(n, &callee, callee.graph().get());
            again = true;
        }
    }
}

/// The one forward call of the named layer in the forward graph `g` (the methods on the layer's
/// path inlined into it: `g` must be a graph camkit may edit, the forward of a clone or a copy);
/// throws camkit::error saying why the layer cannot be recorded.
inline ::torch::jit::Node* layer_call(::torch::jit::Graph& g, const std::string& layer) {
    namespace jit = ::torch::jit;
    std::unordered_set<jit::Value*> prefix{g.inputs().at(0)};
    std::string walked;
    for (const std::string& part : detail::split(layer, '.')) {
        detail::inline_calls_on(g, prefix, layer);
        std::unordered_set<jit::Value*> next;
        for (jit::Node* n : detail::all_nodes(g))
            if (n->kind() == c10::prim::GetAttr && prefix.count(n->input(0)) && n->s(c10::attr::name) == part)
                next.insert(n->output());
        walked += (walked.empty() ? "" : ".") + part;
        camkit::detail::require(!next.empty(), "layer '" + layer + "': forward never uses module '" + walked +
                                                   "', so the layer cannot be recorded");
        prefix = std::move(next);
    }
    std::vector<jit::Node*> calls;
    for (jit::Node* n : detail::all_nodes(g))
        if (n->kind() == c10::prim::CallMethod && prefix.count(n->input(0)) && detail::is_forward(n->s(c10::attr::name)))
            calls.push_back(n);
    camkit::detail::require(!calls.empty(), "layer '" + layer + "': its forward is never called by the model's "
                                            "forward; use the features/head fallback");
    camkit::detail::require(calls.size() == 1, "layer '" + layer + "' is called " + std::to_string(calls.size()) +
                                                    " times in forward; camkit records one call (use the "
                                                    "features/head fallback)");
    jit::Node* call = calls.front();
    camkit::detail::require(!detail::inside_loop(call), "layer '" + layer + "' is called inside a loop; camkit "
                                                        "records one call (use the features/head fallback)");
    camkit::detail::require(call->outputs().size() == 1 && call->output()->type()->isSubtypeOf(*c10::TensorType::get()),
                            "layer '" + layer + "' returns " + call->output()->type()->str() +
                                ", camkit needs a layer whose forward returns one tensor (record a module inside it "
                                "that does, or use the features/head fallback)");
    return call;
}

/// Edits `module`'s forward graph (its type must be its own: a clone) so the output of the named
/// layer's forward call is also stored in attribute `attribute`, and the rest of the graph reads a
/// clone of it (in-place ops downstream cannot disturb the recorded tensor). The caller checks the
/// graph (Graph::lint) once after all its edits: a check per edit of many layers is quadratic.
inline void record_layer_output(::torch::jit::Module& module, const std::string& layer, const std::string& attribute) {
    namespace jit = ::torch::jit;
    std::shared_ptr<jit::Graph> g = module.get_method("forward").graph();
    jit::Value* self = g->inputs().at(0);
    jit::Node* call = layer_call(*g, layer);
    jit::Value* out = call->output();
    const auto uses = out->uses();  // the downstream users, before adding ours
    jit::WithInsertPoint guard(call->next());
    g->insertNode(g->createSetAttr(self, attribute, out));
    jit::Value* copy = g->insert(c10::aten::clone, {out});
    for (const jit::Use& u : uses) u.user->replaceInput(u.offset, copy);
}

/// Gives every module of `to` (a clone of `from`, the same modules in the same order) the
/// train/eval mode of its counterpart in `from`, so that a clone made once follows the mode the
/// user sets on the original later (Dropout, BatchNorm); a no-op walk when nothing changed.
inline void follow_training_mode(const ::torch::jit::Module& from, ::torch::jit::Module& to) {
    const auto a = from.modules(), b = to.modules();
    auto ib = b.begin();
    for (auto ia = a.begin(); ia != a.end() && ib != b.end(); ++ia, ++ib) {
        const ::torch::jit::Module src = *ia;
        ::torch::jit::Module dst = *ib;
        if (!src.hasattr("training") || !dst.hasattr("training")) continue;
        const bool on = src.attr("training").toBool();
        if (dst.attr("training").toBool() != on) dst.setattr("training", on);
    }
}
}  // namespace detail

/// A TorchScript module prepared to record the output of one named layer during forward.
/// It holds a clone of the module that shares the parameters (weights are not copied) and whose
/// forward graph stores the named submodule's output in an attribute. Build it once and reuse it.
///
/// How: the clone's root type is new, so its forward can be edited without touching the
/// original. The methods of the modules on the path to the layer are inlined into that forward
/// (submodule types shared by several instances stay untouched), then a prim::SetAttr after
/// the layer's forward call stores its output, and the rest of the graph gets a clone of it so
/// in-place ops downstream cannot disturb the recorded tensor.
///
/// This needs the layer's forward to be called exactly once, outside a loop, returning one
/// tensor, and every module on its path to be reached by attribute (not through an interface
/// type). Models where that does not hold (a layer reused twice, a tuple-returning layer, an
/// activation computed by functional code in forward, a frozen module whose submodules were
/// folded away) use the fallback: a scripted model exposing `features(x)` and `head(f)` methods,
/// selected by layer name "features" when the model has those methods and no submodule of that name.
class scripted_layer {
public:
    /// Name of the attribute of the clone that receives the layer's output.
    static constexpr const char* attribute = "camkit_recorded_activation_";

    /// Prepares `module` to record `layer`; throws camkit::error naming the valid layers if
    /// `layer` is unknown, or saying why the graph cannot be edited. `model_output` names the
    /// output to explain when forward returns several: a dict's key ("out" for torchvision's
    /// segmentation models) or a tuple's or list's index ("0"); empty: forward returns one tensor.
    scripted_layer(const ::torch::jit::Module& module, std::string layer, std::string model_output = {})
        : layer_(std::move(layer)), model_output_(std::move(model_output)) {
        const std::vector<std::string> names = layer_names(module);
        const bool known = std::find(names.begin(), names.end(), layer_) != names.end();
        if (!known && layer_ == "features" && module.find_method("features") && module.find_method("head")) {
            split_ = true;
            module_ = module;
            return;
        }
        camkit::detail::require(known, [&] { return detail::unknown_layer(layer_, names); });
        original_ = module;
        module_ = module.clone(/*inplace=*/true);
        // Optional[Tensor], so that "nothing recorded" is None rather than a placeholder tensor.
        module_.register_attribute(attribute, c10::OptionalType::create(c10::TensorType::get()), c10::IValue(), false);
        edit_forward();
    }

    /// The dotted layer name.
    const std::string& layer() const { return layer_; }
    /// The output forward's value is taken from (empty: forward returns one tensor).
    const std::string& model_output() const { return model_output_; }
    /// True when this uses the features(x)/head(f) fallback instead of an edited graph.
    bool uses_features_head() const { return split_; }
    /// The module run by forward (the edited clone, or the original for the fallback). The clone
    /// takes the original's train/eval mode at every forward.
    ::torch::jit::Module& module() { return module_; }

    /// Output and recorded activation of one forward pass.
    using pass = recorded_pass;

    /// Names the layer in error messages.
    std::string describe() const { return "layer '" + layer_ + "'"; }

    /// Runs forward on `input`; returns the model output and the layer's output (undefined when
    /// the layer was not reached). The recorded tensor is cleared from the module before
    /// returning, so no autograd graph is kept alive.
    pass forward(const at::Tensor& input) { return run(input, true); }

    /// As forward, for a method that reads the layer alone (Eigen-CAM): when forward returns several
    /// outputs and none was chosen, the output is left undefined instead of an error.
    pass forward_activations(const at::Tensor& input) { return run(input, false); }

private:
    pass run(const at::Tensor& input, bool need_output) {
        pass p;
        const auto output = [&](const c10::IValue& v, const char* what) {
            const bool several = v.isGenericDict() || v.isTuple() || v.isList();
            return !need_output && model_output_.empty() && several ? at::Tensor()
                                                                    : detail::model_output(v, what, model_output_);
        };
        if (split_) {
            p.activations = detail::one_tensor(module_.get_method("features")({input}), "features(x)");
            p.output = output(module_.get_method("head")({p.activations.clone()}), "head(f)");
            return p;
        }
        detail::follow_training_mode(original_, module_);
        module_.setattr(attribute, c10::IValue());
        try {
            p.output = output(module_.forward({input}), "forward");
        } catch (...) {
            module_.setattr(attribute, c10::IValue());
            throw;
        }
        const c10::IValue recorded = module_.attr(attribute);
        if (recorded.isTensor()) p.activations = recorded.toTensor();
        module_.setattr(attribute, c10::IValue());
        return p;
    }

    void edit_forward() {
        detail::record_layer_output(module_, layer_, attribute);
        module_.get_method("forward").graph()->lint();
    }

    std::string layer_;
    std::string model_output_;
    ::torch::jit::Module original_;  ///< the module given (whose mode the clone follows)
    ::torch::jit::Module module_;
    bool split_ = false;
};

/// A TorchScript module prepared to record the outputs of several named layers in ONE forward pass
/// (e.g. to compare layers: one forward, then one backward per target reaches every layer). Like
/// scripted_layer it edits a clone that shares the weights; each layer's output goes to an
/// attribute of its own. Layers are edited shallowest first, so a layer and one nested in it
/// (`enc` and `enc.0`) can both be recorded. Every layer must meet scripted_layer's conditions;
/// the features/head fallback is not offered here.
class scripted_layers {
public:
    /// The outputs of one forward pass: the model output and each layer's output, in the order
    /// the layers were given (undefined for a layer the pass did not reach).
    struct pass {
        at::Tensor output;
        std::vector<at::Tensor> activations;
    };

    /// Prepares `module` to record `layers` (dotted paths, at least one, no repeats); throws
    /// camkit::error naming the valid layers for an unknown one, or saying why a graph cannot be
    /// edited. `model_output`: as scripted_layer's (the output to explain when forward returns several).
    scripted_layers(const ::torch::jit::Module& module, std::vector<std::string> layers, std::string model_output = {})
        : layers_(std::move(layers)), model_output_(std::move(model_output)) {
        camkit::detail::require(!layers_.empty(), "scripted_layers: no layer given");
        const std::vector<std::string> names = layer_names(module);
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            camkit::detail::require(std::find(names.begin(), names.end(), layers_[i]) != names.end(),
                                    [&] { return detail::unknown_layer(layers_[i], names); });
            camkit::detail::require(std::find(layers_.begin(), layers_.begin() + static_cast<std::ptrdiff_t>(i),
                                              layers_[i]) == layers_.begin() + static_cast<std::ptrdiff_t>(i),
                                    "layer '" + layers_[i] + "' is given twice");
        }
        original_ = module;
        module_ = module.clone(/*inplace=*/true);
        std::vector<std::size_t> order(layers_.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return detail::path_depth(layers_[a]) < detail::path_depth(layers_[b]);
        });
        for (std::size_t i : order) {
            module_.register_attribute(attribute(i), c10::OptionalType::create(c10::TensorType::get()), c10::IValue(),
                                       false);
            detail::record_layer_output(module_, layers_[i], attribute(i));
        }
        module_.get_method("forward").graph()->lint();
    }

    /// The dotted layer names, in the order given.
    const std::vector<std::string>& layers() const { return layers_; }
    /// The edited clone run by forward (it takes the original's train/eval mode at every forward).
    ::torch::jit::Module& module() { return module_; }

    /// Runs forward once on `input`, recording every layer; the recorded tensors are cleared from
    /// the module before returning, so no autograd graph is kept alive by it.
    pass forward(const at::Tensor& input) {
        const auto clear = [&] {
            for (std::size_t i = 0; i < layers_.size(); ++i) module_.setattr(attribute(i), c10::IValue());
        };
        detail::follow_training_mode(original_, module_);
        clear();
        pass p;
        try {
            p.output = detail::model_output(module_.forward({input}), "forward", model_output_);
        } catch (...) {
            clear();
            throw;
        }
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            const c10::IValue recorded = module_.attr(attribute(i));
            p.activations.push_back(recorded.isTensor() ? recorded.toTensor() : at::Tensor());
        }
        clear();
        return p;
    }

private:
    static std::string attribute(std::size_t i) {
        return std::string(scripted_layer::attribute) + std::to_string(i);
    }

    std::vector<std::string> layers_;
    std::string model_output_;
    ::torch::jit::Module original_;  ///< the module given (whose mode the clone follows)
    ::torch::jit::Module module_;
};

/// One layer of a TorchScript module, as describe_layers reports it.
struct layer_info {
    std::string name;                 ///< the dotted path (what --layer and scripted_layer take)
    std::string type;                 ///< the module's class name: Conv2d, Sequential, BasicBlock, ...
    std::vector<std::int64_t> shape;  ///< its output's shape in a forward of the input given; empty without one
    std::string problem;              ///< why it cannot be explained (not recordable, not reached, the output
                                      ///< does not depend on it); empty if it can
    /// Where its output comes in that forward: 0 for the first computed, then 1, 2, ... (a module that
    /// returns its last child's output comes after that child); -1 without an input, for a layer not
    /// reached, or for one whose output does not depend on the input or the weights (no gradient reaches it).
    std::int64_t order = -1;
};

/// Every layer of `module` in layer_names' order with its type and, when an `input` is given,
/// the shape of its output in ONE forward of that input (all recordable layers at once; `model_output`
/// as scripted_layer's) and its place in that forward's order, so a user can choose a layer by
/// resolution and depth. A layer scripted_layer cannot record, that the forward does not reach, or
/// that the model output (the one `model_output` names) does not depend on says why in `problem`.
/// The forward records autograd history (the order is that of the outputs' autograd nodes), which
/// is freed before returning. It runs the module as it is: put it in eval mode first (a BatchNorm
/// in training mode would update its running statistics).
inline std::vector<layer_info> describe_layers(const ::torch::jit::Module& module, const at::Tensor& input = {},
                                               const std::string& model_output = {}) {
    std::vector<layer_info> out;
    std::vector<std::string> recordable;
    std::vector<std::size_t> where;
    for (const auto& m : module.named_modules()) {
        if (m.name.empty()) continue;
        layer_info info{m.name, {}, {}, {}};
        if (const auto t = m.value.type(); t && t->name()) info.type = t->name()->name();
        try {
            // scripted_layer's checks on a copy of forward's graph (no module clone per layer).
            const std::shared_ptr<::torch::jit::Graph> g = module.get_method("forward").graph()->copy();
            detail::layer_call(*g, m.name);
            recordable.push_back(m.name);
            where.push_back(out.size());
        } catch (const std::exception& e) {  // camkit's reasons, or LibTorch's for a graph it cannot clone
            const std::string text = e.what();
            info.problem = text.rfind("camkit: ", 0) == 0 ? text.substr(8) : text;
        }
        out.push_back(std::move(info));
    }
    if (!input.defined() || recordable.empty()) return out;
    scripted_layers layers(module, recordable, model_output);
    // Every output that depends on the input or on a weight gets an autograd node, numbered in the
    // order the forward creates them (one thread: the interpreter runs on this one). The input is a
    // copy that is not a leaf: a forward that changes its input in place neither fails in grad mode
    // nor touches the caller's tensor.
    const at::AutoGradMode grad(true);
    const at::Tensor x = input.is_floating_point() ? input.detach().requires_grad_(true).clone() : input.clone();
    const auto pass = layers.forward(x);
    // The autograd nodes the explained output's gradient passes through: a layer whose output's node
    // is not among them (an auxiliary head beside the output chosen, say) gets no gradient from it.
    std::unordered_set<const ::torch::autograd::Node*> upstream;
    std::vector<const ::torch::autograd::Node*> todo;
    if (pass.output.grad_fn()) todo.push_back(pass.output.grad_fn().get());
    while (!todo.empty()) {
        const ::torch::autograd::Node* n = todo.back();
        todo.pop_back();
        if (!upstream.insert(n).second) continue;
        for (const auto& edge : n->next_edges())
            if (edge.function) todo.push_back(edge.function.get());
    }
    std::vector<std::pair<std::uint64_t, std::size_t>> ranked;  // (node number, recordable index)
    for (std::size_t i = 0; i < recordable.size(); ++i) {
        layer_info& info = out[where[i]];
        const at::Tensor& a = pass.activations[i];
        if (!a.defined()) {
            info.problem = "not reached by forward on this input";
            continue;
        }
        info.shape = a.sizes().vec();
        if (a.grad_fn()) ranked.emplace_back(a.grad_fn()->sequence_nr(), i);
        if (!upstream.empty() && !(a.grad_fn() && upstream.count(a.grad_fn().get())))
            info.problem = "the model output does not depend on it";
    }
    // Equal numbers (one tensor recorded by two layers) put the enclosing layer, the shorter path, last.
    std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first
                                  : detail::path_depth(recordable[a.second]) > detail::path_depth(recordable[b.second]);
    });
    for (std::size_t r = 0; r < ranked.size(); ++r) out[where[ranked[r].second]].order = static_cast<std::int64_t>(r);
    return out;
}

/// candidate_layer's choice among layers that describe_layers gave for an input of rank
/// `input_rank`: the one with the greatest `order` whose output has that rank and a spatial extent
/// above 1 and that has no `problem` (the model output depends on it); nullptr when none has.
inline const layer_info* candidate_in(const std::vector<layer_info>& layers, std::int64_t input_rank) {
    const layer_info* best = nullptr;
    for (const layer_info& l : layers) {
        const bool spatial = l.shape.size() == static_cast<std::size_t>(input_rank) && input_rank >= 3 &&
                             std::any_of(l.shape.begin() + 2, l.shape.end(), [](std::int64_t e) { return e > 1; });
        if (spatial && l.problem.empty() && l.order >= 0 && (!best || l.order > best->order)) best = &l;
    }
    return best;
}

/// The layer to explain when the user names none, as torchcam's locate_candidate_layer and the
/// TF saliency methods' find_layers choose it: the last layer, in the order of one forward of
/// `input` (describe_layers), whose output has the input's rank ([N, C, *S]) and a spatial extent
/// above 1 and which the model output depends on (unlike torchcam's rule: an auxiliary head computed
/// after the output explained is passed over) — in a classifier, the last convolutional stage before global pooling; in a segmenter,
/// the last convolution before the output (name an encoder or decoder layer instead to see how the
/// network gets there). Throws camkit::error when no recordable layer qualifies.
inline std::string candidate_layer(const ::torch::jit::Module& module, const at::Tensor& input,
                                   const std::string& model_output = {}) {
    const std::string shape = input.defined() ? camkit::to_string(shape_of(input)) : std::string("an undefined tensor");
    camkit::detail::require(input.defined() && input.dim() >= 3,
                            "candidate_layer: the input must be [N, C, *S] with 1 to 3 spatial dimensions, got " + shape);
    camkit::detail::require(!c10::InferenceMode::is_enabled(),
                            "candidate_layer: c10::InferenceMode is active; the layers' order comes from autograd, "
                            "so call it outside the InferenceMode guard");
    const std::vector<layer_info> layers = describe_layers(module, input, model_output);
    const layer_info* best = candidate_in(layers, input.dim());
    camkit::detail::require(best != nullptr, [&] {
        return "no layer of the model has an output of the input's rank with a spatial extent above 1 on an input of "
               "shape " + shape + " (recordable layers and their outputs: camkit-torch layers --input-shape; name one)";
    });
    return best->name;
}

/// Wraps a TorchScript module's `forward` as a forward_function (the module must outlive it);
/// `model_output` as scripted_layer's (a dict's key or a tuple's index when forward returns several).
inline auto forward_of(::torch::jit::Module& module, std::string model_output = {}) {
    return [&module, pick = std::move(model_output)](const at::Tensor& x) -> at::Tensor {
        return detail::model_output(module.forward({x}), "forward", pick);
    };
}

/// A TorchScript module is a torch_model: Score-CAM and the faithfulness metrics run its forward.
template <>
struct model_traits<::torch::jit::Module> {
    /// The module's forward as a forward_function.
    static auto forward(::torch::jit::Module& m) { return forward_of(m); }
};

/// Explains layer `layer` (dotted path, e.g. "layer4.1") of a TorchScript module, with no change
/// to the module. Prepares a scripted_layer on every call: keep one to explain many inputs.
template <method_policy Method>
explained explain(const ::torch::jit::Module& module, const std::string& layer, const at::Tensor& input,
                  const objective& what = {}, const options& opt = {}) {
    scripted_layer s(module, layer);
    return explain<Method>(s, input, what, opt);
}

/// Score-CAM of layer `layer` (dotted path) of a TorchScript module, scored by `what` (one camkit
/// target per sample, a probability_score, or nothing for the predicted classes): one forward
/// records the layer's activations, then the masked inputs run through `module`.
inline score_cam_result score_cam(::torch::jit::Module& module, const std::string& layer, const at::Tensor& input,
                                  const objective& what = {}, const options& opt = {},
                                  const score_cam_options& sopt = {}) {
    detail::check_input(input);
    scripted_layer recorder(module, layer);
    return score_cam(recorder, forward_of(module), input, what, opt, sopt);
}

}  // namespace camkit::torch
