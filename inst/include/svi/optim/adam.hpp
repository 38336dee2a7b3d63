// Adam with torch's defaults and order of operations (pyro-semantics §7.2): L2 weight decay
// coupled into the gradient, bias-corrected step size, eps added after the bias-corrected
// square root. Optional AMSGrad (running maximum of the second moment).
#pragma once
#include "common.hpp"

namespace svi {
namespace optim {

struct AdamConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

// One parameter's state. The arrays have the parameter's length and belong to the caller;
// max_exp_avg_sq is only touched with amsgrad. lr is state, not config: schedules change it.
struct AdamState {
  long long step = 0;
  double lr = 1e-3;
  double* exp_avg = nullptr;
  double* exp_avg_sq = nullptr;
  double* max_exp_avg_sq = nullptr;
};

inline void adam_step(double* theta, const double* grad, std::size_t n, AdamState& s,
                      const AdamConfig& c) {
  if (no_step(grad, s.step)) return;
  s.step += 1;
  const double t = static_cast<double>(s.step);
  const double bc1 = 1.0 - std::pow(c.beta1, t);
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(c.beta2, t));
  const double step_size = s.lr / bc1;
  for (std::size_t i = 0; i < n; ++i) {
    double g = grad_at(grad, i);
    if (c.weight_decay != 0.0) g += c.weight_decay * theta[i];
    s.exp_avg[i] = c.beta1 * s.exp_avg[i] + (1.0 - c.beta1) * g;
    s.exp_avg_sq[i] = c.beta2 * s.exp_avg_sq[i] + (1.0 - c.beta2) * (g * g);
    double v = s.exp_avg_sq[i];
    if (c.amsgrad) {
      if (v > s.max_exp_avg_sq[i]) s.max_exp_avg_sq[i] = v;
      v = s.max_exp_avg_sq[i];
    }
    const double denom = std::sqrt(v) / bc2_sqrt + c.eps;
    // lr = 0 must leave theta bit-identical (even -0.0), so skip the subtraction entirely.
    if (step_size != 0.0) theta[i] -= step_size * (s.exp_avg[i] / denom);
  }
}

}  // namespace optim
}  // namespace svi
