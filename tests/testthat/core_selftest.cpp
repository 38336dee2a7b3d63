// The core's own tests, in C++ against the headers alone (no R anywhere): a standalone program
// that test-tape-core.R compiles against the installed headers and runs. It prints one line per
// check, "<name>\tOK" or "<name>\t<what failed>", and test-tape-core.R turns each into an
// expectation. It is not part of the package's library, so installing svi does not compile it.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>
#include <svi/ops/arith.hpp>
#include <svi/ops/index.hpp>
#include <svi/ops/linalg.hpp>
#include <svi/ops/math.hpp>
#include <svi/ops/reduce.hpp>
#include <svi/special.hpp>
#include <svi/tape.hpp>
#include <cstdio>

namespace {

using svi::Tape;
using svi::Vec;

// A deterministic source for the checks (the glue supplies R's RNG in real use).
struct TestRng : svi::Rng {
  unsigned long long s = 88172645463325252ULL;
  double uniform() override {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    return (double(s >> 11) + 0.5) / 9007199254740992.0;
  }
  double normal() override { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); }
  double gamma(double) override { return 1; }
  double poisson(double) override { return 0; }
  double binomial(double, double) override { return 0; }
};

struct Failure {
  std::string what;
};

void check(bool ok, const std::string& what) {
  if (!ok) throw Failure{what};
}
bool close(double a, double b, double tol = 1e-12) {
  return std::fabs(a - b) <= tol * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}
bool close(const Vec& a, const Vec& b, double tol = 1e-12) {
  if (a.size() != b.size()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i)
    if (!close(a[i], b[i], tol)) return false;
  return true;
}
std::vector<double> draws(TestRng& r, int n, double scale = 1) {
  std::vector<double> v(n);
  for (double& x : v) x = scale * r.normal();
  return v;
}

// f(x, A, w, idx) = sum(softplus(A %*% x)[idx] * w) + logsumexp(x) + sum(log1p(exp(x)) * x)
// on tape t; returns the output node. Leaves: x (Input), A (Constant), w (Input), idx (Index).
struct Graph {
  int x, A, w, idx, out;
};
Graph record(Tape& t, const std::vector<double>& x, const std::vector<double>& A,
             const std::vector<double>& w, const std::vector<double>& idx) {
  Graph g;
  int n = int(x.size()), m = int(A.size()) / n;
  g.x = t.leaf(svi::Leaf::Input, x.data(), svi::Shape::vec(n));
  g.A = t.leaf(svi::Leaf::Constant, A.data(), svi::Shape::mat(m, n));
  g.w = t.leaf(svi::Leaf::Input, w.data(), svi::Shape::vec(Eigen::Index(w.size())));
  g.idx = t.leaf(svi::Leaf::Index, idx.data(), svi::Shape::vec(Eigen::Index(idx.size())));
  int ax = svi::matmul(t, g.A, g.x);
  int sp = svi::softplus(t, ax);
  int picked = svi::gather(t, sp, g.idx, 1);  // rows of an m x 1 matrix
  int term1 = svi::sum(t, svi::mul(t, svi::reshape(t, picked, svi::Shape::vec(Eigen::Index(idx.size()))), g.w));
  int term2 = svi::logsumexp(t, g.x);
  int term3 = svi::sum(t, svi::mul(t, svi::log1p(t, svi::exp(t, g.x)), g.x));
  g.out = svi::add(t, svi::add(t, term1, term2), term3);
  return g;
}

void set_leaf(Tape& t, int i, const std::vector<double>& v) {
  t.node(i).own = svi::CMap(v.data(), Eigen::Index(v.size()));
}

