// TraceMeanField_ELBO (pyro-semantics 5): each latent site's Monte Carlo term log p - log q is
// replaced by minus the analytic KL(q || p) where the pair has one (kl.hpp), else kept. It
// needs a fully reparameterized guide. As R/elbo-meanfield.R (Delta guides and the
// order-of-sites warning are not in the core yet).
#pragma once
#include <string>
#include "../kl.hpp"
#include "elbo.hpp"

namespace svi {

inline bool kl_pair(const DistRef& q, const DistRef& p) {
  std::string a = q.family->name, b = p.family->name;
  if (a != b) return false;
  return a == "normal" || a == "lognormal" || a == "gamma" || a == "beta" ||
         a == "exponential" || a == "dirichlet" || a == "mvnormal";
}

struct MeanFieldElbo : Elbo {
  explicit MeanFieldElbo(int particles = 1) { num_particles = particles; }
  const char* name() const override { return "TraceMeanField_ELBO"; }

  Particle particle(Context& ctx, Trace& model, Trace& guide) override {
    Tape& t = ctx.tape;
    int elbo = t.scalar(0);
    for (int i : model.sample_sites()) {
      Site& s = model.sites[i];
      if (s.is_observed) { elbo = add(t, elbo, sum(t, site_log_prob(t, s))); continue; }
      Site* g = guide.find(s.name);
      if (!g || g->kind != SiteKind::Sample)
        throw Error("Model site \"" + s.name + "\" has no guide site: meanfield_elbo() needs one per latent.");
      if (!g->dist.has_rsample)
        throw Error("All distributions in the guide must be fully reparameterized for meanfield_elbo(): "
                    "guide site \"" + s.name + "\" is not. Use trace_elbo() or tracegraph_elbo() instead.");
      if (!kl_pair(g->dist, s.dist)) {
        elbo = sub(t, add(t, elbo, sum(t, site_log_prob(t, s))), sum(t, site_log_prob(t, *g)));
        continue;
      }
      int ins[8];
      int n = 0;
      for (int j = 0; j < g->dist.nparams; ++j) ins[n++] = g->dist.params[j];
      for (int j = 0; j < s.dist.nparams; ++j) ins[n++] = s.dist.params[j];
      int kl = kl::divergence(t, g->dist.family->name, ins);
      kl = scale_and_mask(t, kl, g->scale, g->mask, g->mask_false);
      if (t.shape(kl).n == 1 && !g->frames.empty())
        kl = mul(t, kl, t.scalar(double(prod(g->plate_shape()))));
      elbo = sub(t, elbo, sum(t, kl));
    }
    for (int i : guide.sample_sites()) {
      Site& g = guide.sites[i];
      const Site* m = model.find(g.name);
      if (!m || m->kind != SiteKind::Sample) elbo = sub(t, elbo, sum(t, site_log_prob(t, g)));
    }
    return {elbo, elbo};
  }
};

}  // namespace svi
