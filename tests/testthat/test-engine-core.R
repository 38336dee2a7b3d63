# The SVI engine of the C++ core, without R: tests/testthat/fixtures/engine_core.cpp writes
# models and guides as C++ lambdas, fits them and prints what it measured, one "key values"
# line each. A fixture that does not compile fails here (must_compile = TRUE).

engine_out <- local({
  out <- NULL
  function() {
    if (is.null(out)) {
      lines <- readLines(test_path("fixtures", "engine_core.cpp"))
      raw <- run_standalone_core("engine_core", lines, needs = "engine.hpp", eigen = TRUE,
                                 flags = "-O1 -Wall -Wextra -Werror -Wno-ignored-attributes",
                                 must_compile = TRUE)
      keys <- sub(" .*", "", raw)
      vals <- sub("^[^ ]+ ?", "", raw)
      out <<- split(vals, keys)
    }
    out
  }
})
num <- function(key, k = 1L) as.numeric(strsplit(engine_out()[[key]][[k]], " ")[[1]])

test_that("the fixture runs to the end", {
  expect_null(engine_out()$error)
})

test_that("Normal-Normal fits its analytic posterior with Trace_ELBO and TraceMeanField_ELBO", {
  for (key in c("normal_normal", "normal_normal_meanfield")) {
    v <- num(key)  # fitted loc, scale (means over the last 1000 of 4000 steps), exact mean, sd
    # the posterior sd is 0.141: the mean within 5% of it, the sd within 3%
    expect_lt(abs(v[1] - v[3]), 0.05 * v[4])
    expect_lt(abs(v[2] / v[4] - 1), 0.03)
  }
})

test_that("Beta-Bernoulli under TraceGraph_ELBO with a decaying-average baseline fits Beta(30, 14)", {
  runs <- lapply(seq_along(engine_out()$beta_bernoulli), function(k) num("beta_bernoulli", k))
  expect_length(runs, 5L)
  est <- vapply(runs, `[`, 1, 1)   # the guide's mean, averaged over the last 1000 of 3000 steps
  truth <- runs[[1]][2]
  # Five seeds give the Monte Carlo error of the estimate: its mean must be within 4 standard
  # errors of the exact posterior mean, plus 1e-3 (1.4% of the posterior sd, 0.069) for what
  # Adam's finite step leaves after 3000 steps.
  se <- stats::sd(est) / sqrt(length(est))
  expect_lt(abs(mean(est) - truth), 4 * se + 1e-3)
  for (r in runs) {
    expect_lt(abs(r[3] - 30), 0.3)   # alpha, beta of the guide: the exact posterior's
    expect_lt(abs(r[4] - 14), 0.15)
    # at the optimum log p(x, z) - log q(z) is the log evidence for every z: the decaying
    # average of the downstream cost converges to it
    expect_equal(r[5], lbeta(30, 14) - lbeta(2, 2), tolerance = 1e-3)
  }
})

test_that("a step that throws leaves the store, the optimizer and the baselines unchanged", {
  # store size, p's unconstrained value, Adam's two moments, its step count, the average, steps
  expect_identical(num("throw_before"), num("throw_after"))
  expect_identical(engine_out()$throw_message, "model failed")
  expect_identical(num("throw_dropped"), 1)       # the parameter the failed step created is gone
  nxt <- num("throw_next")
  expect_identical(nxt[c(5, 7)], num("throw_before")[c(5, 7)] + 1)  # and the next step works
  expect_false(nxt[2] == num("throw_before")[2])
})

test_that("duplicate site names are errors that say what to do", {
  out <- engine_out()
  expect_match(out$dup_sample, "Multiple sample sites named \"z\"", fixed = TRUE)
  expect_match(out$dup_sample, "needs its own name", fixed = TRUE)
  expect_match(out$dup_kind, "already in the trace as a param site; it cannot also be a sample site", fixed = TRUE)
  expect_match(out$dup_plate, "Duplicate plate \"p\"", fixed = TRUE)
  expect_identical(out$param_twice, "no error")
})

test_that("score-function gradients with plates are unbiased, Rao-Blackwellized or not", {
  exact <- num("rb_exact")
  n <- 20000
  for (key in c("rb_on", "rb_off", "rb_graph")) {
    v <- num(key)   # mean gradient of theta[1:3] over 20000 draws, then their variances
    se <- sqrt(v[4:6] / n)
    expect_true(all(abs(v[1:3] - exact) < 4 * se), label = key)
  }
  # Rao-Blackwellization drops the other plate elements' costs: much less variance
  expect_true(all(num("rb_on")[4:6] < num("rb_off")[4:6] / 4))
  # here TraceGraph's downstream cost of z[i] is exactly the Rao-Blackwellized one
  expect_equal(num("rb_graph"), num("rb_on"), tolerance = 1e-12)
})

