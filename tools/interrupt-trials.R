# Counts for issue 18's "50 random-time SIGINTs per mode": runs tests/testthat/interrupt-child.R
# (the child that test-interrupt.R uses) for svi_step() loops and svi_run(), in dynamic and
# compiled mode, and prints per mode how many of the trials left a clean session, a working
# fresh step, parameters identical to a same-seed run of the recorded length (and an identical
# next step), and, for svi_run(), a returned fit with stop_reason "interrupt".
# Usage: Rscript tools/interrupt-trials.R [library] [trials per kind, default 25]
# (25 svi_step() loops + 25 svi_run() = 50 SIGINTs per mode). Not run in CI.
args <- commandArgs(trailingOnly = TRUE)
lib <- if (length(args) >= 1 && nzchar(args[[1]])) normalizePath(args[[1]]) else ""
trials <- if (length(args) >= 2) as.integer(args[[2]]) else 25L
child <- file.path("tests", "testthat", "interrupt-child.R")
stopifnot(file.exists(child))
rscript <- file.path(R.home("bin"), "Rscript")
cols <- c("trial", "clean", "fresh", "steps", "same", "same_next", "fit")
run_kind <- function(mode, what, seed) {
  out <- tempfile(fileext = ".tsv")
  status <- system2(rscript, c(shQuote(child), shQuote(lib), mode, what, trials, shQuote(out), seed),
                    stdout = FALSE, stderr = FALSE)
  lines <- if (file.exists(out)) readLines(out) else character(0)
  rows <- strsplit(trimws(lines[lines != "done" & nzchar(trimws(lines))]), "\t")
  res <- as.data.frame(do.call(rbind, rows), stringsAsFactors = FALSE)
  if (nrow(res)) names(res) <- cols
  res$what <- rep(what, nrow(res))
  list(status = status, finished = "done" %in% lines, res = res)
}
for (mode in c("dynamic", "compiled")) {
  base <- if (mode == "dynamic") 1000L else 2000L
  a <- run_kind(mode, "step", base)
  b <- run_kind(mode, "run", base + 2000L)
  r <- rbind(a$res, b$res)
  n <- nrow(r)
  runs <- r[r$what == "run", ]
  cat(sprintf(paste0("%-8s SIGINTs %d (%d step loops, %d svi_run), child exit %d/%d, finished %s/%s:",
                     " session clean %d/%d, fresh step ok %d/%d, params identical %d/%d,",
                     " next step identical %d/%d, fit returned %d/%d; steps taken %s\n"),
              mode, n, nrow(a$res), nrow(b$res), a$status, b$status, a$finished, b$finished,
              sum(r$clean == "TRUE"), n, sum(r$fresh == "TRUE"), n, sum(r$same == "TRUE"), n,
              sum(r$same_next == "TRUE"), n, sum(runs$fit == "TRUE"), nrow(runs),
              paste(range(as.integer(r$steps)), collapse = "-")))
  bad <- r[r$clean != "TRUE" | r$fresh != "TRUE" | r$same != "TRUE" | r$same_next != "TRUE" |
             (r$what == "run" & r$fit != "TRUE"), ]
  if (nrow(bad)) print(bad)
}
