# Shared helpers for the benchmark scripts: run from the repository root with
#   Rscript bench/<model>.R
# after installing the package (R CMD INSTALL .). Each script prints one JSON line per mode.
suppressPackageStartupMessages(library(svi))

# ---- clocks ---------------------------------------------------------------------------------
# proc.time() rounds to 1 ms, too coarse for a compiled step (~10 us) timed in short blocks, and
# /proc/self/schedstat only advances at scheduler ticks for a running thread. Wall clock:
# Sys.time() (microsecond resolution on Linux). CPU clock: clock_gettime(CLOCK_PROCESS_CPUTIME_ID)
# (user + system of the whole process, nanoseconds) through a five-line C helper built once per
# session with R CMD SHLIB; proc.time() when that cannot be built.
wall_now <- function() as.numeric(Sys.time())

cpu_clock_lib <- local({
  dir <- file.path(tempdir(), "svi_bench_clock")
  dir.create(dir, showWarnings = FALSE)
  src <- file.path(dir, "cpu_clock.c")
  writeLines(c("#include <time.h>", "#include <Rinternals.h>",
               "SEXP svi_bench_cpu(void) {",
               "  struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);",
               "  return Rf_ScalarReal((double) t.tv_sec + 1e-9 * (double) t.tv_nsec);",
               "}"), src)
  so <- file.path(dir, paste0("cpu_clock", .Platform$dynlib.ext))
  out <- suppressWarnings(system2(file.path(R.home("bin"), "R"), c("CMD", "SHLIB", "-o", shQuote(so), shQuote(src)),
                 stdout = TRUE, stderr = TRUE))
  if (file.exists(so)) tryCatch(dyn.load(so), error = function(e) NULL) else {
    message("bench: the CPU clock helper did not build, CPU times have 1 ms resolution:\n",
            paste(out, collapse = "\n"))
    NULL
  }
})
cpu_now <- if (!is.null(cpu_clock_lib)) {
  function() .Call("svi_bench_cpu", PACKAGE = "cpu_clock")
} else {
  function() { p <- proc.time(); p[["user.self"]] + p[["sys.self"]] }
}

# CPU seconds (user + system) of the whole process, 1 ms resolution: a cross-check over a long
# stretch (every thread included).
process_cpu <- function() { p <- proc.time(); p[["user.self"]] + p[["sys.self"]] }

load_avg <- function() {
  if (!file.exists("/proc/loadavg")) return(NA_real_)
  as.numeric(strsplit(readLines("/proc/loadavg"), " ", fixed = TRUE)[[1]][1])
}

# The modes to run: SVI_BENCH_MODES=compiled (or dynamic) runs one of them only.
bench_compile_modes <- function() {
  m <- strsplit(Sys.getenv("SVI_BENCH_MODES", "dynamic,compiled"), ",", fixed = TRUE)[[1]]
  c(dynamic = FALSE, compiled = TRUE)[intersect(c("dynamic", "compiled"), trimws(m))]
}

# ---- timing ---------------------------------------------------------------------------------
# Times `run(n)` (which runs n steps) in blocks after `warmup` steps. The number of timed steps
# is at least `steps` and enough to fill about `min_time` seconds. A block is `block` steps, or
# when that is NULL sized to last about `block_time` seconds (at least `min_block` steps); the
# clocks' own cost (read around an empty block) is subtracted. Returns a timing: median
# wall-clock and CPU seconds per step over the blocks, the process's mean CPU per step over the
# whole stretch, and the counts.
time_blocks <- function(run, steps = 1000, warmup = 100, min_time = 1, block = NULL,
                        block_time = 0.01, min_block = 1, max_steps = 2e5) {
  time_interleaved(list(run), steps, warmup, min_time, block, block_time, min_block, max_steps)[[1]]
}

# time_blocks() for several runs at once, their blocks interleaved (run 1, run 2, run 1, ...),
# so that a change in the machine's speed during the measurement affects all of them alike:
# for figures that are compared as ratios. Returns a list of timings, one per run.
time_interleaved <- function(runs, steps = 1000, warmup = 100, min_time = 1, block = NULL,
                             block_time = 0.01, min_block = 1, max_steps = 2e5) {
  plan <- lapply(runs, function(run) {
    run(warmup)
    w0 <- wall_now()
    run(max(10L, warmup %/% 2L))    # the rate, after warm-up (the first steps can be slow)
    per <- max((wall_now() - w0) / max(10L, warmup %/% 2L), 1e-7)
    b <- if (is.null(block)) max(min_block, as.integer(ceiling(block_time / per))) else block
    total <- min(max_steps, max(steps, ceiling(min_time / per)))
    list(block = b, blocks = max(10L, as.integer(ceiling(total / b))))
  })
  ow <- oc <- numeric(50)
  for (b in seq_along(ow)) {
    c0 <- cpu_now(); t0 <- wall_now(); t1 <- wall_now(); c1 <- cpu_now()
    ow[b] <- t1 - t0
    oc[b] <- c1 - c0
  }
  ow <- stats::median(ow)
  oc <- stats::median(oc)
  nb <- max(vapply(plan, function(p) p$blocks, 1))
  wall <- cpu <- lapply(plan, function(p) numeric(0))
  cpu_total <- numeric(length(runs))
  for (b in seq_len(nb)) {
    for (r in seq_along(runs)) {
      if (b > plan[[r]]$blocks) next
      n <- plan[[r]]$block
      p0 <- process_cpu()
      c0 <- cpu_now()
      t0 <- wall_now()
      runs[[r]](n)
      t1 <- wall_now()
      c1 <- cpu_now()
      cpu_total[r] <- cpu_total[r] + process_cpu() - p0
      wall[[r]][b] <- (t1 - t0 - ow) / n
      cpu[[r]][b] <- (c1 - c0 - oc) / n
    }
  }
  lapply(seq_along(runs), function(r) {
    steps_run <- plan[[r]]$blocks * plan[[r]]$block
    structure(list(sec = stats::median(wall[[r]]), cpu = stats::median(cpu[[r]]),
                   cpu_mean = cpu_total[r] / steps_run, steps = steps_run, block = plan[[r]]$block),
              class = "bench_timing")
  })
}

