# Traces: the record of one run of a model or guide, one entry per site.

new_trace_handler <- function() {
  rec <- new.env(parent = emptyenv())
  rec$sites <- list()
  process <- function(msg) {
    # A second plate() of the same name in one run reuses the first one's minibatch.
    if (identical(msg$type, "subsample")) {
      old <- rec$sites[[msg$name]]
      if (!is.null(old) && identical(old$type, "subsample") && is.null(msg$value)) msg$value <- old$value
    }
    msg
  }
  postprocess <- function(msg) {
    name <- msg$name
    old <- rec$sites[[name]]
    if (!is.null(old)) {
      if (!identical(old$type, msg$type)) {
        cli::cli_abort("Site {.val {name}} is already in the trace as a {old$type} site; it cannot also be a {msg$type} site.", call = NULL)
      }
      if (identical(msg$type, "sample")) {
        cli::cli_abort(c(
          "Multiple sample sites named {.val {name}}.",
          i = "Each {.fn sample_site} in one run of a model or guide needs its own name."
        ), call = NULL)
      }
    }
    rec$sites[[name]] <- msg
    msg
  }
  new_handler("trace", process = process, postprocess = postprocess, rec = rec)
}

# Runs fn(...) under a fresh trace handler and returns list(trace = sites, value = result).
run_traced <- function(fn, args) {
  h <- new_trace_handler()
  value <- with_handler(h, do.call(fn, args))
  list(sites = h$rec$sites, value = value)
}

#' Record one run of a model or guide
#'
#' Runs `fn(...)` and records every site it creates: sample sites (with their distribution,
#' value, plate frames, scale and mask), parameters and plates. Useful to inspect a model
#' before fitting it.
#'
#' @param fn A model or guide function.
#' @param ... Arguments passed to `fn`.
#' @return An object of class `svi_trace`: a named list of sites, with the value `fn`
#'   returned in attribute `"value"`.
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
#' }
#' set.seed(1)
#' tr <- trace_model(model, c(0.5, 1.5))
#' tr
#' tr$mu$value
#' @export
trace_model <- function(fn, ...) {
  if (!is.function(fn)) cli::cli_abort("{.arg fn} must be a function.")
  res <- run_traced(fn, list(...))
  sites <- lapply(res$sites, function(s) {
    if (identical(s$type, "sample")) {
      s$value <- value_of_keep_dim(s$value)
      lp <- site_log_prob(s)
      s$log_prob <- value_of_keep_dim(lp)
      s$log_prob_sum <- sum(s$log_prob)
    }
    s
  })
  structure(sites, value = res$value, class = "svi_trace")
}

#' @export
print.svi_trace <- function(x, ...) {
  cat("<svi_trace> ", length(x), " site", if (length(x) != 1L) "s", "\n", sep = "")
  if (!length(x)) return(invisible(x))
  rows <- lapply(x, function(s) {
    kind <- switch(s$type, sample = if (isTRUE(s$is_observed)) "observed" else "latent",
                   subsample = "plate", s$type)
    v <- s$value
    shape <- if (is.null(dim(v))) as.character(length(v)) else paste(dim(v), collapse = "x")
    plates <- paste(vapply(s$frames, function(f) f$name, ""), collapse = ",")
    lp <- if (!is.null(s$log_prob_sum)) format(s$log_prob_sum, digits = 4) else ""
    c(name = s$name, kind = kind, shape = shape, plates = plates, log_prob = lp)
  })
  df <- as.data.frame(do.call(rbind, rows), stringsAsFactors = FALSE)
  rownames(df) <- NULL
  print(df, row.names = FALSE)
  invisible(x)
}

value_of_keep_dim <- function(x) if (is_tensor(x)) .Call(`_svi_cpp_tensor_value`, x) else x