// Record, change leaves, replay forward and backward, and compare with a fresh recording.
void replay_matches_fresh_recording() {
  TestRng r;
  int n = 4, m = 5;
  auto x = draws(r, n), A = draws(r, n * m), w = draws(r, 3);
  std::vector<double> idx = {2, 5, 2};
  Tape t;
  Graph g = record(t, x, A, w, idx);
  t.backward(g.out);
  // New parameters, new "minibatch" indices; the graph is not rebuilt.
  auto x2 = draws(r, n, 3), w2 = draws(r, 3);
  std::vector<double> idx2 = {1, 4, 3};
  set_leaf(t, g.x, x2); set_leaf(t, g.w, w2); set_leaf(t, g.idx, idx2);
  int size_before = t.size();
  t.forward();
  t.backward(g.out);
  check(t.size() == size_before, "replay added nodes to the tape");
  Tape fresh;
  Graph f = record(fresh, x2, A, w2, idx2);
  fresh.backward(f.out);
  check(close(t.val(g.out)[0], fresh.val(f.out)[0]), "replayed value differs from a fresh recording");
  check(close(t.grad(g.x), fresh.grad(f.x)), "replayed gradient (x) differs from a fresh recording");
  check(close(t.grad(g.w), fresh.grad(f.w)), "replayed gradient (w) differs from a fresh recording");
  check(t.grad(g.A).isZero(), "a constant received a gradient");
}

// Replaying a slice [from, to) after changing only a leaf downstream of `from` is enough.
void partial_replay() {
  TestRng r;
  auto x = draws(r, 3), A = draws(r, 6), w = draws(r, 2);
  std::vector<double> idx = {1, 2};
  Tape t;
  Graph g = record(t, x, A, w, idx);
  auto w2 = draws(r, 2);
  set_leaf(t, g.w, w2);
  t.forward(g.idx + 1);
  Tape fresh;
  Graph f = record(fresh, x, A, w2, idx);
  check(close(t.val(g.out)[0], fresh.val(f.out)[0]), "partial replay gives a different value");
}

// Re-recording a graph of the same shape after clear() reuses the node buffers.
void clear_reuses_buffers() {
  TestRng r;
  auto x = draws(r, 50), A = draws(r, 500), w = draws(r, 3);
  std::vector<double> idx = {1, 2, 3};
  Tape t;
  Graph g = record(t, x, A, w, idx);
  const double* before = t.node(g.out - 1).own.data();
  int size = t.size();
  t.clear();
  Graph g2 = record(t, x, A, w, idx);
  check(t.size() == size && g2.out == g.out, "re-recording gave a different graph");
  check(t.node(g2.out - 1).own.data() == before, "re-recording reallocated a node's buffer");
}

// Many ops: the arena grows (and moves) while ops keep reading their inputs' shapes.
void arena_growth() {
  Tape t;
  double one = 1;
  int x = t.leaf(svi::Leaf::Input, &one, svi::Shape::mat(1, 1));
  int acc = x;
  for (int k = 0; k < 20000; ++k) acc = svi::add(t, svi::exp(t, svi::neg(t, x)), acc);
  check(t.shape(acc).nd == 2 && t.shape(acc).d[0] == 1, "a shape was lost as the arena grew");
  check(close(t.val(acc)[0], 1 + 20000 * std::exp(-1.0), 1e-10), "wrong value after 60000 ops");
  t.backward(acc);
  check(close(t.grad(x)[0], 1 - 20000 * std::exp(-1.0), 1e-10), "wrong gradient after 60000 ops");
  static_assert(std::is_nothrow_move_constructible<svi::Node>::value,
                "nodes must move, not copy, when the arena grows");
}

// A node used twice gets both contributions; an unused input gets zeros.
void gradient_accumulates() {
  Tape t;
  double v[3] = {1, 2, 3}, u = 5;
  int x = t.leaf(svi::Leaf::Input, v, svi::Shape::vec(3));
  int unused = t.leaf(svi::Leaf::Input, &u, svi::Shape::vec(1));
  int out = svi::sum(t, svi::mul(t, x, x));
  t.backward(out);
  Vec want(3); want << 2, 4, 6;
  check(close(t.grad(x), want), "x * x did not accumulate both gradient paths");
  check(t.grad(unused).size() == 1 && t.grad(unused)[0] == 0, "an unused input's gradient is not zero");
  // backward() twice gives the same result (gradients are reset, not summed across sweeps)
  t.backward(out);
  check(close(t.grad(x), want), "a second backward() summed into the first");
}

