// The SVI engine: one step runs the guide under a trace handler, the model under trace +
// replay of the guide's trace, hands both traces to the ELBO, sweeps the surrogate loss
// backward and updates every parameter the step touched -- all or nothing: when anything
// throws, the store (including parameters this step created), the optimizer states and the
// decaying averages are as before. Model and guide are callables of a Context&, so C++ lambdas
// work as they are and a host language passes a callable that calls its own function.
// Include this header (it includes the rest of the engine) to embed svi in another package.
#pragma once
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "compiled.hpp"
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

// What a stretch of replayed steps did.
struct ReplayResult {
  int steps = 0;    // steps run (each one updated, or skipped as non-finite)
  int skipped = 0;  // steps whose loss or a gradient was not finite: the store is left as it was
  std::string last_skipped;  // why the last skipped one was
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
      check_model_guide(tape, tm.trace, tg.trace, warned, warnings);
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

  // ---- compiled mode ------------------------------------------------------------------------
  // Two ordinary steps, recording; if both recorded the same computation, the second tape is
  // kept for replay_steps(). Throws (naming the first site that differs) when the structure is
  // not static; the second step is then not committed (the first is, as an ordinary step).
  // Any later step(), evaluate_loss() or loss_and_grads() re-records the tape and ends the
  // compiled program (compile() again to resume).
  std::vector<StepResult> compile() {
    program_ready = false;
    std::vector<StepResult> out;
    Recording first;
    recording = &first;
    struct Off { Recording*& r; ~Off() { r = nullptr; } } off{recording};
    out.push_back(run(Mode::Step, nullptr));
    program.clear();
    recording = &program;
    reference = &first;
    struct Off2 { Recording*& r; ~Off2() { r = nullptr; } } off2{reference};
    out.push_back(run(Mode::Step, nullptr));
    program_ready = true;
    return out;
  }
  bool compiled() const { return program_ready; }

  // n replayed steps: fresh draws and minibatches from the Rng, the store's current values,
  // one backward pass, the same update as step(); each step all or nothing. Appends each
  // step's loss to *losses when given.
  ReplayResult replay_steps(int n, std::vector<double>* losses = nullptr) {
    if (!program_ready) throw Error("replay_steps() needs a compiled program: call compile() first.");
    const Recording& p = program;
    const std::size_t np = p.leaves.size();
    // the store entries the tape reads must be the ones it was recorded with
    for (std::size_t k = 0; k < np; ++k) {
      int e = p.leaves[k].first;
      if (e >= store.size() || store.at(e).data != p.leaf_data[k])
        throw Error("A parameter of the compiled program was removed or replaced in the store; "
                    "call compile() again.");
    }
    replay_states.resize(np);
    replay_zero.resize(np);
    for (std::size_t k = 0; k < np; ++k) {
      const ParamEntry& e = store.at(p.leaves[k].first);
      replay_states[k] = optimizer.state(e.name);
      if (!replay_states[k]) throw Error("internal: no optimizer state for \"" + e.name + "\"");
      if (replay_zero[k].size() != e.shape.n) replay_zero[k] = Vec::Zero(e.shape.n);
    }
    std::vector<Vec*> avg(p.averages.size());
    for (std::size_t k = 0; k < p.averages.size(); ++k) {
      const Eigen::Index len = tape.shape(p.averages[k].leaf).n;
      auto it = store.averages.find(p.averages[k].name);
      if (it == store.averages.end())  // no committed step yet: the average starts at zero
        it = store.averages.emplace(p.averages[k].name, Vec::Zero(len)).first;
      Vec& v = it->second;
      if (v.size() != len)
        throw Error("The decaying-average baseline of site \"" + p.averages[k].name +
                    "\" no longer matches the compiled program; call compile() again.");
      avg[k] = &v;
    }
    tape.rng = &rng;
    ReplayResult out;
    if (losses) losses->reserve(losses->size() + std::size_t(n));
    for (int s = 0; s < n; ++s) {
      for (std::size_t k = 0; k < avg.size(); ++k) tape.node(p.averages[k].leaf).own = *avg[k];
      tape.forward();
      double loss = tape.val(p.loss)[0];
      tape.backward(p.surrogate);
      ++out.steps;
      if (losses) losses->push_back(loss);
      const char* why = std::isfinite(loss) ? nullptr : "the loss is not finite";
      std::size_t bad = 0;
      for (std::size_t k = 0; k < np && !why; ++k) {
        const Node& x = tape.node(p.leaves[k].second);
        if (x.grad_set && !x.grad.allFinite()) { why = "gradient"; bad = k; }
      }
      if (why) {
        ++out.skipped;
        out.last_skipped = std::strcmp(why, "gradient") ? why
            : "the gradient of \"" + store.at(p.leaves[bad].first).name + "\" is not finite";
        continue;
      }
      for (std::size_t k = 0; k < np; ++k) {
        ParamEntry& e = store.at(p.leaves[k].first);
        const Node& x = tape.node(p.leaves[k].second);
        const double* g = x.grad_set ? x.grad.data() : replay_zero[k].data();
        optimizer.apply(*replay_states[k], e.data, g, std::size_t(e.shape.n));
      }
      for (std::size_t k = 0; k < avg.size(); ++k) *avg[k] = tape.val(p.averages[k].next);
      ++steps;
    }
    return out;
  }
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

