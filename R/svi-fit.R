#' Fitted SVI runs
#'
#' [svi_run()] returns an `svi_fit`: a list with the svi object (`svi`), the arguments the
#' model and guide were run with (`args`), the raw and smoothed losses of every step
#' (`loss`, `smoothed_loss`, and `validation_loss`, `smoothed_validation_loss` when
#' validation data were given), the time taken in seconds (`time`), why the run stopped
#' (`stop_reason`: `"num_steps"`, `"patience"`, `"stationary"` (converged, with `stop =
#' "stationary"`), `"callback"`, `"interrupt"` or `"error"` (a step failed; `error` holds
#' the condition, the step and the site)), the convergence record of `stop = "stationary"`
#' (`convergence`, see [svi_run()]) and the parameters at the end of the run.
#'
#' * `print()` shows a few lines: steps, time, final losses, how the run stopped.
#' * `summary()` adds the parameters and, for each latent site of the guide, the posterior
#'   mean, standard deviation and quantiles estimated from `num_samples` guide draws (see
#'   [posterior_draws()]; set the seed first for reproducible numbers), and the k-hat
#'   diagnosis of [svi_diagnose()] from the same draws. Elements are named from the data
#'   where the values carry names (`param("b", init, names = colnames(X))`, or names or
#'   dimnames of `init`); the structural zeros of Cholesky factors are left out.
#'   `print(summary(fit), n = Inf)` prints every row.
#' * `plot()` draws the smoothed loss against the step, with the raw loss faint behind it
#'   (base graphics). The loss axis covers the losses after the first `trim` fraction of
#'   steps, so that the late steps are visible; it is logarithmic when those are positive
#'   and span more than a factor 20. Arguments in `...` (`ylim`, `main`, `ylab`, `col` for
#'   the smoothed line, ...) replace the defaults.
#'   `ggplot2::autoplot()` draws the same with ggplot2 when it is installed.
#' * `as.data.frame()` gives one row per step.
#' * `params()` gives the parameters at the end of the run.
#'
#' There is no `logLik()` method: SVI maximises the ELBO, a lower bound on the log marginal
#' likelihood with an unknown gap, not a likelihood at a point estimate, so AIC, BIC or
#' likelihood-ratio tests built on it would be wrong (see [svi_fit_methods] for `coef()`,
#' `vcov()`, `fitted()`, `predict()` and `pp_check()`, and [svi_diagnose()] for the ELBO
#' with its Monte Carlo error).
#'
#' A fit keeps a reference to its svi object: a later `svi_run()` on the object (or on the
#' fit) continues training. Methods on the fit use the parameters saved with it, so they
#' describe the run that produced it. In documents using knitr's chunk cache, use the fit
#' rather than the svi object in later chunks: the cache stores each object separately.
#'
#' @param x,object An `svi_fit`.
#' @param num_samples Number of guide draws for the posterior summaries.
#' @param probs Probabilities of the quantiles to report.
#' @param log Passed to [plot.default()]: `"y"` for a logarithmic loss axis, `""` for a
#'   linear one, `NULL` to choose.
#' @param ... Passed on to [plot.default()] by `plot()` (replacing its defaults); unused
#'   otherwise.
#' @return `print()`, `plot()`: `x`, invisibly. `summary()`: an object of class
#'   `summary.svi_fit` with tables `params` and `latent` (data frames).
#'   `as.data.frame()`: a data frame with columns `step`, `loss`, `smoothed_loss` (and the
#'   validation losses).
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, 1), obs = y))
#' }
#' guide <- function(y) {
#'   loc <- param("loc", 0)
#'   scale <- param("scale", 1, constraint = constraint_positive())
#'   sample_site("mu", dist_normal(loc, scale))
#' }
#' set.seed(1)
#' y <- rnorm(50, 3)
#' fit <- svi_run(svi(model, guide, adam(lr = 0.05)), y, num_steps = 500, progress = FALSE)
#' fit
#' summary(fit)
#' plot(fit)
#' head(as.data.frame(fit))
#' @name svi_fit
NULL