// A scalar broadcast into a vector receives the summed gradient.
void broadcast_gradient() {
  Tape t;
  double s = 2, v[3] = {1, 2, 3};
  int a = t.leaf(svi::Leaf::Input, &s, svi::Shape::vec(1));
  int b = t.leaf(svi::Leaf::Input, v, svi::Shape::mat(3, 1));
  int p = svi::mul(t, a, b);
  check(t.shape(p).nd == 2 && t.shape(p).d[0] == 3, "broadcast result lost the matrix shape");
  t.backward(svi::sum(t, p));
  check(close(t.grad(a)[0], 6), "scalar gradient is not the sum over the broadcast");
}

void errors_are_clean() {
  Tape t;
  double v[6] = {1, 2, 3, 4, 5, 6};
  int a = t.leaf(svi::Leaf::Input, v, svi::Shape::vec(3));
  int b = t.leaf(svi::Leaf::Input, v, svi::Shape::vec(2));
  int m = t.leaf(svi::Leaf::Input, v, svi::Shape::mat(2, 3));
  int size = t.size();
  auto throws = [&](const std::function<void()>& f, const std::string& has) {
    try { f(); } catch (const svi::Error& e) {
      return std::string(e.what()).find(has) != std::string::npos;
    }
    return false;
  };
  check(throws([&] { svi::add(t, a, b); }, "shape mismatch in `+`"), "length 3 + length 2 did not fail");
  check(throws([&] { svi::mul(t, a, m); }, "shape mismatch in `*`"), "vector * matrix of another length did not fail");
  check(throws([&] { svi::matmul(t, m, m); }, "non-conformable"), "2x3 %*% 2x3 did not fail");
  check(throws([&] { t.backward(a); }, "scalar"), "backward() from a vector did not fail");
  check(throws([&] { svi::sum(t, a, 1); }, "needs a matrix"), "row sums of a vector did not fail");
  check(throws([&] { svi::reshape(t, a, svi::Shape::mat(2, 2)); }, "lengths differ"), "bad reshape did not fail");
  double bad[1] = {4};
  int ib = t.leaf(svi::Leaf::Index, bad, svi::Shape::vec(1));
  size = t.size();
  check(throws([&] { svi::gather(t, a, ib, 0); }, "index 4 is out of range 1..3"), "index 4 of 3 did not fail");
  check(t.size() == size, "a failed op left a node on the tape");
  check(throws([&] { t.check_index(9999); }, "not on this tape"), "a foreign node index was accepted");
}

// The special functions at the extremes, and digamma/trigamma against known values.
void special_functions() {
  using namespace svi::special;
  check(softplus(800) == 800 && softplus(-800) == 0, "softplus(+-800)");
  check(close(softplus(-700), std::exp(-700.0), 1e-12), "softplus(-700)");
  check(close(log_sigmoid(-700), -700) && close(log_sigmoid(700), -std::exp(-700.0), 1e-12), "log_sigmoid(+-700)");
  check(sigmoid(-800) == 0 && sigmoid(800) == 1 && close(sigmoid(-700), std::exp(-700.0), 1e-12), "sigmoid at the extremes");
  check(close(logit(0.25), std::log(1.0 / 3)) && std::isfinite(logit(1e-300)), "logit");
  check(close(digamma(1), -0.5772156649015329, 1e-13), "digamma(1)");
  check(close(digamma(0.5), -1.9635100260214231, 1e-13), "digamma(0.5)");
  check(close(digamma(-0.5), 0.036489973978577089, 1e-12), "digamma(-0.5)");
  check(close(digamma(1e-300), -1e300, 1e-12), "digamma(1e-300)");
  check(close(trigamma(1), 1.6449340668482264, 1e-13), "trigamma(1)");
  check(close(trigamma(30), 0.03389506035773994, 1e-12), "trigamma(30)");
  check(std::isnan(digamma(0)) && std::isnan(digamma(-2)), "digamma at its poles");
  // logsumexp of huge and of -Inf entries
  Eigen::VectorXd v(3); v << 1000, 1000, -std::numeric_limits<double>::infinity();
  check(close(svi::detail::lse(v), 1000 + std::log(2.0)), "logsumexp(1000, 1000, -Inf)");
}

