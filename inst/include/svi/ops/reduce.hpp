// Reductions: sums and means (all, by rows, by columns), logsumexp, cumsum, max/min.
// A matrix view of an array is its first dim by the product of the rest, as in rowSums().
#pragma once
#include <cmath>
#include <limits>
#include "../tape.hpp"

namespace svi {
namespace detail {

using CMat = Eigen::Map<const Eigen::MatrixXd>;
inline CMat as_mat(const Tape& t, int i) {
  const Shape& s = t.shape(i);
  return CMat(t.node(i).data(), s.rows(), s.cols());
}

// i0: 0 = all, 1 = per row, 2 = per column; a0 = 1 for a mean.
inline void sum_f(Tape& t, Node& o) {
  CMat X = as_mat(t, o.in[0]);
  double k = o.a0 == 1 ? 1.0 / (o.i0 == 0 ? X.size() : o.i0 == 1 ? X.cols() : X.rows()) : 1.0;
  if (o.i0 == 0) { o.own.resize(1); o.own[0] = X.sum() * k; }
  else if (o.i0 == 1) o.own = X.rowwise().sum().array() * k;
  else o.own = X.colwise().sum().transpose().array() * k;
}
inline void sum_b(Tape& t, Node& o) {
  int in = o.in[0];
  CMat X = as_mat(t, in);
  double k = o.a0 == 1 ? 1.0 / (o.i0 == 0 ? X.size() : o.i0 == 1 ? X.cols() : X.rows()) : 1.0;
  if (o.i0 == 0) { t.acc_scalar(in, o.grad[0] * k); return; }
  Eigen::MatrixXd G(X.rows(), X.cols());
  if (o.i0 == 1) G.colwise() = o.grad.matrix() * k;
  else G.rowwise() = o.grad.matrix().transpose() * k;
  t.acc(in, CMap(G.data(), G.size()));
}

// logsumexp: i0 as in sum; aux keeps the softmax weights for the backward pass.
inline double lse(const Eigen::Ref<const Eigen::VectorXd>& v) {
  if (v.size() == 0) return -std::numeric_limits<double>::infinity();  // log(sum(exp(<empty>)))
  if (v.hasNaN()) return std::numeric_limits<double>::quiet_NaN();
  double m = v.maxCoeff();
  if (std::isinf(m)) return m;  // all -Inf, or some +Inf: log(sum(exp(x))) is m
  return m + std::log((v.array() - m).exp().sum());
}
inline void lse_f(Tape& t, Node& o) {
  CMat X = as_mat(t, o.in[0]);
  if (o.i0 == 0) { o.own.resize(1); o.own[0] = lse(Eigen::Map<const Eigen::VectorXd>(X.data(), X.size())); }
  else if (o.i0 == 1) { o.own.resize(X.rows()); for (Eigen::Index r = 0; r < X.rows(); ++r) o.own[r] = lse(X.row(r).transpose()); }
  else { o.own.resize(X.cols()); for (Eigen::Index c = 0; c < X.cols(); ++c) o.own[c] = lse(X.col(c)); }
}
// The softmax weights; where the result is +Inf, their limit: the +Inf elements share the
// weight equally (so d/dx logsumexp(c(1, Inf)) is c(0, 1)).
inline void lse_b(Tape& t, Node& o) {
  int in = o.in[0];
  CMat X = as_mat(t, in);
  Eigen::MatrixXd W(X.rows(), X.cols());
  const double inf = std::numeric_limits<double>::infinity();
  Eigen::VectorXd n_inf = Eigen::VectorXd::Zero(o.own.size());
  for (Eigen::Index c = 0; c < X.cols(); ++c)
    for (Eigen::Index r = 0; r < X.rows(); ++r)
      if (X(r, c) == inf) n_inf[o.i0 == 0 ? 0 : o.i0 == 1 ? r : c] += 1;
  for (Eigen::Index c = 0; c < X.cols(); ++c)
    for (Eigen::Index r = 0; r < X.rows(); ++r) {
      const Eigen::Index k = o.i0 == 0 ? 0 : o.i0 == 1 ? r : c;
      const double y = o.own[k], g = o.grad[k];
      if (std::isfinite(y)) W(r, c) = g * std::exp(X(r, c) - y);
      else if (y == inf) W(r, c) = X(r, c) == inf ? g / n_inf[k] : 0.0;
      else W(r, c) = 0.0;
    }
  t.acc(in, CMap(W.data(), W.size()));
}

inline void cumsum_f(Tape& t, Node& o) {
  CMap X = t.val(o.in[0]);
  o.own.resize(X.size());
  double s = 0;
  for (Eigen::Index i = 0; i < X.size(); ++i) o.own[i] = (s += X[i]);
}
inline void cumsum_b(Tape& t, Node& o) {
  Vec g(o.grad.size());
  double s = 0;
  for (Eigen::Index i = g.size() - 1; i >= 0; --i) g[i] = (s += o.grad[i]);
  t.acc(o.in[0], g);
}

// max (a0 = 1) or min (a0 = -1) of all elements; the gradient goes to the first arg-extremum.
inline void ext_f(Tape& t, Node& o) {
  CMap X = t.val(o.in[0]);
  Eigen::Index k;
  double v = o.a0 > 0 ? X.maxCoeff(&k) : X.minCoeff(&k);
  o.own.resize(1); o.own[0] = v; o.i1 = int(k);
}
inline void ext_b(Tape& t, Node& o) {
  Vec g = Vec::Zero(t.shape(o.in[0]).n);
  g[o.i1] = o.grad[0];
  t.acc(o.in[0], g);
}

inline const OpDef kSum{"sum", sum_f, sum_b};
inline const OpDef kLse{"logsumexp", lse_f, lse_b};
inline const OpDef kCumsum{"cumsum", cumsum_f, cumsum_b};
inline const OpDef kExtreme{"max/min", ext_f, ext_b};

inline Shape margin_shape(const Shape& s, int margin) {
  if (margin == 0) return Shape::vec(1);
  if (margin == 1) return Shape::vec(s.rows());
  Shape r = Shape::vec(s.cols());
  if (s.nd > 2) { r.nd = s.nd - 1; for (int i = 1; i < s.nd; ++i) r.d[i - 1] = s.d[i]; }
  return r;
}
inline void check_margin(const Tape& t, int a, int margin, const char* what) {
  t.check_index(a);
  if (margin < 0 || margin > 2) throw Error(std::string(what) + ": margin must be 0 (all), 1 (rows) or 2 (columns)");
  if (margin > 0 && t.shape(a).nd < 2)
    throw Error(std::string(what) + " by rows or columns needs a matrix or array, got " + t.shape(a).str());
}

}  // namespace detail

// margin: 0 all elements, 1 per row (rowSums), 2 per column (colSums)
inline int sum(Tape& t, int a, int margin = 0) {
  detail::check_margin(t, a, margin, "sum");
  return t.op(&detail::kSum, {a}, detail::margin_shape(t.shape(a), margin), 0, 0, margin);
}
inline int mean(Tape& t, int a, int margin = 0) {
  detail::check_margin(t, a, margin, "mean");
  if (t.shape(a).n == 0) throw Error("mean of an empty array");
  return t.op(&detail::kSum, {a}, detail::margin_shape(t.shape(a), margin), 1, 0, margin);
}
inline int logsumexp(Tape& t, int a, int margin = 0) {
  detail::check_margin(t, a, margin, "logsumexp");
  return t.op(&detail::kLse, {a}, detail::margin_shape(t.shape(a), margin), 0, 0, margin);
}
inline int cumsum(Tape& t, int a) {
  t.check_index(a);
  return t.op(&detail::kCumsum, {a}, Shape::vec(t.shape(a).n));
}
inline int max(Tape& t, int a) {
  t.check_index(a);
  if (t.shape(a).n == 0) throw Error("max of an empty array");
  return t.op(&detail::kExtreme, {a}, Shape::vec(1), 1);
}
inline int min(Tape& t, int a) {
  t.check_index(a);
  if (t.shape(a).n == 0) throw Error("min of an empty array");
  return t.op(&detail::kExtreme, {a}, Shape::vec(1), -1);
}

}  // namespace svi
