// Baselines for the score-function terms of TraceGraph_ELBO (pyro-semantics 4.3): subtracted
// from a site's downstream cost, they leave the gradient unbiased and, when close to the
// expected cost, make it much less noisy.
//  * decaying average: per plate element; each particle uses the average from before its
//    update avg <- beta * avg + (1 - beta) * cost. It starts at zero and lives in the store
//    (ParamStore::averages); the update is staged in the context and committed by the engine
//    after a successful step only. The plate's (sub)sample size must not change.
//  * a given or learned value (a node the caller recorded): trained by the squared-error loss
//    sum((cost - baseline)^2), which the surrogate subtracts.
#pragma once
#include <string>
#include "../context.hpp"
#include "../ops/index.hpp"

namespace svi {

struct Baseline {
  int value = -1;  // node with the cost's shape, or -1 for none
  int loss = -1;   // squared-error loss node, or -1
};

inline int decaying_average(Context& ctx, const std::string& name, int cost, double beta) {
  Tape& t = ctx.tape;
  int old;
  auto staged = ctx.averages.find(name);
  Eigen::Index n = t.shape(cost).n;
  if (staged != ctx.averages.end()) {
    old = staged->second;
  } else {
    auto stored = ctx.store.averages.find(name);
    Vec init = stored == ctx.store.averages.end() ? Vec::Zero(n) : stored->second;
    if (init.size() != n)
      throw Error("The decaying-average baseline of site \"" + name + "\" has " +
                  std::to_string(init.size()) + " elements but its downstream cost now has " +
                  std::to_string(n) + ". The average is kept per plate element: the plate's "
                  "(sub)sample size must not change between steps.");
    old = t.leaf(Leaf::State, init.data(), Shape::vec(n));
    ctx.average_leaves[name] = old;  // a compiled replay refills it from the store
  }
  old = like_shape_of(t, old, cost);
  int a = mul(t, t.scalar(1 - beta), cost);
  int b = mul(t, t.scalar(beta), old);
  ctx.averages[name] = add(t, a, b);
  return old;
}

inline Baseline site_baseline(Context& ctx, const Site& g, int cost) {
  const BaselineConfig& spec = g.infer.baseline;
  Baseline out;
  if (!spec.any()) return out;
  Tape& t = ctx.tape;
  if (spec.decay) {
    if (!(spec.beta >= 0 && spec.beta < 1))
      throw Error("`beta` of the baseline of site \"" + g.name + "\" must be a number in [0, 1).");
    out.value = decaying_average(ctx, g.name, cost, spec.beta);
  }
  if (spec.value >= 0) {
    t.check_index(spec.value);
    if (t.shape(spec.value).n != t.shape(cost).n)
      throw Error("Expected the baseline at site \"" + g.name + "\" to have shape " +
                  t.shape(cost).str() + " (its downstream cost), not " + t.shape(spec.value).str() +
                  ". A baseline has one value per element of the site's plates.");
    int extra = like_shape_of(t, spec.value, cost);
    out.value = out.value < 0 ? extra : add(t, out.value, extra);
    out.loss = sum(t, pow(t, sub(t, cost, out.value), t.scalar(2)));
  }
  return out;
}

}  // namespace svi
