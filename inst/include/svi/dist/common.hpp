// Shared machinery for distributions: n-ary broadcasting, and op templates that turn a
// per-element formula (value and partial derivatives) into one fused tape op.
//
// A log-density, a KL divergence or a sampler is written once as a struct of scalar functions;
// Elementwise<F> and Sampler<D> below do the looping, broadcasting of scalar inputs, gradient
// accumulation and parameter checks. Inputs broadcast as shape.hpp does: length-1 inputs
// against anything, otherwise equal shapes.
#pragma once
#include <type_traits>
#include <cmath>
#include <string>
#include "../tape.hpp"

namespace svi {
namespace dist {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- parameter rules: nullptr when v is allowed, else the phrase for the error message ----
inline const char* finite(double v) { return std::isfinite(v) ? nullptr : "must be finite"; }
inline const char* positive(double v) {
  return (v > 0 && std::isfinite(v)) ? nullptr : "must be positive and finite";
}
inline const char* nonneg(double v) {
  return (v >= 0 && std::isfinite(v)) ? nullptr : "must be non-negative and finite";
}
inline const char* prob(double v) { return (v >= 0 && v <= 1) ? nullptr : "must be between 0 and 1"; }
inline const char* count(double v) {
  return (v >= 0 && std::isfinite(v) && std::floor(v) == v) ? nullptr
         : "must be a non-negative whole number";
}

inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

[[noreturn]] inline void bad_param(const char* dist, const char* arg, const char* rule, double v,
                                   Eigen::Index at, Eigen::Index n) {
  std::string m = std::string("`") + arg + "` of " + dist + " " + rule + ", got " + num(v);
  if (n > 1) m += " (at position " + std::to_string(at + 1) + ")";
  throw Error(m);
}

// Broadcast shape of several inputs.
inline Shape broadcast_all(const Tape& t, const int* in, int k, const char* what) {
  Shape s = t.shape(in[0]);
  for (int j = 1; j < k; ++j) s = broadcast_shape(s, t.shape(in[j]), what);
  return s;
}

// `b` with a leading dim of extent n (n draws of a batch); n == 0 leaves it alone.
inline Shape prepend_dim(const Shape& b, int n) {
  if (n <= 0) return b;
  if (b.nd == 0) return b.n == 1 ? Shape::vec(n) : Shape::mat(n, int(b.n));
  if (b.nd == kMaxDims) throw Error("arrays with more than 8 dimensions are not supported");
  Shape s;
  s.n = b.n * n; s.nd = b.nd + 1; s.d[0] = n;
  for (int i = 0; i < b.nd; ++i) s.d[i + 1] = b.d[i];
  return s;
}

// Pointers and strides (0 for a broadcast scalar) of a node's inputs.
template <int K>
struct Inputs {
  const double* p[K];
  Eigen::Index st[K];
  int idx[K];
  bool need[K];
  Eigen::Index n[K];
  // `to`: the shape the inputs broadcast to (the op's output shape unless given).
  Inputs(const Tape& t, const Node& o) : Inputs(t, o, o.shape) {}
  Inputs(const Tape& t, const Node& o, const Shape& to) {
    for (int j = 0; j < K; ++j) {
      idx[j] = t.input(o, j);
      const Node& x = t.node(idx[j]);
      p[j] = x.data(); n[j] = x.shape.n; st[j] = x.shape.n == 1 ? 0 : 1;
      need[j] = x.needs_grad;
      if (needs_expand(x.shape, to)) {  // broadcast along dims of 1: expanded once here
        ex[j] = expand_to(x.data(), x.shape, to);
        p[j] = ex[j].data();
      }
    }
  }
  Vec ex[K];  // expanded copies of inputs that broadcast along dims of 1 (else empty)
  void at(Eigen::Index i, double* a) const {
    for (int j = 0; j < K; ++j) a[j] = p[j][i * st[j]];
  }
  bool any_need() const {
    for (int j = 0; j < K; ++j) if (need[j]) return true;
    return false;
  }
};

// ---- Elementwise<F>: one op computing F::f over broadcast inputs --------------------------
// F provides: K, name, f(const double* a) -> double, df(const double* a, double* g) (all K
// partials at a point where f is finite), check(const double* a, int& j) -> rule or nullptr
// (j: the offending input), dist and arg(j) naming them in the error.
// Where f is not finite (out of support) the gradient is zero, never NaN.
// Optionally, F also provides fixed_inputs (the inputs check() looks at, from index
// F::first_checked on) and f_fixed(a, cache) / prepare(a, cache): when all checked inputs are
// broadcast scalars they are checked once and prepare() precomputes what depends on them
// alone (e.g. log(sd)); f_fixed() must then return exactly what f() would. Backward then sums
// those scalars' gradients as it goes, without a data-sized vector per parameter.
template <class F, class = void>
struct HasFixed : std::false_type {};
template <class F>
struct HasFixed<F, std::void_t<decltype(F::first_checked)>> : std::true_type {};

template <class F>
struct Elementwise {
  static void fwd(Tape& t, Node& o) {
    Inputs<F::K> in(t, o);
    const Eigen::Index n = o.shape.n;
    o.own.resize(n);
    double a[F::K];
    if constexpr (HasFixed<F>::value) {
      bool fixed = n > 0;
      for (int j = F::first_checked; j < F::K; ++j) fixed = fixed && in.st[j] == 0;
      if (fixed) {  // scalar parameters: check them once, precompute, then only x varies
        in.at(0, a);
        int j = -1;
        if (const char* rule = F::check(a, j)) bad_param(F::dist, F::arg(j), rule, a[j], 0, in.n[j]);
        double cache[4];
        F::prepare(a, cache);
        for (Eigen::Index i = 0; i < n; ++i) {
          for (int j = 0; j < F::first_checked; ++j) a[j] = in.p[j][i * in.st[j]];   // the rest are fixed
          o.own[i] = F::f_fixed(a, cache);
        }
        return;
      }
    }
    for (Eigen::Index i = 0; i < n; ++i) {
      in.at(i, a);
      int j = -1;
      if (const char* rule = F::check(a, j)) {
        Eigen::Index pos = in.st[j] ? i : 0;
        bad_param(F::dist, F::arg(j), rule, a[j], pos, in.n[j]);
      }
      o.own[i] = F::f(a);
    }
  }
  static void bwd(Tape& t, Node& o) {
    Inputs<F::K> in(t, o);
    const Eigen::Index n = o.shape.n;
    if constexpr (HasFixed<F>::value) {
      bool fixed = n > 1;
      for (int j = F::first_checked; j < F::K; ++j) fixed = fixed && in.st[j] == 0;
      if (fixed) {  // scalar parameters: their gradients are sums, accumulated as they come
        double a[F::K], g[F::K], sum[F::K] = {};
        in.at(0, a);
        Vec G[F::first_checked];
        for (int j = 0; j < F::first_checked; ++j)
          if (in.need[j] && in.st[j]) G[j].setZero(n);
        for (Eigen::Index i = 0; i < n; ++i) {
          if (!std::isfinite(o.own[i]) || o.grad[i] == 0) continue;
          for (int j = 0; j < F::first_checked; ++j) a[j] = in.p[j][i * in.st[j]];
          F::df(a, g);
          for (int j = 0; j < F::K; ++j) {
            if (!in.need[j]) continue;
            if (j < F::first_checked && in.st[j]) G[j][i] = o.grad[i] * g[j];
            else sum[j] += o.grad[i] * g[j];
          }
        }
        for (int j = 0; j < F::K; ++j) {
          if (!in.need[j]) continue;
          if (j < F::first_checked && in.st[j]) t.acc(in.idx[j], G[j], o.shape);
          else t.acc_scalar(in.idx[j], sum[j]);
        }
        return;
      }
    }
    Vec G[F::K];
    for (int j = 0; j < F::K; ++j) if (in.need[j]) G[j].setZero(n);
    double a[F::K], g[F::K];
    for (Eigen::Index i = 0; i < n; ++i) {
      if (!std::isfinite(o.own[i]) || o.grad[i] == 0) continue;
      in.at(i, a);
      F::df(a, g);
      for (int j = 0; j < F::K; ++j)
        if (in.need[j]) G[j][i] = o.grad[i] * g[j];
    }
    for (int j = 0; j < F::K; ++j) if (in.need[j]) t.acc(in.idx[j], G[j], o.shape);
  }
  static const OpDef* def() {
    static const OpDef d{F::name, fwd, bwd};
    return &d;
  }
  static int make(Tape& t, const int* ins) {
    for (int j = 0; j < F::K; ++j) t.check_index(ins[j]);
    Shape s = broadcast_all(t, ins, F::K, F::name);
    if constexpr (F::K == 1) return t.op(def(), {ins[0]}, s);
    else if constexpr (F::K == 2) return t.op(def(), {ins[0], ins[1]}, s);
    else if constexpr (F::K == 3) return t.op(def(), {ins[0], ins[1], ins[2]}, s);
    else if constexpr (F::K == 4) return t.op(def(), {ins[0], ins[1], ins[2], ins[3]}, s);
    else {
      static_assert(F::K <= 6, "too many inputs");
      if constexpr (F::K == 5) return t.op(def(), {ins[0], ins[1], ins[2], ins[3], ins[4]}, s);
      else return t.op(def(), {ins[0], ins[1], ins[2], ins[3], ins[4], ins[5]}, s);
    }
  }
};

// Adapter: the log-density of distribution D as an Elementwise function of (x, params...).
// D provides: P, dist, args[P], check(const double* p, int& j), lp(x, p), dlp(x, p, g[P + 1]).
template <class D>
struct LogProbFn {
  static constexpr int K = D::P + 1;
  static constexpr const char* name = D::lp_name;
  static constexpr const char* dist = D::dist;
  static const char* arg(int j) { return j == 0 ? "x" : D::args[j - 1]; }
  static const char* check(const double* a, int& j) {
    const char* r = D::check(a + 1, j);
    ++j;
    return r;
  }
  static double f(const double* a) { return D::lp(a[0], a + 1); }
  static void df(const double* a, double* g) { D::dlp(a[0], a + 1, g); }
};

// LogProbFn for distributions whose log-density has a part that depends on the parameters
// only: D also provides lp_prepare(p, cache) and lp_fixed(x, p, cache) (see Elementwise).
template <class D>
struct LogProbFnFixed : LogProbFn<D> {
  static constexpr int first_checked = 1;   // check() looks at the parameters only
  static void prepare(const double* a, double* cache) { D::lp_prepare(a + 1, cache); }
  static double f_fixed(const double* a, const double* cache) { return D::lp_fixed(a[0], a + 1, cache); }
};

// ---- Sampler<D>: draws of D's batch (times `reps`), with reparameterized gradients --------
// D provides: P, dist, args, check, NOISE (base noise values kept per draw), draw(rng, p,
// noise) -> z, and dz(p, noise, z, g[P]) the derivatives of the draw w.r.t. the parameters
// with the noise held fixed. Node attributes: i0 = draws per batch element (leading dim),
// i1 = 1 when gradients flow (reparameterized), 0 for a score-function-only draw.
template <class D>
struct Sampler {
  // The parameters' broadcast shape: one draw's batch (the output adds the leading draws dim).
  static Shape batch(const Tape& t, const Node& o) {
    int ins[D::P > 0 ? D::P : 1];
    for (int j = 0; j < D::P; ++j) ins[j] = t.input(o, j);
    return D::P > 0 ? broadcast_all(t, ins, D::P, D::sample_name) : Shape::vec(1);
  }
  static void fwd(Tape& t, Node& o) {
    const Shape bs = batch(t, o);
    Inputs<D::P> in(t, o, bs);
    const Eigen::Index n = o.shape.n;
    const Eigen::Index reps = o.i0 > 0 ? o.i0 : 1;
    Rng& r = t.random();
    o.own.resize(n);
    o.aux.resize(n * D::NOISE);
    double a[D::P > 0 ? D::P : 1];
    for (Eigen::Index e = 0; e < n; ++e) {
      Eigen::Index b = e / reps;
      in.at(b, a);
      int j = -1;
      if (const char* rule = D::check(a, j))
        bad_param(D::dist, D::args[j], rule, a[j], in.st[j] ? b : 0, in.n[j]);
      o.own[e] = D::draw(r, a, o.aux.data() + e * D::NOISE);
    }
  }
  static void bwd(Tape& t, Node& o) {
    const Shape bs = batch(t, o);
    Inputs<D::P> in(t, o, bs);
    const Eigen::Index n = o.shape.n;
    const Eigen::Index reps = o.i0 > 0 ? o.i0 : 1;
    Vec G[D::P > 0 ? D::P : 1];
    for (int j = 0; j < D::P; ++j) if (in.need[j]) G[j].setZero(n);
    double a[D::P > 0 ? D::P : 1], g[D::P > 0 ? D::P : 1];
    for (Eigen::Index e = 0; e < n; ++e) {
      if (o.grad[e] == 0) continue;
      in.at(e / reps, a);
      D::dz(a, o.aux.data() + e * D::NOISE, o.own[e], g);
      for (int j = 0; j < D::P; ++j) if (in.need[j]) G[j][e] = o.grad[e] * g[j];
    }
    for (int j = 0; j < D::P; ++j) {
      if (!in.need[j]) continue;
      if (reps > 1 && in.n[j] > 1) {  // sum the draws of each batch element
        Eigen::Map<const Eigen::MatrixXd> M(G[j].data(), reps, n / reps);
        Vec s = M.colwise().sum().transpose().array();
        t.acc(in.idx[j], s, bs);
      } else {
        t.acc(in.idx[j], G[j], bs);
      }
    }
  }
  static const OpDef* def() {
    static const OpDef d{D::sample_name, fwd, bwd};
    return &d;
  }
  // reps: 0 for one draw of the batch shape, else that many draws along a new leading dim.
  static int make(Tape& t, const int* ins, int reps, bool reparam) {
    for (int j = 0; j < D::P; ++j) t.check_index(ins[j]);
    Shape b = D::P > 0 ? broadcast_all(t, ins, D::P, D::sample_name) : Shape::vec(1);
    Shape s = prepend_dim(b, reps);
    int r;
    if constexpr (D::P == 1) r = t.op(def(), {ins[0]}, s, 0, 0, reps);
    else if constexpr (D::P == 2) r = t.op(def(), {ins[0], ins[1]}, s, 0, 0, reps);
    else if constexpr (D::P == 3) r = t.op(def(), {ins[0], ins[1], ins[2]}, s, 0, 0, reps);
    else { static_assert(D::P <= 3, "too many parameters"); }
    bool grad = reparam && D::REPARAM;
    t.node(r).i1 = grad ? 1 : 0;
    if (!grad) t.node(r).needs_grad = false;  // a draw with no gradient path
    return r;
  }
};

}  // namespace dist
}  // namespace svi
