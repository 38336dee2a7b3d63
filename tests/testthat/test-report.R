# Reports: progress in knitted documents, plot arguments, failing steps and interrupts.

test_that("a knitted R Markdown document with three fits has at most three progress lines", {
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available(), "pandoc is not available")
  dir <- withr::local_tempdir()
  rmd <- file.path(dir, "three-fits.Rmd")
  writeLines(c(
    "---", "title: three fits", "output: md_document", "---", "",
    "```{r}",
    "library(svi)",
    "set.seed(1)",
    "y <- rnorm(30, 3)",
    "model <- function(y) { mu <- sample_site('mu', dist_normal(0, 10)); plate('d', length(y), function(i) sample_site('obs', dist_normal(mu, 1), obs = y)) }",
    "guide <- function(y) sample_site('mu', dist_normal(param('loc', 0), param('scale', 1, constraint = constraint_positive())))",
    "fit1 <- svi_run(svi(model, guide, adam(0.05)), y, num_steps = 300)",
    "fit2 <- svi_run(svi(model, guide, adam(0.05), compile = TRUE), y, num_steps = 300)",
    "fit3 <- svi_run(svi(model, guide, adam(0.05)), y, num_steps = 2000, patience = 50)",
    "```", "",
    "```{r}",
    "svi_run(svi(model, guide, adam(0.05)), y, num_steps = 100, progress = FALSE)",
    "```"
  ), rmd)
  out <- rmarkdown::render(rmd, quiet = TRUE, envir = new.env())
  md <- readLines(out)
  progress <- grep("svi_run:|^## step |\\| loss ", md, value = TRUE)
  expect_lte(length(progress), 3L)
  expect_length(grep("svi_run: 300 steps", md), 2L)
  expect_length(grep("svi_run: .*Stopped early", md), 1L)
})

test_that("plot passes ylim, main, ylab and col through; its labels and scale", {
  set.seed(1)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 400, progress = FALSE)
  path <- withr::local_tempfile(fileext = ".png")
  grDevices::png(path)
  expect_no_error(plot(fit, ylim = c(0, 40), main = "My fit", ylab = "-ELBO", col = "red"))
  expect_equal(graphics::par("usr")[3:4], c(0, 40) + c(-1, 1) * 0.04 * 40)
  plot(fit)
  usr <- graphics::par("usr")
  ylog <- graphics::par("ylog")
  grDevices::dev.off()
  # the default scale leaves out the early descent: the first loss is off the top
  expect_gt(fit$loss[1], if (ylog) 10^usr[4] else usr[4])
  d <- as.data.frame(fit)
  args <- fit_plot_args(fit, d, "", c(1, 2), list(main = "M", col = "red"))
  expect_snapshot(str(args[c("xlab", "ylab", "main", "log", "ylim", "col")]))
  args <- fit_plot_args(fit, d, "y", c(1, 2), list())
  expect_snapshot(str(args[c("xlab", "ylab", "main", "log", "ylim", "col")]))
})

test_that("autoplot keeps the late steps visible", {
  skip_if_not_installed("ggplot2")
  set.seed(1)
  fit <- svi_run(fx_svi(), fx_y, num_steps = 400, progress = FALSE)
  p <- ggplot2::autoplot(fit)
  expect_s3_class(p, "ggplot")
  expect_snapshot(str(p$labels[c("x", "y", "title")]))
  lim <- p$coordinates$limits$y
  expect_lt(lim[2], fit$loss[1])
})

test_that("a failing step names the step, the site and the argument, and the fit so far is returned", {
  model <- function(y) {
    r <- sample_site("r", dist_gamma(2, 1))
    plate("data", length(y), function(i) sample_site("obs", dist_poisson(r), obs = y))
  }
  # an unconstrained Gamma rate that wants to shrink: two steps of 0.5 make it negative
  guide <- function(y) sample_site("r", dist_gamma(param("a", 0.5), param("b", 0.8)))
  y <- c(2, 4, 3, 5, 1, 3)
  set.seed(1)
  s <- svi(model, guide, adam(lr = 0.5))
  expect_snapshot(fit <- svi_run(s, y, num_steps = 200, progress = FALSE),
                  transform = function(x) gsub("-?[0-9]+\\.[0-9]+", "<num>", x))
  expect_identical(fit$stop_reason, "error")
  expect_identical(fit$error$site, list(kind = "sample", name = "r"))
  expect_identical(fit$error$step, fit$run_steps + 1L)
  expect_length(fit$loss, fit$run_steps)
  expect_true(all(is.finite(fit$loss)))
  expect_identical(s$steps, fit$run_steps)
  expect_match(capture.output(print(fit)), "Stopped by an error in step", all = FALSE)
})

