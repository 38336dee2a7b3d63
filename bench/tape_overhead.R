# Tape overhead: what an R-level op on tensor handles costs.
#
#   Rscript bench/tape_overhead.R            (svi installed; base R only otherwise)
#
# 1. Per-op overhead on length-1 handles: dispatch + .Call + recording a node. Each op runs
#    `n` times inside one recording; the figure is the median over `reps` such runs, per op,
#    then the median over ops. Target: <= 3 us.
#
# Times are CPU time (user + system) of this process, not wall time, so other processes on a
# busy machine disturb them less; the wall-clock figure is printed too.
# 2. An elementwise op on length-1e6 handles against the same op on plain numerics.
#    "steady" re-records on one tape, as every svi step after the first does (the tape keeps
#    its node buffers); "fresh" records on a new tape each time (new memory for every node).
#    Target: <= 1.5x plain R.
suppressPackageStartupMessages(library(svi))

now <- function() sum(proc.time()[1:2])   # CPU seconds (1 ms resolution: time batches)
wall <- function() as.numeric(Sys.time())

# --- 1. per-op overhead ---------------------------------------------------------------------
ops <- list(
  "x + 1"       = function(x, y) x + 1,
  "x + y"       = function(x, y) x + y,
  "2 * x"       = function(x, y) 2 * x,
  "x * y"       = function(x, y) x * y,
  "x - y"       = function(x, y) x - y,
  "x / y"       = function(x, y) x / y,
  "x^2"         = function(x, y) x^2,
  "-x"          = function(x, y) -x,
  "exp(x)"      = function(x, y) exp(x),
  "log(x)"      = function(x, y) log(x),
  "sqrt(x)"     = function(x, y) sqrt(x),
  "log1p(x)"    = function(x, y) log1p(x),
  "lgamma(x)"   = function(x, y) lgamma(x),
  "softplus(x)" = function(x, y) softplus(x),
  "sum(x)"      = function(x, y) sum(x),
  "mean(x)"     = function(x, y) mean(x),
  "x[1]"        = function(x, y) x[1],
  "x %*% y"     = function(x, y) x %*% y,
  "t(x)"        = function(x, y) t(x),
  "c(x, y)"     = function(x, y) c(x, y)
)
n <- 20000L
reps <- 7L
per_op <- vapply(names(ops), function(nm) {
  op <- ops[[nm]]
  times <- numeric(reps)
  for (r in seq_len(reps)) {
    value_and_grad(function(p) {
      x <- p$x
      y <- p$y
      t0 <- now()
      for (k in seq_len(n)) z <- op(x, y)
      times[r] <<- (now() - t0) / n
      x
    }, list(x = 1.5, y = 0.5))
  }
  median(times) * 1e6
}, 0)
wall_add <- local({
  value_and_grad(function(x) {
    t0 <- wall(); for (k in seq_len(n)) z <- x + 1; (wall() - t0) / n * 1e6
  }, 1)$value
})
# the bare cost of the benchmark loop and the closure call, for reference
loop <- local({
  f <- function(x, y) x
  t0 <- now(); for (k in seq_len(n * 10L)) z <- f(1, 2); (now() - t0) / (n * 10L) * 1e6
})

cat("R-level overhead per op on length-1 handles (median of", reps, "runs of", n, "ops):\n")
print(data.frame(op = names(per_op), us = round(unname(per_op), 2)), row.names = FALSE)
cat(sprintf("median over ops: %.2f us CPU (target <= 3 us); benchmark loop + closure call alone: %.2f us\n",
            median(per_op), loop))
cat(sprintf("wall clock for x + 1: %.2f us per op\n\n", wall_add))

# --- 2. length-1e6 elementwise ops against plain R ------------------------------------------
N <- 1e6
set.seed(1)
X <- rnorm(N)
Y <- rnorm(N)
big_ops <- list(
  "x * y"  = function(x, y) x * y,
  "x + 1"  = function(x, y) x + 1,
  "exp(x)" = function(x, y) exp(x),
  "log1p(x^2)" = function(x, y) log1p(x^2)
)
reps_big <- 15L
batch <- 10L   # ops per timed batch (CPU time has 1 ms resolution)
median_time <- function(f) {
  ts <- numeric(reps_big)
  for (r in seq_len(reps_big)) ts[r] <- f()
  median(ts) / batch * 1e3
}
tape <- svi:::cpp_tape_new()
steady <- function(op) {
  # one tape re-recorded each time, as the svi loop does; timed: the ops alone
  median_time(function() {
    svi:::cpp_tape_start(tape)
    on.exit(svi:::cpp_tape_stop(tape))
    x <- svi:::cpp_tape_input(tape, X, "x")
    y <- svi:::cpp_tape_input(tape, Y, "y")
    t0 <- now(); for (k in seq_len(batch)) z <- op(x, y); now() - t0
  })
}
fresh <- function(op) {
  median_time(function() {
    t <- NA
    value_and_grad(function(p) {
      t0 <- now(); for (k in seq_len(batch)) z <- op(p$x, p$y); t <<- now() - t0
      p$x[1]
    }, list(x = X, y = Y))
    t
  })
}
plain <- function(op) median_time(function() { t0 <- now(); for (k in seq_len(batch)) z <- op(X, Y); now() - t0 })

rows <- lapply(names(big_ops), function(nm) {
  op <- big_ops[[nm]]
  p <- plain(op); s <- steady(op); f <- fresh(op)
  data.frame(op = nm, plain_ms = round(p, 3), steady_ms = round(s, 3), fresh_ms = round(f, 3),
             steady_ratio = round(s / p, 2), fresh_ratio = round(f / p, 2))
})
cat("Elementwise ops on length-1e6 vectors, ms of CPU per op (median of", reps_big, "batches of", batch, "):\n")
print(do.call(rbind, rows), row.names = FALSE)
cat("target: ratio to plain R <= 1.5\n")
