#' Automatic guides
#'
#' Each of these builds a guide from `model`: on its first call the guide runs the model once
#' (its *prototype*, see [init-strategies]) to find the latent sample sites, their shapes,
#' supports and plates, and then draws every latent site at each step. Use it as
#' `svi(model, auto_normal(model), adam(0.01))`. Latent values are represented in
#' unconstrained space through the bijection of each site's support (see [constraints]), so
#' the guide's density includes the Jacobian of that map.
#'
#' * `auto_normal()`: an independent normal per element in unconstrained space, with
#'   parameters `<site>_auto_loc` and `<site>_auto_scale` (softplus-positive). Sites with real
#'   support are drawn from `dist_normal()` directly (so [meanfield_elbo()] uses the analytic
#'   KL divergence); others through an auxiliary site `<site>_unconstrained`. Parameters cover
#'   plates at their full size, so local latents in subsampled plates are supported: each step
#'   reads the minibatch's rows. [median()][median.svi] and [quantile()][quantile.svi] cover
#'   every element of such a site (draws they need enter the plates at full size);
#'   [posterior_draws()] and [predictive()] refuse plates that draw random minibatches.
#' * `auto_delta()`: a point estimate (MAP in the model's own, constrained coordinates): one
#'   parameter `<site>_auto_loc` per site, constrained to the site's support.
#' * `auto_diagonal_normal()`, `auto_mvnormal()`, `auto_lowrank_mvnormal()`: all latents
#'   flattened into one vector of unconstrained values (`D` coordinates), drawn at the
#'   auxiliary site `_auto_latent` from a diagonal normal (`auto_loc`, `auto_scale`), a normal
#'   with a full scale matrix `diag(auto_scale) %*% auto_scale_tril` (unit lower-triangular),
#'   or a normal with covariance `S (W W' + I) S`, `S = diag(auto_scale)`, `W = auto_cov_factor`
#'   (`D x rank`, rank `round(sqrt(D))` by default). A local latent in a subsampled plate
#'   is an error for these: use `auto_normal()`.
#'
#' Discrete latent sites, latent sites whose support depends on other latents (such as
#' `dist_uniform(0, theta)`) and models without latent sites are errors that say what to do.
#' [median()][median.svi] and [quantile()][quantile.svi] summarise a fitted autoguide;
#' [posterior_draws()] and [predictive()] draw from it. See also [auto_laplace()] and
#' [auto_guide_list()].
#'
#' Element names the model gives a site -- names (or dimnames) of its distribution's
#' parameters, e.g. `dist_normal(setNames(numeric(ncol(X)), colnames(X)), 5)` -- label its
#' draws, [summary()][summary.svi_fit] and [coef()][coef.svi_fit] rows (`b[woolB]`), and the
#' guide's parameters (`b_auto_loc[woolB]`; the flattened guides' `auto_loc[b[woolB]]`), as
#' `param(names = )` does for hand-written guides. Sites in subsampled plates keep positions.
#'
#' @param model The model function.
#' @param init_loc_fn An init strategy (see [init-strategies]).
#' @param init_scale Initial scale in unconstrained space, a positive number.
#' @param rank Rank of the covariance factor, or `NULL` for `round(sqrt(D))`.
#' @param prefix Prefix of the parameter names (change it when two flattened guides fit parts
#'   of one model in [auto_guide_list()]).
#' @return A guide function (class `svi_autoguide`).
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   sigma <- sample_site("sigma", dist_half_normal(2))
#'   plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, sigma), obs = y))
#' }
#' set.seed(1)
#' y <- rnorm(30, 2, 0.5)
#' s <- svi(model, auto_normal(model), adam(0.05))
#' for (i in 1:300) svi_step(s, y)
#' median(s, y = y)
#' @name autoguides
NULL

#' @rdname autoguides
#' @export
auto_normal <- function(model, init_loc_fn = init_to_feasible(), init_scale = 0.1, prefix = "auto") {
  check_model(model, "auto_normal")
  check_init_loc_fn(init_loc_fn, "auto_normal")
  check_init_scale(init_scale, "auto_normal")
  new_autoguide("normal", "auto_normal", model, init_loc_fn, emit_auto_normal,
                list(init_scale = init_scale, prefix = prefix))
}

normal_param_names <- function(site, prefix) {
  c(loc = paste0(site$name, "_", prefix, "_loc"), scale = paste0(site$name, "_", prefix, "_scale"))
}

emit_auto_normal <- function(proto, state) {
  init_scale <- state$settings$init_scale
  out <- list()
  for (site in proto$sites) {
    nms <- normal_param_names(site, state$settings$prefix)
    loc <- param(nms[["loc"]], site$u_full)
    scale <- param(nms[["scale"]], site$u_full * 0 + init_scale, constraint = constraint_softplus_positive())
    out[[site$name]] <- in_site_plates(site, function(rows) {
      q <- dist_normal(take_rows(loc, rows), take_rows(scale, rows))
      if (inherits(site$support, "svi_constraint_real") && site$event_dim == 0L) {
        return(sample_site(site$name, q))
      }
      u <- sample_site(paste0(site$name, "_unconstrained"), q, infer = list(is_auxiliary = TRUE))
      emit_site_delta(site, u)
    })
  }
  invisible(out)
}

# Per-site (loc, scale) of the unconstrained marginals, from the constrained parameters.
autoguide_marginals <- function(g, p) autoguide_method("marginals", g)(g, p)

autoguide_marginals.svi_autoguide_normal <- function(g, p) {
  st <- autoguide_state(g)
  lapply(st$proto$sites, function(site) {
    nms <- normal_param_names(site, st$settings$prefix)
    list(loc = p[[nms[["loc"]]]], scale = p[[nms[["scale"]]]])
  })
}