// Each op's gradient against central differences, on the core directly.
void ops_match_finite_differences() {
  TestRng r;
  using UnaryOp = int (*)(Tape&, int);
  struct U { const char* name; UnaryOp f; double lo, hi; };
  const U ops[] = {
    {"exp", svi::exp, -2, 2}, {"log", svi::log, 0.5, 3}, {"sqrt", svi::sqrt, 0.5, 3},
    {"abs", svi::abs, 0.5, 3}, {"log1p", svi::log1p, -0.5, 3}, {"expm1", svi::expm1, -2, 2},
    {"tanh", svi::tanh, -2, 2}, {"sin", svi::sin, -2, 2}, {"cos", svi::cos, -2, 2},
    {"square", svi::square, -2, 2}, {"softplus", svi::softplus, -5, 5}, {"sigmoid", svi::sigmoid, -5, 5},
    {"log_sigmoid", svi::log_sigmoid, -5, 5}, {"logit", svi::logit, 0.1, 0.9},
    {"lgamma", svi::lgamma, 0.3, 6}, {"digamma", svi::digamma, 0.3, 6}, {"cumsum", svi::cumsum, -2, 2},
  };
  for (const U& op : ops) {
    std::vector<double> x(5), w = draws(r, 5);
    for (double& v : x) v = op.lo + (op.hi - op.lo) * r.uniform();
    auto eval = [&](const std::vector<double>& xv, Vec* grad) {
      Tape t;
      int xi = t.leaf(svi::Leaf::Input, xv.data(), svi::Shape::vec(5));
      int wi = t.leaf(svi::Leaf::Constant, w.data(), svi::Shape::vec(5));
      int out = svi::sum(t, svi::mul(t, op.f(t, xi), wi));
      if (grad) { t.backward(out); *grad = t.grad(xi); }
      return t.val(out)[0];
    };
    Vec g;
    eval(x, &g);
    for (int i = 0; i < 5; ++i) {
      double h = 1e-5 * std::max(1.0, std::fabs(x[i]));
      auto xp = x, xm = x;
      xp[i] += h; xm[i] -= h;
      double fd = (eval(xp, nullptr) - eval(xm, nullptr)) / (2 * h);
      check(std::fabs(fd - g[i]) <= 1e-6 * std::max(1.0, std::fabs(fd)),
            std::string(op.name) + ": gradient " + std::to_string(g[i]) + " vs finite difference " + std::to_string(fd));
    }
  }
}

}  // namespace

int main() {
  struct Case { const char* name; void (*run)(); };
  const Case cases[] = {
    {"replay matches a fresh recording", replay_matches_fresh_recording},
    {"partial replay", partial_replay},
    {"clear() reuses node buffers", clear_reuses_buffers},
    {"the arena grows safely", arena_growth},
    {"gradients accumulate", gradient_accumulates},
    {"broadcast gradients sum", broadcast_gradient},
    {"errors are clean", errors_are_clean},
    {"special functions", special_functions},
    {"unary ops match finite differences", ops_match_finite_differences},
  };
  for (const Case& c : cases) {
    std::string failure;
    try {
      c.run();
    } catch (const Failure& f) {
      failure = f.what.empty() ? "failed" : f.what;
    } catch (const std::exception& e) {
      failure = std::string("unexpected exception: ") + e.what();
    }
    for (char& ch : failure) if (ch == '\n' || ch == '\t') ch = ' ';  // one line per check
    std::printf("%s\t%s\n", c.name, failure.empty() ? "OK" : failure.c_str());
  }
  return 0;
}
