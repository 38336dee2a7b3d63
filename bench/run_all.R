# Runs every benchmark of the reference models and the compiled-mode memory check, one after
# the other (each in its own R process, so one's memory does not weigh on the next), printing
# their JSON lines and then a summary table against the targets of issue 7.
#   R_LIBS=<lib> Rscript bench/run_all.R            # from the repository root
# SVI_BENCH_MODES=compiled (or dynamic) limits the timed modes; tape_overhead.R is separate.
scripts <- c("normal_normal", "eight_schools", "mixture", "logistic_regression",
             "minibatch_logistic", "memory_compiled")
rscript <- file.path(R.home("bin"), "Rscript")
lines <- character(0)
for (s in scripts) {
  f <- file.path("bench", paste0(s, ".R"))
  if (!file.exists(f)) next
  out <- suppressWarnings(system2(rscript, f, stdout = TRUE, stderr = ""))
  writeLines(out)
  lines <- c(lines, grep("^\\{", out, value = TRUE))
}

# A minimal reader for the flat JSON lines the scripts print.
parse_line <- function(l) {
  body <- sub("^\\{(.*)\\}$", "\\1", l)
  parts <- regmatches(body, gregexpr('"[^"]+": ("[^"]*"|[^,]+)', body))[[1]]
  keys <- sub('^"([^"]+)": .*$', "\\1", parts)
  vals <- sub('^"[^"]+": ', "", parts)
  stats::setNames(as.list(gsub('^"|"$', "", vals)), keys)
}
recs <- lapply(lines, parse_line)
get <- function(model, mode, field, extra = NULL) {
  for (r in recs) {
    if (identical(r$model, model) && identical(r$mode, mode) && !is.null(r[[field]]) &&
        (is.null(extra) || identical(r[[names(extra)]], extra[[1]]))) return(r[[field]])
  }
  NA_character_
}
num <- function(x) suppressWarnings(as.numeric(x))
fmt <- function(x, d = 1) if (is.na(num(x))) "-" else formatC(num(x), format = "f", digits = d)
row <- function(...) cat(paste0("| ", paste(..., sep = " | "), " |\n"))

cat("\nSummary (us per step: median wall clock / median CPU; load average: ",
    paste(readLines("/proc/loadavg"), collapse = ""), ")\n\n", sep = "")
row("model", "dynamic", "compiled", "floor / ratio (wall, CPU)", "targets")
row("---", "---", "---", "---", "---")
us <- function(model, mode, extra = NULL) {
  paste(fmt(get(model, mode, "us_per_step", extra)), "/", fmt(get(model, mode, "cpu_us_per_step", extra)))
}
row("normal_normal", us("normal_normal", "dynamic"), us("normal_normal", "compiled"), "",
    "dynamic <= 100, compiled <= 10")
row("eight_schools", us("eight_schools", "dynamic"), us("eight_schools", "compiled"), "",
    "dynamic <= 150, compiled <= 15")
row("mixture (tracegraph)", us("mixture_tracegraph", "dynamic"), us("mixture_tracegraph", "compiled"),
    "", "dynamic <= 500")
g <- function(mode, field, d) fmt(get("logistic_regression", mode, field), d)
row("logistic_regression", us("logistic_regression", "dynamic"), us("logistic_regression", "compiled"),
    paste0("dynamic: floor ", g("dynamic", "floor_us_per_step", 1), ", ratio ",
           g("dynamic", "ratio_to_floor", 2), " / ", g("dynamic", "cpu_ratio_to_floor", 2),
           "; compiled: floor ", g("compiled", "floor_us_per_step", 1), ", ratio ",
           g("compiled", "ratio_to_floor", 2), " / ", g("compiled", "cpu_ratio_to_floor", 2)),
    "dynamic <= 2.0x floor, compiled <= 1.3x")
for (N in c("1e+05", "1e+06"))
  row(paste("minibatch_logistic N =", N), us("minibatch_logistic", "dynamic", list(N = N)),
      us("minibatch_logistic", "compiled", list(N = N)), "", "")
ratio <- function(mode) paste(fmt(get("minibatch_logistic", mode, "ratio_1e6_to_1e5"), 2), "/",
                             fmt(get("minibatch_logistic", mode, "cpu_ratio_1e6_to_1e5"), 2))
row("minibatch_logistic, N = 1e6 / N = 1e5", ratio("dynamic"), ratio("compiled"), "", "<= 1.2 both modes")
row("RSS growth over 1e5 compiled steps (MB)", "", fmt(get("normal_normal", "compiled", "rss_growth_mb"), 3),
    paste("with no gc() calls: first 1e5 steps", fmt(get("normal_normal", "compiled", "rss_growth_no_gc_mb"), 1),
          "MB (R's GC headroom), next 1e5", fmt(get("normal_normal", "compiled", "rss_growth_steady_no_gc_mb"), 3), "MB"),
    "< 1 MB")
