// Bijections between unconstrained arrays and constrained ones, as tape ops with gradients:
// forward (unconstrained x -> constrained y), inverse (y -> x) and the log |det| of the
// forward Jacobian. One op per call, whatever the array's length.
//
// Elementwise kinds act on every entry. Row kinds (softmax, stick-breaking, ordered) act on
// each row of the array seen as M x K with K its last dim (a plain vector is one row).
// Matrix kinds (lower_cholesky, positive_definite, corr_cholesky) act on one square matrix.
#pragma once
#include "eigen.hpp"
#include <cfloat>
#include <cmath>
#include <string>
#include "dist/multivariate.hpp"
#include "special.hpp"
#include "tape.hpp"
#include "transform_kind.hpp"

namespace svi {
namespace transform {

inline bool elementwise(int k) { return k <= Interval || k == SoftplusPositive; }

using special::sigmoid;
using special::softplus;
using MatMap = Eigen::Map<const Eigen::MatrixXd>;

// ---- elementwise: value and derivative of forward, inverse and log-det ----------------
struct Elem {
  int kind; double a, b;
  double fwd(double x) const {
    switch (kind) {
      case Positive: return std::exp(x);
      case GreaterThan: return a + std::exp(x);
      case LessThan: return a - std::exp(x);
      case UnitInterval: return std::fmin(std::fmax(sigmoid(x), DBL_MIN), 1 - DBL_EPSILON);
      case Interval: return a + (b - a) * sigmoid(x);
      case SoftplusPositive: return softplus(x);
      default: return x;
    }
  }
  double dfwd(double x) const {
    switch (kind) {
      case Positive: case GreaterThan: return std::exp(x);
      case LessThan: return -std::exp(x);
      case UnitInterval: return sigmoid(x) * sigmoid(-x);
      case Interval: return (b - a) * sigmoid(x) * sigmoid(-x);
      case SoftplusPositive: return sigmoid(x);
      default: return 1;
    }
  }
  double inv(double y) const {
    switch (kind) {
      case Positive: return std::log(y);
      case GreaterThan: return std::log(y - a);
      case LessThan: return std::log(a - y);
      case UnitInterval: {
        double c = std::fmin(std::fmax(y, DBL_MIN), 1 - DBL_EPSILON);
        return std::log(c) - std::log1p(-c);
      }
      case Interval: {
        double u = (y - a) / (b - a);
        return std::log(u) - std::log1p(-u);
      }
      case SoftplusPositive:  // log(expm1(y)), kept finite for large y
        return y > 30 ? y + std::log1p(-std::exp(-y)) : std::log(std::expm1(y));
      default: return y;
    }
  }
  double dinv(double y) const {
    switch (kind) {
      case Positive: return 1 / y;
      case GreaterThan: return 1 / (y - a);
      case LessThan: return -1 / (a - y);
      case UnitInterval: return 1 / (y * (1 - y));
      case Interval: return (b - a) / ((y - a) * (b - y));
      case SoftplusPositive: return 1 / -std::expm1(-y);  // d/dy log(expm1(y)) = 1 / (1 - e^-y)
      default: return 1;
    }
  }
  double ldj(double x) const {
    switch (kind) {
      case Positive: case GreaterThan: case LessThan: return x;
      case UnitInterval: return -softplus(-x) - softplus(x);
      case Interval: return std::log(b - a) - softplus(-x) - softplus(x);
      case SoftplusPositive: return -softplus(-x);  // log sigmoid(x)
      default: return 0;
    }
  }
  double dldj(double x) const {
    switch (kind) {
      case Positive: case GreaterThan: case LessThan: return 1;
      case UnitInterval: case Interval: return sigmoid(-x) - sigmoid(x);
      case SoftplusPositive: return sigmoid(-x);
      default: return 0;
    }
  }
};

// i0 = kind, i1 = 0 forward, 1 inverse, 2 log-det; a0, a1 = bounds
inline void elem_f(Tape& t, Node& o) {
  Elem e{o.i0, o.a0, o.a1};
  CMap x = t.val(o.in[0]);
  o.own.resize(x.size());
  for (Eigen::Index i = 0; i < x.size(); ++i)
    o.own[i] = o.i1 == 0 ? e.fwd(x[i]) : o.i1 == 1 ? e.inv(x[i]) : e.ldj(x[i]);
}
inline void elem_b(Tape& t, Node& o) {
  Elem e{o.i0, o.a0, o.a1};
  CMap x = t.val(o.in[0]);
  Vec g(x.size());
  for (Eigen::Index i = 0; i < x.size(); ++i)
    g[i] = o.grad[i] * (o.i1 == 0 ? e.dfwd(x[i]) : o.i1 == 1 ? e.dinv(x[i]) : e.dldj(x[i]));
  t.acc(o.in[0], g);
}
inline const OpDef kElem{"transform", elem_f, elem_b};

// ---- rows: softmax, stick-breaking, ordered ---------------------------------------------
struct Rows {
  Eigen::Index M; int K;
};
inline Rows rows_of(const Shape& s) {
  int K = dist::event_size(s);
  return Rows{K ? s.n / K : 0, K};
}
// the same shape with last dim k
inline Shape with_last(const Shape& s, int k) {
  Shape r = s;
  if (s.nd == 0) return Shape::vec(k);
  r.d[s.nd - 1] = k;
  r.n = (s.n / s.d[s.nd - 1]) * k;
  return r;
}

// i0 = kind, i1 = direction (0 forward, 1 inverse, 2 log-det)
inline void rows_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  Rows r = rows_of(X.shape);
  MatMap x(X.data(), r.M, r.K);
  int Ko = o.i1 == 2 ? 1 : dist::event_size(o.shape);
  o.own.resize(r.M * Ko);
  Eigen::Map<Eigen::MatrixXd> y(o.own.data(), r.M, Ko);
  for (Eigen::Index m = 0; m < r.M; ++m) {
    if (o.i0 == Softmax) {
      if (o.i1 == 0) {
        double mx = x.row(m).maxCoeff();
        Eigen::ArrayXd w = (x.row(m).array() - mx).exp().transpose();
        y.row(m) = (w / w.sum()).matrix().transpose();
      } else {
        y.row(m) = x.row(m).array().log().matrix();
      }
    } else if (o.i0 == StickBreaking) {
      if (o.i1 == 0) {  // K - 1 -> K
        int K = r.K + 1;
        double rem = 1;
        for (int i = 0; i < K - 1; ++i) {
          double z = sigmoid(x(m, i) - std::log(double(K - 1 - i)));
          y(m, i) = z * rem;
          rem *= 1 - z;
        }
        y(m, K - 1) = rem;
      } else if (o.i1 == 1) {  // K -> K - 1
        int K = r.K;
        double rem = 1;
        for (int i = 0; i < K - 1; ++i) {
          double z = x(m, i) / rem;
          y(m, i) = std::log(z) - std::log1p(-z) + std::log(double(K - 1 - i));
          rem -= x(m, i);
        }
      } else {
        int K = r.K + 1;
        double s = 0, lrem = 0;
        for (int i = 0; i < K - 1; ++i) {
          double v = x(m, i) - std::log(double(K - 1 - i));
          s += -softplus(-v) - softplus(v) + lrem;  // log z + log(1 - z) + log(remaining)
          lrem += -softplus(v);
        }
        y(m, 0) = s;
      }
    } else {  // Ordered
      if (o.i1 == 0) {
        double c = x(m, 0);
        y(m, 0) = c;
        for (int k = 1; k < r.K; ++k) y(m, k) = (c += std::exp(x(m, k)));
      } else if (o.i1 == 1) {
        y(m, 0) = x(m, 0);
        for (int k = 1; k < r.K; ++k) y(m, k) = std::log(x(m, k) - x(m, k - 1));
      } else {
        double s = 0;
        for (int k = 1; k < r.K; ++k) s += x(m, k);
        y(m, 0) = s;
      }
    }
  }
}
inline void rows_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  Rows r = rows_of(X.shape);
  MatMap x(X.data(), r.M, r.K);
  int Ko = o.i1 == 2 ? 1 : dist::event_size(o.shape);
  MatMap y(o.own.data(), r.M, Ko), gy(o.grad.data(), r.M, Ko);
  Eigen::MatrixXd gx = Eigen::MatrixXd::Zero(r.M, r.K);
  for (Eigen::Index m = 0; m < r.M; ++m) {
    if (o.i0 == Softmax) {
      if (o.i1 == 0) {
        double s = gy.row(m).dot(y.row(m));
        gx.row(m) = (y.row(m).array() * (gy.row(m).array() - s)).matrix();
      } else {
        gx.row(m) = (gy.row(m).array() / x.row(m).array()).matrix();
      }
    } else if (o.i0 == StickBreaking) {
      if (o.i1 == 0) {
        int K = r.K + 1;
        std::vector<double> z(K - 1), rem(K);
        rem[0] = 1;
        for (int i = 0; i < K - 1; ++i) {
          z[i] = sigmoid(x(m, i) - std::log(double(K - 1 - i)));
          rem[i + 1] = rem[i] * (1 - z[i]);
        }
        double rb = gy(m, K - 1);  // d/d rem_{i+1}
        for (int i = K - 2; i >= 0; --i) {
          double zb = gy(m, i) * rem[i] - rb * rem[i];
          rb = gy(m, i) * z[i] + rb * (1 - z[i]);
          gx(m, i) = zb * z[i] * (1 - z[i]);
        }
      } else if (o.i1 == 1) {
        int K = r.K;
        std::vector<double> z(K - 1), rem(K - 1);
        double rr = 1;
        for (int i = 0; i < K - 1; ++i) { rem[i] = rr; z[i] = x(m, i) / rr; rr -= x(m, i); }
        double suffix = 0;  // sum over later i of gx_i / ((1 - z_i) rem_i)
        for (int i = K - 2; i >= 0; --i) {
          gx(m, i) = gy(m, i) / (z[i] * (1 - z[i]) * rem[i]) + suffix;
          suffix += gy(m, i) / ((1 - z[i]) * rem[i]);
        }
      } else {
        int K = r.K + 1;
        for (int i = 0; i < K - 1; ++i) {
          double z = sigmoid(x(m, i) - std::log(double(K - 1 - i)));
          gx(m, i) = gy(m, 0) * (1 - 2 * z - (K - 2 - i) * z);
        }
      }
    } else {  // Ordered
      if (o.i1 == 0) {
        double s = 0;
        for (int k = r.K - 1; k >= 0; --k) {
          s += gy(m, k);
          gx(m, k) = k == 0 ? s : s * std::exp(x(m, k));
        }
      } else if (o.i1 == 1) {
        gx(m, 0) += gy(m, 0);
        for (int k = 1; k < r.K; ++k) {
          double d = gy(m, k) / (x(m, k) - x(m, k - 1));
          gx(m, k) += d; gx(m, k - 1) -= d;
        }
      } else {
        for (int k = 1; k < r.K; ++k) gx(m, k) = gy(m, 0);
      }
    }
  }
  t.acc(o.in[0], CMap(gx.data(), gx.size()));
}
inline const OpDef kRows{"transform", rows_f, rows_b};

