# Shared helpers for the benchmark scripts: run from the repository root with
#   Rscript bench/<model>.R
# after installing the package (R CMD INSTALL .). Each script prints one JSON line per mode.
suppressPackageStartupMessages(library(svi))

# Median seconds per step over `steps` steps of `step()`, after `warmup` steps, timing blocks
# of `block` steps (a single step is too short for the clock).
time_steps <- function(step, steps = 1000, warmup = 100, block = 10) {
  for (i in seq_len(warmup)) step()
  blocks <- ceiling(steps / block)
  t <- numeric(blocks)
  for (b in seq_len(blocks)) {
    t0 <- proc.time()[["elapsed"]]
    for (i in seq_len(block)) step()
    t[b] <- (proc.time()[["elapsed"]] - t0) / block
  }
  stats::median(t)
}

# Peak resident memory of this process so far, in MB (Linux).
peak_mb <- function() {
  s <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", s[grepl("^VmHWM", s)])) / 1024
}

report <- function(model, mode, sec, extra = list()) {
  fields <- c(list(model = model, mode = mode, sec_per_step = signif(sec, 4),
                   us_per_step = round(sec * 1e6, 1), peak_mb = round(peak_mb(), 1)), extra)
  vals <- vapply(fields, function(v) if (is.character(v)) paste0("\"", v, "\"") else format(v), "")
  cat("{", paste0("\"", names(fields), "\": ", vals, collapse = ", "), "}\n", sep = "")
}

# Runs a compiled svi object for `steps` steps in stretches (svi_run's way: no return to R
# per step) and returns the median seconds per step over blocks of `block` steps.
time_compiled <- function(s, args, steps = 1000, warmup = 100, block = 100) {
  svi:::compiled_steps(s, args, warmup)
  blocks <- ceiling(steps / block)
  t <- numeric(blocks)
  for (b in seq_len(blocks)) {
    t0 <- proc.time()[["elapsed"]]
    svi:::compiled_steps(s, args, block)
    t[b] <- (proc.time()[["elapsed"]] - t0) / block
  }
  stats::median(t)
}

# Builds and runs the hand-written floor (../shared/bench/logreg_floor.cpp) with the compiler
# and optimization flags R uses for packages; returns its seconds per step.
run_floor <- function(steps = 2000) {
  src <- Sys.getenv("SVI_FLOOR_SRC", "../shared/bench/logreg_floor.cpp")
  if (!file.exists(src)) return(NA_real_)
  exe <- file.path(tempdir(), "logreg_floor")
  r <- file.path(R.home("bin"), "R")
  cxx <- system2(r, c("CMD", "config", "CXX17"), stdout = TRUE)
  flags <- system2(r, c("CMD", "config", "CXX17FLAGS"), stdout = TRUE)
  eigen <- system.file("include", package = "RcppEigen")
  cmd <- paste(cxx, flags, "-DNDEBUG", paste0("-I", shQuote(eigen)), shQuote(src), "-o", shQuote(exe))
  if (system(cmd) != 0) return(NA_real_)
  out <- system2(exe, as.character(steps), stdout = TRUE)
  as.numeric(sub('.*"floor_sec_per_step": ([0-9.eE+-]+).*', "\\1", out))
}
