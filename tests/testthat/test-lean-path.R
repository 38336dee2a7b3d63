# The shortcuts the dynamic step takes (see ARCHITECTURE.md, "The lean dynamic path") must
# not change what a step computes or what it catches.

test_that("the model/guide checks run again when the structure changes between steps", {
  model <- function(n) sample_site("z", dist_normal(numeric(3), 1))
  guide <- function(n) sample_site("z", dist_normal(param("m", 0) + numeric(n), 1))
  set.seed(1)
  s <- svi(model, guide, adam(), trace_elbo())
  expect_no_error(svi_step(s, 3))
  expect_no_error(svi_step(s, 3))
  expect_error(svi_step(s, 4), "shapes disagree at site \"z\": \\[3\\] vs \\[4\\]")
  expect_no_error(svi_step(s, 3))
})

test_that("data changed after a step is checked again for missing values", {
  set.seed(1)
  X <- matrix(rnorm(600), 300, 2)
  y <- rnorm(300)
  model <- function(X, y) {
    w <- sample_site("w", dist_normal(c(0, 0), 1))
    plate("data", nrow(X), function(i) sample_site("y", dist_normal(X %*% w, 1), obs = y))
  }
  guide <- function(X, y) sample_site("w", dist_normal(param("w_loc", c(0, 0)), 1))
  s <- svi(model, guide, adam(), trace_elbo())
  expect_no_error(svi_step(s, X, y))
  expect_no_error(svi_step(s, X, y))   # the same X: its NA scan is remembered
  X[7, 2] <- NA                        # R copies X here (svi holds a reference to it)
  expect_error(svi_step(s, X, y), "contains NA or NaN \\(at position 307\\)")
  X[7, 2] <- 0
  expect_no_error(svi_step(s, X, y))   # observed data: scanned once too
  y[250] <- NA
  expect_error(svi_step(s, X, y), "`obs` of sample site \"y\" contains `NA`")
})

test_that("a step's batched optimizer update equals the per-parameter one", {
  model <- function() {
    sample_site("a", dist_normal(0, 1))
    sample_site("b", dist_gamma(2, 1))
  }
  guide <- function() {
    sample_site("a", dist_normal(param("am", 0.5), param("as", 0.7, constraint = constraint_positive())))
    sample_site("b", dist_lognormal(param("bm", 0), 0.5))
  }
  opt <- adam(lr = 0.05)
  s <- svi(model, guide, opt, trace_elbo())
  set.seed(3)
  svi_step(s)                          # creates parameters and optimizer states
  values <- s$store$values
  state <- svi:::optim_state_new()
  svi:::optim_state_set(state, svi:::optim_state_get(s$optim_state))
  set.seed(4)
  g <- elbo_loss_and_grads(trace_elbo(), model, guide, store = s$store)$grads
  set.seed(4)
  svi_step(s)
  for (nm in names(g)) {
    by_hand <- svi:::optim_update(opt, state, nm, values[[nm]], g[[nm]])
    expect_identical(s$store$values[[nm]], by_hand)
    expect_identical(s$optim_state$params[[nm]]$buffers, state$params[[nm]]$buffers)
  }
})

test_that("fixed constraints are shared objects with the documented behaviour", {
  expect_identical(constraint_positive(), constraint_positive())
  expect_identical(constraint_forward(constraint_positive(), 0), 1)
  expect_identical(constraint_real()$event_dim, 0L)
  expect_identical(constraint_real(1)$event_dim, 1L)
})

test_that("the C++ sample-site path takes the same steps as the handler walk in R", {
  # block(fn, hide = character(0)) hides nothing but is a closure handler, which sends every
  # site of the wrapped function through apply_stack() in R
  y <- c(0.3, -1.2, 2.2, 0.9)
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) {
      z <- sample_site("z", dist_normal(mu, 1))          # plated, scalar parameters
      sample_site("y", dist_normal(z, 0.5), obs = y)
    })
  }
  guide <- function(y) {
    sample_site("mu", dist_normal(param("m", 0), param("s", 1, constraint = constraint_positive())))
    plate("data", length(y), function(i) {
      sample_site("z", dist_normal(param("zm", numeric(4)), 0.7))   # batch already the plate's
    })
  }
  run <- function(m, g, loss = trace_elbo()) {
    s <- svi(m, g, adam(lr = 0.05), loss)
    set.seed(11)
    losses <- vapply(1:30, function(i) svi_step(s, y), 0)
    list(losses = losses, params = params(s))
  }
  fast <- run(model, guide)
  slow <- run(block(model, hide = character(0)), block(guide, hide = character(0)))
  expect_identical(fast$losses, slow$losses)
  expect_identical(fast$params, slow$params)
  # TraceGraph's tracker (site ids, marked values, prov_id) in C++ and in its R closure
  model_tg <- function(y) {
    model(y)
    plate("data", length(y), function(i) sample_site("c", dist_bernoulli(prob = 0.2)))
  }
  guide_tg <- function(y) {
    guide(y)
    plate("data", length(y), function(i) {
      sample_site("c", dist_bernoulli(logit = param("cl", rep(0, 4))),
                  infer = list(baseline = baseline_decaying_avg()))
    })
  }
  fast <- run(model_tg, guide_tg, tracegraph_elbo())
  slow <- run(block(model_tg, hide = character(0)), block(guide_tg, hide = character(0)),
              tracegraph_elbo())
  expect_identical(fast, slow)
  expect_false(isTRUE(all.equal(fast$params$cl, rep(0, 4))))   # the score-function site learnt
})

