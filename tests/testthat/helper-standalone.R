# Compiles a small C++ program against the package's header-only core (without R) and returns
# its output lines; skips when no core headers or C++17 compiler are at hand. `needs` is a
# core header that must exist; `flags` are extra compiler flags; `eigen` adds RcppEigen's
# include directory.
run_standalone_core <- function(name, lines, needs, flags = "", eigen = FALSE) {
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
  status <- system(paste(cxx, config("CXX17STD"), flags, "-I", shQuote(inc),
                         if (eigen) paste("-I", shQuote(eigen_inc)), shQuote(src), "-o", shQuote(exe)),
                   ignore.stdout = TRUE, ignore.stderr = TRUE)
  skip_if(status != 0, "could not compile the standalone fixture")
  system2(exe, stdout = TRUE)
}