// ---- matrices: lower_cholesky and positive_definite -------------------------------------
inline void mat_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const int D = X.shape.d[0];
  MatMap x(X.data(), D, D);
  Eigen::MatrixXd l = x.triangularView<Eigen::StrictlyLower>();
  if (o.i0 == UnitLowerCholesky) {  // strict lower + I; log-det 0
    if (o.i1 == 2) { o.own.setZero(1); return; }
    for (int i = 0; i < D; ++i) l(i, i) = o.i1 == 0 ? 1.0 : 0.0;
    o.own = Eigen::Map<const Vec>(l.data(), l.size());
    return;
  }
  if (o.i1 == 2) {  // log-det
    double s = 0;
    for (int i = 0; i < D; ++i) s += (o.i0 == LowerCholesky ? 1.0 : double(D - i + 1)) * x(i, i);
    o.own.resize(1);
    o.own[0] = s + (o.i0 == PositiveDefinite ? D * dens::kLog2 : 0.0);
    return;
  }
  if (o.i1 == 1) {  // lower_cholesky inverse only (positive_definite's is composed)
    for (int i = 0; i < D; ++i) l(i, i) = std::log(x(i, i));
  } else {
    for (int i = 0; i < D; ++i) l(i, i) = std::exp(x(i, i));
    if (o.i0 == PositiveDefinite) l = l * l.transpose();
  }
  o.own = Eigen::Map<const Vec>(l.data(), l.size());
}
inline void mat_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const int D = X.shape.d[0];
  MatMap x(X.data(), D, D);
  Eigen::MatrixXd gx = Eigen::MatrixXd::Zero(D, D);
  if (o.i0 == UnitLowerCholesky) {
    if (o.i1 != 2) gx = MatMap(o.grad.data(), D, D).triangularView<Eigen::StrictlyLower>();
  } else if (o.i1 == 2) {
    for (int i = 0; i < D; ++i) gx(i, i) = o.grad[0] * (o.i0 == LowerCholesky ? 1.0 : double(D - i + 1));
  } else if (o.i1 == 1) {
    MatMap gy(o.grad.data(), D, D);
    gx = gy.triangularView<Eigen::StrictlyLower>();
    for (int i = 0; i < D; ++i) gx(i, i) = gy(i, i) / x(i, i);
  } else {
    MatMap gy(o.grad.data(), D, D);
    Eigen::MatrixXd l = x.triangularView<Eigen::StrictlyLower>();
    for (int i = 0; i < D; ++i) l(i, i) = std::exp(x(i, i));
    Eigen::MatrixXd gl = o.i0 == PositiveDefinite ? Eigen::MatrixXd((gy + gy.transpose()) * l)
                                                  : Eigen::MatrixXd(gy);
    gx = gl.triangularView<Eigen::StrictlyLower>();
    for (int i = 0; i < D; ++i) gx(i, i) = gl(i, i) * l(i, i);
  }
  t.acc(o.in[0], CMap(gx.data(), gx.size()));
}
inline const OpDef kMat{"transform", mat_f, mat_b};


