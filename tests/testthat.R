library(testthat)
library(svi)

test_check("svi")
