#' Baselines for score-function gradients
#'
#' A baseline is subtracted from the downstream cost of a non-reparameterized guide site
#' before it weights the site's score function in [tracegraph_elbo()]. Any baseline that does
#' not depend on the site's own draw leaves the gradient unbiased; a good one (close to the
#' expected cost) makes it much less noisy. Attach one with
#' `sample_site(name, dist, infer = list(baseline = ...))`.
#'
#' * `baseline_decaying_avg(beta)`: an exponential moving average of the downstream cost,
#'   one per element of the site's plates. Each step uses the average from *before* that
#'   step's update, then updates it once per particle: `avg <- beta * avg + (1 - beta) * cost`.
#'   It starts at zero, is updated only by [svi_step()] (never by [evaluate_loss()],
#'   [gradient_variance()] or [elbo_loss_and_grads()]), is not touched by the optimizer, and
#'   lives in the parameter store (`s$store$averages`, plain R values), so it is saved with
#'   it. The plate's (sub)sample size must stay the same from step to step.
#' * `baseline_value(value)`: your own value, with the shape of the site's plates (a number
#'   for a site outside plates). If it is computed from [param()]s, they are trained by the
#'   squared-error baseline loss.
#' * `baseline_learned(fn, input)`: `fn(input)` predicts the downstream cost; `fn` is an R
#'   function whose weights are [param()]s, e.g. a small neural network. The input is
#'   detached (no gradient flows back into it), and `fn`'s parameters are trained only by the
#'   squared error `sum((cost - fn(input))^2)`, added to the loss that is differentiated (the
#'   ELBO's gradient never reaches them). Give `input` values the site's draw does not depend
#'   on, e.g. upstream latents or data.
#'
#' Pyro's spelling is accepted as a plain list: `use_decaying_avg_baseline`, `baseline_beta`
#' (default 0.90), `nn_baseline`, `nn_baseline_input` and `baseline_value`; there a decaying
#' average can be combined with `nn_baseline` or `baseline_value` (they add up).
#'
#' @param beta Weight of the old average, in `[0, 1)`.
#' @param value A number, array or tensor handle.
#' @param fn A function of one argument returning the baseline.
#' @param input The argument passed to `fn`.
#' @return An object of class `svi_baseline`, for `infer = list(baseline = ...)`.
#' @seealso [tracegraph_elbo()], [gradient_variance()]
#' @examples
#' guide <- function(y) {
#'   plate("data", length(y), function(i) {
#'     p <- param("p", rep(0.5, length(y)), constraint = constraint_unit_interval())
#'     sample_site("z", dist_bernoulli(prob = p),
#'                 infer = list(baseline = baseline_decaying_avg(beta = 0.95)))
#'   })
#' }
#' # the same in Pyro's spelling
#' infer <- list(baseline = list(use_decaying_avg_baseline = TRUE, baseline_beta = 0.95))
#'
#' # a learned baseline: a linear function of an upstream draw `mu`
#' net <- function(x) param("bl_w", 0) * x + param("bl_b", 0)
#' # inside the guide: infer = list(baseline = baseline_learned(net, mu))
#' @name baselines
NULL

#' @rdname baselines
#' @export
baseline_decaying_avg <- function(beta = 0.90) {
  beta <- check_number(beta, "beta", min = 0, max = 1, max_open = TRUE)
  new_baseline(decay = TRUE, beta = beta)
}

#' @rdname baselines
#' @export
baseline_value <- function(value) {
  check_baseline_number(value, "value")
  new_baseline(value = value)
}

#' @rdname baselines
#' @export
baseline_learned <- function(fn, input) {
  if (!is.function(fn)) cli::cli_abort("{.arg fn} must be a function of {.arg input}, not {.obj_type_friendly {fn}}.")
  if (missing(input)) cli::cli_abort("{.arg input} is missing: {.arg fn} is called as {.code fn(input)}.")
  check_baseline_number(input, "input")
  new_baseline(fn = fn, input = input)
}

new_baseline <- function(decay = FALSE, beta = 0.90, fn = NULL, input = NULL, value = NULL) {
  structure(list(decay = decay, beta = beta, fn = fn, input = input, value = value),
            class = "svi_baseline")
}

#' @export
print.svi_baseline <- function(x, ...) {
  kinds <- c(if (x$decay) paste0("decaying average (beta = ", format(x$beta), ")"),
             if (!is.null(x$fn)) "learned", if (!is.null(x$value)) "value")
  cat("<svi_baseline> ", paste(kinds, collapse = " + "), "\n", sep = "")
  invisible(x)
}

check_baseline_number <- function(x, arg, call = parent.frame()) {
  if (is_tensor(x)) return(invisible())
  if (!is.numeric(x) && !is.logical(x)) {
    cli::cli_abort("{.arg {arg}} must be numeric or a tensor handle, not {.obj_type_friendly {x}}.", call = call)
  }
  if (!length(x) || anyNA(x)) cli::cli_abort("{.arg {arg}} must be non-empty and free of {.code NA}.", call = call)
}

pyro_baseline_keys <- c("use_decaying_avg_baseline", "baseline_beta", "nn_baseline",
                        "nn_baseline_input", "baseline_value")

