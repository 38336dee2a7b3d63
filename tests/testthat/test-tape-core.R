# The C++ core's own checks (core_selftest.cpp, a standalone program against the installed
# headers): replay, arena growth, gradient accumulation, clean errors, special functions,
# finite differences on the core directly.

test_that("the core's C++ self-tests pass", {
  out <- run_standalone_core("core_selftest", readLines(test_path("core_selftest.cpp")),
                             needs = "tape.hpp", eigen = TRUE, must_compile = TRUE)
  results <- strsplit(out, "\t", fixed = TRUE)
  expect_gte(length(results), 9L)
  for (r in results) {
    expect(identical(r[2], "OK"), paste0("core check '", r[1], "' failed: ", r[2]))
  }
})
