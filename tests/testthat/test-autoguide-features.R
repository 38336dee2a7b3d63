# Autoguides with the rest of svi: compiled steps, draws, predictive, saveRDS, every ELBO,
# subsampled local latents, guide lists, block(expose =), init strategies, and where the MAP
# lies for auto_delta (constrained) and auto_laplace (unconstrained).

gm_model <- function(y) {
  mu <- sample_site("mu", dist_normal(0, 10))
  sigma <- sample_site("sigma", dist_half_normal(2))
  plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, sigma), obs = y))
}
gm_y <- c(2.1, 1.4, 2.9, 2.3, 1.5, 2.8, 2.0, 2.2)

test_that("compiled steps give the dynamic steps' losses", {
  for (make in list(auto_normal, auto_delta, auto_diagonal_normal, auto_mvnormal, auto_lowrank_mvnormal, auto_laplace)) {
    set.seed(7)
    a <- svi(gm_model, make(gm_model), adam(0.02))
    la <- vapply(1:30, function(i) svi_step(a, gm_y), 1)
    set.seed(7)
    b <- svi(gm_model, make(gm_model), adam(0.02), compile = TRUE)
    lb <- vapply(1:30, function(i) svi_step(b, gm_y), 1)
    expect_equal(lb, la, tolerance = 1e-8)
  }
})

test_that("draws, predictive and saveRDS work with autoguides", {
  s <- svi(gm_model, auto_normal(gm_model), adam(0.05))
  set.seed(1)
  for (i in 1:200) svi_step(s, gm_y)
  d <- posterior_draws(s, gm_y, num_samples = 50)
  expect_named(d, c("mu", "sigma"))            # no auxiliary sites
  expect_true(all(d$sigma > 0))
  pp <- predictive(gm_model, s, gm_y, num_samples = 20)
  expect_equal(dim(pp$obs), c(20, length(gm_y)))
  f <- tempfile(fileext = ".rds")
  saveRDS(s, f)
  s2 <- readRDS(f)
  expect_equal(median(s2, y = gm_y), median(s, y = gm_y))
  set.seed(3)
  l1 <- svi_step(s, gm_y)
  set.seed(3)
  l2 <- svi_step(s2, gm_y)
  expect_equal(l2, l1)
  expect_equal(params(s2), params(s))
})

test_that("every kind of autoguide, and a Laplace approximation, survives saveRDS() and predicts", {
  f <- tempfile(fileext = ".rds")
  for (make in list(auto_normal, auto_delta, auto_diagonal_normal, auto_mvnormal, auto_lowrank_mvnormal, auto_laplace)) {
    set.seed(1)
    s <- svi(gm_model, make(gm_model), adam(0.05))
    for (i in 1:300) svi_step(s, gm_y)
    if (inherits(s$guide, "svi_autoguide_laplace")) s <- laplace_approximation(s, gm_y)
    saveRDS(s, f)
    s2 <- readRDS(f)
    expect_equal(median(s2, y = gm_y), median(s, y = gm_y))
    set.seed(3)
    d1 <- posterior_draws(s, gm_y, num_samples = 20)
    set.seed(3)
    d2 <- posterior_draws(s2, gm_y, num_samples = 20)
    expect_equal(d2, d1)
    expect_named(d1, c("mu", "sigma"))
    expect_true(all(d1$sigma > 0))
    pp <- predictive(gm_model, s2, gm_y, num_samples = 10)
    expect_equal(dim(pp$obs), c(10, length(gm_y)))
  }
  unlink(f)
})

test_that("exact quantiles of monotone supports match the guide's own draws", {
  # positive (sigma), interval (u) and real (mu) sites: quantile() maps the normal marginal's
  # quantiles through the bijection; posterior_draws() runs the guide
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    sigma <- sample_site("sigma", dist_half_normal(2))
    u <- sample_site("u", dist_uniform(-1, 3))
    plate("data", length(y), function(i) sample_site("obs", dist_normal(mu + 0.1 * u, sigma), obs = y))
  }
  probs <- c(0.1, 0.25, 0.5, 0.75, 0.9)
  for (make in list(auto_normal, auto_mvnormal, auto_lowrank_mvnormal)) {   # three marginal formulas
    s <- fit_auto(model, make(model), 2000, list(gm_y))
    q <- quantile(s, probs, y = gm_y)
    set.seed(9)
    d <- posterior_draws(s, gm_y, num_samples = 5000)
    for (nm in c("mu", "sigma", "u")) {
      emp <- quantile(d[[nm]], probs, names = FALSE)
      # the Monte Carlo sd of an empirical quantile, sqrt(p (1 - p) / n) / density, is 1.8 %
      # of the interquartile range at the 10 % and 90 % quantiles; a marginal scale 10 % off
      # moves them by 9.5 %
      expect_lt(max(abs(q[[nm]] - emp)) / diff(emp[c(2, 4)]), 0.06)
    }
  }
})