new_svi_fit <- function(s, args, run, elapsed, stop_reason, num_steps, patience, min_delta, prev) {
  n <- run$n
  keep <- seq_len(n)
  join <- function(old, new, n_old) {
    if (is.null(old) && is.null(new)) return(NULL)
    c(if (is.null(old)) rep(NA_real_, n_old) else old, if (is.null(new)) rep(NA_real_, n) else new[keep])
  }
  n_old <- if (is.null(prev)) 0L else length(prev$loss)
  fit <- list(
    svi = s,
    args = args,
    loss = join(prev$loss, run$loss, n_old),
    smoothed_loss = join(prev$smoothed_loss, run$smoothed, n_old),
    validation_loss = join(prev$validation_loss, run$validation, n_old),
    smoothed_validation_loss = join(prev$smoothed_validation_loss, run$smoothed_validation, n_old),
    time = elapsed + if (is.null(prev)) 0 else prev$time,
    time_run = elapsed,
    stop_reason = stop_reason,
    run_steps = n,
    stopped_at = n_old + n,
    num_steps = num_steps,
    patience = patience,
    min_delta = min_delta,
    smoothing = run$smoothing,
    ema = list(loss = run$ema, validation = if (is.null(run$validation)) prev$ema$validation else run$ema_val),
    state = list(values = s$store$values, constraints = s$store$constraints),
    loss_name = s$loss$name,
    optim_name = optim_label(s$optim)
  )
  class(fit) <- "svi_fit"
  fit
}

optim_label <- function(opt) {
  if (is.character(opt$name) && length(opt$name) == 1L) return(opt$name)
  sub("^svi_optim_", "", class(opt)[1])
}

# A parameter store holding a copy of the fit's parameters at the end of its run.
fit_store <- function(fit) {
  store <- new_param_store()
  store$values <- fit$state$values
  store$constraints <- fit$state$constraints
  store
}

#' @export
params.svi_fit <- function(x, ...) store_values(fit_store(x))

fit_last_finite <- function(x) {
  x <- x[is.finite(x)]
  if (length(x)) x[length(x)] else NA_real_
}

fit_fmt_num <- function(x) format(signif(x, 6), digits = 6)

fit_headline <- function(x) {
  n <- length(x$loss)
  paste0(n, " step", if (n != 1L) "s", " of ", x$loss_name, " with ", x$optim_name)
}

#' @rdname svi_fit
#' @export
print.svi_fit <- function(x, ...) {
  cat("<svi_fit> ", fit_headline(x), " (", format(round(x$time, 2), nsmall = 2), " s)\n", sep = "")
  if (length(x$loss)) {
    cat("  loss ", fit_fmt_num(fit_last_finite(x$loss)), ", smoothed ", fit_fmt_num(fit_last_finite(x$smoothed_loss)),
        " (first step: ", fit_fmt_num(x$loss[1]), ")\n", sep = "")
  }
  if (!is.null(x$validation_loss)) {
    cat("  validation loss ", fit_fmt_num(fit_last_finite(x$validation_loss)), ", smoothed ",
        fit_fmt_num(fit_last_finite(x$smoothed_validation_loss)), "\n", sep = "")
  }
  if (!identical(x$stop_reason, "num_steps")) cat("  ", stop_reason_text(x), "\n", sep = "")
  if (!is.null(x$convergence)) cat("  ", convergence_text(x$convergence), "\n", sep = "")
  if (!is.null(x$error)) cat("  Error in step ", x$error$step, ": ", conditionMessage(x$error$condition), "\n", sep = "")
  p <- names(x$state$values)
  cat("  parameters: ", if (length(p)) paste(p, collapse = ", ") else "none", "\n", sep = "")
  invisible(x)
}

