// An optimizer as the engine uses it: one configuration and one state per parameter (by name),
// created the first time the parameter gets a gradient. prepare() makes the missing states
// (the only step that allocates), apply() then updates without anything that can fail, so an
// engine step is all or nothing; drop() forgets states prepare() made for a failed step.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>
#include "optim.hpp"

namespace svi {
namespace optim {

enum class Kind { Adam, ClippedAdam, Sgd };

struct Optimizer {
  Kind kind = Kind::Adam;
  double lr = 1e-3;
  AdamConfig adam;
  ClippedAdamConfig clipped;
  SgdConfig sgd;

  struct State {
    std::vector<double> m, v, vmax;
    AdamState adam;
    ClippedAdamState clipped;
    SgdState sgd;
  };
  std::unordered_map<std::string, std::unique_ptr<State>> states;

  static Optimizer make_adam(double lr, AdamConfig c = {}) {
    Optimizer o; o.kind = Kind::Adam; o.lr = lr; o.adam = c; return o;
  }
  static Optimizer make_clipped_adam(double lr, ClippedAdamConfig c = {}) {
    Optimizer o; o.kind = Kind::ClippedAdam; o.lr = lr; o.clipped = c; return o;
  }
  static Optimizer make_sgd(double lr, SgdConfig c = {}) {
    Optimizer o; o.kind = Kind::Sgd; o.lr = lr; o.sgd = c; return o;
  }

  // Makes the states of `names` that do not exist yet; returns the names it made.
  std::vector<std::string> prepare(const std::vector<std::string>& names,
                                   const std::vector<std::size_t>& lengths) {
    std::vector<std::string> made;
    for (std::size_t k = 0; k < names.size(); ++k) {
      if (states.count(names[k])) continue;
      auto s = std::make_unique<State>();
      std::size_t n = lengths[k];
      s->m.assign(n, 0.0);
      s->v.assign(n, 0.0);
      if (kind == Kind::Adam && adam.amsgrad) s->vmax.assign(n, 0.0);
      s->adam.lr = s->clipped.lr = s->sgd.lr = lr;
      s->adam.exp_avg = s->clipped.exp_avg = s->m.data();
      s->adam.exp_avg_sq = s->clipped.exp_avg_sq = s->v.data();
      s->adam.max_exp_avg_sq = s->vmax.empty() ? nullptr : s->vmax.data();
      s->sgd.momentum_buffer = s->m.data();
      states.emplace(names[k], std::move(s));
      made.push_back(names[k]);
    }
    return made;
  }
  void drop(const std::vector<std::string>& made) {
    for (const std::string& n : made) states.erase(n);
  }

  // One update of `theta` (length n) with `grad`; the state must have been prepared.
  void apply(const std::string& name, double* theta, const double* grad, std::size_t n) {
    apply(*states.at(name), theta, grad, n);
  }
  // The same, with the state looked up once (a compiled replay keeps the pointers).
  State* state(const std::string& name) {
    auto it = states.find(name);
    return it == states.end() ? nullptr : it->second.get();
  }
  void apply(State& s, double* theta, const double* grad, std::size_t n) const {
    switch (kind) {
      case Kind::Adam: adam_step(theta, grad, n, s.adam, adam); break;
      case Kind::ClippedAdam: clipped_adam_step(theta, grad, n, s.clipped, clipped); break;
      case Kind::Sgd: sgd_step(theta, grad, n, s.sgd, sgd); break;
    }
  }

  // The step count of a parameter's state (0 when it has none), for tests and printing.
  long long steps(const std::string& name) const {
    auto it = states.find(name);
    if (it == states.end()) return 0;
    switch (kind) {
      case Kind::Adam: return it->second->adam.step;
      case Kind::ClippedAdam: return it->second->clipped.step;
      case Kind::Sgd: return it->second->sgd.step;
    }
    return 0;
  }
};

}  // namespace optim
}  // namespace svi
