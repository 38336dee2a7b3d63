# Optimizers: exact updates against the formulas of pyro-semantics §7, written out by hand here
# (never by calling the package), plus per-parameter settings, clipping, schedules, state
# save/restore and the error messages.

steps <- function(opt, theta, grads, name = "x", state = optim_state_new()) {
  out <- vector("list", length(grads))
  for (t in seq_along(grads)) {
    theta <- optim_update(opt, state, name, theta, grads[[t]])
    out[[t]] <- theta
  }
  out
}

grads3 <- list(c(0.3, -2, 0), c(-0.1, 0.7, 4), c(1.5, 0.2, -0.02))
theta0 <- c(0.5, -1.25, 3)

test_that("adam reproduces three hand-computed steps", {
  lr <- 0.05; b1 <- 0.9; b2 <- 0.999; eps <- 1e-8
  g1 <- grads3[[1]]; g2 <- grads3[[2]]; g3 <- grads3[[3]]
  m1 <- (1 - b1) * g1;            v1 <- (1 - b2) * g1^2
  m2 <- b1 * m1 + (1 - b1) * g2;  v2 <- b2 * v1 + (1 - b2) * g2^2
  m3 <- b1 * m2 + (1 - b1) * g3;  v3 <- b2 * v2 + (1 - b2) * g3^2
  th1 <- theta0 - lr / (1 - b1) * (m1 / (sqrt(v1) / sqrt(1 - b2) + eps))
  th2 <- th1 - lr / (1 - b1^2) * (m2 / (sqrt(v2) / sqrt(1 - b2^2) + eps))
  th3 <- th2 - lr / (1 - b1^3) * (m3 / (sqrt(v3) / sqrt(1 - b2^3) + eps))
  out <- steps(adam(lr = lr), theta0, grads3)
  expect_equal(out[[1]], th1, tolerance = 1e-15)
  expect_equal(out[[2]], th2, tolerance = 1e-15)
  expect_equal(out[[3]], th3, tolerance = 1e-15)
  # Adam's first step moves every coordinate with a gradient by (almost exactly) lr
  expect_equal(abs(out[[1]] - theta0)[1:2], c(lr, lr), tolerance = 1e-6)
})

test_that("adam with weight decay, other betas and amsgrad follows the formulas", {
  lr <- 0.1; b1 <- 0.5; b2 <- 0.8; eps <- 1e-3; wd <- 0.2
  gs <- list(c(1, -1), c(-3, 0.5), c(0.1, 0.1))
  th <- c(1, 2); m <- v <- vmax <- c(0, 0)
  expected <- list()
  for (t in 1:3) {
    g <- gs[[t]] + wd * th
    m <- b1 * m + (1 - b1) * g
    v <- b2 * v + (1 - b2) * g^2
    vmax <- pmax(vmax, v)
    th <- th - lr / (1 - b1^t) * (m / (sqrt(vmax) / sqrt(1 - b2^t) + eps))
    expected[[t]] <- th
  }
  opt <- adam(lr = lr, betas = c(b1, b2), eps = eps, weight_decay = wd, amsgrad = TRUE)
  expect_equal(steps(opt, c(1, 2), gs), expected, tolerance = 1e-15)
})

test_that("clipped_adam reproduces Pyro's ClippedAdam for three steps", {
  lr <- 0.05; b1 <- 0.9; b2 <- 0.999; eps <- 1e-8; clip <- 1; lrd <- 0.9; wd <- 0.01
  th <- theta0; m <- v <- c(0, 0, 0); expected <- list(); lrs <- numeric()
  for (t in 1:3) {
    lr <- lr * lrd                                  # decays before the update
    g <- pmin(pmax(grads3[[t]], -clip), clip)       # elementwise clamp
    g <- g + wd * th
    m <- b1 * m + (1 - b1) * g
    v <- b2 * v + (1 - b2) * g^2
    th <- th - (lr * sqrt(1 - b2^t) / (1 - b1^t)) * (m / (sqrt(v) + eps))
    expected[[t]] <- th
    lrs[t] <- lr
  }
  st <- optim_state_new()
  opt <- clipped_adam(lr = 0.05, clip_norm = clip, lrd = lrd, weight_decay = wd)
  got_lr <- numeric()
  out <- list()
  th <- theta0
  for (t in 1:3) {
    th <- optim_update(opt, st, "x", th, grads3[[t]])
    out[[t]] <- th
    got_lr[t] <- optim_lr(st, "x")
  }
  expect_equal(out, expected, tolerance = 1e-15)
  expect_equal(got_lr, 0.05 * lrd^(1:3), tolerance = 1e-15)
  expect_equal(got_lr, lrs, tolerance = 0)
})