#' @rdname svi_fit
#' @param diagnose For `summary()`: also run [svi_diagnose()] on the same draws (k-hat of
#'   the guide; needs the loo package and full-data plates; when it cannot run, the summary
#'   says why and uses plain guide draws).
#' @export
summary.svi_fit <- function(object, num_samples = 1000, probs = c(0.025, 0.5, 0.975),
                            diagnose = TRUE, ...) {
  num_samples <- check_count(num_samples, "num_samples")
  if (!is.numeric(probs) || !length(probs) || anyNA(probs) || any(probs < 0 | probs > 1)) {
    cli::cli_abort("{.arg probs} must be probabilities between 0 and 1.")
  }
  check_flag(diagnose, "diagnose")
  params_tab <- fit_params_table(object)
  diagnosis <- NULL
  note <- NULL
  draws <- NULL
  if (diagnose && num_samples >= 10L) {
    backend <- psis_backend()
    if (is.null(backend)) {
      note <- "k-hat not computed: install the loo package."
    } else {
      src <- draw_source(object, list())
      runs <- tryCatch(importance_runs(src, num_samples), error = function(e) e)
      if (inherits(runs, "error")) {
        note <- paste0("k-hat not computed: ", cli::ansi_strip(conditionMessage(runs)))
      } else {
        diagnosis <- diagnose_from(runs, backend)
        draws <- runs$draws
        # the localising per-parameter k-hat only when the joint one asks for it, and when cheap
        n_el <- ncol(as.matrix(draws))
        if (diagnosis$status %in% c("poor", "very_poor") && n_el <= 20L) {
          diagnosis$num_samples_param <- min(num_samples, 500L)
          diagnosis$khat_params <- conditional_khats(src, runs, diagnosis$num_samples_param, backend)
        }
      }
    }
  }
  if (is.null(draws)) draws <- posterior_draws(object, num_samples = num_samples)
  draws <- as.matrix(draws)
  draws <- draws[, !structural_zero_columns(draws), drop = FALSE]
  q <- if (ncol(draws)) t(apply(draws, 2, stats::quantile, probs = probs, names = FALSE)) else
    matrix(numeric(), 0, length(probs))
  if (length(probs) == 1L) q <- matrix(q, ncol = 1L)
  latent <- data.frame(variable = colnames(draws), mean = colMeans(draws),
                       sd = apply(draws, 2, stats::sd), stringsAsFactors = FALSE)
  qdf <- as.data.frame(q)
  names(qdf) <- paste0(format(100 * probs, trim = TRUE, drop0trailing = TRUE), "%")
  latent <- cbind(latent, qdf)
  rownames(latent) <- NULL
  structure(list(fit = object, params = params_tab, latent = latent, num_samples = num_samples,
                 diagnosis = diagnosis, diagnosis_note = note),
            class = "summary.svi_fit")
}

# One row per parameter element, named from the data where the value carries names, without
# the structural zeros of Cholesky factors.
fit_params_table <- function(fit) {
  p <- params(fit)
  u <- fit$state$values
  rows <- lapply(names(p), function(nm) {
    v <- p[[nm]]
    labels <- value_element_names(nm, u[[nm]], draw_value_shape(v))
    keep <- !cholesky_zero(fit$state$constraints[[nm]], draw_value_shape(v))
    data.frame(variable = labels[keep], value = as.vector(v)[keep], stringsAsFactors = FALSE)
  })
  if (!length(rows)) return(data.frame(variable = character(), value = numeric()))
  do.call(rbind, rows)
}

# Element labels: "b[woolB]" from names, "L[a,b]" from dimnames, else "b[2]", "L[1,2]".
value_element_names <- function(name, v, shape) {
  if (prod(shape) == 1L && length(shape) == 1L) return(name)
  if (length(shape) == 1L && !is.null(names(v)) && all(nzchar(names(v)))) {
    return(paste0(name, "[", names(v), "]"))
  }
  dn <- dimnames(v)
  if (length(shape) > 1L && !is.null(dn) && !any(vapply(dn, is.null, TRUE))) {
    idx <- expand.grid(dn, stringsAsFactors = FALSE)
    return(paste0(name, "[", apply(idx, 1, paste, collapse = ","), "]"))
  }
  draw_element_names(name, shape)
}

# The upper triangle of a (unit) lower Cholesky factor is zero by construction.
cholesky_zero <- function(constraint, shape) {
  n <- prod(shape)
  if (is.null(constraint) || length(shape) != 2L || shape[1] != shape[2] ||
      !constraint_name(constraint) %in% c("lower_cholesky", "unit_lower_cholesky")) {
    return(rep(FALSE, n))
  }
  as.vector(upper.tri(matrix(0, shape[1], shape[2])))
}

# Draw columns of square matrix sites whose whole upper triangle is zero in every draw (a
# Cholesky factor's structural zeros).
structural_zero_columns <- function(draws) {
  drop <- rep(FALSE, ncol(draws))
  cn <- colnames(draws)
  site <- sub("\\[.*$", "", cn)
  for (nm in unique(site)) {
    cols <- which(site == nm)
    k <- sqrt(length(cols))
    if (length(cols) < 4L || k != round(k) || !all(grepl(",", cn[cols], fixed = TRUE))) next
    up <- cols[as.vector(upper.tri(matrix(0, k, k)))]
    if (all(draws[, up] == 0)) drop[up] <- TRUE
  }
  drop
}

