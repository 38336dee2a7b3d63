// Distributions whose parameters have an event dimension: categorical (probabilities or logits
// along the last dim), Dirichlet (concentrations along the last dim) and the multivariate
// normal (mean along the last dim, one shared lower-triangular scale). An array whose last dim
// is K is read as M = n / K batch rows of K (row m, entry k at m + M k, as in R).
#pragma once
#include "../eigen.hpp"
#include <cfloat>
#include <cmath>
#include <vector>
#include "../special.hpp"
#include "common.hpp"
#include "density.hpp"
#include "gamma_grad.hpp"

namespace svi {
namespace dist {

// Batch shape of an array whose last dim is the event dim (a plain vector is one event).
inline Shape batch_of(const Shape& s) {
  if (s.nd <= 1) return Shape::vec(1);
  if (s.nd == 2) return Shape::vec(s.d[0]);
  Shape b;
  b.nd = s.nd - 1; b.n = 1;
  for (int i = 0; i < b.nd; ++i) { b.d[i] = s.d[i]; b.n *= s.d[i]; }
  return b;
}
inline int event_size(const Shape& s) { return s.nd == 0 ? int(s.n) : s.d[s.nd - 1]; }

// The broadcast of two batch shapes (length-1 against anything, else equal).
inline Shape batch_broadcast(const Shape& a, const Shape& b, const char* what) {
  return broadcast_shape(a, b, what);
}

using MatMap = Eigen::Map<const Eigen::MatrixXd>;

// ---- categorical ------------------------------------------------------------------------
// value: category numbers 1..K (R's convention), batch-shaped or a scalar.
template <bool Logit>
void cat_lp_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const Node& P = t.node(o.in[1]);
  const int K = event_size(P.shape);
  const Eigen::Index M = P.shape.n / K, n = o.shape.n;
  MatMap p(P.data(), M, K);
  Vec norm(M);  // log of the normalizer per row
  for (Eigen::Index m = 0; m < M; ++m) {
    if (Logit) {
      double mx = -kInf;
      for (int k = 0; k < K; ++k) {
        double v = p(m, k);
        if (!std::isfinite(v))
          bad_param("dist_categorical()", "logit", "must be finite", v, m + M * k, P.shape.n);
        mx = std::fmax(mx, v);
      }
      norm[m] = mx + std::log((p.row(m).array() - mx).exp().sum());
    } else {
      double s = 0;
      for (int k = 0; k < K; ++k) {
        double v = p(m, k);
        if (!(v >= 0) || !std::isfinite(v))
          bad_param("dist_categorical()", "prob", "must be non-negative and finite", v, m + M * k,
                    P.shape.n);
        s += v;
      }
      if (!(s > 0)) throw Error("`prob` of dist_categorical() must have a positive sum in every row");
      norm[m] = std::log(s);
    }
  }
  o.own.resize(n);
  const double* x = X.data();
  for (Eigen::Index i = 0; i < n; ++i) {
    double v = x[X.shape.n == 1 ? 0 : i];
    Eigen::Index m = M == 1 ? 0 : i;
    if (!(v >= 1 && v <= K) || std::floor(v) != v) { o.own[i] = -kInf; continue; }
    int k = int(v) - 1;
    o.own[i] = Logit ? p(m, k) - norm[m] : std::log(p(m, k)) - norm[m];
  }
}
template <bool Logit>
void cat_lp_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const Node& P = t.node(o.in[1]);
  if (!P.needs_grad) return;
  const int K = event_size(P.shape);
  const Eigen::Index M = P.shape.n / K, n = o.shape.n;
  MatMap p(P.data(), M, K);
  Eigen::MatrixXd G = Eigen::MatrixXd::Zero(M, K);
  const double* x = X.data();
  for (Eigen::Index i = 0; i < n; ++i) {
    if (!std::isfinite(o.own[i]) || o.grad[i] == 0) continue;
    Eigen::Index m = M == 1 ? 0 : i;
    int k = int(x[X.shape.n == 1 ? 0 : i]) - 1;
    double g = o.grad[i];
    if (Logit) {
      double mx = p.row(m).maxCoeff();
      Eigen::ArrayXd w = (p.row(m).array() - mx).exp();
      w /= w.sum();
      G.row(m).array() -= g * w.transpose();
      G(m, k) += g;
    } else {
      double s = p.row(m).sum();
      G.row(m).array() -= g / s;
      G(m, k) += g / p(m, k);
    }
  }
  t.acc(o.in[1], CMap(G.data(), G.size()));
}
template <bool Logit>
const OpDef* cat_lp_def() {
  static const OpDef d{"log_prob(dist_categorical)", cat_lp_f<Logit>, cat_lp_b<Logit>};
  return &d;
}
template <bool Logit>
int categorical_log_prob(Tape& t, const int* ins) {
  t.check_index(ins[0]); t.check_index(ins[1]);
  Shape s = batch_broadcast(t.shape(ins[0]), batch_of(t.shape(ins[1])), "log_prob(dist_categorical)");
  return t.op(cat_lp_def<Logit>(), {ins[0], ins[1]}, s);
}

