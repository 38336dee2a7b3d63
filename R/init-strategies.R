# Init strategies (autoguides spec section 3): functions of a prototype site (name, distribution
# expanded to the site's plates, support) giving its constrained initial value.

new_init_strategy <- function(name, fn) structure(fn, class = c(paste0("svi_init_", name), "svi_init_strategy"))

#' Initialisation strategies for autoguides
#'
#' An init strategy picks each latent site's starting value (in the site's own, constrained
#' space) when an autoguide builds its prototype; the guide starts there (its `loc` is the
#' value mapped to unconstrained space). If the model's log-density, or its gradient with
#' respect to the latents' unconstrained values, is not finite at the chosen values, the
#' prototype is drawn again, up to 100 times, and then an error names the sites where it is
#' not.
#'
#' * `init_to_feasible()`: the unconstrained origin mapped into the support (0 for real
#'   values, 1 for positive ones, the midpoint of an interval, the uniform simplex).
#' * `init_to_sample()`: one draw from the prior.
#' * `init_to_median(num_samples = 15)`: the elementwise median of `num_samples` prior draws,
#'   taken in unconstrained space (so it is a valid point for simplex and Cholesky sites too).
#' * `init_to_mean()`: the prior mean, when it exists and lies in the support.
#' * `init_to_uniform(radius = 2)`: uniform on `(-radius, radius)` in unconstrained space.
#' * `init_to_value(values)`: the values given by site name.
#'
#' A strategy that fails for a site (a non-finite median, an undefined mean, a value not given)
#' passes it to its `fallback`; `fallback = NULL` makes that an error naming the site.
#'
#' @param num_samples Number of prior draws for the median.
#' @param radius Half-width of the uniform interval in unconstrained space.
#' @param values A named list of constrained values.
#' @param fallback The strategy used where this one fails, or `NULL` for an error.
#' @return An init strategy, for the `init_loc_fn` argument of the autoguides.
#' @examples
#' model <- function() {
#'   s <- sample_site("s", dist_gamma(2, 1))
#'   sample_site("mu", dist_normal(0, s))
#' }
#' set.seed(1)
#' g <- auto_normal(model, init_loc_fn = init_to_value(list(s = 1.5)))
#' s <- svi(model, g, adam(0.01))
#' svi_step(s)
#' params(s)$s_auto_loc   # log(1.5)
#' @name init-strategies
NULL

#' @rdname init-strategies
#' @export
init_to_feasible <- function() {
  new_init_strategy("feasible", function(site) {
    u <- constraint_inverse(site$support, dist_sample(site$fn))
    constraint_forward(site$support, 0 * u)
  })
}

#' @rdname init-strategies
#' @export
init_to_sample <- function() new_init_strategy("sample", function(site) dist_sample(site$fn))

#' @rdname init-strategies
#' @export
init_to_median <- function(num_samples = 15, fallback = init_to_feasible()) {
  num_samples <- check_count(num_samples, "num_samples", where = " of `init_to_median()`")
  check_fallback(fallback, "init_to_median")
  new_init_strategy("median", function(site) {
    v <- tryCatch({
      draws <- dist_sample(site$fn, n = num_samples)
      one <- dist_sample(site$fn)
      n_el <- length(one)
      us <- lapply(seq_len(num_samples), function(k) {
        x <- array(draws, c(num_samples, n_el))[k, ]
        dim(x) <- dim(one)
        constraint_inverse(site$support, x)
      })
      u <- us[[1]]
      u[] <- apply(do.call(rbind, lapply(us, as.vector)), 2, stats::median)
      constraint_forward(site$support, u)
    }, error = function(e) NULL)
    if (is.null(v) || !all(is.finite(v)) || !constraint_check(site$support, v)) {
      return(init_fallback(fallback, site, "init_to_median"))
    }
    v
  })
}

