# Autoguide draws and summaries take element names from the model's site, as hand-written
# guides take them from param(names = ).

wb_X <- model.matrix(~ wool + tension, warpbreaks)
wb_y <- warpbreaks$breaks
wb_wool <- as.integer(warpbreaks$wool)
wb_model <- function(X, y) {
  b <- sample_site("b", dist_normal(setNames(numeric(ncol(X)), colnames(X)), 5))
  sigma <- sample_site("sigma", dist_half_normal(c(A = 10, B = 10)))   # one noise sd per wool
  mu <- X %*% b
  dim(mu) <- NULL
  plate("data", nrow(X), function(i) sample_site("obs", dist_normal(mu, sigma[wb_wool]), obs = y))
}

test_that("auto_normal and auto_mvnormal label draws, summaries and coef with the model's names", {
  b_names <- paste0("b[", colnames(wb_X), "]")
  s_names <- c("sigma[A]", "sigma[B]")
  for (make in list(auto_normal, auto_mvnormal)) {
    set.seed(1)
    fit <- svi_run(svi(wb_model, make(wb_model), adam(0.05)), wb_X, wb_y, num_steps = 200, progress = FALSE)
    d <- posterior_draws(fit, num_samples = 20)
    expect_identical(colnames(as.matrix(d)), c(b_names, s_names))
    sm <- summary(fit, num_samples = 20, diagnose = FALSE)
    expect_identical(sm$latent$variable, c(b_names, s_names))
    expect_named(coef(fit, num_samples = 20), c(b_names, s_names))
    if (inherits(make(wb_model), "svi_autoguide_normal")) {
      expect_identical(sm$params$variable[1:4], paste0("b_auto_loc[", colnames(wb_X), "]"))
      expect_true(all(c("sigma_auto_loc[A]", "sigma_auto_loc[B]") %in% sm$params$variable))
    } else {
      # the flattened loc is labelled by the coordinates it holds
      expect_identical(sm$params$variable[1:6], paste0("auto_loc[", c(b_names, s_names), "]"))
    }
  }
  # unnamed sites keep their positions
  model <- function(X, y) {
    b <- sample_site("b", dist_normal(numeric(ncol(X)), 5))
    plate("data", nrow(X), function(i) sample_site("obs", dist_normal(X %*% b, 5), obs = y))
  }
  set.seed(1)
  fit <- svi_run(svi(model, auto_normal(model), adam(0.05)), wb_X, wb_y, num_steps = 20, progress = FALSE)
  expect_identical(colnames(as.matrix(posterior_draws(fit, num_samples = 5))), paste0("b[", 1:4, "]"))
})