test_that("sgd with momentum, dampening and nesterov follows torch's formulas", {
  lr <- 0.1; mu <- 0.9; wd <- 0.05
  th <- theta0; expected <- list()
  for (t in 1:3) {
    d <- grads3[[t]] + wd * th
    buf <- if (t == 1) d else mu * buf + d          # buffer starts as the first gradient
    th <- th - lr * buf
    expected[[t]] <- th
  }
  expect_equal(steps(sgd(lr, momentum = mu, weight_decay = wd), theta0, grads3), expected,
               tolerance = 1e-15)

  damp <- 0.3; th <- theta0
  for (t in 1:3) {
    buf <- if (t == 1) grads3[[t]] else mu * buf + (1 - damp) * grads3[[t]]
    th <- th - lr * buf
    expected[[t]] <- th
  }
  expect_equal(steps(sgd(lr, momentum = mu, dampening = damp), theta0, grads3), expected,
               tolerance = 1e-15)

  th <- theta0
  for (t in 1:3) {
    buf <- if (t == 1) grads3[[t]] else mu * buf + grads3[[t]]
    th <- th - lr * (grads3[[t]] + mu * buf)
    expected[[t]] <- th
  }
  expect_equal(steps(sgd(lr, momentum = mu, nesterov = TRUE), theta0, grads3), expected,
               tolerance = 1e-15)

  expect_equal(steps(sgd(lr), theta0, grads3)[[3]],
               theta0 - lr * grads3[[1]] - lr * grads3[[2]] - lr * grads3[[3]], tolerance = 1e-15)
})

test_that("updates keep theta's attributes and leave the caller's vectors alone", {
  theta <- matrix(c(1, 2, 3, 4), 2, dimnames = list(c("a", "b"), NULL))
  grad <- matrix(c(5, -5, 0.1, 1), 2)
  theta_copy <- theta + 0; grad_copy <- grad + 0
  st <- optim_state_new()
  out <- optim_update(adam(lr = 0.1, clip_norm = 1, clip_value = 0.1), st, "w", theta, grad)
  expect_identical(attributes(out), attributes(theta))
  expect_identical(theta, theta_copy)
  expect_identical(grad, grad_copy)
  saved <- optim_state_get(st)$w$buffers$exp_avg + 0
  optim_update(adam(lr = 0.1), st, "w", out, grad)
  expect_false(identical(optim_state_get(st)$w$buffers$exp_avg, saved))
})

test_that("lr = 0 keeps a parameter bit-identical for every optimizer", {
  theta <- c(-0, 0, 1.5, -2, 1e-300)
  grads <- rep(list(c(1e10, -3, 0, 2, 1)), 3)
  opts <- list(
    adam(lr = 0, weight_decay = 0.1, amsgrad = TRUE),
    clipped_adam(lr = 0, lrd = 0.5, weight_decay = 0.1),
    sgd(lr = 0, momentum = 0.9, weight_decay = 0.1, nesterov = TRUE)
  )
  for (opt in opts) {
    out <- steps(opt, theta, grads)[[3]]
    expect_identical(out, theta)
    expect_identical(1 / out[1:2], c(-Inf, Inf))  # even the sign of zero survives
  }
  # per parameter: frozen "a" next to a moving "b"
  opt <- adam(lr = 0.1, per_param = function(name) if (name == "a") list(lr = 0))
  st <- optim_state_new()
  a <- c(0.1, 0.2); b <- c(0.1, 0.2)
  for (i in 1:3) {
    a <- optim_update(opt, st, "a", a, c(1, 1))
    b <- optim_update(opt, st, "b", b, c(1, 1))
  }
  expect_identical(a, c(0.1, 0.2))
  expect_false(any(b == c(0.1, 0.2)))
})

