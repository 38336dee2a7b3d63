// The Wishart distribution over D x D positive-definite matrices: df nu > D - 1 and the lower
// Cholesky factor L of the scale Sigma = L L^T. With respect to the D (D + 1) / 2 entries of
// the lower triangle,
//   log p(X) = (nu - D - 1) / 2 log|X| - tr(Sigma^-1 X) / 2 - nu D / 2 log 2 - nu log|L|
//              - log Gamma_D(nu / 2).
// The density is a function of (X + X^T) / 2, so its gradient in X is symmetric; a value
// that is not symmetric (beyond rounding) or not positive definite has density 0.
// A value is one D x D matrix or an (M, D, D) array of M of them (entry (m, i, j) at
// m + M (i + D j), as R stores it), giving M log-densities.
#pragma once
#include "../eigen.hpp"
#include <cmath>
#include <string>
#include "common.hpp"
#include "density.hpp"
#include "multivariate.hpp"

namespace svi {
namespace dist {

// D from scale_tril (square), checking the value's shape against it: returns M.
inline int wishart_dim(const Tape& t, int L, const char* what) {
  const Shape& ls = t.shape(L);
  if (ls.nd != 2 || ls.d[0] != ls.d[1])
    throw Error(std::string(what) + ": `scale_tril` must be a square matrix, got " + ls.str());
  return ls.d[0];
}
inline Eigen::Index wishart_count(const Shape& x, int D, const char* what) {
  if (x.nd == 2 && x.d[0] == D && x.d[1] == D) return 1;
  if (x.nd == 3 && x.d[1] == D && x.d[2] == D) return x.d[0];
  throw Error(std::string(what) + ": the value must be a " + std::to_string(D) + " x " +
              std::to_string(D) + " matrix (or an array of n such matrices, n x " +
              std::to_string(D) + " x " + std::to_string(D) + "), got " + x.str());
}
inline double wishart_df(const Tape& t, int df, int D) {
  const double nu = t.val(df)[0];
  if (!(nu > D - 1) || !std::isfinite(nu))
    bad_param("dist_wishart()", "df", ("must be finite and greater than the dimension minus 1 (" +
                                       std::to_string(D - 1) + ")").c_str(), nu, 0, 1);
  return nu;
}

// Matrix m of an (M, D, D) array (M = 1: a plain D x D matrix).
inline Eigen::MatrixXd wishart_slice(const double* x, Eigen::Index M, Eigen::Index m, int D) {
  Eigen::MatrixXd out(D, D);
  for (int j = 0; j < D; ++j)
    for (int i = 0; i < D; ++i) out(i, j) = x[m + M * (i + Eigen::Index(D) * j)];
  return out;
}
// The symmetric part of X and its Cholesky factor, or false when X is not symmetric positive
// definite.
inline bool wishart_value(const Eigen::MatrixXd& x, Eigen::MatrixXd& s, Eigen::LLT<Eigen::MatrixXd>& llt) {
  if (!x.allFinite()) return false;
  const double tol = 1e-8 * std::fmax(1.0, x.cwiseAbs().maxCoeff());
  if (((x - x.transpose()).cwiseAbs().array() > tol).any()) return false;
  s = 0.5 * (x + x.transpose());
  llt.compute(s);
  return llt.info() == Eigen::Success && (llt.matrixL().toDenseMatrix().diagonal().array() > 0).all();
}

inline void wishart_lp_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const int D = wishart_dim(t, o.in[2], "log_prob(dist_wishart)");
  const Eigen::Index M = wishart_count(X.shape, D, "log_prob(dist_wishart)");
  const double nu = wishart_df(t, o.in[1], D);
  Eigen::MatrixXd l = lower_of(t.node(o.in[2]), D, "dist_wishart()");
  const double c = -0.5 * nu * D * dens::kLog2 - nu * l.diagonal().array().log().sum() -
                   dens::log_mvgamma(0.5 * nu, D);
  o.own.resize(M);
  Eigen::MatrixXd s;
  Eigen::LLT<Eigen::MatrixXd> llt(D);
  for (Eigen::Index m = 0; m < M; ++m) {
    if (!wishart_value(wishart_slice(X.data(), M, m, D), s, llt)) { o.own[m] = -kInf; continue; }
    Eigen::MatrixXd cx = llt.matrixL();
    const double logdet = 2 * cx.diagonal().array().log().sum();
    const double tr = l.triangularView<Eigen::Lower>().solve(cx).squaredNorm();  // tr(Sigma^-1 X)
    o.own[m] = c + 0.5 * (nu - D - 1) * logdet - 0.5 * tr;
  }
}
inline void wishart_lp_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const Node& Df = t.node(o.in[1]);
  const Node& Ln = t.node(o.in[2]);
  const int D = wishart_dim(t, o.in[2], "log_prob(dist_wishart)");
  const Eigen::Index M = wishart_count(X.shape, D, "log_prob(dist_wishart)");
  const double nu = wishart_df(t, o.in[1], D);
  Eigen::MatrixXd l = lower_of(Ln, D, "dist_wishart()");
  auto lt = l.triangularView<Eigen::Lower>();
  const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(D, D);
  const Eigen::MatrixXd linv = lt.solve(I);
  const Eigen::MatrixXd sinv = linv.transpose() * linv;  // Sigma^-1
  double dmv;
  dens::log_mvgamma(0.5 * nu, D, &dmv);
  const double sumlog = l.diagonal().array().log().sum();
  Vec GX = Vec::Zero(X.shape.n);
  Eigen::MatrixXd GL = Eigen::MatrixXd::Zero(D, D);
  double gdf = 0;
  Eigen::MatrixXd s;
  Eigen::LLT<Eigen::MatrixXd> llt(D);
  for (Eigen::Index m = 0; m < M; ++m) {
    const double g = o.grad[m];
    if (!std::isfinite(o.own[m]) || g == 0) continue;
    wishart_value(wishart_slice(X.data(), M, m, D), s, llt);
    const Eigen::MatrixXd xinv = llt.solve(I);
    // d/dX = (nu - D - 1) / 2 X^-1 - Sigma^-1 / 2 (symmetric)
    const Eigen::MatrixXd gx = g * (0.5 * (nu - D - 1) * xinv - 0.5 * sinv);
    for (int j = 0; j < D; ++j)
      for (int i = 0; i < D; ++i) GX[m + M * (i + Eigen::Index(D) * j)] += gx(i, j);
    // d/dnu = log|X| / 2 - D / 2 log 2 - log|L| - psi_D(nu / 2) / 2
    Eigen::MatrixXd cx = llt.matrixL();
    gdf += g * (cx.diagonal().array().log().sum() - 0.5 * D * dens::kLog2 - sumlog - 0.5 * dmv);
    // d/dL = Sigma^-1 X L^-T - nu diag(1 / L_ii) (lower part)
    GL += g * (sinv * s * linv.transpose());
    GL.diagonal().array() -= g * nu / l.diagonal().array();
  }
  if (X.needs_grad) t.acc(o.in[0], GX);
  if (Df.needs_grad) {
    Vec gd(1);
    gd[0] = gdf;
    t.acc(o.in[1], gd);
  }
  if (Ln.needs_grad) {
    Eigen::MatrixXd GLl = GL.triangularView<Eigen::Lower>();
    t.acc(o.in[2], CMap(GLl.data(), GLl.size()));
  }
}
inline int wishart_log_prob(Tape& t, const int* ins) {
  for (int j = 0; j < 3; ++j) t.check_index(ins[j]);
  static const OpDef d{"log_prob(dist_wishart)", wishart_lp_f, wishart_lp_b};
  const int D = wishart_dim(t, ins[2], "log_prob(dist_wishart)");
  const Eigen::Index M = wishart_count(t.shape(ins[0]), D, "log_prob(dist_wishart)");
  if (t.shape(ins[1]).n != 1) throw Error("`df` of dist_wishart() must be a single number");
  return t.op(&d, {ins[0], ins[1], ins[2]}, Shape::vec(M));
}

