// TraceMeanField_ELBO (pyro-semantics 5): each latent site's Monte Carlo term log p - log q is
// replaced by minus the analytic KL(q || p) where the pair has one (kl.hpp), else kept. It
// needs a fully reparameterized guide. A Delta guide site's KL against any model site is
// log_density - log p(value) (R/kl.R keeps the Delta's log-density, an autoguide's Jacobian
// term). Model and guide latents in different orders get a warning each particle. As
// R/elbo-meanfield.R.
#pragma once
#include <cstring>
#include <string>
#include <vector>
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

  // The mean-field restriction is checked by order: the latents both traces have, in the
  // model's order and in the guide's, must agree (as R's check_meanfield_order()).
  static void check_order(Context& ctx, const Trace& model, const Trace& guide) {
    std::vector<std::string> m, g;
    for (const Site& s : model.sites)
      if (s.kind == SiteKind::Sample && !s.is_observed && guide.find(s.name)) m.push_back(s.name);
    for (const Site& s : guide.sites) {
      if (s.kind != SiteKind::Sample) continue;
      const Site* ms = model.find(s.name);
      if (ms && ms->kind == SiteKind::Sample && !ms->is_observed) g.push_back(s.name);
    }
    if (m == g) return;
    auto list = [](const std::vector<std::string>& v) {
      std::string out;
      for (std::size_t k = 0; k < v.size(); ++k) out += (k ? ", " : "") + v[k];
      return out;
    };
    ctx.warn("Failed to verify the mean-field restriction on the guide. Make the model and guide "
             "sites occur in the same order. Model sites: " + list(m) + ". Guide sites: " + list(g) + ".");
  }

  Particle particle(Context& ctx, Trace& model, Trace& guide) override {
    Tape& t = ctx.tape;
    check_order(ctx, model, guide);
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
      if (std::strcmp(g->dist.family->name, "delta") == 0) {
        // log q(value) - log p(value), both at the guide's point, on the plates
        int kl = sub(t, site_log_prob_raw(t, *g), site_log_prob_raw(t, s));
        elbo = sub(t, elbo, sum(t, scale_and_mask(t, kl, *g)));
        continue;
      }
      if (!kl_pair(g->dist, s.dist)) {
        elbo = sub(t, add(t, elbo, sum(t, site_log_prob(t, s))), sum(t, site_log_prob(t, *g)));
        continue;
      }
      int ins[8];
      int n = 0;
      for (int j = 0; j < g->dist.nparams; ++j) ins[n++] = g->dist.params[j];
      for (int j = 0; j < s.dist.nparams; ++j) ins[n++] = s.dist.params[j];
      int kl = kl::divergence(t, g->dist.family->name, ins);
      if (g->scale_node >= 0 && t.shape(kl).n == 1 && !g->frames.empty())
        kl = finish_log_prob(t, *g, kl);  // one term per plate element, for the tensor scale
      kl = scale_and_mask(t, kl, *g);
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