template <bool Logit>
void cat_sample_f(Tape& t, Node& o) {
  const Node& P = t.node(o.in[0]);
  const int K = event_size(P.shape);
  const Eigen::Index M = P.shape.n / K, n = o.shape.n, reps = o.i0 > 0 ? o.i0 : 1;
  MatMap p(P.data(), M, K);
  Rng& r = t.random();
  o.own.resize(n);
  Eigen::ArrayXd w(K);
  Eigen::Index last = -1;
  for (Eigen::Index e = 0; e < n; ++e) {
    Eigen::Index m = M == 1 ? 0 : e / reps;
    if (m != last) {  // normalized probabilities of this row
      if (Logit) {
        double mx = p.row(m).maxCoeff();
        if (!std::isfinite(mx)) throw Error("`logit` of dist_categorical() must be finite");
        w = (p.row(m).array() - mx).exp().transpose();
      } else {
        w = p.row(m).array().transpose();
        if (!(w >= 0).all() || !w.isFinite().all() || !(w.sum() > 0))
          throw Error("`prob` of dist_categorical() must be non-negative with a positive sum");
      }
      w /= w.sum();
      last = m;
    }
    double u = r.uniform(), c = 0;
    int k = 0;
    for (; k < K - 1; ++k) {
      c += w[k];
      if (u < c) break;
    }
    o.own[e] = k + 1;
  }
}
inline void no_grad_b(Tape&, Node&) {}
template <bool Logit>
int categorical_sample(Tape& t, const int* ins, int reps, bool) {
  t.check_index(ins[0]);
  static const OpDef d{"sample(dist_categorical)", cat_sample_f<Logit>, no_grad_b};
  int r = t.op(&d, {ins[0]}, prepend_dim(batch_of(t.shape(ins[0])), reps), 0, 0, reps);
  t.node(r).needs_grad = false;
  return r;
}

// ---- Dirichlet --------------------------------------------------------------------------
// Rows of the value and of alpha pair up; either may be a single row shared by all.
struct RowPair {
  int K;
  Eigen::Index Mx, Ma, M;
};
inline RowPair dir_rows(const Shape& x, const Shape& a, const char* what) {
  RowPair r;
  r.K = event_size(a);
  if (event_size(x) != r.K)
    throw Error(std::string(what) + ": the value's last dim (" + std::to_string(event_size(x)) +
                ") must equal the event size of the distribution (" + std::to_string(r.K) +
                "); a batch of values goes in the rows of a matrix");
  r.Mx = x.n / r.K; r.Ma = a.n / r.K;
  if (r.Mx != r.Ma && r.Mx != 1 && r.Ma != 1)
    throw Error(std::string(what) + ": the value has " + std::to_string(r.Mx) +
                " rows but the parameters have " + std::to_string(r.Ma));
  r.M = std::max(r.Mx, r.Ma);
  return r;
}