// Draws by the Bartlett decomposition: X = (L A)(L A)^T with A lower triangular,
// A_ii = sqrt(chi^2 with nu - i + 1 degrees of freedom) = sqrt(2 Gamma((nu - i + 1) / 2, 1))
// (i = 1..D) and A_ij ~ N(0, 1) below the diagonal. Per draw and row: the normals of the row,
// then its diagonal. Not reparameterized.
inline void wishart_sample_f(Tape& t, Node& o) {
  const int D = wishart_dim(t, o.in[1], "sample(dist_wishart)");
  const double nu = wishart_df(t, o.in[0], D);
  Eigen::MatrixXd l = lower_of(t.node(o.in[1]), D, "dist_wishart()");
  const Eigen::Index reps = o.i0 > 0 ? o.i0 : 1;
  Rng& r = t.random();
  o.own.resize(reps * D * D);
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(D, D);
  for (Eigen::Index k = 0; k < reps; ++k) {
    for (int i = 0; i < D; ++i) {
      for (int j = 0; j < i; ++j) a(i, j) = r.normal();
      a(i, i) = std::sqrt(2 * r.gamma(0.5 * (nu - i)));
    }
    Eigen::MatrixXd la = l * a;
    Eigen::MatrixXd x = la * la.transpose();
    for (int j = 0; j < D; ++j)
      for (int i = 0; i < D; ++i) o.own[k + reps * (i + Eigen::Index(D) * j)] = 0.5 * (x(i, j) + x(j, i));
  }
}
inline int wishart_sample(Tape& t, const int* ins, int reps, bool) {
  t.check_index(ins[0]); t.check_index(ins[1]);
  static const OpDef d{"sample(dist_wishart)", wishart_sample_f, no_grad_b};
  const int D = wishart_dim(t, ins[1], "sample(dist_wishart)");
  if (t.shape(ins[0]).n != 1) throw Error("`df` of dist_wishart() must be a single number");
  int res = t.op(&d, {ins[0], ins[1]}, prepend_dim(Shape::mat(D, D), reps), 0, 0, reps);
  t.node(res).needs_grad = false;
  return res;
}

}  // namespace dist
}  // namespace svi