  Recording* recording = nullptr;  // compile(): the step being recorded
  Recording* reference = nullptr;  // compile(): the first recording, to compare with
  Recording program;
  bool program_ready = false;
  std::vector<optim::Optimizer::State*> replay_states, states;
  std::vector<const double*> grad_ptr;
  std::vector<Vec> zero_grad;
  std::vector<Vec> replay_zero;

  // compile(): what a replay needs from this step, and the structure check against the first
  void keep_recording(const Run& r) {
    Recording& rec = *recording;
    if (r.surrogate_loss < 0 || !tape.node(r.surrogate_loss).needs_grad)
      throw Error("Compiling needs a guide with at least one parameter.");
    sign_tape(tape, rec.signature);
    rec.loss = r.loss;
    rec.surrogate = r.surrogate_loss;
    rec.leaves = ctx.leaves;
    rec.leaf_data.clear();
    for (const auto& l : ctx.leaves) rec.leaf_data.push_back(store.at(l.first).data);
    rec.averages.clear();
    for (const auto& a : ctx.averages) rec.averages.push_back({a.first, ctx.average_leaves.at(a.first), a.second});
    if (reference) check_same_structure(*reference, rec);
  }

  StepResult run(Mode mode, std::vector<std::pair<std::string, Vec>>* grads_out) {
    program_ready = false;  // the tape is re-recorded
    tape.clear();
    tape.rng = &rng;
    ctx.reset();
    ctx.training = mode != Mode::Evaluate;
    ctx.warnings = &warnings;
    if (recording) { recording->marks.clear(); ctx.marks = &recording->marks; }
    ContextScope scope(ctx);
    const int n_before = store.size();
    std::vector<std::string> made;
    warnings.clear();
    try {
      Run r = record(ctx);
      ctx.marks = nullptr;
      if (recording) keep_recording(r);
      StepResult out;
      out.warnings = warnings;
      out.loss = tape.val(r.loss)[0];
      if (mode == Mode::Evaluate) return out;
      tape.backward(r.surrogate_loss);
      // each leaf's gradient in place on the tape (zeros where none reached it)
      const std::size_t np = ctx.leaves.size();
      grad_ptr.resize(np);
      if (zero_grad.size() < np) zero_grad.resize(np);
      for (std::size_t k = 0; k < np; ++k) {
        const Node& x = tape.node(ctx.leaves[k].second);
        if (x.grad_set) { grad_ptr[k] = x.grad.data(); continue; }
        if (zero_grad[k].size() != x.shape.n) zero_grad[k] = Vec::Zero(x.shape.n);
        grad_ptr[k] = zero_grad[k].data();
      }
      if (mode == Mode::Gradients) {
        for (std::size_t k = 0; k < np; ++k) {
          const ParamEntry& e = store.at(ctx.leaves[k].first);
          grads_out->emplace_back(e.name, CMap(grad_ptr[k], e.shape.n));
        }
        return out;
      }
      if (!std::isfinite(out.loss)) { out.skipped = "the loss is not finite"; return out; }
      for (std::size_t k = 0; k < np; ++k) {
        const ParamEntry& e = store.at(ctx.leaves[k].first);
        if (!CMap(grad_ptr[k], e.shape.n).allFinite()) {
          out.skipped = "the gradient of \"" + e.name + "\" is not finite";
          return out;
        }
      }
      // all that can fail is done before the first change; the updates cannot fail
      std::vector<std::pair<std::string, Vec>> averages;
      for (const auto& a : ctx.averages) averages.emplace_back(a.first, tape.val(a.second));
      // optimizer states: looked up without copies; made (with the names) only when missing
      states.resize(np);
      bool missing = false;
      for (std::size_t k = 0; k < np; ++k) {
        states[k] = optimizer.state(store.at(ctx.leaves[k].first).name);
        missing = missing || !states[k];
      }
      if (missing) {
        std::vector<std::string> names;
        std::vector<std::size_t> lengths;
        for (std::size_t k = 0; k < np; ++k) {
          const ParamEntry& e = store.at(ctx.leaves[k].first);
          names.push_back(e.name);
          lengths.push_back(std::size_t(e.shape.n));
        }
        made = optimizer.prepare(names, lengths);
        for (std::size_t k = 0; k < np; ++k) states[k] = optimizer.state(names[k]);
      }
      for (std::size_t k = 0; k < np; ++k) {
        ParamEntry& e = store.at(ctx.leaves[k].first);
        optimizer.apply(*states[k], e.data, grad_ptr[k], std::size_t(e.shape.n));
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
