# The C++ core's own checks (src/core_selftest.cpp): replay, arena growth, gradient
# accumulation, clean errors, special functions, finite differences on the core directly.

test_that("the core's C++ self-tests pass", {
  results <- svi:::cpp_core_selftest()
  expect_gte(length(results), 9L)
  for (name in names(results)) {
    expect(isTRUE(results[[name]]), paste0("core check '", name, "' failed: ", results[[name]]))
  }
})
