# Run by test-interrupt.R in a child R process: `trials` times, starts svi_step() loops (or
# svi_run()) of a small model, has a forked helper send this process SIGINT after a random
# delay, and checks what the interrupt left behind. Writes one line per trial to `out`:
# trial, the session-state check, a fresh step of another object, steps taken, whether the
# parameters (and a next step) equal a same-seed run of that many steps, and for svi_run()
# whether a fit came back with stop_reason "interrupt" and its losses for every step taken.
args <- commandArgs(trailingOnly = TRUE)
lib <- args[[1]]; mode <- args[[2]]; what <- args[[3]]; trials <- as.integer(args[[4]])
out <- args[[5]]; seed0 <- as.integer(args[[6]])
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages(library(svi))
compile <- mode == "compiled"

set.seed(42)
y <- rnorm(200, 1.5, 1)
model <- function(y) {
  mu <- sample_site("mu", dist_normal(0, 10))
  plate("data", length(y), subsample_size = 20, function(i) {
    sample_site("obs", dist_normal(mu, 1), obs = y[i])
  })
}
guide <- function(y) {
  loc <- param("loc", 0)
  scale <- param("scale", 1, constraint = constraint_positive())
  sample_site("mu", dist_normal(loc, scale))
}
make <- function() svi(model, guide, adam(0.01), trace_elbo(), compile = compile)

# a detached fork that sleeps, then interrupts this process
send_sigint <- function(delay) {
  me <- Sys.getpid()
  parallel::mcparallel({ Sys.sleep(delay); tools::pskill(me, tools::SIGINT) }, detached = TRUE)
  invisible()
}

state_clean <- function() {
  st <- svi:::.svi
  length(st$stack) == 0L && is.null(st$ctx) && length(st$frames) == 0L &&
    length(st$batch) == 0L && identical(st$scale, 1) && isTRUE(st$plain)
}
# an interrupt that arrives while nothing else runs (the run ended first) lands here
wait_for_interrupt <- function() {
  tryCatch({ for (i in 1:500) Sys.sleep(0.01); FALSE }, interrupt = function(e) TRUE)
}

# (an empty store may or may not keep an empty names attribute)
same_params <- function(a, b) if (!length(a) && !length(b)) TRUE else identical(a, b)

cat("", file = out)
for (k in seq_len(trials)) {
  set.seed(seed0 + k)
  delay <- runif(1, 0.01, if (compile) 0.25 else 0.4)
  s <- make()
  set.seed(seed0 + k)
  fit <- NULL
  started <- FALSE
  # the signal is scheduled inside the tryCatch(), so an early one is caught too
  hit <- tryCatch({
    send_sigint(delay)
    started <- TRUE
    if (what == "step") {
      for (i in 1:1e6) svi_step(s, y)
    } else {
      fit <- svi_run(s, y, num_steps = 1e6, progress = FALSE)
    }
    what == "run"   # svi_run() caught it
  }, interrupt = function(e) what == "step")
  escaped <- what == "run" && started && is.null(fit)
  if (!started) next   # (not counted: the signal came before the run began)
  if (!hit) wait_for_interrupt()
  clean <- state_clean()
  fresh <- tryCatch({ o <- make(); is.finite(svi_step(o, y)) && state_clean() },
                    error = function(e) FALSE)
  n <- s$steps
  # the same seed, n steps, by single steps: parameters and the next step must agree
  set.seed(seed0 + k)
  r <- make()
  for (i in seq_len(n)) svi_step(r, y)
  same <- same_params(params(s), params(r))
  set.seed(7)
  l1 <- svi_step(s, y)
  set.seed(7)
  l2 <- svi_step(r, y)
  same_next <- identical(l1, l2) && same_params(params(s), params(r))
  fit_ok <- if (what == "run") {
    !escaped && identical(fit$stop_reason, "interrupt") && identical(fit$stopped_at, n) &&
      length(fit$loss) == n
  } else NA
  cat(paste(k, clean, fresh, n, same, same_next, fit_ok, sep = "\t"), "\n", file = out, append = TRUE)
}
cat("done\n", file = out, append = TRUE)