#' @rdname svi_fit
#' @param digits Significant digits of the printed tables.
#' @param n The number of rows of each table to print; `Inf` prints every row (the default
#'   says how many it left out).
#' @export
print.summary.svi_fit <- function(x, digits = 4, n = 20, ...) {
  f <- x$fit
  cat("<svi_fit summary> ", fit_headline(f), "\n", sep = "")
  if (length(f$loss)) cat("Final smoothed loss: ", fit_fmt_num(fit_last_finite(f$smoothed_loss)), "\n", sep = "")
  if (!identical(f$stop_reason, "num_steps")) cat(stop_reason_text(f), "\n", sep = "")
  if (!is.null(f$convergence)) cat(convergence_text(f$convergence), "\n", sep = "")
  cat("\nParameters:\n")
  fit_print_table(x$params, digits, n)
  cat("\nLatent sites (", x$num_samples, " draws from the guide):\n", sep = "")
  fit_print_table(x$latent, digits, n)
  fit_print_diagnosis(x)
  invisible(x)
}

fit_print_diagnosis <- function(x) {
  if (!is.null(x$diagnosis)) {
    cat("\n", paste(diagnosis_lines(x$diagnosis), collapse = "\n"), "\n", sep = "")
  } else if (!is.null(x$diagnosis_note)) {
    cat("\n", x$diagnosis_note, "\n", sep = "")
  }
}

fit_print_table <- function(df, digits, max_rows) {
  if (!nrow(df)) {
    cat("  (none)\n")
    return(invisible())
  }
  shown <- format(utils::head(df, max_rows), digits = digits)
  # names left-aligned, numbers right-aligned
  shown[[1]] <- formatC(shown[[1]], width = -max(nchar(c(shown[[1]], names(shown)[1]))))
  names(shown)[1] <- formatC(names(shown)[1], width = -nchar(shown[[1]][1]))
  print(shown, row.names = FALSE, right = TRUE)
  if (nrow(df) > max_rows) cat("  ... and ", nrow(df) - max_rows, " more rows\n", sep = "")
  invisible()
}

#' @exportS3Method knitr::knit_print
knit_print.summary.svi_fit <- function(x, ..., n = 20) {
  max_rows <- n
  f <- x$fit
  kable <- function(df) {
    out <- knitr::kable(utils::head(df, max_rows), digits = 4, row.names = FALSE)
    if (nrow(df) > max_rows) out <- c(out, "", paste0("... and ", nrow(df) - max_rows, " more rows"))
    out
  }
  lines <- c(
    paste0("**", fit_headline(f), "**; final smoothed loss ", fit_fmt_num(fit_last_finite(f$smoothed_loss)),
           if (!identical(f$stop_reason, "num_steps")) paste0(". ", stop_reason_text(f))),
    "",
    "Parameters:", "",
    kable(x$params),
    "",
    paste0("Latent sites (", x$num_samples, " draws from the guide):"), "",
    kable(x$latent),
    if (!is.null(x$diagnosis)) c("", paste(diagnosis_lines(x$diagnosis), collapse = " ")),
    if (is.null(x$diagnosis) && !is.null(x$diagnosis_note)) c("", x$diagnosis_note)
  )
  knitr::asis_output(paste(lines, collapse = "\n"))
}

#' @rdname svi_fit
#' @export
as.data.frame.svi_fit <- function(x, ...) {
  out <- data.frame(step = seq_along(x$loss), loss = x$loss, smoothed_loss = x$smoothed_loss)
  if (!is.null(x$validation_loss)) {
    out$validation_loss <- x$validation_loss
    out$smoothed_validation_loss <- x$smoothed_validation_loss
  }
  out
}

fit_log_axis <- function(d, log) {
  if (!is.null(log)) return(log)
  vals <- unlist(d[-1], use.names = FALSE)
  vals <- vals[is.finite(vals)]
  if (length(vals) && all(vals > 0) && max(vals) / min(vals) > 20) "y" else ""
}

