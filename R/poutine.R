# User-facing effect handlers: each wraps a model or guide function and returns a new one.

#' Effect handlers: condition, block, scale, mask and replay a model
#'
#' These wrap a model or guide function and return a function with the same arguments
#' whose sites are changed as follows:
#' * `condition(fn, data)`: sample sites named in `data` become observed at those values.
#' * `block(fn, hide, expose)`: sites in `hide` (all sites when both are `NULL`), or every
#'   site not in `expose`, are invisible to handlers outside, e.g. to [trace_model()], the
#'   ELBO or an autoguide built on the blocked model.
#' * `scale_by(fn, scale)`: multiplies every sample site's log-density by `scale` (> 0).
#' * `mask_by(fn, mask)`: sets elements where `mask` is `FALSE` to contribute zero.
#' * `replay(fn, trace)`: latent sample sites take their values from `trace`.
#'
#' @param fn A model or guide function.
#' @param data A named list of values.
#' @param hide Character vector of site names, or `NULL` for all.
#' @param expose Character vector of the only site names left visible (instead of `hide`).
#' @param scale A positive number (or a vector matching the sites' batch shape).
#' @param mask `TRUE`, `FALSE` or a logical vector matching the sites' batch shape.
#' @param trace A trace from [trace_model()].
#' @return A function.
#' @examples
#' model <- function() {
#'   mu <- sample_site("mu", dist_normal(0, 1))
#'   sample_site("y", dist_normal(mu, 1))
#' }
#' tr <- trace_model(condition(model, list(y = 0.3)))
#' tr$y$is_observed
#' tr <- trace_model(block(model, hide = "y"))
#' names(tr)
#' @name handlers
NULL

#' @rdname handlers
#' @export
condition <- function(fn, data) {
  check_fn(fn)
  if (!is.list(data) || (length(data) && (is.null(names(data)) || any(!nzchar(names(data)))))) {
    cli::cli_abort("{.arg data} must be a named list of values.")
  }
  h <- new_handler("condition", process = function(msg) {
    if (identical(msg$type, "sample") && !is.null(data[[msg$name]])) {
      msg$value <- data[[msg$name]]
      msg$is_observed <- TRUE
    }
    msg
  })
  function(...) with_handler(h, fn(...))
}

#' @rdname handlers
#' @export
block <- function(fn, hide = NULL, expose = NULL) {
  check_fn(fn)
  if (!is.null(hide) && !is.character(hide)) cli::cli_abort("{.arg hide} must be a character vector of site names or {.code NULL}.")
  if (!is.null(expose) && !is.character(expose)) cli::cli_abort("{.arg expose} must be a character vector of site names or {.code NULL}.")
  if (!is.null(hide) && !is.null(expose)) cli::cli_abort("Give {.arg hide} or {.arg expose} to {.fn block}, not both.")
  h <- new_handler("block", process = function(msg) {
    hidden <- if (!is.null(expose)) !msg$name %in% expose else is.null(hide) || msg$name %in% hide
    if (hidden) msg$stop <- TRUE
    msg
  })
  function(...) with_handler(h, fn(...))
}

#' @rdname handlers
#' @export
scale_by <- function(fn, scale) {
  check_fn(fn)
  if (!is.numeric(scale) || is.object(scale) || !length(scale) || anyNA(scale) ||
      !all(is.finite(scale)) || any(scale <= 0)) {
    cli::cli_abort(c("{.arg scale} must be positive and finite, not {format_value(scale)}.",
                     i = "To drop terms, use {.fn mask_by} instead."))
  }
  h <- new_handler("scale", process = function(msg) {
    if (identical(msg$type, "sample")) msg$scale <- msg$scale * scale
    msg
  })
  function(...) with_handler(h, fn(...))
}

#' @rdname handlers
#' @export
mask_by <- function(fn, mask) {
  check_fn(fn)
  if (!is.logical(mask) || is.object(mask) || !length(mask) || anyNA(mask)) {
    cli::cli_abort("{.arg mask} must be {.code TRUE}, {.code FALSE} or a logical vector without {.code NA}, not {format_value(mask)}.")
  }
  h <- new_handler("mask", process = function(msg) {
    if (identical(msg$type, "sample")) msg$mask <- if (is.null(msg$mask)) mask else msg$mask & mask
    msg
  })
  function(...) with_handler(h, fn(...))
}

#' @rdname handlers
#' @export
replay <- function(fn, trace) {
  check_fn(fn)
  if (!is.list(trace)) cli::cli_abort("{.arg trace} must be a trace from {.fn trace_model}.")
  h <- new_replay_handler(trace)
  function(...) with_handler(h, fn(...))
}

# The replay handler is data (see apply_stack()): a named list of recorded sites.
new_replay_handler <- function(sites) list(type = "replay", sites = sites)

# A site met by a replay handler that holds `g` under the same name.
replay_site <- function(msg, g) {
  if (msg$type == "subsample") {
    if (g$type == "subsample") msg$value <- g$value
    return(msg)
  }
  if (msg$type != "sample" || msg$is_observed) return(msg)
  if (g$type != "sample" || g$is_observed) {
    cli::cli_abort("Site {.val {msg$name}} must be a latent sample site in the trace being replayed.", call = NULL)
  }
  msg$value <- g$value
  msg$infer <- g$infer
  msg$done <- TRUE
  msg
}

check_fn <- function(fn, call = parent.frame()) {
  if (!is.function(fn)) cli::cli_abort("{.arg fn} must be a function.", call = call)
}