test_that("per_param settings apply to the right parameters", {
  opt <- adam(lr = 0.01, per_param = function(name) {
    if (startsWith(name, "scale")) list(lr = 0.5, betas = c(0.5, 0.9)) else NULL
  })
  st <- optim_state_new()
  optim_update(opt, st, "loc", 0, 1)
  optim_update(opt, st, "scale_a", 0, 1)
  optim_update(opt, st, "scale_b", 0, NULL)
  expect_identical(optim_lr(st, "loc"), 0.01)
  expect_identical(optim_lr(st, "scale_a"), 0.5)
  expect_identical(optim_lr(st, "scale_b"), 0.5)
  expect_null(optim_lr(st, "never_seen"))
  s <- optim_state_get(st)
  expect_identical(c(s$scale_a$settings$beta1, s$scale_a$settings$beta2), c(0.5, 0.9))
  expect_identical(c(s$loc$settings$beta1, s$loc$settings$beta2), c(0.9, 0.999))

  # the override changes the update itself: one SGD step per parameter
  opt <- sgd(lr = 1, per_param = function(name) list(lr = nchar(name) / 10))
  st <- optim_state_new()
  expect_equal(optim_update(opt, st, "ab", 1, 1), 0.8)
  expect_equal(optim_update(opt, st, "abcd", 1, 1), 0.6)

  # per_param is consulted once per parameter, when its state is created
  calls <- character()
  opt <- adam(per_param = function(name) { calls <<- c(calls, name); list() })
  st <- optim_state_new()
  for (i in 1:3) for (nm in c("p", "q")) optim_update(opt, st, nm, 1, 1)
  expect_identical(calls, c("p", "q"))
})

test_that("gradient clipping by norm, by value, and norm before value", {
  g <- c(3, 4, 0)                                  # norm 5
  st <- optim_state_new()
  out <- optim_update(sgd(lr = 1, clip_norm = 1), st, "x", c(0, 0, 0), g)
  expect_equal(out, -g * (1 / (5 + 1e-6)), tolerance = 1e-15)
  # a norm below the bound is left alone
  out <- optim_update(sgd(lr = 1, clip_norm = 10), optim_state_new(), "x", c(0, 0, 0), g)
  expect_identical(out, -g)
  out <- optim_update(sgd(lr = 1, clip_value = 3.5), optim_state_new(), "x", c(0, 0, 0), c(3, -4, 1))
  expect_identical(out, c(-3, 3.5, -1))
  # norm first (to 2: (1.2, 1.6)), then value 1.5
  out <- optim_update(sgd(lr = 1, clip_norm = 2, clip_value = 1.5), optim_state_new(), "x",
                      c(0, 0, 0), g)
  expect_equal(out, -c(min(3 * 2 / (5 + 1e-6), 1.5), 1.5, 0), tolerance = 1e-15)
  # clipping happens per parameter, as torch's clip_grad_norm_ on each one
  st <- optim_state_new()
  a <- optim_update(sgd(lr = 1, clip_norm = 1), st, "a", 0, 0.5)
  b <- optim_update(sgd(lr = 1, clip_norm = 1), st, "b", 0, 3)
  expect_identical(a, -0.5)
  expect_equal(b, -3 / (3 + 1e-6), tolerance = 1e-15)
  # with Adam the clipped gradient feeds the moments
  st <- optim_state_new()
  optim_update(adam(lr = 0.1, clip_value = 0.5), st, "x", c(0, 0), c(2, -0.25))
  expect_equal(optim_state_get(st)$x$buffers$exp_avg, 0.1 * c(0.5, -0.25), tolerance = 1e-15)
})

