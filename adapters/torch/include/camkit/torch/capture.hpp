#pragma once
// Capturing a layer's activations during a forward pass of a C++-frontend model
// (torch::nn::Module has no forward hooks): the model owns a `tap` and calls `x = tap_(x);` in
// forward on the tensor to explain. The tap records only while a `recording` (RAII) is alive and
// is a plain passthrough otherwise, so nothing leaks. Anything else that records a layer during
// one forward pass (camkit/torch/scripted.hpp's TorchScript layers) is a `layer_recorder`, which
// the explanation functions take alike. No TorchScript (JIT) header is needed here.
#include <camkit/error.hpp>
#include <camkit/shape.hpp>
#include <camkit/torch/tensor.hpp>

#include <ATen/ATen.h>

#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace camkit::torch {

namespace detail {
/// What a tap shares with its recordings. `active` and `owner` say which thread records: the
/// others pass through (they read those two atomically); the rest is touched by the owner only.
struct tap_state {
    std::atomic<bool> active{false};
    std::atomic<std::thread::id> owner{};
    int calls = 0;
    at::Tensor activations;
    std::int64_t version = 0;  ///< the recorded tensor's version counter when it was recorded
};
}  // namespace detail

class recording;

/// A capture point a C++-frontend model owns and calls in forward: `x = tap_(x);`.
/// A copy is a tap of its own (a cloned model, `torch::nn::Cloneable::clone()`, explains
/// independently of the original, e.g. one clone per thread). It records only on the thread that
/// explains: other threads running the same model meanwhile pass through it unrecorded.
class tap {
public:
    tap() : state_(std::make_shared<detail::tap_state>()) {}
    /// A new tap, not recording (the copied model's recordings stay the original's).
    tap(const tap&) : tap() {}
    /// Keeps this tap's own state (a tap holds nothing but its recording).
    tap& operator=(const tap&) { return *this; }

    /// While a recording of this thread is alive: records `x` and returns a copy of it, so that
    /// in-place ops downstream (relu_) change the copy, never the recorded tensor. Otherwise
    /// returns `x`.
    at::Tensor operator()(const at::Tensor& x) const {
        if (!state_->active.load(std::memory_order_acquire) ||
            state_->owner.load(std::memory_order_relaxed) != std::this_thread::get_id())
            return x;
        ++state_->calls;
        state_->activations = x;
        // Inference tensors (InferenceMode) have no version counter.
        state_->version = x.is_inference() ? -1 : static_cast<std::int64_t>(x._version());
        return x.clone();
    }

    /// True while a recording of this tap is alive (on any thread).
    bool is_recording() const { return state_->active.load(std::memory_order_acquire); }

private:
    friend class recording;
    std::shared_ptr<detail::tap_state> state_;
};

/// RAII scope in which a tap records; on destruction the recorded tensor (and the autograd
/// graph it holds) is released and the tap is a passthrough again. One recording per tap at a time.
class recording {
public:
    /// Starts recording `t` on this thread; throws camkit::error if `t` is already recording.
    explicit recording(const tap& t) : state_(t.state_) {
        bool idle = false;
        camkit::detail::require(state_->active.compare_exchange_strong(idle, true, std::memory_order_acq_rel),
                                "tap: a recording of this tap is already active (one explanation per model at a "
                                "time; a clone of the model has a tap of its own)");
        state_->calls = 0;
        state_->activations = at::Tensor();
        state_->owner.store(std::this_thread::get_id(), std::memory_order_relaxed);
    }
    ~recording() {
        state_->calls = 0;
        state_->activations = at::Tensor();
        state_->owner.store(std::thread::id(), std::memory_order_relaxed);
        state_->active.store(false, std::memory_order_release);
    }
    recording(const recording&) = delete;
    recording& operator=(const recording&) = delete;

    /// How often the tap was reached since the recording started.
    int calls() const { return state_->calls; }

    /// The tensor recorded by the last call of the tap (undefined if it was never reached).
    const at::Tensor& activations() const { return state_->activations; }

    /// True when the recorded tensor was changed in place after the tap (the model kept using
    /// its own tensor instead of the one the tap returned), so it no longer holds the activation.
    bool modified_in_place() const {
        return state_->activations.defined() && state_->version >= 0 &&
               static_cast<std::int64_t>(state_->activations._version()) != state_->version;
    }

private:
    std::shared_ptr<detail::tap_state> state_;
};

/// What one forward pass with a recorded layer gives: the model output and the layer's output.
struct recorded_pass {
    at::Tensor output;
    at::Tensor activations;  ///< undefined when the layer was not reached
};

/// Something that runs a model once on an input and records one layer's output on the way: a
/// `tapped` C++-frontend model or a camkit::torch::scripted_layer. `describe()` names the layer in
/// error messages ("the tap", "layer 'layer4.1'").
template <class R>
concept layer_recorder = requires(R& r, const R& cr, const at::Tensor& x) {
    { r.forward(x) } -> std::same_as<recorded_pass>;
    { cr.describe() } -> std::convertible_to<std::string>;
};

/// A model as a callable from an input batch to an output batch.
template <class F>
concept forward_callable = std::invocable<F&, const at::Tensor&> &&
                           std::convertible_to<std::invoke_result_t<F&, const at::Tensor&>, at::Tensor>;

/// A C++-frontend model with the tap it calls in forward, as a layer_recorder. It refers to both
/// (they must outlive it) and checks that the forward reached the tap exactly once and did not
/// change the recorded tensor in place.
template <forward_callable F>
class tapped {
public:
    /// Records `t` while running `forward`.
    tapped(F& forward, const tap& t) : forward_(forward), tap_(t) {}

    /// Runs the model once while the tap records; throws camkit::error when the tap was not
    /// reached exactly once or the recorded tensor was modified in place afterwards.
    recorded_pass forward(const at::Tensor& input) {
        recording rec(tap_);
        at::Tensor output = std::invoke(forward_, input);
        camkit::detail::require(rec.calls() > 0, "the tap was never reached during forward: call `x = tap(x);` in "
                                                 "the model's forward on the tensor to explain");
        camkit::detail::require(rec.calls() == 1, "the tap was reached " + std::to_string(rec.calls()) +
                                                      " times during one forward; camkit explains one call");
        camkit::detail::require(!rec.modified_in_place(),
                                "the tapped tensor was modified in place after the tap: use the tensor the tap "
                                "returns (`x = tap(x);`), which in-place ops may change freely");
        return {std::move(output), rec.activations()};
    }

    /// Names the capture point in error messages.
    std::string describe() const { return "the tap"; }

private:
    F& forward_;
    const tap& tap_;
};

}  // namespace camkit::torch
