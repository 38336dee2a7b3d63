// Shapes with R's semantics: a length and an optional dim attribute (nd == 0 means a plain
// vector). Broadcasting aligns dims from the left (outer plates first, as R recycles down
// columns): dims of 1 and missing trailing dims expand; any other mismatch is an error --
// never R's silent partial recycling.
#pragma once
#include "eigen.hpp"
#include <string>
#include "error.hpp"

namespace svi {

constexpr int kMaxDims = 8;

struct Shape {
  Eigen::Index n = 0;
  int nd = 0;              // 0: plain vector without a dim attribute
  int d[kMaxDims] = {0};

  static Shape vec(Eigen::Index len) { Shape s; s.n = len; return s; }
  static Shape mat(int r, int c) {
    Shape s; s.n = Eigen::Index(r) * c; s.nd = 2; s.d[0] = r; s.d[1] = c; return s;
  }
  int rows() const { return nd >= 1 ? d[0] : int(n); }
  int cols() const { return nd >= 2 ? int(n / d[0]) : 1; }
  bool same_dims(const Shape& o) const {
    if (nd != o.nd) return false;
    for (int i = 0; i < nd; ++i) if (d[i] != o.d[i]) return false;
    return true;
  }
  std::string str() const {
    if (nd == 0) return "length " + std::to_string(n);
    std::string s = "dim ";
    for (int i = 0; i < nd; ++i) s += (i ? " x " : "") + std::to_string(d[i]);
    return s;
  }
};

// Dim j of s, aligned from the left as R recycles down columns: a plain vector is one dim, and
// dims past the end are 1 (so [2] combines with [2, 5]).
inline int dim_at(const Shape& s, int j) {
  if (s.nd == 0) return j == 0 ? int(s.n) : 1;
  return j < s.nd ? s.d[j] : 1;
}

// Result shape of an elementwise op on a and b. Scalars and equal lengths combine as before
// (an equal-length plain vector takes the other's dims); otherwise dims are aligned from the
// left and a dim of 1 (or a missing trailing one) expands. Anything else is an error: never
// partial recycling.
inline Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  if (a.n == 1 && b.n == 1) return a.nd >= b.nd ? a : b;
  if (a.n == 1) return b;
  if (b.n == 1) return a;
  if (a.n == b.n) {
    if (a.nd == 0) return b;
    if (b.nd == 0 || a.same_dims(b)) return a;
  }
  const int na = a.nd ? a.nd : 1, nb = b.nd ? b.nd : 1, nd = na > nb ? na : nb;
  Shape r; r.nd = nd; r.n = 1;
  bool ok = a.n > 0 && b.n > 0;
  for (int j = 0; ok && j < nd; ++j) {
    int da = dim_at(a, j), db = dim_at(b, j);
    if (da != db && da != 1 && db != 1) ok = false;
    r.d[j] = da == 1 ? db : da;
    r.n *= r.d[j];
  }
  if (!ok)
    throw Error(std::string("shape mismatch in `") + op + "`: " + a.str() + " vs " + b.str() +
                " (dims align from the left and only dims of 1 or missing trailing dims "
                "broadcast; svi never recycles)");
  if (a.nd == 0 && b.nd == 0) r.nd = 0;  // unreachable with unequal lengths, kept for clarity
  return r;
}

// True when `from` needs index arithmetic to reach `to` (neither a scalar nor the same length).
inline bool needs_expand(const Shape& from, const Shape& to) { return from.n != 1 && from.n != to.n; }

// Walks the elements of `to` in storage order, calling f(i, k) with k the element of `from`
// that broadcasts to element i. A counter per dim avoids divisions.
template <class F>
void for_broadcast(const Shape& from, const Shape& to, F f) {
  const int nd = to.nd ? to.nd : 1;
  Eigen::Index stride[kMaxDims];
  int cnt[kMaxDims] = {0};
  Eigen::Index s = 1;
  for (int j = 0; j < nd; ++j) {
    int df = dim_at(from, j);
    stride[j] = df == 1 ? 0 : s;
    s *= df;
  }
  Eigen::Index k = 0;
  for (Eigen::Index i = 0; i < to.n; ++i) {
    f(i, k);
    for (int j = 0; j < nd; ++j) {  // odometer step
      k += stride[j];
      if (++cnt[j] < dim_at(to, j)) break;
      k -= stride[j] * cnt[j];
      cnt[j] = 0;
    }
  }
}

// x (shape `from`) expanded to shape `to`.
inline Eigen::ArrayXd expand_to(const double* x, const Shape& from, const Shape& to) {
  Eigen::ArrayXd r(to.n);
  for_broadcast(from, to, [&](Eigen::Index i, Eigen::Index k) { r[i] = x[k]; });
  return r;
}

// g (shape `to`) summed back to shape `from`: the gradient of an expanded operand.
template <class E>
Eigen::ArrayXd sum_to(const E& g, const Shape& from, const Shape& to) {
  Eigen::ArrayXd r = Eigen::ArrayXd::Zero(from.n);
  for_broadcast(from, to, [&](Eigen::Index i, Eigen::Index k) { r[k] += g[i]; });
  return r;
}

}  // namespace svi