// ---- correlation Cholesky factors --------------------------------------------------------
// Forward: the strict lower triangle of x through tanh gives t; row i is filled left to right
// by a signed stick-breaking, L_ij = t_ij sqrt(r_ij) with r_i0 = 1 and r_i,j+1 = r_ij (1 - t_ij^2),
// and L_ii = sqrt(r_ii), so every row has unit norm and a positive diagonal. The Jacobian is
// triangular: log |det| = sum_ij [log(1 - t_ij^2) + log(r_ij) / 2]
//                     = sum_ij c_ij log(1 - t_ij^2), c_ij = 1 + (i - 1 - j) / 2.
// Inverse: t_ij = L_ij / sqrt(1 - sum_{k<j} L_ik^2), x_ij = atanh(t_ij); diagonal and upper 0.
inline double log1m_tanh2(double x) {  // log(1 - tanh(x)^2), stable for large |x|
  const double a = std::fabs(x);
  return 2 * (dens::kLog2 - a - softplus(-2 * a));
}
inline void corr_f(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const int D = X.shape.d[0];
  MatMap x(X.data(), D, D);
  if (o.i1 == 2) {
    double s = 0;
    for (int i = 1; i < D; ++i)
      for (int j = 0; j < i; ++j) s += (1 + 0.5 * (i - 1 - j)) * log1m_tanh2(x(i, j));
    o.own.resize(1);
    o.own[0] = s;
    return;
  }
  Eigen::MatrixXd y = Eigen::MatrixXd::Zero(D, D);
  for (int i = 0; i < D; ++i) {
    double r = 1;
    for (int j = 0; j < i; ++j) {
      if (o.i1 == 0) {
        const double tij = std::tanh(x(i, j));
        y(i, j) = tij * std::sqrt(r);
        r *= 1 - tij * tij;
      } else {
        const double tij = std::fmax(std::fmin(x(i, j) / std::sqrt(r), 1 - DBL_EPSILON), -1 + DBL_EPSILON);
        y(i, j) = std::atanh(tij);
        r -= x(i, j) * x(i, j);
      }
    }
    if (o.i1 == 0) y(i, i) = std::sqrt(r);
  }
  o.own = Eigen::Map<const Vec>(y.data(), y.size());
}
inline void corr_b(Tape& t, Node& o) {
  const Node& X = t.node(o.in[0]);
  const int D = X.shape.d[0];
  MatMap x(X.data(), D, D);
  Eigen::MatrixXd gx = Eigen::MatrixXd::Zero(D, D);
  if (o.i1 == 2) {
    for (int i = 1; i < D; ++i)
      for (int j = 0; j < i; ++j) gx(i, j) = -o.grad[0] * (1 + 0.5 * (i - 1 - j)) * 2 * std::tanh(x(i, j));
    t.acc(o.in[0], CMap(gx.data(), gx.size()));
    return;
  }
  MatMap gy(o.grad.data(), D, D);
  std::vector<double> r(D + 1), tt(D);
  for (int i = 1; i < D; ++i) {
    r[0] = 1;
    for (int j = 0; j < i; ++j) {
      if (o.i1 == 0) {
        tt[j] = std::tanh(x(i, j));
        r[j + 1] = r[j] * (1 - tt[j] * tt[j]);
      } else {
        tt[j] = x(i, j) / std::sqrt(r[j]);
        r[j + 1] = r[j] - x(i, j) * x(i, j);
      }
    }
    if (o.i1 == 0) {
      // reverse sweep: gr = d loss / d r_{j+1}, starting from L_ii = sqrt(r_i)
      double gr = r[i] > 0 ? gy(i, i) * 0.5 / std::sqrt(r[i]) : 0;
      for (int j = i - 1; j >= 0; --j) {
        const double sr = std::sqrt(r[j]);
        double gt = gy(i, j) * sr + gr * r[j] * (-2 * tt[j]);
        double grj = gr * (1 - tt[j] * tt[j]) + (sr > 0 ? gy(i, j) * tt[j] * 0.5 / sr : 0);
        gx(i, j) = gt * (1 - tt[j] * tt[j]);
        gr = grj;
      }
    } else {
      double gr = 0;  // d loss / d r_{j+1}
      for (int j = i - 1; j >= 0; --j) {
        const double gt = gy(i, j) / (1 - tt[j] * tt[j]);
        const double sr = std::sqrt(r[j]);
        gx(i, j) = gt / sr - 2 * x(i, j) * gr;
        gr = gr + gt * x(i, j) * (-0.5) / (r[j] * sr);
      }
    }
  }
  t.acc(o.in[0], CMap(gx.data(), gx.size()));
}
inline const OpDef kCorr{"transform", corr_f, corr_b};