# Median seconds per step of `step()` (one svi step), the dynamic path.
time_steps <- function(step, steps = 1000, warmup = 100, ...) {
  time_blocks(function(n) for (i in seq_len(n)) step(), steps = steps, warmup = warmup, ...)
}

# Runs a compiled svi object in stretches of `block` steps, as svi_run() does (no return to R
# within a stretch; svi_run's stretch is 100 steps), and times it.
time_compiled <- function(s, args, steps = 1000, warmup = 100, block = 100, ...) {
  time_blocks(function(n) svi:::compiled_steps(s, args, n), steps = steps, warmup = warmup,
              block = block, ...)
}

# ---- memory ---------------------------------------------------------------------------------
proc_status_mb <- function(field) {
  s <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", s[grepl(paste0("^", field, ":"), s)])) / 1024
}
# Peak resident memory of this process so far, in MB (Linux).
peak_mb <- function() proc_status_mb("VmHWM")
# Current resident memory, in MB.
rss_mb <- function() proc_status_mb("VmRSS")

# ---- output ---------------------------------------------------------------------------------
json_line <- function(fields) {
  vals <- vapply(fields, function(v) {
    if (is.character(v)) paste0("\"", v, "\"")
    else if (length(v) != 1 || is.na(v)) "null"
    else format(v)
  }, "")
  cat("{", paste0("\"", names(fields), "\": ", vals, collapse = ", "), "}\n", sep = "")
}

# One JSON line for a model and mode. `timing` is a bench_timing (or a plain number of seconds
# per step, or NA when the mode failed).
report <- function(model, mode, timing, extra = list()) {
  t <- if (inherits(timing, "bench_timing")) timing
       else list(sec = timing, cpu = NA_real_, cpu_mean = NA_real_, steps = NA, block = NA)
  us <- function(x) round(x * 1e6, 2)
  fields <- c(list(model = model, mode = mode, sec_per_step = signif(t$sec, 4),
                   us_per_step = us(t$sec), cpu_us_per_step = us(t$cpu),
                   cpu_mean_us_per_step = us(t$cpu_mean), steps = t$steps, block = t$block,
                   peak_mb = round(peak_mb(), 1), load = load_avg()), extra)
  json_line(fields)
}

# ---- the floor ------------------------------------------------------------------------------
# Builds and runs the hand-written floor (../shared/bench/logreg_floor.cpp) with the compiler
# and optimization flags R uses for packages (CXX17, CXX17FLAGS). The compiler's output (Eigen
# prints hundreds of warnings) is shown only when the build fails. Returns the floor's own
# figure (wall-clock seconds per step, mean over `steps` steps) and its CPU seconds per step
# (the child's user + system time, less that of a zero-step run: the data set-up).
run_floor <- function(steps = 2000) {
  none <- list(sec = NA_real_, cpu = NA_real_)
  src <- Sys.getenv("SVI_FLOOR_SRC", "../shared/bench/logreg_floor.cpp")
  if (!file.exists(src)) {
    message("floor: ", src, " not found (set SVI_FLOOR_SRC)")
    return(none)
  }
  exe <- file.path(tempdir(), "logreg_floor")
  log <- file.path(tempdir(), "logreg_floor.log")
  r <- file.path(R.home("bin"), "R")
  cxx <- system2(r, c("CMD", "config", "CXX17"), stdout = TRUE)
  flags <- system2(r, c("CMD", "config", "CXX17FLAGS"), stdout = TRUE)
  eigen <- system.file("include", package = "RcppEigen")
  cmd <- paste(cxx, flags, "-DNDEBUG", paste0("-I", shQuote(eigen)), shQuote(src), "-o",
               shQuote(exe), ">", shQuote(log), "2>&1")
  if (system(cmd) != 0) {
    message("floor: the build failed:\n", cmd, "\n", paste(readLines(log), collapse = "\n"))
    return(none)
  }
  child_cpu <- function() { p <- proc.time(); p[["user.child"]] + p[["sys.child"]] }
  c0 <- child_cpu()
  system2(exe, "0", stdout = FALSE)
  c1 <- child_cpu()
  out <- system2(exe, as.character(steps), stdout = TRUE)
  c2 <- child_cpu()
  list(sec = as.numeric(sub('.*"floor_sec_per_step": ([0-9.eE+-]+).*', "\\1", out)),
       cpu = ((c2 - c1) - (c1 - c0)) / steps)
}