inline void dir_lp_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const Node& A = t.node(o.in[1]);
  RowPair rp = dir_rows(X.shape, A.shape, "log_prob(dist_dirichlet)");
  MatMap x(X.data(), rp.Mx, rp.K), a(A.data(), rp.Ma, rp.K);
  for (Eigen::Index i = 0; i < A.shape.n; ++i)
    if (!(A.data()[i] > 0) || !std::isfinite(A.data()[i]))
      bad_param("dist_dirichlet()", "alpha", "must be positive and finite", A.data()[i], i, A.shape.n);
  o.own.resize(rp.M);
  for (Eigen::Index m = 0; m < rp.M; ++m) {
    Eigen::Index mx = rp.Mx == 1 ? 0 : m, ma = rp.Ma == 1 ? 0 : m;
    double s = 0, sa = 0, lp = 0;
    bool ok = true;
    for (int k = 0; k < rp.K; ++k) {
      double v = x(mx, k), al = a(ma, k);
      if (!(v >= 0 && v <= 1)) ok = false;
      s += v; sa += al;
      lp += (al == 1 ? 0.0 : (al - 1) * std::log(v)) - std::lgamma(al);
    }
    if (!ok || std::fabs(s - 1) > 1e-6) { o.own[m] = -kInf; continue; }
    o.own[m] = lp + std::lgamma(sa);
  }
}
inline void dir_lp_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const Node& A = t.node(o.in[1]);
  RowPair rp = dir_rows(X.shape, A.shape, "log_prob(dist_dirichlet)");
  MatMap x(X.data(), rp.Mx, rp.K), a(A.data(), rp.Ma, rp.K);
  Eigen::MatrixXd GX = Eigen::MatrixXd::Zero(rp.Mx, rp.K), GA = Eigen::MatrixXd::Zero(rp.Ma, rp.K);
  for (Eigen::Index m = 0; m < rp.M; ++m) {
    double g = o.grad[m];
    if (!std::isfinite(o.own[m]) || g == 0) continue;
    Eigen::Index mx = rp.Mx == 1 ? 0 : m, ma = rp.Ma == 1 ? 0 : m;
    double psum = special::digamma(a.row(ma).sum());
    for (int k = 0; k < rp.K; ++k) {
      double v = x(mx, k), al = a(ma, k);
      GX(mx, k) += g * (al - 1) / v;
      GA(ma, k) += g * (std::log(v) - special::digamma(al) + psum);
    }
  }
  if (X.needs_grad) t.acc(o.in[0], CMap(GX.data(), GX.size()));
  if (A.needs_grad) t.acc(o.in[1], CMap(GA.data(), GA.size()));
}
inline int dirichlet_log_prob(Tape& t, const int* ins) {
  t.check_index(ins[0]); t.check_index(ins[1]);
  static const OpDef d{"log_prob(dist_dirichlet)", dir_lp_f, dir_lp_b};
  RowPair rp = dir_rows(t.shape(ins[0]), t.shape(ins[1]), "log_prob(dist_dirichlet)");
  Shape s = rp.Mx >= rp.Ma ? batch_of(t.shape(ins[0])) : batch_of(t.shape(ins[1]));
  return t.op(&d, {ins[0], ins[1]}, s);
}

// Draws: x = G / sum(G), G_k ~ Gamma(alpha_k, 1) taken in logs (aux keeps log G), with implicit
// reparameterization gradients. Output rows: reps draws of each alpha row (row b uses alpha
// row b / reps), so the result has a leading dim of reps when reps > 0.
inline void dir_sample_f(Tape& t, Node& o) {
  const Node& A = t.node(o.in[0]);
  const int K = event_size(A.shape);
  const Eigen::Index Ma = A.shape.n / K, n = o.shape.n, Mo = n / K, reps = o.i0 > 0 ? o.i0 : 1;
  MatMap a(A.data(), Ma, K);
  for (Eigen::Index i = 0; i < A.shape.n; ++i)
    if (!(A.data()[i] > 0) || !std::isfinite(A.data()[i]))
      bad_param("dist_dirichlet()", "alpha", "must be positive and finite", A.data()[i], i, A.shape.n);
  Rng& r = t.random();
  o.own.resize(n);
  o.aux.resize(n);
  Eigen::Map<Eigen::MatrixXd> X(o.own.data(), Mo, K), L(o.aux.data(), Mo, K);
  for (Eigen::Index b = 0; b < Mo; ++b) {
    Eigen::Index m = Ma == 1 ? 0 : b / reps;
    double mx = -kInf;
    for (int k = 0; k < K; ++k) { L(b, k) = log_std_gamma(r, a(m, k)); mx = std::fmax(mx, L(b, k)); }
    double s = 0;
    for (int k = 0; k < K; ++k) s += std::exp(L(b, k) - mx);
    for (int k = 0; k < K; ++k) X(b, k) = std::fmax(std::exp(L(b, k) - mx) / s, DBL_MIN);
  }
}
inline void dir_sample_b(Tape& t, Node& o) {
  const Node& A = t.node(o.in[0]);
  const int K = event_size(A.shape);
  const Eigen::Index Ma = A.shape.n / K, n = o.shape.n, Mo = n / K, reps = o.i0 > 0 ? o.i0 : 1;
  MatMap a(A.data(), Ma, K), X(o.own.data(), Mo, K), L(o.aux.data(), Mo, K), G(o.grad.data(), Mo, K);
  Eigen::MatrixXd GA = Eigen::MatrixXd::Zero(Ma, K);
  for (Eigen::Index b = 0; b < Mo; ++b) {
    Eigen::Index m = Ma == 1 ? 0 : b / reps;
    double gx = 0;
    for (int k = 0; k < K; ++k) gx += G(b, k) * X(b, k);
    for (int k = 0; k < K; ++k)
      GA(m, k) += X(b, k) * dlog_std_gamma(a(m, k), L(b, k)) * (G(b, k) - gx);
  }
  t.acc(o.in[0], CMap(GA.data(), GA.size()));
}
inline int dirichlet_sample(Tape& t, const int* ins, int reps, bool reparam) {
  t.check_index(ins[0]);
  static const OpDef d{"sample(dist_dirichlet)", dir_sample_f, dir_sample_b};
  int r = t.op(&d, {ins[0]}, prepend_dim(t.shape(ins[0]), reps), 0, 0, reps);
  t.node(r).i1 = reparam;
  if (!reparam) t.node(r).needs_grad = false;
  return r;
}

