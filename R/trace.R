# Traces: the record of one run of a model or guide, one entry per site.

# The trace handler is data: apply_stack() records each site into `rec` (sites in order of
# first appearance, and their types).
new_trace_handler <- function() list(type = "trace", rec = new_trace_rec())

new_trace_rec <- function() {
  rec <- new.env(parent = emptyenv())
  rec$sites <- list()
  rec$types <- character(0)   # the sites' types, so callers can pick sample sites at once
  rec
}

# Records a finished site message in a trace handler's record.
trace_record <- function(rec, msg) {
  name <- msg$name
  if (is.null(rec$sites[[name]])) rec$types[[name]] <- msg$type else trace_check_repeat(rec, msg)
  rec$sites[[name]] <- msg
}

# A second plate() of the same name in one run reuses the first one's minibatch.
trace_reuse_subsample <- function(rec, msg) {
  old <- rec$sites[[msg$name]]
  if (!is.null(old) && old$type == "subsample") msg$value <- old$value
  msg
}

# A name seen before in this trace: fine for params and plates used again, an error otherwise.
trace_check_repeat <- function(rec, msg) {
  name <- msg$name
  old <- rec$sites[[name]]
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

# Runs fn(...) under a fresh trace handler and returns list(sites, types, value).
run_traced <- function(fn, args) {
  h <- new_trace_handler()
  value <- with_handler(h, do.call(fn, args))
  list(sites = h$rec$sites, types = h$rec$types, value = value)
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