#' @rdname init-strategies
#' @export
init_to_mean <- function(fallback = init_to_median()) {
  check_fallback(fallback, "init_to_mean")
  new_init_strategy("mean", function(site) {
    v <- tryCatch(plain_value(mean(site$fn)), error = function(e) NULL)
    ok <- !is.null(v) && length(v) && all(is.finite(v)) && constraint_check(site$support, v)
    if (ok) {
      one <- dist_sample(site$fn)
      ok <- length(v) == length(one)
      if (ok) dim(v) <- dim(one)
    }
    if (!ok) return(init_fallback(fallback, site, "init_to_mean"))
    v
  })
}

#' @rdname init-strategies
#' @export
init_to_uniform <- function(radius = 2) {
  if (!is.numeric(radius) || length(radius) != 1L || is.na(radius) || radius < 0) {
    cli::cli_abort("{.arg radius} of {.fn init_to_uniform} must be a non-negative number.")
  }
  new_init_strategy("uniform", function(site) {
    u <- constraint_inverse(site$support, dist_sample(site$fn))
    u[] <- stats::runif(length(u), -radius, radius)
    constraint_forward(site$support, u)
  })
}

#' @rdname init-strategies
#' @export
init_to_value <- function(values, fallback = init_to_uniform()) {
  if (!is.list(values) || (length(values) && (is.null(names(values)) || any(!nzchar(names(values)))))) {
    cli::cli_abort("{.arg values} of {.fn init_to_value} must be a named list of values.")
  }
  check_fallback(fallback, "init_to_value")
  new_init_strategy("value", function(site) {
    v <- values[[site$name]]
    if (is.null(v)) return(init_fallback(fallback, site, "init_to_value"))
    one <- dist_sample(site$fn)
    if (length(v) != length(one)) {
      cli::cli_abort("The initial value of site {.val {site$name}} has length {length(v)}; the site has {length(one)} element{?s}.", call = NULL)
    }
    dim(v) <- dim(one)
    storage.mode(v) <- "double"
    if (!constraint_check(site$support, v)) {
      cli::cli_abort("The initial value of site {.val {site$name}} is outside its support ({site$support$label}).", call = NULL)
    }
    v
  })
}

check_fallback <- function(fallback, fn, call = parent.frame()) {
  if (!is.null(fallback) && !inherits(fallback, "svi_init_strategy")) {
    cli::cli_abort("{.arg fallback} of {.fn {fn}} must be an init strategy such as {.fn init_to_feasible}, or {.code NULL}.", call = call)
  }
}

init_fallback <- function(fallback, site, fn) {
  if (is.null(fallback)) {
    cli::cli_abort(c(
      "{.fn {fn}} found no initial value for site {.val {site$name}}.",
      i = "Give a {.arg fallback} strategy, or the value with {.fn init_to_value}."
    ), call = NULL)
  }
  fallback(site)
}

# A strategy's value for a site, with the site's own shape and as doubles.
init_site_value <- function(strategy, site) {
  v <- strategy(site)
  storage.mode(v) <- "double"
  v
}

check_init_loc_fn <- function(init_loc_fn, fn, call = parent.frame()) {
  if (!inherits(init_loc_fn, "svi_init_strategy")) {
    cli::cli_abort("{.arg init_loc_fn} of {.fn {fn}} must be an init strategy such as {.fn init_to_median}.", call = call)
  }
}

check_init_scale <- function(init_scale, fn, call = parent.frame()) {
  if (!is.numeric(init_scale) || length(init_scale) != 1L || is.na(init_scale) || init_scale <= 0) {
    cli::cli_abort("{.arg init_scale} of {.fn {fn}} must be a positive number, not {format_value(init_scale)}.", call = call)
  }
}

#' @export
print.svi_init_strategy <- function(x, ...) {
  cat("<init strategy: ", sub("^svi_init_", "init_to_", class(x)[1]), ">\n", sep = "")
  invisible(x)
}