// ---- multivariate normal ----------------------------------------------------------------
// ins: value, mean (rows of D), scale_tril (D x D, lower triangle read).
inline int mvn_dim(const Tape& t, int mean, int L, const char* what) {
  const Shape& ls = t.shape(L);
  int D = event_size(t.shape(mean));
  if (ls.nd != 2 || ls.d[0] != ls.d[1])
    throw Error(std::string(what) + ": `scale_tril` must be a square matrix, got " + ls.str());
  if (ls.d[0] != D)
    throw Error(std::string(what) + ": `scale_tril` is " + std::to_string(ls.d[0]) + " x " +
                std::to_string(ls.d[0]) + " but `mean` has " + std::to_string(D) + " coordinates");
  return D;
}
// The lower triangle of a scale_tril parameter of `fn`, checked (positive diagonal, finite).
inline Eigen::MatrixXd lower_of(const Node& L, int D, const char* fn = "dist_mvnormal()") {
  Eigen::MatrixXd l = MatMap(L.data(), D, D).triangularView<Eigen::Lower>();
  for (int i = 0; i < D; ++i)
    if (!(l(i, i) > 0) || !std::isfinite(l(i, i)))
      bad_param(fn, "scale_tril", "must have a positive diagonal", l(i, i),
                i + Eigen::Index(D) * i, L.shape.n);
  if (!l.allFinite()) throw Error(std::string("`scale_tril` of ") + fn + " must be finite");
  return l;
}

// Prec = false: the third input is the lower Cholesky factor L of the covariance; Prec = true
// (dist_mvnormal(precision = )): the lower Cholesky factor P of the precision, covariance
// (P P^T)^-1. w = L^-1 r (or P^T r) is the whitened residual, log p = c - |w|^2 / 2.
template <bool Prec>
Eigen::MatrixXd mvn_whiten(const Eigen::MatrixXd& l, const Eigen::MatrixXd& R) {
  if (Prec) return l.transpose() * R;
  return l.triangularView<Eigen::Lower>().solve(R);
}
template <bool Prec>
double mvn_log_const(const Eigen::MatrixXd& l, int D) {
  const double ld = l.diagonal().array().log().sum();
  return -0.5 * D * dens::kLog2Pi + (Prec ? ld : -ld);
}

