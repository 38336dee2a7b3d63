// Closed-form KL divergences KL(p || q) for the pairs mean-field inference needs, as fused
// tape ops with gradients for every parameter of both distributions.
#pragma once
#include <cmath>
#include <string>
#include "dist/common.hpp"
#include "dist/density.hpp"
#include "dist/multivariate.hpp"
#include "special.hpp"

namespace svi {
namespace kl {

using special::digamma;
using special::trigamma;
using dist::positive;
using dist::finite;

// Inputs: p's parameters then q's. `scale_args` marks which inputs are scales/rates/shapes
// (positive) rather than locations (finite).
struct NormalNormal {  // m1, s1, m2, s2 (also the lognormal pair, on meanlog/sdlog)
  static constexpr int K = 4;
  static constexpr const char* name = "kl_divergence(normal, normal)";
  static constexpr const char* dist = "kl_divergence()";
  static const char* arg(int j) {
    static const char* a[] = {"mean of p", "sd of p", "mean of q", "sd of q"};
    return a[j];
  }
  static const char* check(const double* a, int& j) {
    for (j = 0; j < 4; ++j)
      if (const char* r = (j % 2 ? positive(a[j]) : finite(a[j]))) return r;
    return nullptr;
  }
  static double f(const double* a) {
    double d = a[0] - a[2], r = a[1] / a[3];
    return -std::log(r) + 0.5 * (r * r + d * d / (a[3] * a[3])) - 0.5;
  }
  static void df(const double* a, double* g) {
    double d = a[0] - a[2], s1 = a[1], s2 = a[3], v2 = s2 * s2;
    g[0] = d / v2;
    g[1] = -1 / s1 + s1 / v2;
    g[2] = -d / v2;
    g[3] = 1 / s2 - (s1 * s1 + d * d) / (v2 * s2);
  }
};

struct GammaGamma {  // shape1, rate1, shape2, rate2
  static constexpr int K = 4;
  static constexpr const char* name = "kl_divergence(gamma, gamma)";
  static constexpr const char* dist = "kl_divergence()";
  static const char* arg(int j) {
    static const char* a[] = {"shape of p", "rate of p", "shape of q", "rate of q"};
    return a[j];
  }
  static const char* check(const double* a, int& j) {
    for (j = 0; j < 4; ++j) if (const char* r = positive(a[j])) return r;
    return nullptr;
  }
  static double f(const double* x) {
    double a1 = x[0], b1 = x[1], a2 = x[2], b2 = x[3];
    return (a1 - a2) * digamma(a1) - std::lgamma(a1) + std::lgamma(a2) +
           a2 * (std::log(b1) - std::log(b2)) + a1 * (b2 - b1) / b1;
  }
  static void df(const double* x, double* g) {
    double a1 = x[0], b1 = x[1], a2 = x[2], b2 = x[3];
    g[0] = (a1 - a2) * trigamma(a1) + b2 / b1 - 1;
    g[1] = a2 / b1 - a1 * b2 / (b1 * b1);
    g[2] = digamma(a2) - digamma(a1) + std::log(b1) - std::log(b2);
    g[3] = a1 / b1 - a2 / b2;
  }
};

struct BetaBeta {  // a1, b1, a2, b2
  static constexpr int K = 4;
  static constexpr const char* name = "kl_divergence(beta, beta)";
  static constexpr const char* dist = "kl_divergence()";
  static const char* arg(int j) {
    static const char* a[] = {"shape1 of p", "shape2 of p", "shape1 of q", "shape2 of q"};
    return a[j];
  }
  static const char* check(const double* a, int& j) {
    for (j = 0; j < 4; ++j) if (const char* r = positive(a[j])) return r;
    return nullptr;
  }
  static double f(const double* x) {
    double a1 = x[0], b1 = x[1], a2 = x[2], b2 = x[3];
    return dens::lbeta(a2, b2) - dens::lbeta(a1, b1) + (a1 - a2) * digamma(a1) +
           (b1 - b2) * digamma(b1) + (a2 - a1 + b2 - b1) * digamma(a1 + b1);
  }
  static void df(const double* x, double* g) {
    double a1 = x[0], b1 = x[1], a2 = x[2], b2 = x[3];
    double t1 = trigamma(a1 + b1), c = a2 - a1 + b2 - b1;
    g[0] = (a1 - a2) * trigamma(a1) + c * t1;
    g[1] = (b1 - b2) * trigamma(b1) + c * t1;
    g[2] = digamma(a2) - digamma(a2 + b2) - digamma(a1) + digamma(a1 + b1);
    g[3] = digamma(b2) - digamma(a2 + b2) - digamma(b1) + digamma(a1 + b1);
  }
};

struct ExpExp {  // rate1, rate2
  static constexpr int K = 2;
  static constexpr const char* name = "kl_divergence(exponential, exponential)";
  static constexpr const char* dist = "kl_divergence()";
  static const char* arg(int j) { return j == 0 ? "rate of p" : "rate of q"; }
  static const char* check(const double* a, int& j) {
    for (j = 0; j < 2; ++j) if (const char* r = positive(a[j])) return r;
    return nullptr;
  }
  static double f(const double* x) {
    double r = x[1] / x[0];
    return -std::log(r) + r - 1;
  }
  static void df(const double* x, double* g) {
    g[0] = 1 / x[0] - x[1] / (x[0] * x[0]);
    g[1] = 1 / x[0] - 1 / x[1];
  }
};

// ---- Dirichlet || Dirichlet, per row ----------------------------------------------------
inline void dir_f(Tape& t, Node& o) {
  const Node& A = t.node(o.in[0]);
  const Node& B = t.node(o.in[1]);
  dist::RowPair rp = dist::dir_rows(A.shape, B.shape, "kl_divergence(dirichlet, dirichlet)");
  dist::MatMap a(A.data(), rp.Mx, rp.K), b(B.data(), rp.Ma, rp.K);
  for (const Node* n : {&A, &B})
    for (Eigen::Index i = 0; i < n->shape.n; ++i)
      if (!(n->data()[i] > 0) || !std::isfinite(n->data()[i]))
        dist::bad_param("dist_dirichlet()", "alpha", "must be positive and finite", n->data()[i], i,
                        n->shape.n);
  o.own.resize(rp.M);
  for (Eigen::Index m = 0; m < rp.M; ++m) {
    auto ar = a.row(rp.Mx == 1 ? 0 : m), br = b.row(rp.Ma == 1 ? 0 : m);
    double A0 = ar.sum(), B0 = br.sum(), s = std::lgamma(A0) - std::lgamma(B0), pa = digamma(A0);
    for (int k = 0; k < rp.K; ++k)
      s += std::lgamma(br[k]) - std::lgamma(ar[k]) + (ar[k] - br[k]) * (digamma(ar[k]) - pa);
    o.own[m] = s;
  }
}
inline void dir_b(Tape& t, Node& o) {
  const Node& A = t.node(o.in[0]);
  const Node& B = t.node(o.in[1]);
  dist::RowPair rp = dist::dir_rows(A.shape, B.shape, "kl_divergence(dirichlet, dirichlet)");
  dist::MatMap a(A.data(), rp.Mx, rp.K), b(B.data(), rp.Ma, rp.K);
  Eigen::MatrixXd GA = Eigen::MatrixXd::Zero(rp.Mx, rp.K), GB = Eigen::MatrixXd::Zero(rp.Ma, rp.K);
  for (Eigen::Index m = 0; m < rp.M; ++m) {
    Eigen::Index ma = rp.Mx == 1 ? 0 : m, mb = rp.Ma == 1 ? 0 : m;
    auto ar = a.row(ma), br = b.row(mb);
    double A0 = ar.sum(), B0 = br.sum(), g = o.grad[m];
    double ta = trigamma(A0), pa = digamma(A0), pb = digamma(B0);
    for (int k = 0; k < rp.K; ++k) {
      GA(ma, k) += g * ((ar[k] - br[k]) * trigamma(ar[k]) - (A0 - B0) * ta);
      GB(mb, k) += g * (digamma(br[k]) - pb - digamma(ar[k]) + pa);
    }
  }
  t.acc(o.in[0], CMap(GA.data(), GA.size()));
  t.acc(o.in[1], CMap(GB.data(), GB.size()));
}
inline int dirichlet_dirichlet(Tape& t, int a, int b) {
  t.check_index(a); t.check_index(b);
  static const OpDef d{"kl_divergence(dirichlet, dirichlet)", dir_f, dir_b};
  dist::RowPair rp = dist::dir_rows(t.shape(a), t.shape(b), "kl_divergence(dirichlet, dirichlet)");
  Shape s = rp.Mx >= rp.Ma ? dist::batch_of(t.shape(a)) : dist::batch_of(t.shape(b));
  return t.op(&d, {a, b}, s);
}

// ---- MVNormal || MVNormal: mean rows with one scale_tril each ------------------------------
// KL = sum log diag L2 - sum log diag L1 + (|L2^-1 L1|_F^2 + |L2^-1 (m1 - m2)|^2 - D) / 2
inline void mvn_f(Tape& t, Node& o) {
  const Node& M1 = t.node(o.in[0]);
  const Node& M2 = t.node(o.in[2]);
  const int D = dist::mvn_dim(t, o.in[0], o.in[1], "kl_divergence(mvnormal, mvnormal)");
  dist::mvn_dim(t, o.in[2], o.in[3], "kl_divergence(mvnormal, mvnormal)");
  Eigen::MatrixXd l1 = dist::lower_of(t.node(o.in[1]), D), l2 = dist::lower_of(t.node(o.in[3]), D);
  dist::RowPair rp = dist::dir_rows(M1.shape, M2.shape, "kl_divergence(mvnormal, mvnormal)");
  dist::MatMap m1(M1.data(), rp.Mx, D), m2(M2.data(), rp.Ma, D);
  auto L2 = l2.triangularView<Eigen::Lower>();
  Eigen::MatrixXd Mm = L2.solve(l1);
  double c = l2.diagonal().array().log().sum() - l1.diagonal().array().log().sum() +
             0.5 * (Mm.squaredNorm() - D);
  o.own.resize(rp.M);
  for (Eigen::Index m = 0; m < rp.M; ++m) {
    Eigen::VectorXd d = (m1.row(rp.Mx == 1 ? 0 : m) - m2.row(rp.Ma == 1 ? 0 : m)).transpose();
    o.own[m] = c + 0.5 * L2.solve(d).squaredNorm();
  }
}
inline void mvn_b(Tape& t, Node& o) {
  const Node& M1 = t.node(o.in[0]);
  const Node& M2 = t.node(o.in[2]);
  const int D = dist::event_size(M1.shape);
  Eigen::MatrixXd l1 = dist::lower_of(t.node(o.in[1]), D), l2 = dist::lower_of(t.node(o.in[3]), D);
  dist::RowPair rp = dist::dir_rows(M1.shape, M2.shape, "kl_divergence(mvnormal, mvnormal)");
  dist::MatMap m1(M1.data(), rp.Mx, D), m2(M2.data(), rp.Ma, D);
  auto L2 = l2.triangularView<Eigen::Lower>();
  auto L2t = l2.transpose().triangularView<Eigen::Upper>();
  Eigen::MatrixXd Mm = L2.solve(l1);
  double gsum = o.grad.sum();
  Eigen::MatrixXd G1 = Eigen::MatrixXd::Zero(rp.Mx, D), G2 = Eigen::MatrixXd::Zero(rp.Ma, D);
  Eigen::MatrixXd WW = Eigen::MatrixXd::Zero(D, D);  // sum_m g_m w_m w_m^T
  for (Eigen::Index m = 0; m < rp.M; ++m) {
    Eigen::VectorXd d = (m1.row(rp.Mx == 1 ? 0 : m) - m2.row(rp.Ma == 1 ? 0 : m)).transpose();
    Eigen::VectorXd w = L2.solve(d);
    Eigen::VectorXd v = L2t.solve(w);
    double g = o.grad[m];
    G1.row(rp.Mx == 1 ? 0 : m) += g * v.transpose();
    G2.row(rp.Ma == 1 ? 0 : m) -= g * v.transpose();
    WW += g * w * w.transpose();
  }
  // d/dL1 = L2^-T M - diag(1/L1); d/dL2 = -L2^-T (M M^T sum g + sum g w w^T) + diag(1/L2)
  Eigen::MatrixXd GL1 = gsum * Eigen::MatrixXd(L2t.solve(Mm));
  GL1.diagonal().array() -= gsum / l1.diagonal().array();
  Eigen::MatrixXd GL2 = -Eigen::MatrixXd(L2t.solve(gsum * Mm * Mm.transpose() + WW));
  GL2.diagonal().array() += gsum / l2.diagonal().array();
  Eigen::MatrixXd GL1l = GL1.triangularView<Eigen::Lower>(), GL2l = GL2.triangularView<Eigen::Lower>();
  t.acc(o.in[0], CMap(G1.data(), G1.size()));
  t.acc(o.in[1], CMap(GL1l.data(), GL1l.size()));
  t.acc(o.in[2], CMap(G2.data(), G2.size()));
  t.acc(o.in[3], CMap(GL2l.data(), GL2l.size()));
}
inline int mvnormal_mvnormal(Tape& t, int m1, int l1, int m2, int l2) {
  for (int i : {m1, l1, m2, l2}) t.check_index(i);
  static const OpDef d{"kl_divergence(mvnormal, mvnormal)", mvn_f, mvn_b};
  dist::mvn_dim(t, m1, l1, "kl_divergence(mvnormal, mvnormal)");
  dist::mvn_dim(t, m2, l2, "kl_divergence(mvnormal, mvnormal)");
  dist::RowPair rp = dist::dir_rows(t.shape(m1), t.shape(m2), "kl_divergence(mvnormal, mvnormal)");
  Shape s = rp.Mx >= rp.Ma ? dist::batch_of(t.shape(m1)) : dist::batch_of(t.shape(m2));
  return t.op(&d, {m1, l1, m2, l2}, s);
}

// By pair name ("normal", "lognormal", "gamma", "beta", "exponential", "dirichlet", "mvnormal"),
// with ins = p's parameters then q's.
inline int divergence(Tape& t, const std::string& pair, const int* ins) {
  if (pair == "normal" || pair == "lognormal") return dist::Elementwise<NormalNormal>::make(t, ins);
  if (pair == "gamma") return dist::Elementwise<GammaGamma>::make(t, ins);
  if (pair == "beta") return dist::Elementwise<BetaBeta>::make(t, ins);
  if (pair == "exponential") return dist::Elementwise<ExpExp>::make(t, ins);
  if (pair == "dirichlet") return dirichlet_dirichlet(t, ins[0], ins[1]);
  if (pair == "mvnormal") return mvnormal_mvnormal(t, ins[0], ins[1], ins[2], ins[3]);
  throw Error("internal: no closed-form KL for '" + pair + "'");
}

}  // namespace kl
}  // namespace svi
