# Dirichlet, multivariate normal and the point mass.

ddirichlet_log <- function(x, a) sum((a - 1) * log(x)) + lgamma(sum(a)) - sum(lgamma(a))
dmvn_log <- function(x, m, S) {
  L <- t(chol(S))
  w <- forwardsolve(L, x - m)
  -0.5 * length(x) * log(2 * pi) - sum(log(diag(L))) - 0.5 * sum(w^2)
}

test_that("Dirichlet log_prob matches its closed form, batched, with -Inf off the simplex", {
  a <- c(0.5, 2, 7.5)
  x <- c(0.2, 0.3, 0.5)
  expect_lt(rel_err(log_prob(dist_dirichlet(a), x), ddirichlet_log(x, a)), 1e-12)
  am <- rbind(a, c(1, 1, 1), c(30, 0.01, 2))
  xm <- rbind(x, c(0.6, 0.3, 0.1), c(0.9, 1e-8, 0.1 - 1e-8))
  want <- vapply(1:3, function(i) ddirichlet_log(xm[i, ], am[i, ]), 1)
  expect_lt(max(rel_err(log_prob(dist_dirichlet(am), xm), want)), 1e-12)
  expect_equal(dist_batch_shape(dist_dirichlet(am)), 3L)
  expect_equal(dist_batch_shape(dist_dirichlet(a)), integer(0))
  # one alpha against a batch of values, and one value against a batch of alphas
  expect_equal(log_prob(dist_dirichlet(a), xm), vapply(1:3, function(i) ddirichlet_log(xm[i, ], a), 1))
  expect_equal(log_prob(dist_dirichlet(am), x), vapply(1:3, function(i) ddirichlet_log(x, am[i, ]), 1))
  expect_equal(log_prob(dist_dirichlet(a), c(0.2, 0.3, 0.6)), -Inf)
  expect_equal(log_prob(dist_dirichlet(a), c(-0.2, 0.7, 0.5)), -Inf)
  expect_error(log_prob(dist_dirichlet(a), c(0.5, 0.5)), "last dim")
})

test_that("MVNormal log_prob matches its closed form with scale_tril or cov, batched", {
  S <- matrix(c(2, 0.5, 0.3, 0.5, 1, -0.2, 0.3, -0.2, 1.5), 3)
  m <- c(0.1, -1, 2)
  x <- c(0.5, 0.2, 1)
  expect_lt(rel_err(log_prob(dist_mvnormal(m, cov = S), x), dmvn_log(x, m, S)), 1e-12)
  expect_lt(rel_err(log_prob(dist_mvnormal(m, scale_tril = t(chol(S))), x), dmvn_log(x, m, S)), 1e-12)
  xm <- rbind(x, c(0, 0, 0), c(10, -5, 3))
  want <- vapply(1:3, function(i) dmvn_log(xm[i, ], m, S), 1)
  expect_lt(max(rel_err(log_prob(dist_mvnormal(m, cov = S), xm), want)), 1e-12)
  mm <- rbind(m, m + 1, m - 2)
  want <- vapply(1:3, function(i) dmvn_log(xm[i, ], mm[i, ], S), 1)
  expect_lt(max(rel_err(log_prob(dist_mvnormal(mm, cov = S), xm), want)), 1e-12)
  # a diagonal scale reduces to independent normals
  expect_equal(log_prob(dist_mvnormal(m, scale_tril = diag(c(1, 2, 3))), x),
               sum(dnorm(x, m, c(1, 2, 3), log = TRUE)), tolerance = 1e-14)
  expect_equal(log_prob(dist_mvnormal(m, cov = S), c(Inf, 0, 0)), -Inf)
})

test_that("multivariate gradients match finite differences (value, mean, scale, cov, alpha)", {
  fd_check <- function(f, x, tol = 1e-6, entries = seq_along(x)) {
    g <- value_and_grad(f, x)$grad
    fd <- x * 0  # entries not perturbed (the ignored upper triangle) must get no gradient
    for (i in entries) {
      e <- replace(x * 0, i, 1e-6)
      fd[i] <- (f(x + e) - f(x - e)) / 2e-6
    }
    expect_equal(g, fd, tolerance = tol)
  }
  S <- matrix(c(2, 0.5, 0.3, 0.5, 1, -0.2, 0.3, -0.2, 1.5), 3)
  L <- t(chol(S))
  m <- c(0.1, -1, 2)
  xm <- rbind(c(0.5, 0.2, 1), c(0, 0, 0))
  fd_check(function(x) sum(log_prob(dist_mvnormal(m, scale_tril = L), x)), xm)
  fd_check(function(mu) sum(log_prob(dist_mvnormal(mu, scale_tril = L), xm)), m)
  fd_check(function(l) sum(log_prob(dist_mvnormal(m, scale_tril = l), xm)), L,
           entries = which(lower.tri(L, diag = TRUE)))
  # cov: along symmetric directions E_ij + E_ji; the gradient itself is symmetric
  f <- function(s) sum(log_prob(dist_mvnormal(m, cov = s), xm))
  g <- value_and_grad(f, S)$grad
  expect_equal(g, t(g), tolerance = 1e-12)
  for (i in 1:3) for (j in i:3) {
    D <- matrix(0, 3, 3); D[i, j] <- D[j, i] <- 1
    expect_equal(sum(g * D), (f(S + 1e-6 * D) - f(S - 1e-6 * D)) / 2e-6, tolerance = 1e-6)
  }
  a <- rbind(c(0.5, 2, 7.5), c(3, 1, 1))
  x <- rbind(c(0.2, 0.3, 0.5), c(0.6, 0.3, 0.1))
  fd_check(function(al) sum(log_prob(dist_dirichlet(al), x)), a)
  # the value on the simplex: perturb along the simplex (first coordinate against the last)
  f <- function(t) sum(log_prob(dist_dirichlet(a[1, ]), c(0.2 + t, 0.3, 0.5 - t)))
  g <- value_and_grad(function(x) sum(log_prob(dist_dirichlet(a[1, ]), x)), c(0.2, 0.3, 0.5))$grad
  expect_equal(g[1] - g[3], (f(1e-6) - f(-1e-6)) / 2e-6, tolerance = 1e-6)
})