template <bool Prec>
void mvn_lp_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const Node& Mu = t.node(o.in[1]);
  const int D = mvn_dim(t, o.in[1], o.in[2], "log_prob(dist_mvnormal)");
  Eigen::MatrixXd l = lower_of(t.node(o.in[2]), D);
  RowPair rp = dir_rows(X.shape, Mu.shape, "log_prob(dist_mvnormal)");
  MatMap x(X.data(), rp.Mx, D), mu(Mu.data(), rp.Ma, D);
  Eigen::MatrixXd R(D, rp.M);  // residuals as columns
  for (Eigen::Index m = 0; m < rp.M; ++m)
    R.col(m) = (x.row(rp.Mx == 1 ? 0 : m) - mu.row(rp.Ma == 1 ? 0 : m)).transpose();
  Eigen::MatrixXd W = mvn_whiten<Prec>(l, R);
  double c = mvn_log_const<Prec>(l, D);
  o.own.resize(rp.M);
  for (Eigen::Index m = 0; m < rp.M; ++m)
    o.own[m] = R.col(m).allFinite() ? c - 0.5 * W.col(m).squaredNorm() : -kInf;
}
template <bool Prec>
void mvn_lp_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const Node& Mu = t.node(o.in[1]);
  const Node& Ln = t.node(o.in[2]);
  const int D = mvn_dim(t, o.in[1], o.in[2], "log_prob(dist_mvnormal)");
  Eigen::MatrixXd l = lower_of(Ln, D);
  RowPair rp = dir_rows(X.shape, Mu.shape, "log_prob(dist_mvnormal)");
  MatMap x(X.data(), rp.Mx, D), mu(Mu.data(), rp.Ma, D);
  Eigen::MatrixXd R(D, rp.M);
  Eigen::VectorXd g(rp.M);
  for (Eigen::Index m = 0; m < rp.M; ++m) {
    bool ok = std::isfinite(o.own[m]);
    g[m] = ok ? o.grad[m] : 0;
    R.col(m) = ok ? Eigen::VectorXd((x.row(rp.Mx == 1 ? 0 : m) - mu.row(rp.Ma == 1 ? 0 : m)).transpose())
                  : Eigen::VectorXd::Zero(D);
  }
  // v = d(|w|^2 / 2)/dr: L^-T w (covariance) or P w (precision); d/dx = -v, d/dmu = v.
  // d/dL = -diag(1/L_ii) + v w^T; d/dP = diag(1/P_ii) - r w^T (lower parts).
  Eigen::MatrixXd W = mvn_whiten<Prec>(l, R);
  Eigen::MatrixXd V = Prec ? Eigen::MatrixXd(l * W)
                           : Eigen::MatrixXd(l.transpose().triangularView<Eigen::Upper>().solve(W));
  Eigen::MatrixXd Vg = V * g.asDiagonal();
  if (X.needs_grad) {
    Eigen::MatrixXd GX = Eigen::MatrixXd::Zero(rp.Mx, D);
    for (Eigen::Index m = 0; m < rp.M; ++m) GX.row(rp.Mx == 1 ? 0 : m) -= Vg.col(m).transpose();
    t.acc(o.in[0], CMap(GX.data(), GX.size()));
  }
  if (Mu.needs_grad) {
    Eigen::MatrixXd GM = Eigen::MatrixXd::Zero(rp.Ma, D);
    for (Eigen::Index m = 0; m < rp.M; ++m) GM.row(rp.Ma == 1 ? 0 : m) += Vg.col(m).transpose();
    t.acc(o.in[1], CMap(GM.data(), GM.size()));
  }
  if (Ln.needs_grad) {
    Eigen::MatrixXd GL;
    if (Prec) {
      GL = -(R * g.asDiagonal()) * W.transpose();
      GL.diagonal().array() += g.sum() / l.diagonal().array();
    } else {
      GL = Vg * W.transpose();
      GL.diagonal().array() -= g.sum() / l.diagonal().array();
    }
    Eigen::MatrixXd GLl = GL.triangularView<Eigen::Lower>();
    t.acc(o.in[2], CMap(GLl.data(), GLl.size()));
  }
}
template <bool Prec>
int mvnormal_log_prob(Tape& t, const int* ins) {
  for (int j = 0; j < 3; ++j) t.check_index(ins[j]);
  static const OpDef d{Prec ? "log_prob(dist_mvnormal, precision)" : "log_prob(dist_mvnormal)",
                       mvn_lp_f<Prec>, mvn_lp_b<Prec>};
  mvn_dim(t, ins[1], ins[2], "log_prob(dist_mvnormal)");
  RowPair rp = dir_rows(t.shape(ins[0]), t.shape(ins[1]), "log_prob(dist_mvnormal)");
  Shape s = rp.Mx >= rp.Ma ? batch_of(t.shape(ins[0])) : batch_of(t.shape(ins[1]));
  return t.op(&d, {ins[0], ins[1], ins[2]}, s);
}