test_that("a missing gradient means no step until the first one, then a zero gradient", {
  st <- optim_state_new()
  opt <- adam(lr = 0.1)
  expect_identical(optim_update(opt, st, "x", c(1, 2), NULL), c(1, 2))
  expect_identical(optim_state_get(st)$x$step, 0)
  th <- optim_update(opt, st, "x", c(1, 2), c(1, -1))
  with_null <- optim_update(opt, st, "x", th, NULL)
  st2 <- optim_state_new()
  th2 <- optim_update(opt, st2, "x", c(1, 2), c(1, -1))
  with_zero <- optim_update(opt, st2, "x", th2, c(0, 0))
  expect_identical(with_null, with_zero)
  expect_false(identical(with_null, th))           # momentum keeps it moving
  expect_identical(optim_state_get(st)$x$step, 2)

  # ClippedAdam, as Pyro, decays the lr even when the parameter had no gradient
  st <- optim_state_new()
  opt <- clipped_adam(lr = 0.1, lrd = 0.5)
  expect_identical(optim_update(opt, st, "x", 1, NULL), 1)
  expect_identical(optim_lr(st, "x"), 0.05)
  expect_identical(optim_state_get(st)$x$step, 0)
})

test_that("each schedule gives its learning-rate sequence", {
  lr_seq <- function(opt, k, name = "x") {
    st <- optim_state_new()
    optim_update(opt, st, name, 0, 1)
    lrs <- optim_lr(st, name)
    for (i in seq_len(k)) {
      optim_schedule_step(opt, st)
      lrs <- c(lrs, optim_lr(st, name))
    }
    lrs
  }
  # Pyro's own example: StepLR(step_size = 1, gamma = 2) from 0.01
  expect_identical(lr_seq(adam(lr = 0.01, schedule = lr_step(1, gamma = 2)), 2), c(0.01, 0.02, 0.04))
  expect_equal(lr_seq(sgd(1, schedule = lr_step(3, gamma = 0.5)), 7),
               c(1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25), tolerance = 0)
  expect_equal(lr_seq(adam(lr = 0.1, schedule = lr_exponential(0.9)), 3),
               c(0.1, 0.1 * 0.9, 0.1 * 0.9 * 0.9, 0.1 * 0.9 * 0.9 * 0.9), tolerance = 0)
  expect_equal(lr_seq(sgd(1, schedule = lr_multistep(c(2, 4, 4), gamma = 0.1)), 5),
               c(1, 1, 0.1, 0.1, 0.1 * 0.1^2, 0.1 * 0.1^2), tolerance = 0)
  # lr_lambda applies fn(0) from the start (torch's LambdaLR)
  expect_equal(lr_seq(adam(lr = 0.2, schedule = lr_lambda(function(k) 1 / (k + 2))), 3),
               0.2 * (1 / (2:5)), tolerance = 0)
  # chained with ClippedAdam's lrd: the schedule multiplies the decayed lr
  st <- optim_state_new()
  opt <- clipped_adam(lr = 1, lrd = 0.5, schedule = lr_exponential(0.1))
  optim_update(opt, st, "x", 0, 1)
  optim_schedule_step(opt, st)
  optim_update(opt, st, "x", 0, 1)
  expect_equal(optim_lr(st, "x"), 1 * 0.5 * 0.1 * 0.5)
  # each parameter has its own schedule, started when the parameter is first seen
  st <- optim_state_new()
  opt <- sgd(1, schedule = lr_exponential(0.5), per_param = function(name) {
    if (name == "fixed") list(schedule = NULL)
  })
  optim_update(opt, st, "early", 0, 1)
  optim_update(opt, st, "fixed", 0, 1)
  optim_schedule_step(opt, st)
  optim_update(opt, st, "late", 0, 1)
  optim_schedule_step(opt, st)
  expect_identical(c(optim_lr(st, "early"), optim_lr(st, "late"), optim_lr(st, "fixed")),
                   c(0.25, 0.5, 1))
})