// ---- entry points --------------------------------------------------------------------------
inline const char* kind_name(int k) {
  static const char* n[] = {"real", "positive", "greater_than", "less_than", "unit_interval",
                            "interval", "simplex", "simplex", "lower_cholesky",
                            "positive_definite", "ordered", "softplus_positive",
                            "unit_lower_cholesky", "corr_cholesky"};
  return (k >= 0 && k <= CorrCholesky) ? n[k] : "unknown";
}

// dir: 0 forward (unconstrained -> constrained), 1 inverse, 2 log |det J| of forward.
inline int apply(Tape& t, int kind, int dir, int x, double a = 0, double b = 0) {
  t.check_index(x);
  const Shape s = t.shape(x);  // a copy: ops below may grow the arena
  if (kind < 0 || kind > CorrCholesky || dir < 0 || dir > 2) throw Error("internal: bad transform");
  if (elementwise(kind)) return t.op(&kElem, {x}, s, a, b, kind, dir);
  if (kind == LowerCholesky || kind == PositiveDefinite || kind == UnitLowerCholesky || kind == CorrCholesky) {
    if (s.nd != 2 || s.d[0] != s.d[1])
      throw Error(std::string("constraint_") + kind_name(kind) + "() needs a square matrix, got " +
                  s.str());
    if (kind == PositiveDefinite && dir == 1) {  // y -> chol(y) -> lower_cholesky inverse
      int l = dist::cholesky(t, x);
      return t.op(&kMat, {l}, s, 0, 0, LowerCholesky, 1);
    }
    if (kind == CorrCholesky) return t.op(&kCorr, {x}, dir == 2 ? Shape::vec(1) : s, 0, 0, kind, dir);
    return t.op(&kMat, {x}, dir == 2 ? Shape::vec(1) : s, 0, 0, kind, dir);
  }
  int K = dist::event_size(s);
  if (K == 0) throw Error(std::string("constraint_") + kind_name(kind) + "() needs a non-empty vector");
  if (kind == Softmax && dir == 2)
    throw Error("the softmax map onto the simplex is not a bijection and has no Jacobian; "
                "use the stick-breaking bijection");
  Shape out = s;
  if (dir == 2) out = dist::batch_of(s);
  else if (kind == StickBreaking) {
    if (dir == 1 && K < 2) throw Error("a point of the simplex needs at least 2 coordinates");
    out = with_last(s, dir == 0 ? K + 1 : K - 1);
  }
  return t.op(&kRows, {x}, out, 0, 0, kind, dir);
}

}  // namespace transform
}  // namespace svi
