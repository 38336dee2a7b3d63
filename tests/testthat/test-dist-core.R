# The distribution core compiles and runs without R (its own random source), and a replayed
# tape redraws its noise.

test_that("the distribution core compiles and runs without R", {
  out <- run_standalone_core("dist_core", c(
    "#include <svi/dist/dist.hpp>",
    "#include <svi/ops/reduce.hpp>",
    "#include <cmath>",
    "#include <cstdio>",
    "// a small generator standing in for R's: xorshift uniforms, Box-Muller normals,",
    "// Marsaglia-Tsang gammas",
    "struct Xs : svi::Rng {",
    "  unsigned long long s = 88172645463325252ULL;",
    "  double uniform() override { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (s >> 11) * 0x1.0p-53 + 0x1.0p-54; }",
    "  double normal() override { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); }",
    "  double gamma(double a) override {",
    "    double d = a - 1.0 / 3, c = 1 / std::sqrt(9 * d);",
    "    for (;;) { double x = normal(), v = 1 + c * x; if (v <= 0) continue; v = v * v * v;",
    "      if (std::log(uniform()) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v; }",
    "  }",
    "  double poisson(double) override { return 0; }",
    "  double binomial(double, double) override { return 0; }",
    "};",
    "int main() {",
    "  Xs rng; svi::Tape t; t.rng = &rng;",
    "  double xv = 0.5, mv = 0, sv = 1;",
    "  int x = t.leaf(svi::Leaf::Constant, &xv, svi::Shape::vec(1));",
    "  int m = t.leaf(svi::Leaf::Input, &mv, svi::Shape::vec(1));",
    "  int s = t.leaf(svi::Leaf::Input, &sv, svi::Shape::vec(1));",
    "  int in[3] = {x, m, s};",
    "  int lp = svi::dist::family(\"normal\").log_prob(t, in);",
    "  t.backward(lp);",
    "  std::printf(\"%.17g %.17g %.17g\\n\", t.val(lp)[0], t.grad(m)[0], t.grad(s)[0]);",
    "  double a = 2.5, b = 2;",
    "  int ga[2] = {t.leaf(svi::Leaf::Input, &a, svi::Shape::vec(1)), t.leaf(svi::Leaf::Input, &b, svi::Shape::vec(1))};",
    "  int z = svi::dist::family(\"gamma\").sample(t, ga, 20000, true);",
    "  int tot = svi::sum(t, z);",
    "  t.backward(tot);",
    "  double before = t.val(tot)[0];",
    "  std::printf(\"%.17g %.17g %.17g\\n\", before / 20000, t.grad(ga[0])[0] / 20000, t.grad(ga[1])[0] + before / b);",
    "  t.forward();  // replay: fresh noise, so a different total",
    "  std::printf(\"%d\\n\", int(t.val(tot)[0] != before));",
    "}"), needs = file.path("dist", "dist.hpp"), eigen = TRUE,
    flags = "-O0 -DEIGEN_PERMANENTLY_DISABLE_STUPID_WARNINGS")
  out <- lapply(strsplit(out, " "), as.numeric)
  expect_equal(out[[1]], c(dnorm(0.5, log = TRUE), 0.5, 0.5^2 - 1), tolerance = 1e-14)
  expect_equal(out[[2]][1], 2.5 / 2, tolerance = 0.02)      # mean of Gamma(2.5, rate 2)
  expect_equal(out[[2]][2], 1 / 2, tolerance = 0.02)        # d E[z] / d shape
  expect_equal(out[[2]][3], 0, tolerance = 1e-9)            # d sum(z) / d rate = -sum(z) / rate
  expect_equal(out[[3]], 1)
})

test_that("a replayed tape redraws reparameterized noise and recomputes gradients", {
  # two independent draws from a value_and_grad() of the same function differ, and each
  # gradient is the pathwise one for its own draw
  set.seed(9)
  a <- value_and_grad(function(s) svi:::dist_draw(dist_normal(0, s)), 2)
  b <- value_and_grad(function(s) svi:::dist_draw(dist_normal(0, s)), 2)
  expect_false(a$value == b$value)
  expect_equal(a$grad, a$value / 2)
  expect_equal(b$grad, b$value / 2)
})