// z = mean + L e (covariance) or mean + P^-T e (precision), e ~ N(0, I); aux keeps e (row-wise
// like the output).
template <bool Prec>
Eigen::MatrixXd mvn_colour(const Eigen::MatrixXd& l, const Eigen::MatrixXd& E) {  // rows e_b^T -> rows (z_b - mean)^T
  if (Prec) return l.triangularView<Eigen::Lower>().transpose().solve(E.transpose()).transpose();
  return E * l.transpose();
}
template <bool Prec>
void mvn_sample_f(Tape& t, Node& o) {
  const Node& Mu = t.node(o.in[0]);
  const int D = mvn_dim(t, o.in[0], o.in[1], "sample(dist_mvnormal)");
  Eigen::MatrixXd l = lower_of(t.node(o.in[1]), D);
  const Eigen::Index Ma = Mu.shape.n / D, n = o.shape.n, Mo = n / D, reps = o.i0 > 0 ? o.i0 : 1;
  MatMap mu(Mu.data(), Ma, D);
  for (Eigen::Index i = 0; i < Mu.shape.n; ++i)
    if (!std::isfinite(Mu.data()[i]))
      bad_param("dist_mvnormal()", "mean", "must be finite", Mu.data()[i], i, Mu.shape.n);
  Rng& r = t.random();
  o.own.resize(n);
  o.aux.resize(n);
  Eigen::Map<Eigen::MatrixXd> Z(o.own.data(), Mo, D), E(o.aux.data(), Mo, D);
  for (Eigen::Index b = 0; b < Mo; ++b)
    for (int k = 0; k < D; ++k) E(b, k) = r.normal();
  Z = mvn_colour<Prec>(l, E);
  for (Eigen::Index b = 0; b < Mo; ++b) Z.row(b) += mu.row(Ma == 1 ? 0 : b / reps);
}
template <bool Prec>
void mvn_sample_b(Tape& t, Node& o) {
  const Node& Mu = t.node(o.in[0]);
  const int D = event_size(Mu.shape);
  const Eigen::Index Ma = Mu.shape.n / D, n = o.shape.n, Mo = n / D, reps = o.i0 > 0 ? o.i0 : 1;
  MatMap E(o.aux.data(), Mo, D), G(o.grad.data(), Mo, D);
  if (Mu.needs_grad) {
    Eigen::MatrixXd GM = Eigen::MatrixXd::Zero(Ma, D);
    for (Eigen::Index b = 0; b < Mo; ++b) GM.row(Ma == 1 ? 0 : b / reps) += G.row(b);
    t.acc(o.in[0], CMap(GM.data(), GM.size()));
  }
  if (t.node(o.in[1]).needs_grad) {
    Eigen::MatrixXd GL;
    if (Prec) {  // z_b = P^-T e_b: dP = -sum_b z_b v_b^T with v_b = P^-1 g_b
      Eigen::MatrixXd l = MatMap(t.node(o.in[1]).data(), D, D).triangularView<Eigen::Lower>();
      Eigen::MatrixXd Zc = mvn_colour<true>(l, E);
      Eigen::MatrixXd V = l.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd(G.transpose())).transpose();
      GL = -Zc.transpose() * V;
    } else {  // z_b = L e_b: dL = sum_b g_b e_b^T
      GL = G.transpose() * E;
    }
    Eigen::MatrixXd GLl = GL.triangularView<Eigen::Lower>();
    t.acc(o.in[1], CMap(GLl.data(), GLl.size()));
  }
}
template <bool Prec>
int mvnormal_sample(Tape& t, const int* ins, int reps, bool reparam) {
  t.check_index(ins[0]); t.check_index(ins[1]);
  static const OpDef d{Prec ? "sample(dist_mvnormal, precision)" : "sample(dist_mvnormal)",
                       mvn_sample_f<Prec>, mvn_sample_b<Prec>};
  mvn_dim(t, ins[0], ins[1], "sample(dist_mvnormal)");
  Shape s = t.shape(ins[0]);
  if (s.nd == 0 && s.n == 1) s = Shape::vec(1);
  int r = t.op(&d, {ins[0], ins[1]}, prepend_dim(s, reps), 0, 0, reps);
  t.node(r).i1 = reparam;
  if (!reparam) t.node(r).needs_grad = false;
  return r;
}

