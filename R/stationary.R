# svi_run(stop = "stationary"): with a constant step size the iterates of stochastic
# optimization end up fluctuating around the optimum like a Markov chain (Dhaka et al. 2020).
# The run (1) tests the unconstrained parameter iterates for stationarity with split-R-hat over
# a few trailing windows, (2) from then on averages them (Polyak-Ruppert) over the stationary
# window, which grows with the run, and (3) stops when the Monte Carlo error of that average is
# small on the unconstrained scale and rests on at least `min_ess` effective draws (an MCSE
# from a handful of effective draws is itself unreliable; FASO asks for W_min / 8). The
# averaged values are the fit's parameters.

stationary_settings <- function(x, call = parent.frame()) {
  defaults <- list(min_window = 100L, check_every = 10L, rhat = 1.1, mcse = 0.02, min_ess = 0)
  if (!is.list(x) || (length(x) && (is.null(names(x)) || !all(names(x) %in% names(defaults))))) {
    cli::cli_abort(c("{.arg stationary} must be a list with some of {.val {names(defaults)}}.",
                     x = "It is {.obj_type_friendly {x}}{if (is.list(x)) paste0(' with names ', paste(names(x), collapse = ', '))}."),
                   call = call)
  }
  out <- utils::modifyList(defaults, x)
  out$min_window <- check_count(out$min_window, "stationary$min_window", call = call)
  out$check_every <- check_count(out$check_every, "stationary$check_every", call = call)
  check_number(out$rhat, "stationary$rhat", min = 1, call = call)
  check_number(out$mcse, "stationary$mcse", min = 0, call = call)
  check_number(out$min_ess, "stationary$min_ess", min = 0, call = call)
  if (out$min_window < 10L) cli::cli_abort("{.arg stationary$min_window} must be at least 10.", call = call)
  out
}

# Appends the unconstrained parameters after step run$n to the iterate record (a matrix grown
# by doubling; started afresh when the set of parameters changes).
stationary_record <- function(run, s) {
  x <- unlist(.subset2(.subset2(s, "store"), "values"), use.names = FALSE)
  if (is.null(run$iter) || length(x) != ncol(run$iter)) {
    run$iter <- matrix(NA_real_, 256L, length(x))
    run$iter_n <- 0L
    run$iter_first <- run$n   # run-local step of row 1
    run$stat_row <- NULL      # row where the stationary window starts
    run$stat_info <- NULL
  }
  k <- run$iter_n + 1L
  m <- run$iter
  rm("iter", envir = run)     # one reference, so the row is written in place
  if (k > nrow(m)) m <- rbind(m, matrix(NA_real_, nrow(m), ncol(m)))
  m[k, ] <- x
  run$iter <- m
  run$iter_n <- k
  invisible()
}

# TRUE when the run has converged (the average is precise enough).
stationary_check <- function(run, i) {
  st <- run$stat
  k <- run$iter_n
  if (is.null(k)) return(FALSE)
  # checks get rarer as the record grows (every 5 % of it at least), so that their cost,
  # linear in the record's length, stays a small part of the run's
  every <- max(st$check_every, k %/% 20L)
  if (is.null(k) || k < st$min_window || i %% every != 0L) return(FALSE)
  X <- run$iter[seq_len(k), , drop = FALSE]
  if (!all(is.finite(X[k, ]))) return(FALSE)
  if (is.null(run$stat_row)) {
    top <- max(st$min_window, floor(0.95 * k))
    widths <- unique(floor(seq(st$min_window, top, length.out = 5)))
    rhats <- vapply(widths, function(w) max_split_rhat(X[(k - w + 1L):k, , drop = FALSE]), 0)
    # the longest window that passes (more iterates to average), else report the best
    ok <- which(is.finite(rhats) & rhats <= st$rhat)
    best <- if (length(ok)) max(ok) else which.min(rhats)
    run$rhat_last <- rhats[best]
    if (!length(ok)) return(FALSE)
    run$stat_row <- k - widths[best] + 1L
    run$stat_rhat <- rhats[best]
  }
  W <- X[run$stat_row:k, , drop = FALSE]
  ess <- apply(W, 2, ess_iterates)
  sds <- apply(W, 2, stats::sd)
  run$stat_info <- list(ess_min = min(ess), mcse = max(sds / sqrt(ess)))
  stationary_precise(run$stat_info, st)
}

# The average is precise: small MCSE, from at least min_ess effective draws.
stationary_precise <- function(info, st) {
  isTRUE(info$mcse <= st$mcse) && isTRUE(info$ess_min >= st$min_ess)
}

