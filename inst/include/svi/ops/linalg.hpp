// Matrix products and transpose. Operands are viewed as matrices with R's rules for vectors
// (see matmul_dims); results are always matrices, as in R.
#pragma once
#include "../tape.hpp"
#include "reduce.hpp"

namespace svi {
namespace detail {

using MMap = Eigen::Map<Eigen::MatrixXd>;

// Node attributes: i0, i1 = rows and cols of the left operand as used; i2 = cols of the right.
inline void matmul_f(Tape& t, Node& o) {
  CMat A(t.node(o.in[0]).data(), o.i0, o.i1), B(t.node(o.in[1]).data(), o.i1, o.i2);
  o.own.resize(Eigen::Index(o.i0) * o.i2);
  MMap(o.own.data(), o.i0, o.i2).noalias() = A * B;
}
inline void matmul_b(Tape& t, Node& o) {
  CMat A(t.node(o.in[0]).data(), o.i0, o.i1), B(t.node(o.in[1]).data(), o.i1, o.i2);
  CMat G(o.grad.data(), o.i0, o.i2);
  if (t.node(o.in[0]).needs_grad) { Eigen::MatrixXd dA = G * B.transpose(); t.acc(o.in[0], CMap(dA.data(), dA.size())); }
  if (t.node(o.in[1]).needs_grad) { Eigen::MatrixXd dB = A.transpose() * G; t.acc(o.in[1], CMap(dB.data(), dB.size())); }
}

// crossprod(x, y) = t(x) %*% y; x is i1 x i0 as stored.
inline void crossprod_f(Tape& t, Node& o) {
  CMat X(t.node(o.in[0]).data(), o.i1, o.i0), Y(t.node(o.in[1]).data(), o.i1, o.i2);
  o.own.resize(Eigen::Index(o.i0) * o.i2);
  MMap(o.own.data(), o.i0, o.i2).noalias() = X.transpose() * Y;
}
inline void crossprod_b(Tape& t, Node& o) {
  CMat X(t.node(o.in[0]).data(), o.i1, o.i0), Y(t.node(o.in[1]).data(), o.i1, o.i2);
  CMat G(o.grad.data(), o.i0, o.i2);
  if (o.in[0] == o.in[1]) {  // crossprod(x): d = x (G + G')
    Eigen::MatrixXd d = X * (G + G.transpose());
    t.acc(o.in[0], CMap(d.data(), d.size()));
    return;
  }
  if (t.node(o.in[0]).needs_grad) { Eigen::MatrixXd dX = Y * G.transpose(); t.acc(o.in[0], CMap(dX.data(), dX.size())); }
  if (t.node(o.in[1]).needs_grad) { Eigen::MatrixXd dY = X * G; t.acc(o.in[1], CMap(dY.data(), dY.size())); }
}

inline void transpose_f(Tape& t, Node& o) {
  CMat X(t.node(o.in[0]).data(), o.i0, o.i1);
  o.own.resize(X.size());
  MMap(o.own.data(), o.i1, o.i0) = X.transpose();
}
inline void transpose_b(Tape& t, Node& o) {
  CMat G(o.grad.data(), o.i1, o.i0);
  Eigen::MatrixXd d = G.transpose();
  t.acc(o.in[0], CMap(d.data(), d.size()));
}

inline const OpDef kMatmul{"%*%", matmul_f, matmul_b};
inline const OpDef kCrossprod{"crossprod", crossprod_f, crossprod_b};
inline const OpDef kTranspose{"t", transpose_f, transpose_b};

// R's %*% conventions: a vector on the left is a row vector when that conforms, else a column;
// on the right it is a column vector when that conforms, else a row.
inline void matmul_dims(const Shape& a, const Shape& b, int& n, int& k, int& m) {
  auto fail = [&]() {
    throw Error("non-conformable arguments in `%*%`: " + a.str() + " and " + b.str());
  };
  if (a.nd > 2 || b.nd > 2) fail();
  if (a.nd == 2 && b.nd == 2) { n = a.d[0]; k = a.d[1]; m = b.d[1]; if (b.d[0] != k) fail(); return; }
  if (a.nd == 2) {  // matrix %*% vector
    n = a.d[0]; k = a.d[1];
    if (b.n == k) { m = 1; return; }
    if (k == 1) { m = int(b.n); return; }
    fail();
  }
  if (b.nd == 2) {  // vector %*% matrix
    k = b.d[0]; m = b.d[1];
    if (a.n == k) { n = 1; return; }
    if (k == 1) { n = int(a.n); return; }
    fail();
  }
  if (a.n != b.n) {  // vector %*% vector: inner product, or outer when one has length 1
    if (a.n == 1) { n = 1; k = 1; m = int(b.n); return; }
    if (b.n == 1) { n = int(a.n); k = 1; m = 1; return; }
    fail();
  }
  n = 1; k = int(a.n); m = 1;
}

}  // namespace detail

inline int matmul(Tape& t, int a, int b) {
  t.check_index(a); t.check_index(b);
  int n, k, m;
  detail::matmul_dims(t.shape(a), t.shape(b), n, k, m);
  return t.op(&detail::kMatmul, {a, b}, Shape::mat(n, m), 0, 0, n, k, m);
}

// crossprod(x, y) = t(x) %*% y (vectors are columns, as in R).
inline int crossprod(Tape& t, int a, int b) {
  t.check_index(a); t.check_index(b);
  const Shape &sa = t.shape(a), &sb = t.shape(b);
  if (sa.nd > 2 || sb.nd > 2 || sa.rows() != sb.rows())
    throw Error("non-conformable arguments in `crossprod`: " + sa.str() + " and " + sb.str());
  return t.op(&detail::kCrossprod, {a, b}, Shape::mat(sa.cols(), sb.cols()), 0, 0, sa.cols(), sa.rows(), sb.cols());
}

inline int transpose(Tape& t, int a) {
  t.check_index(a);
  const Shape& s = t.shape(a);
  if (s.nd > 2) throw Error("t() needs a vector or matrix, got " + s.str());
  int r = s.nd == 2 ? s.d[0] : 1, c = s.nd == 2 ? s.d[1] : int(s.n);  // a vector becomes a row
  if (s.nd < 2) { r = int(s.n); c = 1; }
  return t.op(&detail::kTranspose, {a}, Shape::mat(c, r), 0, 0, r, c);
}

}  // namespace svi