// ---- Cholesky factor (for dist_mvnormal(cov = ) on the tape) -----------------------------
// L = chol((A + A^T) / 2), lower. Backward (Murray 2016): S = L^-T Phi(L^T Lbar) L^-1 with
// Phi = lower triangle with halved diagonal; dA = (S + S^T) / 2.
inline void chol_f(Tape& t, Node& o) {
  const Node& A = t.node(o.in[0]);
  const int D = A.shape.d[0];
  MatMap a(A.data(), D, D);
  Eigen::MatrixXd s = 0.5 * (a + a.transpose());
  Eigen::LLT<Eigen::MatrixXd> llt(s);
  if (llt.info() != Eigen::Success || !s.allFinite())
    throw Error(std::string("`") + (o.i0 == 1 ? "precision" : "cov") +
                "` of dist_mvnormal() must be symmetric positive definite");
  Eigen::MatrixXd l = llt.matrixL();
  o.own = Eigen::Map<const Vec>(l.data(), l.size());
}
inline void chol_b(Tape& t, Node& o) {
  const int D = o.shape.d[0];
  Eigen::MatrixXd l = MatMap(o.own.data(), D, D);
  MatMap lb(o.grad.data(), D, D);
  Eigen::MatrixXd P = l.transpose() * Eigen::MatrixXd(lb.triangularView<Eigen::Lower>());
  Eigen::MatrixXd phi = P.triangularView<Eigen::Lower>();
  phi.diagonal() *= 0.5;
  auto lt = l.triangularView<Eigen::Lower>();
  Eigen::MatrixXd S = lt.transpose().solve(phi);                  // L^-T phi
  S = Eigen::MatrixXd(lt.transpose().solve(Eigen::MatrixXd(S.transpose()))).transpose();  // .. L^-1
  Eigen::MatrixXd G = 0.5 * (S + S.transpose());
  t.acc(o.in[0], CMap(G.data(), G.size()));
}
// which: 0 for `cov`, 1 for `precision` (the argument its errors name).
inline int cholesky(Tape& t, int a, int which = 0) {
  t.check_index(a);
  const Shape& s = t.shape(a);
  if (s.nd != 2 || s.d[0] != s.d[1])
    throw Error(std::string("`") + (which == 1 ? "precision" : "cov") +
                "` of dist_mvnormal() must be a square matrix, got " + s.str());
  static const OpDef d{"chol", chol_f, chol_b};
  return t.op(&d, {a}, s, 0, 0, which);
}