test_that("condition, block, scale, mask and subsampled plates behave as the spec says", {
  expect_identical(num("cond"), c(1, 0.3))
  expect_identical(num("block"), c(1, 1))     # only z is left, y is hidden
  expect_identical(num("expose"), c(1, 1))    # only y is left
  v <- num("scale")
  expect_equal(v[1], 2.5 * v[2], tolerance = 1e-15)
  expect_identical(abs(num("mask")), 0)
  # scale 50 / 10, a frame of 10 out of 50, the model replays the guide's minibatch
  expect_identical(num("subsample"), c(5, 10, 50, 1, 10))
  idx <- num("subsample_idx")
  expect_length(unique(idx), 10L)
  expect_true(all(idx >= 1 & idx <= 50 & idx == round(idx)))
})

test_that("baselines: a learned one converges to the expected cost, none changes the loss", {
  # the loss is -ELBO whatever the baseline (same seed, first step)
  first <- num("baseline_first_loss")
  expect_identical(first, rep(first[1], 4))
  v <- num("learned")   # the learned baseline, then the guide's alpha and beta after 3000 steps
  # near the optimum the downstream cost is about the log evidence for every draw
  expect_lt(abs(v[1] - (lbeta(30, 14) - lbeta(2, 2))), 0.05)
  expect_lt(abs(v[2] / (v[2] + v[3]) - 30 / 44), 0.005)
})

test_that("TraceMeanField_ELBO: the same loss as Trace_ELBO in expectation, less variance", {
  tr <- num("mf_trace")   # mean and variance of 20000 loss estimates
  mf <- num("mf_meanfield")
  expect_lt(abs(tr[1] - mf[1]), 4 * sqrt((tr[2] + mf[2]) / 20000))
  expect_lt(mf[2], tr[2] / 2)
  # without a closed form (a Cauchy prior) it falls back to the Monte Carlo term: identical
  expect_equal(num("mf_cauchy_meanfield"), num("mf_cauchy_trace"), tolerance = 1e-12)
})

test_that("factor and deterministic sites, model/guide warnings, minibatches", {
  off <- num("factor_off")
  on <- num("factor_on")
  expect_equal(on[1], off[1] - 1.25, tolerance = 1e-15)   # a factor adds to the log joint
  expect_identical(off[2:3], c(1, 2))                      # the deterministic site is recorded
  expect_match(engine_out()$warn_first, "Found vars in model but not guide: \"extra\"", fixed = TRUE)
  expect_identical(num("warn_second"), 0)                  # once per engine
  expect_match(engine_out()$warn_enum, "Site \"k\" asks for enumeration", fixed = TRUE)
  expect_identical(num("warn_enum_second"), 0)
  v <- num("minibatch")   # subsample 10 of 50: loc, scale (means over 3000 steps), exact mean, sd
  expect_lt(abs(v[1] - v[3]), 0.1 * v[4])
  expect_lt(abs(v[2] / v[4] - 1), 0.05)
})

test_that("the engine gives the R implementation's losses for the same seed", {
  y <- c(2.1, 3.4, 1.7, 2.9, 2.2, 3.8, 2.6, 1.9, 3.1, 2.4)
  nn_model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
  }
  nn_guide <- function(y) {
    loc <- param("loc", 0)
    scale <- param("scale", 1, constraint = constraint_positive())
    sample_site("mu", dist_normal(loc, scale))
  }
  set.seed(42)
  s1 <- svi(nn_model, nn_guide, adam(lr = 0.02), trace_elbo())
  nn_losses <- vapply(1:20, function(i) svi_step(s1, y), 1)
  set.seed(42)
  normals <- rnorm(20)   # one draw per step: the guide's mu

  x <- c(0.2, 1.4, -0.5)
  tg_model <- function() {
    plate("data", 3, function(i) {
      z <- sample_site("z", dist_bernoulli(prob = 0.3))
      sample_site("x", dist_normal(z, 1), obs = x)
    })
  }
  tg_guide <- function() {
    theta <- param("theta", c(0.3, -0.4, 1.1))
    plate("data", 3, function(i) {
      sample_site("z", dist_bernoulli(logit = theta), infer = list(baseline = baseline_decaying_avg()))
    })
  }
  set.seed(7)
  s2 <- svi(tg_model, tg_guide, adam(lr = 0.1), tracegraph_elbo())
  tg_losses <- vapply(1:20, function(i) svi_step(s2), 1)
  set.seed(7)
  uniforms <- runif(60)  # three Bernoulli draws per step

  arr <- function(name, v) sprintf("static const double %s[] = {%s};", name,
                                   paste(sprintf("%.17g", v), collapse = ", "))
  lines <- readLines(test_path("fixtures", "engine_vs_r.cpp"))
  at <- grep("@STREAM@", lines, fixed = TRUE)
  lines <- c(lines[seq_len(at - 1)], arr("kY", y), arr("kNormals", normals),
             arr("kUniforms", uniforms), lines[-seq_len(at)])
  raw <- run_standalone_core("engine_vs_r", lines, needs = "engine.hpp", eigen = TRUE,
                             flags = "-O1 -Wall -Wextra -Werror -Wno-ignored-attributes",
                             must_compile = TRUE)
  out <- split(sub("^[^ ]+ ?", "", raw), sub(" .*", "", raw))
  expect_null(out$error)
  val <- function(key) as.numeric(strsplit(out[[key]], " ")[[1]])
  expect_equal(val("nn_losses"), nn_losses, tolerance = 1e-12)
  expect_equal(val("nn_params"), c(params(s1)$loc, params(s1)$scale), tolerance = 1e-12)
  expect_equal(val("tg_losses"), tg_losses, tolerance = 1e-12)
  expect_equal(val("tg_params"), c(params(s2)$theta, s2$store$averages$z), tolerance = 1e-12)
})