# The y range that keeps the late steps visible: that of the smoothed losses and of the
# central 98 % of the raw losses after the first `trim` fraction of steps (the early descent
# runs off the top of the plot).
fit_plot_range <- function(d, trim) {
  n <- nrow(d)
  keep <- if (n >= 20L) seq.int(max(1L, floor(trim * n)) + 1L, n) else seq_len(n)
  smooth <- unlist(d[keep, grepl("^smoothed", names(d)), drop = FALSE], use.names = FALSE)
  raw <- d$loss[keep]
  raw <- raw[is.finite(raw)]
  q <- if (length(raw)) stats::quantile(raw, c(0.01, 0.99), names = FALSE) else numeric()
  r <- range(c(smooth[is.finite(smooth)], q))
  if (!all(is.finite(r))) r <- range(unlist(d[-1])[is.finite(unlist(d[-1]))])
  if (r[1] == r[2]) r <- r + c(-0.5, 0.5)
  r
}

# The arguments of the empty plot: defaults first, anything the user gives replaces them
# (`col` is the smoothed line's).
fit_plot_args <- function(x, d, log, ylim, dots) {
  col <- if (is.null(dots$col)) "#1f4e99" else dots$col
  dots$col <- NULL
  args <- utils::modifyList(list(x = d$step, y = d$loss, type = "n", log = log, ylim = ylim,
                                 xlab = "step", ylab = "loss (negative ELBO)",
                                 main = paste(x$loss_name, "loss")), dots)
  args$col <- col
  args
}

#' @rdname svi_fit
#' @param trim For `plot()` and `autoplot()`: the fraction of early steps left out when
#'   choosing the loss axis, so that the late steps are visible (the early descent runs
#'   off the top); `0` shows every loss.
#' @export
plot.svi_fit <- function(x, log = NULL, trim = 0.1, ...) {
  d <- as.data.frame(x)
  if (!nrow(d)) cli::cli_abort("The fit has no steps to plot.")
  check_number(trim, "trim", min = 0)
  ylim <- if (trim > 0) fit_plot_range(d, trim) else range(unlist(d[-1])[is.finite(unlist(d[-1]))])
  log <- fit_log_axis(data.frame(step = 1:2, loss = ylim), log)
  if (log == "y" && ylim[1] <= 0) log <- ""
  args <- fit_plot_args(x, d, log, ylim, list(...))
  col <- args$col
  args$col <- NULL
  do.call(graphics::plot, args)
  graphics::lines(d$step, d$loss, col = grDevices::adjustcolor("grey60", alpha.f = 0.5))
  graphics::lines(d$step, d$smoothed_loss, col = col, lwd = 2)
  labels <- c("loss", "smoothed loss")
  cols <- c("grey60", col)
  if (!is.null(d$validation_loss)) {
    graphics::lines(d$step, d$smoothed_validation_loss, col = "#d95f02", lwd = 2)
    labels <- c(labels, "smoothed validation loss")
    cols <- c(cols, "#d95f02")
  }
  graphics::legend("topright", legend = labels, col = cols, lwd = c(1, 2, 2)[seq_along(labels)],
                   bty = "n")
  invisible(x)
}

#' @exportS3Method ggplot2::autoplot
autoplot.svi_fit <- function(object, log = NULL, trim = 0.1, ...) {
  d <- as.data.frame(object)
  if (!nrow(d)) cli::cli_abort("The fit has no steps to plot.")
  series <- setdiff(names(d), c("step", "validation_loss"))
  long <- data.frame(
    step = rep(d$step, length(series)),
    value = unlist(d[series], use.names = FALSE),
    series = factor(rep(gsub("_", " ", series), each = nrow(d)), levels = gsub("_", " ", series))
  )
  long <- long[is.finite(long$value), , drop = FALSE]
  ylim <- if (trim > 0) fit_plot_range(d, trim) else NULL
  p <- ggplot2::ggplot(long, ggplot2::aes(x = .data$step, y = .data$value, colour = .data$series,
                                          alpha = .data$series)) +
    ggplot2::geom_line() +
    ggplot2::scale_colour_manual(values = c("grey60", "#1f4e99", "#d95f02")[seq_along(series)]) +
    ggplot2::scale_alpha_manual(values = c(0.5, 1, 1)[seq_along(series)], guide = "none") +
    ggplot2::coord_cartesian(ylim = ylim) +
    ggplot2::labs(x = "step", y = "loss (negative ELBO)", colour = NULL, title = paste(object$loss_name, "loss"))
  if (identical(fit_log_axis(data.frame(step = 1:2, loss = if (is.null(ylim)) range(long$value) else ylim), log), "y")) {
    p <- p + ggplot2::scale_y_log10()
  }
  p
}

# `.data` is the pronoun of ggplot2's data mask in autoplot().
utils::globalVariables(".data")
