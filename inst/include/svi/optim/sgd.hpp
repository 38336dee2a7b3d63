// Stochastic gradient descent with torch's momentum, dampening and Nesterov options. The
// momentum buffer starts as a copy of the first (decayed) gradient, as in torch.
#pragma once
#include "common.hpp"

namespace svi {
namespace optim {

struct SgdConfig {
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

// momentum_buffer has the parameter's length when momentum != 0 (unused otherwise).
struct SgdState {
  long long step = 0;
  double lr = 1e-3;
  double* momentum_buffer = nullptr;
};

inline void sgd_step(double* theta, const double* grad, std::size_t n, SgdState& s,
                     const SgdConfig& c) {
  if (no_step(grad, s.step)) return;
  const bool first = s.step == 0;
  s.step += 1;
  for (std::size_t i = 0; i < n; ++i) {
    double d = grad_at(grad, i);
    if (c.weight_decay != 0.0) d += c.weight_decay * theta[i];
    if (c.momentum != 0.0) {
      double& buf = s.momentum_buffer[i];
      buf = first ? d : c.momentum * buf + (1.0 - c.dampening) * d;
      d = c.nesterov ? d + c.momentum * buf : buf;
    }
    if (s.lr != 0.0) theta[i] -= s.lr * d;
  }
}

}  // namespace optim
}  // namespace svi