test_that("the low-rank guide's rank defaults to round(sqrt(D))", {
  for (D in c(2, 5, 7, 13)) {
    model <- function() {
      sample_site("a", dist_normal(numeric(D - 1), 1))
      sample_site("b", dist_gamma(2, 1))
    }
    s <- svi(model, auto_lowrank_mvnormal(model), adam(0.01))
    svi_step(s)
    expect_equal(dim(params(s)$auto_cov_factor), c(D, round(sqrt(D))))
  }
  s <- svi(model, auto_lowrank_mvnormal(model, rank = 4), adam(0.01))
  svi_step(s)
  expect_equal(dim(params(s)$auto_cov_factor), c(13, 4))
})

test_that("every continuous support the distributions have goes through every autoguide", {
  priors <- list(
    normal = dist_normal(0, 1), cauchy = dist_cauchy(0, 1), student_t = dist_student_t(3, 0, 1),
    laplace = dist_laplace(0, 1), lognormal = dist_lognormal(0, 1), half_normal = dist_half_normal(1),
    half_cauchy = dist_half_cauchy(1), exponential = dist_exponential(1), gamma = dist_gamma(2, 1),
    beta = dist_beta(2, 2), uniform = dist_uniform(-1, 3), dirichlet = dist_dirichlet(c(1, 2, 3)),
    mvnormal = dist_mvnormal(c(0, 0), diag(2)), lkj_cholesky = dist_lkj_cholesky(3, 2))
  makers <- list(auto_normal = auto_normal, auto_delta = auto_delta, auto_diagonal_normal = auto_diagonal_normal,
                 auto_mvnormal = auto_mvnormal, auto_lowrank_mvnormal = auto_lowrank_mvnormal, auto_laplace = auto_laplace)
  for (nm in names(priors)) {
    prior <- priors[[nm]]
    model <- function() sample_site("z", prior)
    sup <- support(prior)
    for (kind in names(makers)) {
      set.seed(1)
      s <- svi(model, makers[[kind]](model), adam(0.01))
      for (i in 1:5) expect_true(is.finite(svi_step(s)), label = paste(nm, kind))
      m <- median(s)$z
      expect_true(constraint_check(sup, m), label = paste(nm, kind, "median"))
      if (kind %in% c("auto_delta", "auto_laplace")) next
      d <- posterior_draws(s, num_samples = 3)$z
      for (k in 1:3) {
        z <- if (is.null(dim(d))) d[k] else matrix(d, 3)[k, ]
        if (length(dim(d)) == 3L) dim(z) <- dim(d)[-1]
        expect_true(constraint_check(sup, z), label = paste(nm, kind, "draw", k))
      }
    }
  }
})

test_that("every ELBO runs with every autoguide, and svi_run fits summarise", {
  makers <- list(auto_normal, auto_delta, auto_diagonal_normal, auto_mvnormal, auto_lowrank_mvnormal, auto_laplace)
  for (loss in list(trace_elbo(), meanfield_elbo(), tracegraph_elbo(), trace_elbo(num_particles = 3))) {
    for (make in makers) {
      set.seed(1)
      fit <- svi_run(svi(gm_model, make(gm_model), adam(0.05), loss), gm_y, num_steps = 300, progress = FALSE)
      m <- median(fit)
      expect_lt(abs(m$mu - mean(gm_y)), 0.3)
      if (inherits(fit$svi$guide, c("svi_autoguide_delta", "svi_autoguide_laplace"))) {
        expect_lt(abs(m$sigma - sd(gm_y)), 0.3)
        next
      }
      q <- quantile(fit, c(0.1, 0.9))
      expect_lt(q$sigma[1], m$sigma)
      expect_gt(q$sigma[2], m$sigma)
    }
  }
})

test_that("auto_delta finds the constrained mode, auto_laplace the unconstrained one", {
  # s ~ Gamma(3, 1): density mode 2; in u = log(s) the density s^3 exp(-s) peaks at s = 3
  model <- function() sample_site("s", dist_gamma(3, 1))
  set.seed(1)
  a <- svi(model, auto_delta(model), adam(0.05))
  for (i in 1:1500) svi_step(a)
  expect_equal(median(a)$s, 2, tolerance = 1e-3)
  b <- svi(model, auto_laplace(model), adam(0.05))
  for (i in 1:1500) svi_step(b)
  expect_equal(median(b)$s, 3, tolerance = 1e-3)
  # its Laplace approximation: H = s = 3 at the mode in u, so the sd of log(s) is 1/sqrt(3)
  lap <- laplace_approximation(b)
  q <- quantile(lap, pnorm(c(-1, 1)))$s
  expect_equal(log(q), log(3) + c(-1, 1) / sqrt(3), tolerance = 1e-4)
})