test_that("saving and restoring the state gives identical continued updates", {
  halving <- function(k) 0.5^k
  environment(halving) <- baseenv()  # so the saved closure compares equal after readRDS()
  opts <- list(
    adam(lr = 0.05, amsgrad = TRUE, schedule = lr_step(1, 0.9)),
    clipped_adam(lr = 0.05, lrd = 0.99, clip_norm = 0.5),
    sgd(0.1, momentum = 0.5, schedule = lr_lambda(halving))
  )
  for (opt in opts) {
    st <- optim_state_new()
    x <- c(1, -1, 2); y <- matrix(0.5, 2, 2)
    for (t in 1:3) {
      x <- optim_update(opt, st, "x", x, grads3[[t]])
      y <- optim_update(opt, st, "y", y, y * t)
      optim_schedule_step(opt, st)
    }
    path <- tempfile(fileext = ".rds")
    saveRDS(optim_state_get(st), path)
    st2 <- optim_state_new()
    optim_state_set(st2, readRDS(path))
    # the whole state object also survives saveRDS()
    saveRDS(st, path)
    st3 <- readRDS(path)
    x2 <- x3 <- x; y2 <- y3 <- y
    for (t in 1:3) {
      x <- optim_update(opt, st, "x", x, -grads3[[t]])
      x2 <- optim_update(opt, st2, "x", x2, -grads3[[t]])
      x3 <- optim_update(opt, st3, "x", x3, -grads3[[t]])
      y <- optim_update(opt, st, "y", y, y)
      y2 <- optim_update(opt, st2, "y", y2, y2)
      y3 <- optim_update(opt, st3, "y", y3, y3)
      optim_schedule_step(opt, st)
      optim_schedule_step(opt, st2)
      optim_schedule_step(opt, st3)
    }
    expect_identical(x2, x)
    expect_identical(x3, x)
    expect_identical(y2, y)
    expect_identical(y3, y)
    expect_identical(optim_state_get(st2), optim_state_get(st))
    unlink(path)
  }
  # set replaces everything; a restored parameter keeps its saved lr
  st <- optim_state_new()
  optim_update(adam(lr = 0.3), st, "a", 1, 1)
  saved <- optim_state_get(st)
  st2 <- optim_state_new()
  optim_update(adam(), st2, "b", 1, 1)
  optim_state_set(st2, saved)
  expect_named(optim_state_get(st2), "a")
  optim_update(adam(lr = 0.001), st2, "a", 1, 1)
  expect_identical(optim_lr(st2, "a"), 0.3)
})

test_that("print methods", {
  expect_snapshot({
    adam()
    adam(lr = 0.01, clip_norm = 5, clip_value = 1, schedule = lr_step(100, 0.5), amsgrad = TRUE)
    clipped_adam(lrd = 0.999)
    sgd(0.1, momentum = 0.9, nesterov = TRUE, per_param = function(name) list())
    sgd(0.1, momentum = 0.9, dampening = 0.1, weight_decay = 1e-4)
    lr_step(1)
    lr_exponential(0.99)
    lr_multistep(c(10, 20))
    lr_lambda(function(k) 1)
  })
})

test_that("bad optimizer arguments are clear errors", {
  expect_snapshot(error = TRUE, adam(lr = -1))
  expect_snapshot(error = TRUE, adam(lr = c(0.1, 0.2)))
  expect_snapshot(error = TRUE, adam(lr = "fast"))
  expect_snapshot(error = TRUE, adam(betas = c(0.9, 1)))
  expect_snapshot(error = TRUE, adam(betas = 0.9))
  expect_snapshot(error = TRUE, adam(eps = -1e-8))
  expect_snapshot(error = TRUE, adam(weight_decay = NA))
  expect_snapshot(error = TRUE, adam(clip_norm = 0))
  expect_snapshot(error = TRUE, adam(clip_value = Inf))
  expect_snapshot(error = TRUE, adam(amsgrad = "yes"))
  expect_snapshot(error = TRUE, adam(schedule = 0.1))
  expect_snapshot(error = TRUE, adam(per_param = list(lr = 1)))
  expect_snapshot(error = TRUE, clipped_adam(clip_norm = NULL))
  expect_snapshot(error = TRUE, clipped_adam(lrd = 0))
  expect_snapshot(error = TRUE, sgd())
  expect_snapshot(error = TRUE, sgd(0.1, momentum = -0.9))
  expect_snapshot(error = TRUE, sgd(0.1, dampening = 2))
  expect_snapshot(error = TRUE, sgd(0.1, nesterov = TRUE))
})

