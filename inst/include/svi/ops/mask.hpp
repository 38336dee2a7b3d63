// mask(x, m): x where m is nonzero, else exactly 0 -- also where x is -Inf, which is why this
// is not x * m. The gradient is masked the same way. Used for masked sites (mask_by()).
#pragma once
#include "../tape.hpp"

namespace svi {
namespace detail {

inline void mask_f(Tape& t, Node& o) {
  CMap X = t.val(o.in[0]), M = t.val(o.in[1]);
  o.own.resize(o.shape.n);
  for (Eigen::Index i = 0; i < o.shape.n; ++i) {
    double m = M.size() == 1 ? M[0] : M[i];
    o.own[i] = m != 0 ? (X.size() == 1 ? X[0] : X[i]) : 0.0;
  }
}
inline void mask_b(Tape& t, Node& o) {
  CMap M = t.val(o.in[1]);
  Vec g(o.shape.n);
  for (Eigen::Index i = 0; i < o.shape.n; ++i) g[i] = (M.size() == 1 ? M[0] : M[i]) != 0 ? o.grad[i] : 0.0;
  t.acc(o.in[0], g);
}
inline const OpDef kMask{"mask", mask_f, mask_b};

}  // namespace detail

inline int mask(Tape& t, int x, int m) {
  t.check_index(x); t.check_index(m);
  return t.op(&detail::kMask, {x, m}, broadcast_shape(t.shape(x), t.shape(m), "mask"));
}

}  // namespace svi