test_that("auto_normal guides local latents in a subsampled plate, reading the minibatch's rows", {
  # z_i ~ N(mu, 1), y_i ~ N(z_i, 1), mu ~ N(0, 10): a Gaussian posterior, so the mean-field
  # means are the exact posterior means
  N <- 12
  set.seed(2)
  y <- rnorm(N, 3, 1.5)
  model <- function(y) {
    mu <- sample_site("mu", dist_normal(0, 10))
    plate("data", length(y), subsample_size = 4, function(i) {
      z <- sample_site("z", dist_normal(mu, 1))
      sample_site("obs", dist_normal(z, 1), obs = y[i])
    })
  }
  prec <- matrix(0, N + 1, N + 1)
  prec[1, 1] <- 1 / 100 + N
  prec[1, -1] <- prec[-1, 1] <- -1
  diag(prec)[-1] <- 2
  post_mean <- solve(prec, c(0, y))
  s <- fit_auto(model, auto_normal(model), 15000, list(y))
  p <- params(s)
  expect_length(p$z_auto_loc, N)
  expect_lt(abs(p$mu_auto_loc - post_mean[1]), 0.1)
  expect_lt(max(abs(p$z_auto_loc - post_mean[-1])), 0.15)
})

test_that("block(expose =) and guide lists of autoguide parts", {
  expect_named(trace_model(block(gm_model, expose = "sigma"), gm_y), "sigma")
  expect_false("sigma" %in% names(trace_model(block(gm_model, hide = "sigma"), gm_y)))
  g <- auto_guide_list(gm_model, auto_delta(block(gm_model, expose = "sigma")),
                       auto_normal(block(gm_model, hide = "sigma")))
  set.seed(1)
  s <- svi(gm_model, g, adam(0.05))
  for (i in 1:800) svi_step(s, gm_y)
  expect_setequal(names(params(s)), c("sigma_auto_loc", "mu_auto_loc", "mu_auto_scale"))
  m <- median(s, y = gm_y)
  expect_named(m, c("sigma", "mu"))
  expect_lt(abs(m$mu - mean(gm_y)), 0.1)
  expect_named(posterior_draws(s, gm_y, num_samples = 5), c("sigma", "mu"))
  # a hand-written part next to an autoguide
  hand <- function(y) sample_site("sigma", dist_lognormal(param("ls", -1), param("ss", 0.2, constraint_positive())))
  g2 <- auto_guide_list(gm_model, hand, auto_normal(block(gm_model, hide = "sigma")))
  s2 <- svi(gm_model, g2, adam(0.05))
  for (i in 1:10) svi_step(s2, gm_y)
  expect_named(median(s2, y = gm_y), "mu")
})

test_that("a simplex site: exact medians, quantiles from draws with a message", {
  # p ~ Dirichlet(1, 1, 1), counts 6, 3, 1 through a categorical likelihood
  model <- function(y) {
    p <- sample_site("p", dist_dirichlet(c(1, 1, 1)))
    plate("data", length(y), function(i) sample_site("obs", dist_categorical(p), obs = y))
  }
  y <- rep(1:3, c(6, 3, 1))
  s <- fit_auto(model, auto_normal(model), 8000, list(y))
  m <- median(s, y = y)$p
  expect_equal(sum(m), 1)
  expect_equal(order(m), c(3, 2, 1))
  set.seed(1)
  expect_message(q <- quantile(s, c(0.05, 0.95), y = y, num_samples = 500), "computed from 500 draws")
  expect_equal(dim(q$p), c(2, 3))
  expect_true(all(q$p[1, ] < m & m < q$p[2, ]))
  # the Dirichlet(7, 4, 2) posterior's means, within what a logistic-normal family can do
  d <- posterior_draws(s, y, num_samples = 2000)$p
  expect_lt(max(abs(colMeans(d) - c(7, 4, 2) / 13)), 0.05)
})

