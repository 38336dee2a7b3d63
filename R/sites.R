#' Declare a random variable in a model or guide
#'
#' Inside inference, `sample_site()` records a named site: in the guide it draws a value
#' (reparameterized when the distribution allows, so gradients flow through it); in the model
#' it is replayed with the guide's value, or, with `obs`, it scores observed data. Outside
#' inference it simply draws from `dist` (or returns `obs` with a warning).
#'
#' @param name A single string, unique among the sample sites of one run.
#' @param dist A distribution, e.g. [dist_normal()].
#' @param obs Observed data, or `NULL` for a latent variable.
#' @param infer A named list of per-site options (e.g. `list(baseline = ...)` for
#'   [tracegraph_elbo()], `list(is_auxiliary = TRUE)` for guide-only sites).
#' @return The site's value: a tensor handle while a step is recorded, otherwise numeric.
#' @seealso [param()], [plate()], [svi()]
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   plate("data", length(y), function(i) {
#'     sample_site("obs", dist_normal(mu, 1), obs = y)
#'   })
#' }
#' set.seed(1)
#' sample_site("x", dist_normal(0, 1))   # outside inference: a plain draw
#' @export
sample_site <- function(name, dist, obs = NULL, infer = list()) {
  # the usual case -- valid arguments, only handlers the C++ walk knows -- in one C++ call
  value <- .Call(`_svi_cpp_sample_site`, name, dist, obs, infer, .svi)
  if (!is.null(value)) return(value)
  if (!is.character(name) || length(name) != 1L || is.na(name) || !nzchar(name)) {
    check_site_name(name, "sample_site")
  }
  if (!inherits(dist, "svi_dist")) {
    cli::cli_abort(c(
      "{.arg dist} of sample site {.val {name}} must be a distribution (e.g. {.fn dist_normal}).",
      x = "It is {.obj_type_friendly {dist}}."
    ))
  }
  if (!is.list(infer)) cli::cli_abort("{.arg infer} of sample site {.val {name}} must be a list.")
  if (!is.null(obs)) check_obs(obs, name)
  if (!length(.svi$stack)) {
    if (!is.null(obs)) {
      cli::cli_warn("Trying to observe a value outside of inference at site {.val {name}}.")
      return(obs)
    }
    return(dist_sample(dist))
  }
  msg <- list(
    type = "sample", name = name, fn = dist, is_observed = !is.null(obs), value = obs,
    infer = infer, scale = .svi$scale, mask = NULL, frames = .svi$frames, batch = .svi$batch,
    done = FALSE, stop = FALSE
  )
  apply_stack(msg)$value
}

check_site_name <- function(name, fn, call = parent.frame()) {
  if (!is.character(name) || length(name) != 1L || is.na(name) || !nzchar(name)) {
    cli::cli_abort("{.arg name} of {.fn {fn}} must be a single non-empty string.", call = call)
  }
}

check_obs <- function(obs, name, call = parent.frame()) {
  if (is_tensor(obs)) return(invisible())
  if (!is.numeric(obs) && !is.logical(obs)) {
    cli::cli_abort("{.arg obs} of sample site {.val {name}} must be numeric, not {.obj_type_friendly {obs}}.", call = call)
  }
  if (anyNA(obs)) {
    cli::cli_abort(c(
      "{.arg obs} of sample site {.val {name}} contains {.code NA}.",
      i = "Drop the missing observations, or mask them with {.fn mask_by}."
    ), call = call)
  }
}

#' Declare a learnable parameter
#'
#' Returns the current value of the parameter `name` from the parameter store of the running
#' [svi()] object, creating it from `init` the first time it is seen (later `init` and
#' `constraint` are ignored). Values are stored unconstrained; the returned value is mapped
#' through `constraint` and is differentiable while a step is recorded.
#'
#' @param name A single string.
#' @param init Initial value (constrained space), or a function returning it, called once.
#' @param constraint A constraint such as [constraint_positive()].
#' @param names `NULL`, or element names for the parameter (a character vector for a
#'   vector, a list of two for a matrix's dimnames), e.g. `colnames(X)`, used when it is
#'   created. Names (or dimnames) of `init` are kept too. [summary.svi_fit()], [coef()] and
#'   draws of sites whose distribution takes the parameter are labelled with them.
#' @return A tensor handle while a step is recorded, otherwise the numeric value. Asking
#'   for an existing parameter with an `init` of another shape is an error naming both
#'   shapes (the stored value is not silently reused).
#' @examples
#' guide <- function() {
#'   loc <- param("loc", 0)
#'   scale <- param("scale", 1, constraint = constraint_positive())
#'   sample_site("mu", dist_normal(loc, scale))
#' }
#' @export
param <- function(name, init = NULL, constraint = constraint_real(), names = NULL) {
  # an existing parameter first met in this step, under handlers the C++ walk knows: one C++ call
  # (the default, constraint_real(), read directly: one R call less per parameter and step)
  h <- .Call(`_svi_cpp_param_plain`, name, init,
             if (missing(constraint)) fixed_constraints$real else constraint, .svi)
  if (!is.null(h)) return(h)
  if (!is.character(name) || length(name) != 1L || is.na(name) || !nzchar(name)) {
    check_site_name(name, "param")
  }
  if (!inherits(constraint, "svi_constraint")) {
    cli::cli_abort("{.arg constraint} of param {.val {name}} must be a constraint, e.g. {.fn constraint_positive}.")
  }
  ctx <- .svi$ctx
  store <- if (is.null(ctx)) .svi$default_store else ctx$store
  value <- store_param(store, name, init, constraint, names = names)
  stack <- .svi$stack
  if (length(stack)) {
    msg <- list(type = "param", name = name, value = value, infer = list(), done = TRUE,
                stop = FALSE, frames = .svi$frames, batch = .svi$batch, scale = 1)
    if (!.svi$plain) return(apply_stack(msg)$value)
    # only trace and replay handlers, which record a param and change nothing: what
    # apply_stack() would do, without the walk
    if (!is.null(ctx) && ctx$compile) compiled_mark(ctx, msg)
    for (h in stack) if (h$type == "trace") trace_record(h$rec, msg)
  }
  value
}
