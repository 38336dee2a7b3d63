// Gathers by 1-based integer index (x[i], x[i, ], x[, j]), concatenation and reshaping.
// Indices are a node of their own, so a replayed tape can take fresh minibatch indices.
#pragma once
#include <cmath>
#include <string>
#include "../tape.hpp"

namespace svi {
namespace detail {

// Index nodes hold whole numbers in 1..n; anything else (a bad index handle, or bad indices
// on replay) is an error here rather than a read out of bounds.
inline Eigen::Index checked_index(double v, Eigen::Index n) {
  if (!(v >= 1 && v <= double(n)) || v != std::floor(v)) {
    std::string s = v == std::floor(v) && std::fabs(v) < 1e15 ? std::to_string((long long)v)
                                                               : std::to_string(v);
    throw Error("index " + s + " is out of range 1.." + std::to_string(n));
  }
  return Eigen::Index(v) - 1;
}

// i0: 0 = linear x[i], 1 = rows x[i, ], 2 = columns x[, j]
inline void gather_f(Tape& t, Node& o) {
  const Node& x = t.node(o.in[0]);
  CMap I = t.val(o.in[1]);
  const double* X = x.data();
  if (o.i0 == 0) {
    o.own.resize(I.size());
    for (Eigen::Index k = 0; k < I.size(); ++k) o.own[k] = X[checked_index(I[k], x.shape.n)];
    return;
  }
  int r = x.shape.rows(), c = x.shape.cols();
  if (o.i0 == 1) {
    // Column by column: each pass reads scattered rows of one column and writes one output
    // column in order. On a tall data matrix (minibatch rows of a design matrix) this is two
    // to three times faster than taking each row's columns in turn, whose reads lie a whole
    // column apart (a page or more) from each other.
    Eigen::Index k = I.size();
    o.own.resize(k * c);
    for (Eigen::Index q = 0; q < k; ++q) checked_index(I[q], r);
    for (int j = 0; j < c; ++j) {
      const double* Xj = X + Eigen::Index(j) * r;
      double* out = o.own.data() + Eigen::Index(j) * k;
      for (Eigen::Index q = 0; q < k; ++q) out[q] = Xj[Eigen::Index(I[q]) - 1];
    }
  } else {
    Eigen::Index k = I.size();
    o.own.resize(k * r);
    for (Eigen::Index q = 0; q < k; ++q) {
      Eigen::Index col = checked_index(I[q], c);
      for (int i = 0; i < r; ++i) o.own[i + q * r] = X[i + col * r];
    }
  }
}
inline void gather_b(Tape& t, Node& o) {
  const Node& x = t.node(o.in[0]);
  if (!x.needs_grad) return;
  CMap I = t.val(o.in[1]);
  Vec g = Vec::Zero(x.shape.n);
  int r = x.shape.rows(), c = x.shape.cols();
  Eigen::Index k = I.size();
  if (o.i0 == 0) {
    for (Eigen::Index q = 0; q < k; ++q) g[Eigen::Index(I[q]) - 1] += o.grad[q];
  } else if (o.i0 == 1) {
    for (Eigen::Index q = 0; q < k; ++q)
      for (int j = 0; j < c; ++j) g[Eigen::Index(I[q]) - 1 + Eigen::Index(j) * r] += o.grad[q + j * k];
  } else {
    for (Eigen::Index q = 0; q < k; ++q)
      for (int i = 0; i < r; ++i) g[i + (Eigen::Index(I[q]) - 1) * r] += o.grad[i + q * r];
  }
  t.acc(o.in[0], g);
}

inline void concat_f(Tape& t, Node& o) {
  o.own.resize(o.shape.n);
  Eigen::Index at = 0;
  for (int k = 0; k < o.nin; ++k) {
    CMap v = t.val(t.input(o, k));
    o.own.segment(at, v.size()) = v;
    at += v.size();
  }
}
inline void concat_b(Tape& t, Node& o) {
  Eigen::Index at = 0;
  for (int k = 0; k < o.nin; ++k) {
    int i = t.input(o, k);
    Eigen::Index len = t.shape(i).n;
    if (t.node(i).needs_grad) t.acc(i, o.grad.segment(at, len));
    at += len;
  }
}

inline void reshape_f(Tape& t, Node& o) { o.own = t.val(o.in[0]); }
inline void reshape_b(Tape& t, Node& o) { t.acc(o.in[0], o.grad); }

inline const OpDef kGather{"[", gather_f, gather_b};
inline const OpDef kConcat{"c", concat_f, concat_b};
inline const OpDef kReshape{"dim<-", reshape_f, reshape_b};

}  // namespace detail

// x[idx] (mode 0), x[idx, ] (mode 1) or x[, idx] (mode 2); idx holds 1-based indices.
inline int gather(Tape& t, int x, int idx, int mode = 0) {
  t.check_index(x); t.check_index(idx);
  const Shape& s = t.shape(x);
  Eigen::Index k = t.shape(idx).n;
  if (mode != 0 && s.nd != 2)
    throw Error("x[i, j] indexing needs a matrix, got " + s.str());
  Shape out = mode == 0 ? Shape::vec(k) : mode == 1 ? Shape::mat(int(k), s.d[1]) : Shape::mat(s.d[0], int(k));
  return t.op(&detail::kGather, {x, idx}, out, 0, 0, mode);
}

inline int concat(Tape& t, const std::vector<int>& parts) {
  if (parts.empty()) throw Error("concatenation of nothing");
  Eigen::Index n = 0;
  for (int i : parts) { t.check_index(i); n += t.shape(i).n; }
  Node& x = t.alloc();  // variadic: wire the inputs by hand, then run forward like Tape::op
  int idx = t.size() - 1;
  x.op = &detail::kConcat; x.shape = Shape::vec(n); x.nin = int(parts.size());
  for (int k = 0; k < x.nin; ++k) {
    if (k < 4) x.in[k] = parts[k]; else x.more.push_back(parts[k]);
    x.needs_grad = x.needs_grad || t.node(parts[k]).needs_grad;
    if (!t.node(parts[k]).prov.empty()) Tape::merge_prov(x, t.node(parts[k]));
  }
  detail::concat_f(t, t.node(idx));
  return idx;
}

inline int reshape(Tape& t, int a, const Shape& s) {
  t.check_index(a);
  if (s.n != t.shape(a).n)
    throw Error("cannot reshape " + t.shape(a).str() + " to " + s.str() + ": lengths differ");
  return t.op(&detail::kReshape, {a}, s);
}

}  // namespace svi
