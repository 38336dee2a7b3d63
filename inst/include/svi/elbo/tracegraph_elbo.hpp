// TraceGraph_ELBO (pyro-semantics 4): the same ELBO as Trace_ELBO, with a lower-variance
// gradient for non-reparameterized guide sites: each one's score function is weighted only by
// its downstream cost (the terms whose values depend on its draw, read off the provenance
// marks that ProvenanceHandler puts on draws), minus its baseline. As R/elbo-tracegraph.R.
#pragma once
#include "baselines.hpp"
#include "downstream.hpp"
#include "elbo.hpp"
#include "../handlers/provenance.hpp"

namespace svi {

struct TraceGraphElbo : Elbo {
  explicit TraceGraphElbo(int particles = 1) { num_particles = particles; }
  const char* name() const override { return "TraceGraph_ELBO"; }

  std::vector<std::unique_ptr<Handler>> particle_handlers(Context& ctx, int& counter) override {
    std::vector<std::unique_ptr<Handler>> hs;
    if (ctx.training) hs.push_back(std::make_unique<ProvenanceHandler>(ctx.tape, counter));
    return hs;
  }

  Particle particle(Context& ctx, Trace& model, Trace& guide) override {
    Tape& t = ctx.tape;
    std::vector<int> mpos = model.sample_sites(), gpos = guide.sample_sites();
    std::vector<int> mlp = log_probs(t, model, mpos), glp = log_probs(t, guide, gpos);
    std::vector<int> qs(glp.size());
    for (std::size_t k = 0; k < glp.size(); ++k) qs[k] = sum(t, glp[k]);
    int model_total = t.scalar(0);
    for (int lp : mlp) model_total = add(t, model_total, sum(t, lp));
    int guide_total = t.scalar(0);
    for (int q : qs) guide_total = add(t, guide_total, q);
    int elbo = sub(t, model_total, guide_total);
    if (!ctx.training) return {elbo, t.scalar(0)};
    int surrogate = model_total;
    for (std::size_t k = 0; k < gpos.size(); ++k)
      if (guide.sites[gpos[k]].pathwise()) surrogate = sub(t, surrogate, qs[k]);
    for (const DownstreamCost& d : downstream_costs(t, model, mpos, guide, gpos)) {
      const Site& g = guide.sites[d.site];
      Baseline bl = site_baseline(ctx, g, d.cost);
      int w = bl.value < 0 ? d.cost : sub(t, d.cost, detach(t, bl.value));
      surrogate = add(t, surrogate, sum(t, mul(t, g.log_prob_raw, w)));  // score: unscaled, unmasked
      if (bl.loss >= 0) surrogate = sub(t, surrogate, bl.loss);
    }
    return {elbo, surrogate};
  }
};

}  // namespace svi
