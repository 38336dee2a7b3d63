# Downstream-cost sets found by provenance equal the hand-derived dependency sets.

costs_of <- function(model, guide, ...) svi:::tracegraph_costs(model, guide, list(...))
nr_normal <- function(mean, sd) nonreparameterized(dist_normal(mean, sd))

test_that("a chain z1 -> z2 -> obs with an independent guide", {
  model <- function() {
    z1 <- sample_site("z1", dist_normal(0, 1))
    z2 <- sample_site("z2", dist_normal(z1, 1))
    sample_site("x", dist_normal(z2, 1), obs = 0.5)
  }
  guide <- function() {
    sample_site("z1", nr_normal(param("a", 0.1), 1))
    sample_site("z2", nr_normal(param("b", 0.2), 1))
  }
  set.seed(1)
  out <- costs_of(model, guide)
  expect_setequal(names(out$terms), c("z1", "z2"))
  expect_setequal(out$terms$z1, c("model:z1", "model:z2", "guide:z1"))
  expect_setequal(out$terms$z2, c("model:z2", "model:x", "guide:z2"))
  expect_equal(out$cost$z1, out$model$z1 + out$model$z2 - out$guide$z1)
  expect_equal(out$cost$z2, out$model$z2 + out$model$x - out$guide$z2)
})

test_that("a guide draw depends on the sites its distribution depends on", {
  model <- function() {
    z1 <- sample_site("z1", dist_normal(0, 1))
    z2 <- sample_site("z2", dist_normal(z1, 1))
    sample_site("x", dist_normal(z2, 1), obs = 0.5)
  }
  # q(z2 | z1): z2's draw, and so x, depend on z1
  guide <- function() {
    z1 <- sample_site("z1", nr_normal(param("a", 0.1), 1))
    sample_site("z2", nr_normal(z1 + param("b", 0.2), 1))
  }
  set.seed(2)
  out <- costs_of(model, guide)
  expect_setequal(out$terms$z1, c("model:z1", "model:z2", "model:x", "guide:z1", "guide:z2"))
  expect_setequal(out$terms$z2, c("model:z2", "model:x", "guide:z2"))
  # a reparameterized site between them passes the dependence on
  guide2 <- function() {
    z1 <- sample_site("z1", nr_normal(param("a", 0.1), 1))
    sample_site("z2", dist_normal(z1 + param("b", 0.2), 1))
  }
  out2 <- costs_of(model, guide2)
  expect_named(out2$terms, "z1")
  expect_setequal(out2$terms$z1, c("model:z1", "model:z2", "model:x", "guide:z1", "guide:z2"))
})

test_that("two independent discrete latents", {
  model <- function() {
    a <- sample_site("a", dist_bernoulli(prob = 0.3))
    b <- sample_site("b", dist_bernoulli(prob = 0.6))
    sample_site("xa", dist_normal(a, 1), obs = 1.2)
    sample_site("xb", dist_normal(2 * b, 1), obs = -0.4)
  }
  guide <- function() {
    sample_site("a", dist_bernoulli(prob = param("pa", 0.5)))
    sample_site("b", dist_bernoulli(prob = param("pb", 0.5)))
  }
  set.seed(3)
  out <- costs_of(model, guide)
  expect_setequal(out$terms$a, c("model:a", "model:xa", "guide:a"))
  expect_setequal(out$terms$b, c("model:b", "model:xb", "guide:b"))
})

test_that("a plated latent gets per-element costs; global terms are added in full", {
  y <- c(0.3, 2.1, -0.5)
  model <- function(y) {
    g <- sample_site("g", dist_normal(0, 1))
    z <- plate("data", 3, function(i) {
      z <- sample_site("z", dist_bernoulli(prob = 0.5))
      sample_site("x", dist_normal(2 * z + g, 1), obs = y)
      z
    })
    sample_site("total", dist_normal(sum(z), 1), obs = 1)
  }
  guide <- function(y) {
    sample_site("g", dist_normal(param("g_loc", 0), 1))
    plate("data", 3, function(i) {
      sample_site("z", dist_bernoulli(prob = param("p", c(0.2, 0.5, 0.7))))
    })
  }
  set.seed(4)
  out <- costs_of(model, guide, y)
  # the reparameterized global g is not downstream of z
  expect_named(out$terms, "z")
  expect_setequal(out$terms$z, c("model:z", "model:x", "model:total", "guide:z"))
  m <- out$model
  expect_length(out$cost$z, 3)
  expect_equal(as.vector(out$cost$z), m$z + m$x - out$guide$z + m$total)
})

test_that("nested plates: same index on shared plates, summed over the others", {
  model <- function() {
    plate("a", 2, function(i) {
      z <- sample_site("z", dist_bernoulli(prob = 0.5))
      dim(z) <- c(2, 1)
      plate("b", 3, function(j) {
        sample_site("x", dist_normal(z %*% matrix(1, 1, 3), 1), obs = matrix(1:6 / 4, 2, 3))
      })
    })
  }
  guide <- function() {
    plate("a", 2, function(i) sample_site("z", dist_bernoulli(prob = param("p", c(0.3, 0.6)))))
  }
  set.seed(5)
  out <- costs_of(model, guide)
  expect_setequal(out$terms$z, c("model:z", "model:x", "guide:z"))
  x <- matrix(out$model$x, 2, 3)
  expect_equal(as.vector(out$cost$z), out$model$z + rowSums(x) - out$guide$z)
})

test_that("with constant distribution parameters the set is the site alone", {
  model <- function() {
    sample_site("z", dist_normal(0, 1))
    sample_site("x", dist_normal(1, 1), obs = 0.2)
  }
  guide <- function() sample_site("z", nr_normal(0.3, 1))
  set.seed(6)
  out <- costs_of(model, guide)
  expect_equal(out$terms, list(z = c("model:z", "guide:z")))
  expect_equal(out$cost$z, out$model$z - out$guide$z)
})

test_that("reparameterized guides have no downstream costs", {
  model <- function() {
    z <- sample_site("z", dist_normal(0, 1))
    sample_site("x", dist_normal(z, 1), obs = 0.2)
  }
  guide <- function() sample_site("z", dist_normal(param("m", 0), 1))
  expect_length(costs_of(model, guide)$terms, 0)
})
