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

// Minibatch rows x[i, ] of a large data matrix are scattered reads, one per column, each a
// cache miss (and a TLB miss once the matrix is much larger than the caches): c of them per
// row. When the same gather node runs again -- a replayed (compiled) step -- on a constant
// matrix between 4 MB and 1 GB, it keeps a row-major copy of the matrix in o.aux, so that a
// row is c contiguous doubles (3 cache lines for c = 20 instead of 20), which makes the step's
// time nearly independent of the number of rows. The copy costs the matrix's size once more.
// Returns whether o.aux holds that copy.
// Scattered reads wait on memory one after another unless the next ones are requested early:
// gathers ask for the element kAhead positions on while they copy this one.
#if defined(__GNUC__) || defined(__clang__)
inline void prefetch(const double* p) { __builtin_prefetch(p); }
#else
inline void prefetch(const double*) {}
#endif
constexpr Eigen::Index kAhead = 16;

inline bool rows_cached(const Node& x, Node& o) {
  constexpr Eigen::Index kMin = Eigen::Index(1) << 19, kMax = Eigen::Index(1) << 27;  // doubles
  const Eigen::Index n = x.shape.n;
  const int r = x.shape.rows(), c = x.shape.cols();
  if (x.leaf != Leaf::Constant || !x.ext || n < kMin || n > kMax || r <= c) return false;
  if (o.aux_of != x.ext) {  // first run of this node: remember the matrix, copy on the next
    o.aux_of = x.ext;
    o.aux.resize(0);
    return false;
  }
  if (o.aux.size() != n) {
    o.aux.resize(n);
    for (int j = 0; j < c; ++j)
      for (Eigen::Index i = 0; i < r; ++i) o.aux[i * c + j] = x.ext[i + Eigen::Index(j) * r];
  }
  return true;
}

// i0: 0 = linear x[i], 1 = rows x[i, ], 2 = columns x[, j]
inline void gather_f(Tape& t, Node& o) {
  const Node& x = t.node(o.in[0]);
  CMap I = t.val(o.in[1]);
  const double* X = x.data();
  if (o.i0 == 0) {
    const Eigen::Index k = I.size();
    o.own.resize(k);
    for (Eigen::Index q = 0; q < k; ++q) checked_index(I[q], x.shape.n);
    for (Eigen::Index q = 0; q < k; ++q) {
      if (q + kAhead < k) prefetch(X + Eigen::Index(I[q + kAhead]) - 1);
      o.own[q] = X[Eigen::Index(I[q]) - 1];
    }
    return;
  }
  int r = x.shape.rows(), c = x.shape.cols();
  if (o.i0 == 1) {
    Eigen::Index k = I.size();
    o.own.resize(k * c);
    for (Eigen::Index q = 0; q < k; ++q) checked_index(I[q], r);
    if (rows_cached(x, o)) {
      // a row-major copy of the matrix: each row is c contiguous doubles
      const double* R = o.aux.data();
      for (Eigen::Index q = 0; q < k; ++q) {
        if (q + kAhead < k) {
          const double* next = R + (Eigen::Index(I[q + kAhead]) - 1) * c;
          for (int j = 0; j < c; j += 8) prefetch(next + j);   // each cache line of that row
          prefetch(next + c - 1);
        }
        const double* row = R + (Eigen::Index(I[q]) - 1) * c;
        for (int j = 0; j < c; ++j) o.own[q + Eigen::Index(j) * k] = row[j];
      }
      return;
    }
    // Column by column: each pass reads scattered rows of one column and writes one output
    // column in order, two to three times faster on a tall matrix than taking each row's
    // columns in turn, whose reads lie a whole column apart (a page or more).
    for (int j = 0; j < c; ++j) {
      const double* Xj = X + Eigen::Index(j) * r;
      double* out = o.own.data() + Eigen::Index(j) * k;
      for (Eigen::Index q = 0; q < k; ++q) {
        if (q + kAhead < k) prefetch(Xj + Eigen::Index(I[q + kAhead]) - 1);
        out[q] = Xj[Eigen::Index(I[q]) - 1];
      }
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
