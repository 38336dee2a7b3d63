// The ELBO interface. An estimator turns one particle's two traces (the guide's, and the
// model's replayed on the guide's draws) into two nodes: the ELBO estimate and a surrogate
// whose gradient is the ELBO's gradient estimate (its value need not be the ELBO). The engine
// averages particles, negates (the loss is -ELBO), differentiates and updates.
#pragma once
#include <memory>
#include <vector>
#include "../context.hpp"
#include "../handlers/handler.hpp"
#include "../trace.hpp"

namespace svi {

struct Particle {
  int elbo = -1;
  int surrogate = -1;
};

struct Elbo {
  int num_particles = 1;
  virtual ~Elbo() = default;
  virtual const char* name() const = 0;
  // Handlers around each particle's guide and model runs (outermost first). `counter` counts
  // provenance ids over the whole step.
  virtual std::vector<std::unique_ptr<Handler>> particle_handlers(Context&, int& /*counter*/) {
    return {};
  }
  virtual Particle particle(Context& ctx, Trace& model, Trace& guide) = 0;
};

// lp_1 summed + lp_2 summed + ... (a 0 constant for none).
inline int sum_log_probs(Tape& t, const std::vector<int>& lps) {
  int acc = -1;
  for (int lp : lps) {
    int s = sum(t, lp);
    acc = acc < 0 ? s : add(t, acc, s);
  }
  return acc < 0 ? t.scalar(0) : acc;
}

// The scaled and masked log-densities of the sample sites at `pos` of trace `tr`.
inline void log_probs(Tape& t, Trace& tr, const std::vector<int>& pos, std::vector<int>& out) {
  out.clear();
  for (int i : pos) out.push_back(site_log_prob(t, tr.sites[i]));
}
inline std::vector<int> log_probs(Tape& t, Trace& tr, const std::vector<int>& pos) {
  std::vector<int> out;
  log_probs(t, tr, pos, out);
  return out;
}

}  // namespace svi
