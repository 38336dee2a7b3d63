// Shared pieces of the optimizers: gradient clipping and the "no gradient" rule. Everything here
// works on raw arrays owned by the caller (R vectors in the glue, std::vector in a compiled
// loop), so the same update runs with or without R.
#pragma once
#include <cmath>
#include <cstddef>

namespace svi {
namespace optim {

// A parameter with no gradient (grad == nullptr) is left alone until it first gets one: torch
// skips parameters whose .grad was never set. After its first step a missing gradient counts
// as zero, because Pyro zeroes gradients after each step rather than clearing them.
inline bool no_step(const double* grad, long long step) { return grad == nullptr && step == 0; }
inline double grad_at(const double* grad, std::size_t i) { return grad ? grad[i] : 0.0; }

// torch.nn.utils.clip_grad_norm_ on one parameter: rescale so the 2-norm is at most max_norm
// (the 1e-6 keeps the division finite and makes the clipped norm fall just below max_norm).
inline void clip_grad_norm(double* g, std::size_t n, double max_norm) {
  double ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) ss += g[i] * g[i];
  const double coef = max_norm / (std::sqrt(ss) + 1e-6);
  if (coef < 1.0)
    for (std::size_t i = 0; i < n; ++i) g[i] *= coef;
}

// torch.nn.utils.clip_grad_value_: clamp every element to [-v, v].
inline double clamp(double x, double v) { return x < -v ? -v : (x > v ? v : x); }
inline void clip_grad_value(double* g, std::size_t n, double v) {
  for (std::size_t i = 0; i < n; ++i) g[i] = clamp(g[i], v);
}

}  // namespace optim
}  // namespace svi