test_that("Dirichlet and MVNormal draws have the right marginals and moments", {
  n <- 1e5
  set.seed(20240603)
  a <- c(0.3, 2, 5)
  x <- dist_sample(dist_dirichlet(a), n)
  expect_equal(dim(x), c(n, 3L))
  expect_equal(rowSums(x), rep(1, n), tolerance = 1e-12)
  for (k in 1:3) {  # marginals are Beta(a_k, sum(a) - a_k)
    b <- sum(a) - a[k]
    expect_moments(x[, k], a[k] / sum(a), a[k] * b / (sum(a)^2 * (sum(a) + 1)))
    expect_ks(x[, k], pbeta, a[k], b)
  }
  S <- matrix(c(2, 0.5, 0.5, 1), 2)
  m <- c(1, -2)
  z <- dist_sample(dist_mvnormal(m, cov = S), n)
  expect_equal(dim(z), c(n, 2L))
  for (k in 1:2) {
    expect_moments(z[, k], m[k], S[k, k])
    expect_ks(z[, k], pnorm, m[k], sqrt(S[k, k]))
  }
  w <- z %*% c(1, 1)  # a projection: N(sum(m), sum(S))
  expect_moments(w, sum(m), sum(S))
  expect_ks(w, pnorm, sum(m), sqrt(sum(S)))
  expect_lt(abs(cov(z)[1, 2] - 0.5), 4 * sqrt((2 * 1 + 0.25) / n))
  # batches of means
  zz <- dist_sample(dist_mvnormal(rbind(c(0, 0), c(10, 10)), scale_tril = diag(2)), n = 7)
  expect_equal(dim(zz), c(7L, 2L, 2L))
  expect_true(all(zz[, 2, ] > 5) && all(zz[, 1, ] < 5))
  expect_equal(dim(dist_sample(dist_dirichlet(rbind(a, a)))), c(2L, 3L))
})

test_that("Dirichlet and MVNormal reparameterized gradients are right", {
  set.seed(14)
  n <- 1e5
  a <- c(0.6, 1.5, 3)
  # E[x_k] = a_k / a0, E[x_k^2] = a_k (a_k + 1) / (a0 (a0 + 1))
  for (g in list(function(x) x, function(x) x^2)) {
    al <- rep(a, each = n)
    dim(al) <- c(n, 3)
    vg <- value_and_grad(function(p) sum(g(svi:::dist_draw(dist_dirichlet(p)))[, 1]), al)
    d <- vg$grad  # per-draw derivatives of g(x_1) w.r.t. each alpha
    truth <- function(a) if (identical(g(2), 2)) a[1] / sum(a) else a[1] * (a[1] + 1) / (sum(a) * (sum(a) + 1))
    for (j in 1:3) {
      h <- 1e-6
      want <- (truth(replace(a, j, a[j] + h)) - truth(replace(a, j, a[j] - h))) / (2 * h)
      est <- mean(d[, j])
      se <- sd(d[, j]) / sqrt(n)
      expect(abs(est - want) <= 4 * se, sprintf("dE/dalpha_%d: %.5g (se %.2g) vs %.5g", j, est, se, want))
    }
  }
  # MVNormal: z = m + L e, so dE[z_1^2]/dL_11 = 2 L_11 and dE[z_1^2]/dm_1 = 2 m_1
  L <- matrix(c(1.2, 0.4, 0, 0.8), 2)
  m <- c(0.5, -1)
  vg <- value_and_grad(function(p) {
    z <- dist_sample(dist_mvnormal(p$m, scale_tril = p$L), n = n)
    sum(z[, 1]^2 + z[, 2]^2) / n
  }, list(m = m, L = L))
  # E|z|^2 = |m|^2 + sum(L^2)
  expect_equal(vg$grad$m, 2 * m, tolerance = 0.02)
  expect_equal(vg$grad$L[lower.tri(L, diag = TRUE)], 2 * L[lower.tri(L, diag = TRUE)], tolerance = 0.02)
  expect_equal(vg$grad$L[1, 2], 0)
})

test_that("dist_delta: point mass, log_density, event_dim, differentiable draw", {
  expect_equal(log_prob(dist_delta(2), c(2, 3)), c(0, -Inf))
  expect_equal(log_prob(dist_delta(c(1, 2), log_density = 0.5), c(1, 5)), c(0.5, -Inf))
  d <- dist_delta(rbind(c(1, 2), c(3, 4)), log_density = c(-1, -2), event_dim = 1)
  expect_equal(dist_batch_shape(d), 2L)
  expect_equal(log_prob(d, rbind(c(1, 2), c(3, 5))), c(-1, -Inf))
  expect_equal(dist_sample(dist_delta(c(4, 5))), c(4, 5))
  vg <- value_and_grad(function(v) sum(svi:::dist_draw(dist_delta(v)) * c(2, 3)), c(4, 5))
  expect_equal(vg$grad, c(2, 3))
  vg <- value_and_grad(function(ld) sum(log_prob(dist_delta(c(1, 2), log_density = ld), c(1, 2))), c(0.3, 0.4))
  expect_equal(vg$grad, c(1, 1))
  expect_true(has_rsample(dist_delta(1)))
})