# Split-R-hat of each column (two halves as two chains), the largest over the columns.
# Columns that do not move at all count as stationary.
max_split_rhat <- function(X) {
  n <- floor(nrow(X) / 2)
  a <- X[seq_len(n), , drop = FALSE]
  b <- X[nrow(X) - n + seq_len(n), , drop = FALSE]
  va <- apply(a, 2, stats::var)
  vb <- apply(b, 2, stats::var)
  w <- (va + vb) / 2
  ma <- colMeans(a)
  mb <- colMeans(b)
  bn <- n * ((ma - mb)^2 / 2)          # n times the variance of the two means
  var_plus <- (n - 1) / n * w + bn / n
  r <- sqrt(var_plus / w)
  r[w == 0 & ma == mb] <- 1
  if (!length(r)) return(1)
  max(r)
}

# Effective sample size of one series from its autocorrelations (Geyer's initial positive
# sequence on sums of adjacent pairs), computed with the FFT.
ess_iterates <- function(x) {
  n <- length(x)
  v <- stats::var(x)
  if (!is.finite(v) || v == 0) return(Inf)
  z <- x - mean(x)
  m <- 2^ceiling(log2(2 * n))
  f <- stats::fft(c(z, rep(0, m - n)))
  ac <- Re(stats::fft(Mod(f)^2, inverse = TRUE))[seq_len(n)] / m
  rho <- ac / ac[1]
  tau <- -1
  for (t in seq(1L, n - 1L, by = 2L)) {
    pair <- rho[t] + rho[t + 1L]
    if (pair < 0) break
    tau <- tau + 2 * pair
  }
  n / max(tau, 1 / log10(n))
}

# After the run: the convergence status, and the averaged parameters written into the store
# (not after an interrupt or an error, which leave the last completed step).
stationary_finish <- function(s, run, stop_reason) {
  st <- run$stat
  k <- if (is.null(run$iter_n)) 0L else run$iter_n
  last_ok <- k > 0L && all(is.finite(run$iter[k, ])) && is.finite(fit_last_finite(run$loss[seq_len(run$n)]))
  # a last check at the end of the run, so a run stopped between checks is judged too
  if (last_ok && k >= st$min_window && !stationary_precise(run$stat_info, st)) {
    saved <- st$check_every
    run$stat$check_every <- 1L
    stationary_check(run, run$n)
    run$stat$check_every <- saved
  }
  out <- list(status = "not_stationary", rhat = if (is.null(run$rhat_last)) NA_real_ else run$rhat_last,
              stationary_from = NA_integer_, window = 0L, ess = NA_real_, mcse = NA_real_,
              mcse_target = st$mcse, rhat_target = st$rhat, ess_target = st$min_ess,
              averaged = FALSE)
  if (!last_ok) {
    out$status <- if (k > 0L) "diverging" else "not_stationary"
    return(out)
  }
  if (is.null(run$stat_row)) return(out)
  out$status <- if (stationary_precise(run$stat_info, st)) "converged" else "stationary"
  out$rhat <- run$stat_rhat
  out$stationary_from <- run$offset + run$iter_first + run$stat_row - 1L
  out$window <- k - run$stat_row + 1L
  out$ess <- run$stat_info$ess_min
  out$mcse <- run$stat_info$mcse
  if (!stop_reason %in% c("interrupt", "error")) {
    avg <- colMeans(run$iter[run$stat_row:k, , drop = FALSE])
    store <- .subset2(s, "store")
    out$last <- store$values
    store$values <- relist_values(avg, store$values)
    out$averaged <- TRUE
  }
  out
}

# A flat vector back into a list shaped like `like` (names, dims and names of each element).
relist_values <- function(x, like) {
  ends <- cumsum(lengths(like))
  starts <- ends - lengths(like) + 1L
  out <- like
  for (j in seq_along(like)) {
    v <- x[starts[j]:ends[j]]
    attributes(v) <- attributes(like[[j]])
    out[[j]] <- v
  }
  out
}

convergence_text <- function(conv) {
  f2 <- function(x) format(round(x, 2), nsmall = 2)
  f3 <- function(x) format(signif(x, 2))
  switch(conv$status,
    converged = paste0("Converged: stationary from step ", conv$stationary_from,
                       ", parameters averaged over the last ", conv$window, " steps (split-R-hat ",
                       f2(conv$rhat), ", MCSE ", f3(conv$mcse), ")."),
    stationary = paste0("Stationary from step ", conv$stationary_from, ", but the average of the last ",
                        conv$window, " steps is not yet precise (",
                        if (conv$mcse > conv$mcse_target) paste0("MCSE ", f3(conv$mcse), " > ", f3(conv$mcse_target)) else
                          paste0("effective sample size ", round(conv$ess), " < ", conv$ess_target),
                        "); parameters averaged."),
    not_stationary = paste0("The parameters are not yet stationary",
                            if (is.finite(conv$rhat)) paste0(" (split-R-hat ", f2(conv$rhat), " > ", f2(conv$rhat_target), ")"),
                            "."),
    diverging = "The loss or the parameters are not finite: the run is diverging."
  )
}
