// The SVI engine: one step runs the guide under a trace handler, the model under trace +
// replay of the guide's trace, hands both traces to the ELBO, sweeps the surrogate loss
// backward and updates every parameter the step touched -- all or nothing: when anything
// throws, the store (including parameters this step created), the optimizer states and the
// decaying averages are as before. Model and guide are callables of a Context&, so C++ lambdas
// work as they are and a host language passes a callable that calls its own function.
// Include this header (it includes the rest of the engine) to embed svi in another package.
#pragma once
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "context.hpp"
#include "elbo/elbo.hpp"
#include "elbo/meanfield_elbo.hpp"
#include "elbo/trace_elbo.hpp"
#include "elbo/tracegraph_elbo.hpp"
#include "handlers/block.hpp"
#include "handlers/condition.hpp"
#include "handlers/mask.hpp"
#include "handlers/replay.hpp"
#include "handlers/scale.hpp"
#include "handlers/trace.hpp"
#include "optim/optimizer.hpp"
#include "param_store.hpp"
#include "validate.hpp"

namespace svi {

using Program = std::function<void(Context&)>;

struct StepResult {
  double loss = 0;
  bool updated = false;  // false when the loss or a gradient was not finite (step skipped)
  std::string skipped;   // why, when skipped
  std::vector<std::string> warnings;  // model/guide mismatches, each kind once per engine
};

struct Engine {
  Program model, guide;
  std::unique_ptr<Elbo> elbo;
  optim::Optimizer optimizer;
  ParamStore& store;
  Rng& rng;
  Tape tape;
  long long steps = 0;
  // The last particle's traces (for inspection). The handlers, their traces and the context
  // are kept between steps so that a step reuses their buffers.
  TraceHandler model_trace, guide_trace;
  const Trace& last_model() const { return model_trace.trace; }
  const Trace& last_guide() const { return guide_trace.trace; }
  Context ctx{tape, store};
  std::set<std::string> warned;  // kinds of warnings already given
  std::vector<std::string> warnings;  // this run's

  Engine(Program m, Program g, std::unique_ptr<Elbo> e, optim::Optimizer o, ParamStore& s, Rng& r)
      : model(std::move(m)), guide(std::move(g)), elbo(std::move(e)), optimizer(std::move(o)),
        store(s), rng(r) {}
  Engine(const Engine&) = delete;  // the context refers to the engine's own tape
  Engine& operator=(const Engine&) = delete;

  struct Run {
    int loss = -1, surrogate_loss = -1;
  };

  // Records all particles on a fresh tape; returns the loss and surrogate-loss nodes.
  Run record(Context& ctx) {
    int counter = 0;
    int elbo_sum = -1, surrogate = -1;
    const int n = elbo->num_particles;
    if (n < 1) throw Error("`num_particles` must be a positive whole number.");
    for (int p = 0; p < n; ++p) {
      std::vector<std::unique_ptr<Handler>> extra = elbo->particle_handlers(ctx, counter);
      for (auto& h : extra) ctx.stack.push(h.get());
      struct PopExtra {
        HandlerStack& s; std::size_t n;
        ~PopExtra() { for (std::size_t k = 0; k < n; ++k) s.pop(); }
      } pop_extra{ctx.stack, extra.size()};
      TraceHandler& tg = guide_trace;
      tg.trace.clear();
      { Pushed in(ctx.stack, tg); guide(ctx); }
      TraceHandler& tm = model_trace;
      tm.trace.clear();
      ReplayHandler replay(tg.trace);
      {
        Pushed a(ctx.stack, tm);
        Pushed b(ctx.stack, replay);
        model(ctx);
      }
      check_model_guide(tm.trace, tg.trace, warned, warnings);
      Particle r = elbo->particle(ctx, tm.trace, tg.trace);
      if (p == 0) { elbo_sum = r.elbo; surrogate = r.surrogate; }
      else { elbo_sum = add(tape, elbo_sum, r.elbo); surrogate = add(tape, surrogate, r.surrogate); }
    }
    Run run;
    bool same = surrogate == elbo_sum;  // only pathwise gradients: one node serves both
    run.loss = n == 1 ? neg(tape, elbo_sum) : neg(tape, div(tape, elbo_sum, tape.scalar(n)));
    if (ctx.training)
      run.surrogate_loss = same ? run.loss
                           : n == 1 ? neg(tape, surrogate) : neg(tape, div(tape, surrogate, tape.scalar(n)));
    return run;
  }

  StepResult step() { return run(Mode::Step, nullptr); }
  // The loss estimate: no gradients, baselines or updates (parameters first seen are created,
  // as R's evaluate_loss() does).
  double evaluate_loss() { return run(Mode::Evaluate, nullptr).loss; }
  // The loss and the gradient of every parameter the step touched (unconstrained space), in
  // order of first use; nothing is updated (as R's elbo_loss_and_grads()).
  struct Gradients {
    double loss = 0;
    std::vector<std::pair<std::string, Vec>> grads;
  };
  Gradients loss_and_grads() {
    Gradients g;
    g.loss = run(Mode::Gradients, &g.grads).loss;
    return g;
  }

 private:
  enum class Mode { Evaluate, Gradients, Step };

  StepResult run(Mode mode, std::vector<std::pair<std::string, Vec>>* grads_out) {
    tape.clear();
    tape.rng = &rng;
    ctx.reset();
    ctx.training = mode != Mode::Evaluate;
    ContextScope scope(ctx);
    const int n_before = store.size();
    std::vector<std::string> made;
    warnings.clear();
    try {
      Run r = record(ctx);
      StepResult out;
      out.warnings = warnings;
      out.loss = tape.val(r.loss)[0];
      if (mode == Mode::Evaluate) return out;
      tape.backward(r.surrogate_loss);
      std::vector<std::string> names;
      std::vector<std::size_t> lengths;
      std::vector<Vec> grads;
      for (const auto& leaf : ctx.leaves) {
        const ParamEntry& e = store.at(leaf.first);
        names.push_back(e.name);
        lengths.push_back(std::size_t(e.shape.n));
        grads.push_back(tape.grad(leaf.second));
      }
      if (mode == Mode::Gradients) {
        for (std::size_t k = 0; k < names.size(); ++k) grads_out->emplace_back(names[k], grads[k]);
        return out;
      }
      if (!std::isfinite(out.loss)) { out.skipped = "the loss is not finite"; return out; }
      for (std::size_t k = 0; k < names.size(); ++k)
        if (!grads[k].allFinite()) {
          out.skipped = "the gradient of \"" + names[k] + "\" is not finite";
          return out;
        }
      // all that can fail is done before the first change; the updates cannot fail
      std::vector<std::pair<std::string, Vec>> averages;
      for (const auto& a : ctx.averages) averages.emplace_back(a.first, tape.val(a.second));
      made = optimizer.prepare(names, lengths);
      for (std::size_t k = 0; k < names.size(); ++k) {
        ParamEntry& e = store.at(ctx.leaves[k].first);
        optimizer.apply(names[k], e.data, grads[k].data(), lengths[k]);
      }
      for (auto& a : averages) store.averages[a.first] = std::move(a.second);
      ++steps;
      out.updated = true;
      return out;
    } catch (...) {
      optimizer.drop(made);
      store.truncate(n_before);
      throw;
    }
  }
};

}  // namespace svi