# infer$baseline of a site -> an svi_baseline, or NULL for none.
parse_baseline <- function(spec, site) {
  if (is.null(spec) || inherits(spec, "svi_baseline")) return(spec)
  if (!is.list(spec)) {
    cli::cli_abort(c(
      "The baseline of site {.val {site}} must come from {.fn baseline_decaying_avg}, {.fn baseline_value} or {.fn baseline_learned}.",
      i = "Pyro's spelling, a named list such as {.code list(use_decaying_avg_baseline = TRUE)}, works too."
    ), call = NULL)
  }
  keys <- names(spec)
  if (length(spec) && (is.null(keys) || any(!nzchar(keys)))) {
    cli::cli_abort("The baseline options of site {.val {site}} must be a named list.", call = NULL)
  }
  bad <- setdiff(keys, pyro_baseline_keys)
  if (length(bad)) {
    cli::cli_abort(c(
      "At site {.val {site}}: unrecognized baseline {cli::qty(length(bad))}option{?s} {.val {bad}}.",
      i = "Known options: {.val {pyro_baseline_keys}}."
    ), call = NULL)
  }
  if (!is.null(spec$nn_baseline) && !is.null(spec$baseline_value)) {
    cli::cli_abort("Site {.val {site}} cannot use {.field baseline_value} and {.field nn_baseline} at the same time.", call = NULL)
  }
  decay <- if_null(spec$use_decaying_avg_baseline, FALSE)
  if (!isTRUE(decay) && !isFALSE(decay)) {
    cli::cli_abort("{.field use_decaying_avg_baseline} of site {.val {site}} must be {.code TRUE} or {.code FALSE}.", call = NULL)
  }
  out <- new_baseline(decay = decay)
  withCallingHandlers({
    if (decay) out$beta <- baseline_decaying_avg(if_null(spec$baseline_beta, 0.90))$beta
    if (!is.null(spec$nn_baseline)) {
      learned <- baseline_learned(spec$nn_baseline, spec$nn_baseline_input)
      out$fn <- learned$fn
      out$input <- learned$input
    }
    if (!is.null(spec$baseline_value)) out$value <- baseline_value(spec$baseline_value)$value
  }, error = function(e) {
    cli::cli_abort("Invalid baseline options at site {.val {site}}.", parent = e, call = NULL)
  })
  if (!out$decay && is.null(out$fn) && is.null(out$value)) return(NULL)
  out
}

if_null <- function(a, b) if (is.null(a)) b else a

# The baseline of a non-reparameterized guide site for downstream cost `dc` (detached, with
# the site's plate shape): list(value = b or NULL, loss = squared-error loss or NULL), `b`
# shaped like `dc`.
site_baseline <- function(site, dc) {
  spec <- parse_baseline(site$infer$baseline, site$name)
  if (is.null(spec)) return(list(value = NULL, loss = NULL))
  b <- 0
  if (spec$decay) b <- decaying_avg_step(site$name, dc, spec$beta)
  extra <- NULL
  if (!is.null(spec$fn)) {
    input <- detach_value(spec$input)  # on the tape (a replay recomputes it), no gradient
    extra <- spec$fn(input)
    if (!is_tensor(extra) && !is.numeric(extra)) {
      cli::cli_abort("The learned baseline of site {.val {site$name}} returned {.obj_type_friendly {extra}}, not a number or tensor.", call = NULL)
    }
  } else if (!is.null(spec$value)) {
    extra <- spec$value
  }
  if (!is.null(extra)) {
    check_baseline_shape(extra, dc, site$name)
    b <- b + like_shape(extra, dc)
  }
  loss <- if (!is.null(extra)) sum((dc - b)^2) else NULL
  list(value = b, loss = loss)
}

# x (a handle or numeric with as many elements as `like`) with like's dims.
like_shape <- function(x, like) {
  d <- dim(like)
  if (!identical(dim(x), d)) dim(x) <- d
  x
}

check_baseline_shape <- function(b, dc, site) {
  if (length(b) == length(dc)) return(invisible())
  shape <- function(x) paste(if (is.null(dim(x))) length(x) else dim(x), collapse = ", ")
  cli::cli_abort(c(
    "Expected the baseline at site {.val {site}} to have shape [{shape(dc)}] (its downstream cost), not [{shape(b)}].",
    i = "A baseline has one value per element of the site's plates."
  ), call = NULL)
}

# Returns the site's decaying average from before this particle and records the updated one
# in the step context; svi_step() commits it to the store when the step succeeds.
decaying_avg_step <- function(name, dc, beta) {
  ctx <- .svi$ctx
  if (is.null(ctx$averages)) ctx$averages <- list()
  old <- ctx$averages[[name]]
  if (is.null(old)) old <- ctx$store$averages[[name]]
  if (is.null(old)) {
    old <- value_of(dc) * 0
  } else if (length(old) != length(dc)) {
    cli::cli_abort(c(
      "The decaying-average baseline of site {.val {name}} has {length(old)} element{?s} but its downstream cost now has {length(dc)}.",
      i = "The average is kept per plate element: the plate's (sub)sample size must not change between steps."
    ), call = NULL)
  }
  if (is_tensor(dc)) {
    if (!is_tensor(old)) {
      # the stored average enters the tape as a state leaf: a compiled replay overwrites it
      # with the committed average before every step (see compiled_program())
      old <- .Call(`_svi_cpp_tensor_state`, ctx$tape, as.vector(old))
      ctx$average_leaves[[name]] <- old
    }
    old <- like_shape(old, dc)
    ctx$averages[[name]] <- .Call(`_svi_cpp_tracegraph_decay`, dc, old, beta)
    return(old)
  }
  old <- like_shape(old, dc)
  ctx$averages[[name]] <- (1 - beta) * dc + beta * old
  old
}

# Called by svi_step() after a successful update.
commit_averages <- function(store, averages) {
  if (!length(averages)) return(invisible())
  all <- if_null(store$averages, list())
  all[names(averages)] <- averages
  store$averages <- all
  invisible()
}
