# Real interrupts: child R processes run svi_step() loops and svi_run() of a small model in
# both modes while a forked helper sends them SIGINT at a random time (interrupt-child.R).
# After each interrupt the child checks that the session is clean (no handlers, step context
# or plate frames left behind, and a fresh svi_step() of another object works), that the
# parameters equal those of a same-seed run of the recorded number of steps (and a next step
# agrees too), and for svi_run() that the fit came back with stop_reason "interrupt" and a
# loss for every step the object took. 25 step-loop and 25 svi_run() trials per mode, so 50
# SIGINTs per mode (SVI_INTERRUPT_TRIALS changes the 25).

run_interrupt_child <- function(mode, what, trials, seed) {
  lib <- dirname(find.package("svi"))
  out <- tempfile(fileext = ".tsv")
  script <- test_path("interrupt-child.R")
  rscript <- file.path(R.home("bin"), "Rscript")
  status <- system2(rscript, c(shQuote(script), shQuote(lib), mode, what, trials, shQuote(out), seed),
                    stdout = FALSE, stderr = FALSE)
  lines <- if (file.exists(out)) readLines(out) else character(0)
  rows <- strsplit(trimws(lines[lines != "done" & nzchar(trimws(lines))]), "\t")
  res <- as.data.frame(do.call(rbind, rows), stringsAsFactors = FALSE)
  if (nrow(res)) names(res) <- c("trial", "clean", "fresh", "steps", "same", "same_next", "fit")
  list(status = status, finished = "done" %in% lines, res = res)
}

interrupt_trials <- function() {
  n <- suppressWarnings(as.integer(Sys.getenv("SVI_INTERRUPT_TRIALS", "25")))
  if (is.na(n) || n < 1L) 25L else n
}

skip_interrupt_tests <- function() {
  skip_on_cran()
  skip_on_os("windows")   # SIGINT and fork()
  skip_if(!nzchar(system.file(package = "svi")), "svi is not installed")
}

for (mode in c("dynamic", "compiled")) {
  test_that(paste("an interrupted svi_step() loop leaves a clean session and a consistent object:", mode), {
    skip_interrupt_tests()
    n <- interrupt_trials()
    r <- run_interrupt_child(mode, "step", n, seed = if (mode == "dynamic") 1000L else 2000L)
    expect_true(r$finished)
    expect_equal(nrow(r$res), n)
    expect_equal(sum(r$res$clean == "TRUE"), n)
    expect_equal(sum(r$res$fresh == "TRUE"), n)
    expect_equal(sum(r$res$same == "TRUE"), n)
    expect_equal(sum(r$res$same_next == "TRUE"), n)
  })

  test_that(paste("svi_run() interrupted at a random time returns its fit:", mode), {
    skip_interrupt_tests()
    n <- interrupt_trials()
    r <- run_interrupt_child(mode, "run", n, seed = if (mode == "dynamic") 3000L else 4000L)
    expect_true(r$finished)
    expect_equal(nrow(r$res), n)
    expect_equal(sum(r$res$clean == "TRUE"), n)
    expect_equal(sum(r$res$fresh == "TRUE"), n)
    expect_equal(sum(r$res$same == "TRUE"), n)
    # stop_reason "interrupt", and as many losses as steps taken
    expect_equal(sum(r$res$fit == "TRUE"), n)
  })
}
