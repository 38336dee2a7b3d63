roundtrip <- function(x) {
  path <- withr::local_tempfile(fileext = ".rds")
  saveRDS(x, path)
  readRDS(path)
}

continue_losses <- function(s, k, n = 100) {
  set.seed(k)
  vapply(seq_len(n), function(i) svi_step(s, fx_y), 1)
}

test_that("a reloaded svi object continues exactly as the original", {
  set.seed(1)
  s <- svi(fx_model, fx_guide, adam(lr = 0.05, schedule = lr_exponential(0.99)), trace_elbo())
  svi_run(s, fx_y, num_steps = 50, progress = FALSE)
  s2 <- roundtrip(s)
  expect_s3_class(s2, "svi")
  expect_identical(fx_state(s2), fx_state(s))
  expect_identical(s2$store$constraints, s$store$constraints)
  expect_identical(optim_lr(s2$optim_state, "loc"), 0.05 * 0.99^50)
  # the reloaded tape pointer is dead and is rebuilt on the next step
  expect_false(.Call(`_svi_cpp_tape_valid`, s2$tape))
  a <- continue_losses(s, 17)
  b <- continue_losses(s2, 17)
  expect_identical(b, a)
  expect_identical(params(s2), params(s))
  expect_identical(fx_state(s2), fx_state(s))
  expect_true(.Call(`_svi_cpp_tape_valid`, s2$tape))
})

test_that("an svi object saved before its first step reloads and trains", {
  s <- fx_svi()
  s2 <- roundtrip(s)
  expect_identical(continue_losses(s2, 3, 20), continue_losses(s, 3, 20))
})

test_that("a reloaded fit keeps its history and continues exactly as the original", {
  set.seed(2)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 40, progress = FALSE, validation = list(c(3, 3.1)))
  fit2 <- roundtrip(fit)
  for (field in c("loss", "smoothed_loss", "validation_loss", "time", "stop_reason", "args", "state")) {
    expect_identical(fit2[[field]], fit[[field]])
  }
  expect_identical(params(fit2), params(fit))
  set.seed(8)
  a <- svi_run(fit, num_steps = 100, progress = FALSE, validation = list(c(3, 3.1)))
  set.seed(8)
  b <- svi_run(fit2, num_steps = 100, progress = FALSE, validation = list(c(3, 3.1)))
  expect_identical(b$loss, a$loss)
  expect_identical(b$smoothed_loss, a$smoothed_loss)
  expect_identical(b$validation_loss, a$validation_loss)
  expect_identical(params(b), params(a))
  set.seed(1)
  da <- posterior_draws(a, num_samples = 10)
  set.seed(1)
  expect_identical(posterior_draws(b, num_samples = 10), da)
})

test_that("a shared parameter store stays shared after an interrupted step is undone", {
  set.seed(1)
  s1 <- fx_svi()
  svi_step(s1, fx_y)
  s2 <- svi(fx_model, fx_guide, adam(0.05), trace_elbo(), store = s1$store)
  snap <- svi_snapshot(s2)
  svi_step(s2, fx_y)
  svi_restore(s2, snap)
  expect_identical(s2$store, s1$store)
  expect_identical(s2$steps, 0L)
  expect_identical(optim_state_get(s2$optim_state), list())
})

test_that("knitr's chunk cache restores a fit that keeps training", {
  skip_if_not_installed("knitr")
  dir <- withr::local_tempdir()
  rmd <- file.path(dir, "cached.Rmd")
  writeLines(c(
    "```{r setup, include = FALSE}",
    "library(svi)",
    "knitr::opts_chunk$set(cache.path = 'cache/')",
    "```",
    "```{r fit, cache = TRUE}",
    "model <- function(y) {",
    "  mu <- sample_site('mu', dist_normal(0, 10))",
    "  plate('data', length(y), function(i) sample_site('obs', dist_normal(mu, 1), obs = y))",
    "}",
    "guide <- function(y) {",
    "  sample_site('mu', dist_normal(param('loc', 0), param('scale', 1, constraint = constraint_positive())))",
    "}",
    "set.seed(1)",
    "fit <- svi_run(svi(model, guide, adam(lr = 0.05)), c(2.1, 3.4, 2.9), num_steps = 50)",
    "```",
    "```{r more}",
    "set.seed(2)",
    "fit2 <- svi_run(fit, num_steps = 20, log_every = 20)",
    "cat('RESULT', format(unlist(params(fit2)), digits = 15), '\\n')",
    "```"
  ), rmd)
  render <- function() {
    out <- file.path(dir, "cached.md")
    callr_free <- function() {
      knitr::knit(rmd, output = out, quiet = TRUE, envir = new.env(parent = globalenv()))
    }
    withr::with_dir(dir, callr_free())
    lines <- readLines(out)
    lines[grepl("^## (RESULT|step)", lines)]
  }
  first <- render()
  expect_true(dir.exists(file.path(dir, "cache")))
  second <- render()     # the fit chunk now comes from the cache
  expect_identical(second, first)
  expect_length(grep("RESULT", first), 1)
  expect_true(any(grepl("^## step 70 ", first)))
})

test_that("decaying-average baselines and compiled objects survive a round trip", {
  guide <- function(y) {
    loc <- param("loc", 0)
    sample_site("mu", nonreparameterized(dist_normal(loc, 1)),
                infer = list(baseline = baseline_decaying_avg(0.9)))
  }
  set.seed(4)
  s <- svi(fx_model, guide, adam(lr = 0.05), tracegraph_elbo())
  svi_run(s, fx_y, num_steps = 30, progress = FALSE)
  expect_true(length(s$store$averages) > 0)
  s2 <- roundtrip(s)
  expect_identical(s2$store$averages, s$store$averages)
  expect_identical(continue_losses(s2, 5), continue_losses(s, 5))
  expect_identical(s2$store$averages, s$store$averages)

  set.seed(6)
  s <- svi(fx_model, fx_guide, adam(lr = 0.05), trace_elbo(), compile = TRUE)
  svi_run(s, fx_y, num_steps = 10, progress = FALSE)
  s2 <- roundtrip(s)
  expect_identical(continue_losses(s2, 9), continue_losses(s, 9))
  expect_identical(params(s2), params(s))
})
