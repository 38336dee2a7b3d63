// Pyro's ClippedAdam (pyro-semantics §7.3). It differs from torch's Adam in three ways:
// the gradient is clamped ELEMENTWISE to [-clip_norm, clip_norm] (despite the name), the
// learning rate is multiplied by lrd before every update, and eps is added to the
// uncorrected sqrt(v) with the bias correction folded into the step size.
#pragma once
#include "common.hpp"

namespace svi {
namespace optim {

struct ClippedAdamConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double clip_norm = 10.0;
  double lrd = 1.0;
};

struct ClippedAdamState {
  long long step = 0;
  double lr = 1e-3;
  double* exp_avg = nullptr;
  double* exp_avg_sq = nullptr;
};

inline void clipped_adam_step(double* theta, const double* grad, std::size_t n,
                              ClippedAdamState& s, const ClippedAdamConfig& c) {
  // Pyro decays the group's lr on every optimizer step() call, and calls step() for every
  // parameter in the trace, including one that has no gradient yet.
  s.lr *= c.lrd;
  if (no_step(grad, s.step)) return;
  s.step += 1;
  const double t = static_cast<double>(s.step);
  const double bc1 = 1.0 - std::pow(c.beta1, t);
  const double bc2 = 1.0 - std::pow(c.beta2, t);
  const double step_size = s.lr * std::sqrt(bc2) / bc1;
  for (std::size_t i = 0; i < n; ++i) {
    double g = clamp(grad_at(grad, i), c.clip_norm);
    if (c.weight_decay != 0.0) g += c.weight_decay * theta[i];
    s.exp_avg[i] = c.beta1 * s.exp_avg[i] + (1.0 - c.beta1) * g;
    s.exp_avg_sq[i] = c.beta2 * s.exp_avg_sq[i] + (1.0 - c.beta2) * (g * g);
    const double denom = std::sqrt(s.exp_avg_sq[i]) + c.eps;
    if (step_size != 0.0) theta[i] -= step_size * (s.exp_avg[i] / denom);
  }
}

}  // namespace optim
}  // namespace svi