test_that("simplex sites inside a plate, subsampled or not: draws, medians and quantiles at full size", {
  # p_g ~ Dirichlet(1, 1, 1) for 4 groups of 10 categorical observations: posterior
  # Dirichlet(1 + counts_g). The data plate takes the rows of the groups in the minibatch, so
  # its scale (40 / 20) is the groups plate's (4 / 2) and the subsampled ELBO is unbiased.
  G <- 4
  counts <- rbind(c(6, 3, 1), c(1, 1, 8), c(2, 5, 3), c(4, 4, 2))
  y <- as.vector(apply(counts, 1, function(cn) rep(1:3, cn)))
  grp <- rep(1:G, each = 10)
  model <- function(y, sub = NULL) {
    p <- plate("groups", G, subsample_size = sub, function(g) {
      list(g = g, p = sample_site("p", dist_dirichlet(c(1, 1, 1))))
    })
    rows <- which(grp %in% p$g)
    plate("data", length(y), subsample = rows, function(i) {
      sample_site("obs", dist_categorical(p$p[match(grp[i], p$g), , drop = FALSE]), obs = y[i])
    })
  }
  post_mean <- (counts + 1) / rowSums(counts + 1)
  for (make in list(auto_normal, auto_mvnormal)) {
    s <- fit_auto(model, make(model), 8000, list(y))
    d <- posterior_draws(s, y, num_samples = 4000)$p
    expect_equal(dim(d), c(4000, G, 3))
    # within what a logistic-normal family can do (as for the single simplex site above)
    expect_lt(max(abs(apply(d, c(2, 3), mean) - post_mean)), 0.05)
    if (inherits(s$guide, "svi_autoguide_normal")) full <- s
  }
  # auto_normal with the groups subsampled: per-group parameters at full size, and medians and
  # quantiles (from draws, the plates entered at full size) of every group, near the full fit's
  # (within half a posterior sd, about 0.1)
  s_sub <- fit_auto(model, auto_normal(model), 5000, list(y, 2), optim = clipped_adam(lr = 0.05, lrd = 0.9995),
                    compile = FALSE)
  expect_equal(dim(params(s_sub)$p_auto_loc), c(G, 2))
  m_sub <- median(s_sub, y = y, sub = 2)$p
  expect_equal(dim(m_sub), c(G, 3))
  expect_equal(rowSums(m_sub), rep(1, G))
  expect_lt(max(abs(m_sub - median(full, y = y)$p)), 0.05)
  set.seed(2)
  expect_message(q_sub <- quantile(s_sub, c(0.1, 0.9), y = y, sub = 2, num_samples = 2000), "computed from 2000 draws")
  expect_equal(dim(q_sub$p), c(2, G, 3))
  q_full <- suppressMessages(quantile(full, c(0.1, 0.9), y = y, num_samples = 2000))
  expect_lt(max(abs(q_sub$p - q_full$p)), 0.05)
})

test_that("init strategies give the documented starting values", {
  site <- function(d) list(name = "x", fn = d, support = support(d))
  expect_equal(init_to_feasible()(site(dist_gamma(2, 1))), 1)
  expect_equal(init_to_feasible()(site(dist_beta(2, 2))), 0.5)
  expect_equal(init_to_feasible()(site(dist_uniform(2, 6))), 4)
  expect_equal(init_to_feasible()(site(dist_dirichlet(c(1, 2, 3)))), rep(1 / 3, 3))
  expect_equal(init_to_mean()(site(dist_gamma(2, 4))), 0.5)
  set.seed(1)
  v <- init_to_mean()(site(dist_cauchy(3, 1)))           # no mean: falls back to the median
  set.seed(1)
  expect_equal(v, init_to_median()(site(dist_cauchy(3, 1))))
  set.seed(1)
  m <- init_to_median(num_samples = 2001)(site(dist_gamma(2, 1)))
  expect_lt(abs(m - qgamma(0.5, 2, 1)), 0.1)
  set.seed(1)
  u <- init_to_uniform(radius = 0.5)(site(dist_normal(c(0, 0, 0), 1)))
  expect_true(all(abs(u) <= 0.5))
  expect_equal(init_to_value(list(x = 2.5))(site(dist_gamma(2, 1))), 2.5)
  set.seed(2)
  s <- init_to_sample()(site(dist_normal(0, 1)))
  set.seed(2)
  expect_equal(s, rnorm(1))
  # an autoguide's loc starts at the strategy's value mapped to unconstrained space
  model <- function() sample_site("s", dist_gamma(2, 1))
  st <- svi(model, auto_normal(model, init_loc_fn = init_to_value(list(s = 1.5))), adam(0.01))
  evaluate_loss(st)
  expect_equal(params(st)$s_auto_loc, log(1.5))
  expect_equal(params(st)$s_auto_scale, 0.1)
})