test_that("bad schedules are clear errors", {
  expect_snapshot(error = TRUE, lr_step(0))
  expect_snapshot(error = TRUE, lr_step(2.5))
  expect_snapshot(error = TRUE, lr_step(10, gamma = -1))
  expect_snapshot(error = TRUE, lr_exponential())
  expect_snapshot(error = TRUE, lr_multistep(c(5, 0)))
  expect_snapshot(error = TRUE, lr_lambda(0.5))
  opt <- adam(schedule = lr_lambda(function(k) if (k < 1) 1 else NA))
  st <- optim_state_new()
  optim_update(opt, st, "z", 0, 1)
  expect_snapshot(error = TRUE, optim_schedule_step(opt, st))
})

test_that("bad per-parameter settings and bad updates are clear errors", {
  st <- optim_state_new()
  expect_snapshot(error = TRUE, {
    optim_update(adam(per_param = function(name) list(lrate = 1, lr = 2)), st, "loc", 0, 1)
  })
  expect_snapshot(error = TRUE, {
    optim_update(adam(per_param = function(name) list(lr = -2)), st, "loc", 0, 1)
  })
  expect_snapshot(error = TRUE, {
    optim_update(adam(per_param = function(name) 0.1), st, "loc", 0, 1)
  })
  expect_identical(ls(st$params), character())     # failed creations leave no state
  optim_update(adam(), st, "x", c(1, 2), c(1, 1))
  expect_snapshot(error = TRUE, optim_update(adam(), st, "x", c(1, 2), c(1, NaN)))
  expect_snapshot(error = TRUE, optim_update(adam(), st, "x", c(1, 2), c(1, Inf)))
  expect_snapshot(error = TRUE, optim_update(adam(), st, "x", c(1, 2), 1))
  expect_snapshot(error = TRUE, optim_update(adam(), st, "x", c(1, 2, 3), c(1, 1, 1)))
  expect_snapshot(error = TRUE, optim_update(adam(), st, "x", c(1, 2), "a"))
  expect_snapshot(error = TRUE, optim_update(sgd(0.1), st, "x", c(1, 2), c(1, 1)))
  expect_snapshot(error = TRUE, optim_update(adam(), st, "i", 1L, 1))
  expect_snapshot(error = TRUE, optim_state_set(st, list(x = list(step = 1))))
  # a failed update leaves the state as it was
  expect_identical(optim_state_get(st)$x$step, 1)
})

test_that("the optimizer core compiles and runs without R", {
  out <- run_standalone_core("optim_core", c(
    "#include <svi/optim/optim.hpp>",
    "#include <cstdio>",
    "int main() {",
    "  double th[2] = {1, 2}, g[2] = {0.5, -4}, m[2] = {0, 0}, v[2] = {0, 0};",
    "  svi::optim::AdamState s; s.lr = 0.1; s.exp_avg = m; s.exp_avg_sq = v;",
    "  svi::optim::AdamConfig c;",
    "  svi::optim::adam_step(th, g, 2, s, c);",
    "  svi::optim::adam_step(th, nullptr, 2, s, c);",
    "  std::printf(\"%.17g %.17g\\n\", th[0], th[1]);",
    "}"), needs = file.path("optim", "optim.hpp"))
  got <- as.numeric(strsplit(out, " ")[[1]])
  # the same two steps in R: a gradient, then "no gradient" (= zero after the first step)
  b1 <- 0.9; b2 <- 0.999; eps <- 1e-8; lr <- 0.1
  m1 <- (1 - b1) * c(0.5, -4); v1 <- (1 - b2) * c(0.5, -4)^2
  th1 <- c(1, 2) - lr / (1 - b1) * (m1 / (sqrt(v1) / sqrt(1 - b2) + eps))
  m2 <- b1 * m1; v2 <- b2 * v1
  th2 <- th1 - lr / (1 - b1^2) * (m2 / (sqrt(v2) / sqrt(1 - b2^2) + eps))
  expect_equal(got, th2, tolerance = 1e-15)
})