// ---- LKJ distribution over correlation Cholesky factors -----------------------------------
// ins: value L (D x D), dim (a number), concentration eta. Density on the strictly lower
// entries: prod_{k=2..D} L_kk^(D - k + 2 eta - 2) / Z, with
// log Z = (m/2) log(pi) + log Gamma_m(eta + m/2 - 1/2) - m lgamma(eta + m/2), m = D - 1
// (log Gamma_m the multivariate log-gamma). For D = 2 that is the Beta(eta, eta) density of the
// correlation on (-1, 1). A value that is not a correlation Cholesky factor has density 0.
inline double lkj_log_norm(double eta, int D, double* deta) {
  const int m = D - 1;
  const double a = eta + 0.5 * m;
  double dg;
  double lz = 0.5 * m * dens::kLogPi + dens::log_mvgamma(a - 0.5, m, &dg) - m * std::lgamma(a);
  if (deta) *deta = dg - m * special::digamma(a);
  return lz;
}
inline bool is_corr_cholesky(const MatMap& l, int D) {
  for (int i = 0; i < D; ++i) {
    if (!(l(i, i) > 0)) return false;
    double ss = 0;
    for (int j = 0; j < D; ++j) {
      if (j > i && l(i, j) != 0) return false;
      if (j <= i) ss += l(i, j) * l(i, j);
    }
    if (std::fabs(ss - 1) > 1e-8) return false;
  }
  return true;
}
inline int lkj_dim(const Tape& t, int L, const char* what) {
  const Shape& s = t.shape(L);
  if (s.nd != 2 || s.d[0] != s.d[1]) throw Error(std::string(what) + ": the value must be a square matrix, got " + s.str());
  return s.d[0];
}
inline void lkj_lp_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const int D = lkj_dim(t, o.in[0], "log_prob(dist_lkj_cholesky)");
  const double eta = t.val(o.in[2])[0];
  if (!(eta > 0) || !std::isfinite(eta)) bad_param("dist_lkj_cholesky()", "concentration", "must be positive", eta, 0, 1);
  MatMap l(X.data(), D, D);
  o.own.resize(1);
  if (!is_corr_cholesky(l, D)) { o.own[0] = -kInf; return; }
  double s = 0;
  for (int i = 1; i < D; ++i) s += (D - i - 1 + 2 * (eta - 1)) * std::log(l(i, i));
  o.own[0] = s - lkj_log_norm(eta, D, nullptr);
}
inline void lkj_lp_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const int D = X.shape.d[0];
  const double eta = t.val(o.in[2])[0], g = o.grad[0];
  MatMap l(X.data(), D, D);
  if (!std::isfinite(o.own[0])) return;
  Vec gl = Vec::Zero(D * D);
  double geta = 0;
  for (int i = 1; i < D; ++i) {
    gl[i + D * i] = g * (D - i - 1 + 2 * (eta - 1)) / l(i, i);
    geta += g * 2 * std::log(l(i, i));
  }
  double dz;
  lkj_log_norm(eta, D, &dz);
  geta -= g * dz;
  t.acc(o.in[0], gl);
  Vec ge(1);
  ge[0] = geta;
  t.acc(o.in[2], ge);
}
inline int lkj_log_prob(Tape& t, const int* ins) {
  t.check_index(ins[0]); t.check_index(ins[1]); t.check_index(ins[2]);
  static const OpDef d{"log_prob(dist_lkj_cholesky)", lkj_lp_f, lkj_lp_b};
  const int D = lkj_dim(t, ins[0], "log_prob(dist_lkj_cholesky)");
  if (t.val(ins[1])[0] != D)
    throw Error("log_prob(dist_lkj_cholesky): the value must be a " + std::to_string(int(t.val(ins[1])[0])) +
                " x " + std::to_string(int(t.val(ins[1])[0])) + " matrix");
  if (t.shape(ins[2]).n != 1) throw Error("`concentration` of dist_lkj_cholesky() must be a single number");
  return t.op(&d, {ins[0], ins[1], ins[2]}, Shape::vec(1));
}

// Draws by partial correlations (the C-vine construction of Lewandowski, Kurowicka and Joe):
// the entry of row i, column j < i is a partial correlation 2 Beta(b_j, b_j) - 1 with
// b_j = eta + (D - 2 - j) / 2, then each row is filled by the signed stick-breaking that
// gives it unit norm (as the corr_cholesky bijection does with tanh of its inputs).
inline void lkj_sample_f(Tape& t, Node& o) {
  const int D = int(t.val(o.in[0])[0]);
  const double eta = t.val(o.in[1])[0];
  if (!(eta > 0) || !std::isfinite(eta)) bad_param("dist_lkj_cholesky()", "concentration", "must be positive", eta, 0, 1);
  const Eigen::Index reps = o.i0 > 0 ? o.i0 : 1;
  Rng& r = t.random();
  o.own.setZero(reps * D * D);
  for (Eigen::Index k = 0; k < reps; ++k) {
    for (int i = 0; i < D; ++i) {
      double rem = 1;
      for (int j = 0; j < i; ++j) {
        const double b = eta + 0.5 * (D - 2 - j);
        const double z = 2 * special::sigmoid(log_std_gamma(r, b) - log_std_gamma(r, b)) - 1;
        const double v = z * std::sqrt(rem);
        o.own[k + reps * (i + D * j)] = v;
        rem -= v * v;
      }
      o.own[k + reps * (i + D * i)] = std::sqrt(std::fmax(rem, 0.0));
    }
  }
}
inline int lkj_sample(Tape& t, const int* ins, int reps, bool) {
  t.check_index(ins[0]); t.check_index(ins[1]);
  static const OpDef d{"sample(dist_lkj_cholesky)", lkj_sample_f, no_grad_b};
  const double Dd = t.val(ins[0])[0];
  if (!(Dd >= 2) || Dd != std::floor(Dd)) throw Error("`dim` of dist_lkj_cholesky() must be a whole number >= 2");
  const int D = int(Dd);
  int res = t.op(&d, {ins[0], ins[1]}, prepend_dim(Shape::mat(D, D), reps), 0, 0, reps);
  t.node(res).needs_grad = false;
  return res;
}

}  // namespace dist
}  // namespace svi