test_that("a step failing mid-run is found at the same step and site in both modes", {
  # an unconstrained sd pushed towards 0.01 by adam(0.05) goes negative after some 40 steps,
  # in the middle of a compiled stretch (replayed in C++, which knows no site names)
  model <- function() sample_site("mu", dist_normal(0, 0.01))
  guide <- function() sample_site("mu", dist_normal(param("loc", 0), param("s", 1)))
  fits <- lapply(c(FALSE, TRUE), function(compile) {
    set.seed(1)
    s <- svi(model, guide, adam(lr = 0.05), compile = compile)
    expect_warning(fit <- svi_run(s, num_steps = 500, progress = FALSE),
                   "Step [0-9]+ failed at sample site \"mu\"")
    expect_identical(s$steps, fit$run_steps)
    expect_identical(fit$state$values, s$store$values)
    fit
  })
  expect_gt(fits[[1]]$run_steps, 10L)
  for (fit in fits) {
    expect_identical(fit$stop_reason, "error")
    expect_identical(fit$error$site, list(kind = "sample", name = "mu"))
    expect_identical(fit$error$step, fit$run_steps + 1L)
    expect_match(conditionMessage(fit$error$condition), "`sd` of dist_normal()", fixed = TRUE)
  }
  # the compiled run keeps every step before the failing one, as the dynamic run does
  expect_identical(fits[[2]]$run_steps, fits[[1]]$run_steps)
  expect_equal(fits[[2]]$loss, fits[[1]]$loss)
})

test_that("an interrupt returns the fit with stop_reason 'interrupt' in both modes", {
  # (compiled: during the second, recording step; later steps are replayed in C++, where the
  # interrupt is checked between steps)
  for (compile in c(FALSE, TRUE)) {
    calls <- 0
    at <- if (compile) 2 else 6
    model <- function(y) {
      calls <<- calls + 1
      if (calls == at) fx_interrupt()
      fx_model(y)
    }
    set.seed(3)
    s <- svi(model, fx_guide, adam(lr = 0.05), trace_elbo(), compile = compile)
    fit <- suppressMessages(svi_run(s, fx_y, num_steps = 50, progress = FALSE))
    expect_identical(fit$stop_reason, "interrupt")
    expect_identical(fit$run_steps, s$steps)
    expect_identical(fit$run_steps, as.integer(at - 1))
    expect_true(all(is.finite(fit$loss)))
    expect_identical(fit$state$values, s$store$values)
  }
})

test_that("the README's example prints what the README shows, and agrees with the exact posterior", {
  readme <- test_path("..", "..", "README.md")
  skip_if_not(file.exists(readme), "README.md is not in this copy of the package")
  lines <- readLines(readme)
  cmd <- grep("^Rscript -e 'Sys.setenv", lines, value = TRUE)
  expect_length(cmd, 1L)
  # the part after the install: the example itself
  code <- sub("'$", "", sub("^.*?library\\(svi\\); ", "", cmd, perl = TRUE))
  out <- capture.output(suppressMessages(eval(parse(text = code), new.env())))
  shown <- grep("^(guide|exact posterior):", lines, value = TRUE)
  got <- grep("^(guide|exact posterior):", out, value = TRUE)
  expect_identical(got, shown)
  num <- function(x, what) as.numeric(sub(paste0(".* ", what, " ([0-9.]+).*"), "\\1", x))
  # (measured: sd 0.140 against 0.141, mean 3.102 against 3.100)
  expect_equal(num(got[1], "sd"), num(got[2], "sd"), tolerance = 0.02)
  expect_equal(num(got[1], "mean"), num(got[2], "mean"), tolerance = 0.002)
  expect_true(any(grepl("Converged: stationary from step", out)))
})
