// Shapes with R's semantics: a length and an optional dim attribute (nd == 0 means a plain
// vector). Broadcasting is deliberately narrow: scalars broadcast, equal shapes combine, and
// anything else is an error -- never R's silent recycling.
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

// Result shape of an elementwise op on a and b.
inline Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  if (a.n == 1 && b.n == 1) return a.nd >= b.nd ? a : b;
  if (a.n == 1) return b;
  if (b.n == 1) return a;
  if (a.n == b.n) {
    if (a.nd == 0) return b;
    if (b.nd == 0 || a.same_dims(b)) return a;
  }
  throw Error(std::string("shape mismatch in `") + op + "`: " + a.str() + " vs " + b.str() +
              " (svi broadcasts only scalars and equal shapes; it never recycles)");
}

}  // namespace svi