test_that("the one-frame svi_step() takes the same steps as the general run_elbo() path", {
  y <- c(0.3, -1.2, 2.2, 0.9, 1.4)
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    k <- sample_site("k", dist_bernoulli(prob = 0.3))            # score-function site
    plate("data", length(y), function(i) sample_site("y", dist_normal(mu + k, 1), obs = y))
  }
  guide <- function(y) {
    sample_site("mu", dist_normal(param("m", 0), param("s", 1, constraint = constraint_positive())))
    sample_site("k", dist_bernoulli(prob = param("p", 0.5, constraint = constraint_unit_interval())))
  }
  run <- function(loss, lean) {
    state <- asNamespace("svi")$.svi
    old <- state$lean
    state$lean <- lean
    on.exit(state$lean <- old)
    s <- svi(model, guide, adam(lr = 0.05), loss)
    set.seed(5)
    losses <- vapply(1:40, function(i) svi_step(s, y), 0)
    list(losses = losses, params = params(s))
  }
  lean <- run(trace_elbo(), TRUE)
  expect_identical(lean, run(trace_elbo(), FALSE))
  expect_true(all(is.finite(lean$losses)))
  # TraceGraph: its tracker handler is walked in C++ too (marks, site ids, prov_id)
  model_tg <- model
  guide_base <- guide
  guide_tg <- function(y) {
    guide_base(y)
    plate("data", length(y), function(i) {
      sample_site("c", dist_bernoulli(logit = param("cl", rep(0, 5))),
                  infer = list(baseline = baseline_decaying_avg()))
    })
  }
  model <- function(y) {
    model_tg(y)
    plate("data", length(y), function(i) sample_site("c", dist_bernoulli(prob = 0.5)))
  }
  guide <- guide_tg
  lean_tg <- run(tracegraph_elbo(), TRUE)
  expect_identical(lean_tg, run(tracegraph_elbo(), FALSE))
  expect_true(all(is.finite(lean_tg$losses)))
  model2 <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), function(i) sample_site("y", dist_normal(mu, 1), obs = y))
  }
  guide2 <- function(y) {
    sample_site("mu", dist_normal(param("m", 0), param("s", 1, constraint = constraint_positive())))
  }
  model <- model2
  guide <- guide2
  expect_identical(run(meanfield_elbo(), TRUE), run(meanfield_elbo(), FALSE))
})

test_that("a failing step removes the parameters it created and leaves the handler state clean", {
  model <- function() sample_site("z", dist_normal(0, 1))
  bad_guide <- function() {
    m <- param("m", 0)
    param("fail", 1)
    stop("guide failed on purpose")
  }
  good_guide <- function() sample_site("z", dist_normal(param("m", 0), 1))
  state <- asNamespace("svi")$.svi
  old <- state$lean
  on.exit(state$lean <- old)
  for (lean in c(TRUE, FALSE)) {
    state$lean <- lean
    s <- svi(model, bad_guide, adam(lr = 0.1), trace_elbo())
    expect_error(svi_step(s), "guide failed on purpose")
    expect_length(params(s), 0)
    expect_length(state$stack, 0)
    expect_null(state$ctx)
    expect_true(state$plain)
    # parameters that existed before the failing step stay
    s2 <- svi(model, good_guide, adam(lr = 0.1), trace_elbo())
    expect_true(is.finite(svi_step(s2)))
    s3 <- svi(model, bad_guide, adam(lr = 0.1), trace_elbo(), store = s2$store)
    expect_error(svi_step(s3), "guide failed on purpose")
    expect_named(params(s2), "m")
  }
})
