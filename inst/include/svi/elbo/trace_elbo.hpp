// Trace_ELBO (pyro-semantics 3): ELBO = sum log p - sum log q over the sample sites. Its
// surrogate has pathwise gradients for reparameterized guide sites and, for each other guide
// site, the score term sum(log q_raw * w), where w is the detached cost log p - log q of every
// model site reduced to that site's plates (partial Rao-Blackwellization; rao_blackwellize =
// false sums everything instead, for tests that measure what it buys). The log q of those
// sites is left out of the surrogate: its expected gradient is zero. As R/elbo-trace.R.
#pragma once
#include "elbo.hpp"
#include "rao_blackwell.hpp"

namespace svi {

struct TraceElbo : Elbo {
  bool rao_blackwellize = true;
  std::vector<int> mpos, gpos, mlp, glp, reparam_lp;  // per-particle scratch, kept between steps
  explicit TraceElbo(int particles = 1) { num_particles = particles; }
  const char* name() const override { return "Trace_ELBO"; }

  Particle particle(Context& ctx, Trace& model, Trace& guide) override {
    Tape& t = ctx.tape;
    model.sample_sites(mpos);
    guide.sample_sites(gpos);
    log_probs(t, model, mpos, mlp);
    log_probs(t, guide, gpos, glp);
    int model_total = sum_log_probs(t, mlp);
    int elbo = sub(t, model_total, sum_log_probs(t, glp));
    reparam_lp.clear();
    bool all = true;
    for (std::size_t k = 0; k < gpos.size(); ++k) {
      if (guide.sites[gpos[k]].pathwise()) reparam_lp.push_back(glp[k]);
      else all = false;
    }
    if (all) return {elbo, elbo};
    int surrogate = sub(t, model_total, sum_log_probs(t, reparam_lp));
    // detached per-site costs log p - log q, on each model site's plates
    std::vector<CostTerm> log_r;
    for (std::size_t k = 0; k < mpos.size(); ++k) {
      const Site& m = model.sites[mpos[k]];
      int v = mlp[k];
      if (!m.is_observed) {
        const Site* g = guide.find(m.name);
        if (g && g->kind == SiteKind::Sample) v = sub(t, v, g->log_prob);
      }
      log_r.push_back({&m.frames, detach(t, v)});
    }
    static const std::vector<Frame> none;
    for (int i : gpos) {
      const Site& g = guide.sites[i];
      if (g.pathwise()) continue;
      int w = sum_to_frames(t, log_r, rao_blackwellize ? g.frames : none);
      surrogate = add(t, surrogate, sum(t, mul(t, g.log_prob_raw, w)));  // score: unscaled, unmasked
    }
    return {elbo, surrogate};
  }
};

}  // namespace svi
