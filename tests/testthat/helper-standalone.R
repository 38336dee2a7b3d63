# Compiles a small C++ program against the package's header-only core (without R) and returns
# its output lines; skips when no core headers or C++17 compiler are at hand. `needs` is a
# core header that must exist (fixtures/ is on the include path too); `flags` are extra compiler flags; `eigen` adds RcppEigen's
# include directory. With `must_compile = TRUE` a fixture that does not compile fails the test
# (showing the compiler's output) instead of skipping it, so a broken core cannot pass silently.
run_standalone_core <- function(name, lines, needs, flags = "", eigen = FALSE, must_compile = FALSE) {
  skip_on_cran()
  inc <- system.file("include", package = "svi")
  skip_if(!nzchar(inc) || !file.exists(file.path(inc, "svi", needs)))
  eigen_inc <- if (eigen) system.file("include", package = "RcppEigen") else ""
  skip_if(eigen && !nzchar(eigen_inc))
  config <- function(what) {
    out <- tryCatch(system2(file.path(R.home("bin"), "R"), c("CMD", "config", what),
                            stdout = TRUE, stderr = FALSE), error = function(e) "")
    if (length(out)) out[1] else ""
  }
  cxx <- config("CXX17")
  skip_if(!nzchar(cxx), "no C++17 compiler")
  dir <- tempfile(name)
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  src <- file.path(dir, paste0(name, ".cpp"))
  writeLines(lines, src)
  exe <- file.path(dir, name)
  # fixtures/ holds the headers the fixtures share (fixture_support.hpp)
  fixtures <- normalizePath(test_path("fixtures"), mustWork = FALSE)
  cmd <- paste(cxx, config("CXX17STD"), flags, "-I", shQuote(inc), "-I", shQuote(fixtures),
               if (eigen) paste("-I", shQuote(eigen_inc)), shQuote(src), "-o", shQuote(exe))
  if (must_compile) {
    log <- suppressWarnings(system(paste(cmd, "2>&1"), intern = TRUE))
    status <- attr(log, "status")
    if (!is.null(status) && status != 0) {
      errors <- grep("error", log, value = TRUE)   # the compiler's errors before its notes
      shown <- if (length(errors)) utils::head(errors, 30) else utils::tail(log, 60)
      stop(paste(c("the standalone fixture did not compile:", shown), collapse = "\n"), call. = FALSE)
    }
    return(system2(exe, stdout = TRUE))
  }
  status <- system(cmd, ignore.stdout = TRUE, ignore.stderr = TRUE)
  skip_if(status != 0, "could not compile the standalone fixture")
  system2(exe, stdout = TRUE)
}