# The second C++-only fixture: compiled mode and the later engine additions.
compiled_out <- local({
  out <- NULL
  function() {
    if (is.null(out)) {
      lines <- readLines(test_path("fixtures", "engine_compiled.cpp"))
      raw <- run_standalone_core("engine_compiled", lines, needs = "engine.hpp", eigen = TRUE,
                                 flags = "-O1 -Wall -Wextra -Werror -Wno-ignored-attributes",
                                 must_compile = TRUE)
      out <<- split(sub("^[^ ]+ ?", "", raw), sub(" .*", "", raw))
    }
    out
  }
})
cnum <- function(key) as.numeric(strsplit(compiled_out()[[key]], " ")[[1]])

test_that("compiled steps replay the dynamic steps' losses and updates on the same stream", {
  expect_null(compiled_out()$error)
  # largest loss difference, largest store difference, losses compared, failed steps (compiled,
  # dynamic): 300 steps each (2 recording + 298 replayed)
  for (key in c("compiled_normal_normal", "compiled_minibatch", "compiled_tracegraph")) {
    v <- cnum(key)
    expect_lt(v[1], 1e-12)
    expect_lt(v[2], 1e-12)
    expect_identical(v[3:5], c(300, 0, 0))
  }
  # a NaN draw in replayed step 101 makes that step throw in both modes, leaving the store as
  # it was; the steps after it agree again
  v <- cnum("compiled_nan")
  expect_lt(v[1], 1e-12)
  expect_lt(v[2], 1e-12)
  expect_identical(v[3:5], c(200, 1, 1))
})

test_that("compile() names the site where the structure changed and commits nothing of it", {
  out <- compiled_out()
  expect_match(out$compile_appeared, "site \"late\" appeared in one step but not in the one before", fixed = TRUE)
  expect_match(out$compile_changed, "changed between site \"mu\" and site \"obs\"", fixed = TRUE)
  expect_match(out$replay_uncompiled, "call compile() first", fixed = TRUE)
  for (key in c("compile_appeared_store", "compile_changed_store")) {
    # the store equals one ordinary step's, one step counted, no program
    expect_identical(cnum(key), c(0, 1, 0))
  }
})

test_that("a tensor scale broadcasts over the plates, and is checked", {
  out <- compiled_out()
  v <- cnum("scale_tensor")   # loss, -(log p(mu) + sum_i s_i log p(y_i | mu)) for s = (2, 1, 0.5)
  expect_equal(v[1], v[2], tolerance = 1e-12)
  v <- cnum("scale_tensor_one")
  expect_equal(v[1], v[2], tolerance = 1e-12)
  expect_match(out$scale_tensor_bad, "scale at site \"obs\" has 2 values but the site's log-density has 3", fixed = TRUE)
  expect_match(out$scale_tensor_zero, "`scale` must be positive; element 2 is not", fixed = TRUE)
})

test_that("TraceMeanField_ELBO: Delta guide sites take the guide's KL, and site order is checked", {
  out <- compiled_out()
  # loss and d loss / d loc against the exact values with KL = 2 * (log_density - log p(loc))
  v <- cnum("meanfield_delta")
  expect_equal(v[1], v[2], tolerance = 1e-12)
  expect_equal(v[3], v[4], tolerance = 1e-12)
  expect_identical(out$meanfield_same_order, "none")
  expect_match(out$meanfield_order, "Model sites: a, b. Guide sites: b, a.", fixed = TRUE)
})

test_that("model and guide batch shapes must agree", {
  expect_identical(compiled_out()$batch_shape, "Model and guide shapes disagree at site \"z\": [3] vs [2].")
})

test_that("an observed guide site's score term is decided by has_rsample, as in R", {
  v <- cnum("observed_guide_trace")   # d loss / d loc2 and -(0.5 - loc2) * (log p - log q)
  expect_false(v[2] == 0)
  expect_equal(v[1], v[2], tolerance = 1e-12)
  expect_identical(cnum("observed_guide_graph"), c(0, 0))
})
