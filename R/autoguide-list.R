# A guide made of parts (autoguides spec section 6): each part is an autoguide built on a
# blocked model -- block(model, hide = ) or block(model, expose = ) -- or a hand-written guide
# function; together they must cover disjoint sets of latent sites.

#' A guide made of several parts
#'
#' `auto_guide_list(model, ...)` calls its parts in order. Each part is an autoguide built on
#' `block(model, expose = ...)` or `block(model, hide = ...)` so that it sees only its own
#' sites, or a hand-written guide function (e.g. for a discrete site fitted with
#' [tracegraph_elbo()]). The autoguide parts must guide disjoint sets of sites; this is
#' checked when the guide is first called. [median()][median.svi] and
#' [quantile()][quantile.svi] combine the autoguide parts.
#'
#' @param model The model function.
#' @param ... Guide parts: autoguides or guide functions.
#' @return A guide function (class `svi_autoguide_list`).
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   sigma <- sample_site("sigma", dist_half_normal(2))
#'   plate("data", length(y), function(i) sample_site("obs", dist_normal(mu, sigma), obs = y))
#' }
#' g <- auto_guide_list(model,
#'   auto_delta(block(model, expose = "sigma")),
#'   auto_normal(block(model, hide = "sigma")))
#' set.seed(1)
#' y <- rnorm(30, 2, 0.5)
#' s <- svi(model, g, adam(0.05))
#' for (i in 1:300) svi_step(s, y)
#' median(s, y = y)
#' @export
auto_guide_list <- function(model, ...) {
  check_model(model, "auto_guide_list")
  parts <- list(...)
  if (!length(parts)) cli::cli_abort("{.fn auto_guide_list} needs at least one guide part.")
  ok <- vapply(parts, is.function, TRUE)
  if (!all(ok)) {
    bad <- which(!ok)
    what <- if (length(bad) == 1L) paste("Part", bad, "of {.fn auto_guide_list} is") else
      paste("Parts", paste(bad, collapse = ", "), "of {.fn auto_guide_list} are")
    cli::cli_abort(paste(what, "not a guide function or autoguide."))
  }
  if (any(vapply(parts, function(p) inherits(p, "svi_autoguide_list"), TRUE))) {
    cli::cli_abort("A part of {.fn auto_guide_list} cannot itself be a guide list: pass its parts instead.")
  }
  flat <- Filter(function(p) inherits(p, "svi_autoguide") && !is.null(autoguide_state(p)$settings$prefix) &&
                   !inherits(p, c("svi_autoguide_normal", "svi_autoguide_delta")), parts)
  prefixes <- vapply(flat, function(p) autoguide_state(p)$settings$prefix, "")
  if (anyDuplicated(prefixes)) {
    cli::cli_abort(c(
      "Two flattened parts of {.fn auto_guide_list} use the parameter prefix {.val {prefixes[duplicated(prefixes)][1]}}.",
      i = "Give each its own {.arg prefix}, e.g. {.code auto_mvnormal(block(model, expose = ...), prefix = \"part2\")}."
    ))
  }
  state <- new.env(parent = emptyenv())
  state$kind <- "list"
  state$guide_name <- "auto_guide_list"
  state$model <- model
  state$parts <- parts
  state$checked <- FALSE
  guide <- function(...) {
    if (!state$checked) {
      for (p in state$parts) if (inherits(p, "svi_autoguide")) autoguide_ensure_built(p, list(...))
      check_disjoint_parts(state$parts)
      state$checked <- TRUE
    }
    out <- list()
    for (p in state$parts) {
      r <- p(...)
      if (is.list(r)) out[names(r)] <- r
    }
    invisible(out)
  }
  structure(guide, class = c("svi_autoguide_list", "svi_autoguide", "function"), state = state)
}

check_disjoint_parts <- function(parts) {
  seen <- character(0)
  for (k in seq_along(parts)) {
    p <- parts[[k]]
    if (!inherits(p, "svi_autoguide")) next
    nms <- autoguide_site_names(p)
    both <- intersect(nms, seen)
    if (length(both)) {
      cli::cli_abort(c(
        "Parts of {.fn auto_guide_list} overlap: site{?s} {.val {both}} {?is/are} guided twice.",
        i = "Build each part on {.code block(model, expose = ...)} or {.code block(model, hide = ...)} so that each sees its own sites."
      ), call = NULL)
    }
    seen <- c(seen, nms)
  }
}

autoguide_median.svi_autoguide_list <- function(g, p) {
  parts <- Filter(function(x) inherits(x, "svi_autoguide"), autoguide_state(g)$parts)
  do.call(c, lapply(parts, autoguide_median, p = p))
}

#' @export
print.svi_autoguide_list <- function(x, ...) {
  parts <- autoguide_state(x)$parts
  cat("<svi autoguide list> ", length(parts), " part", if (length(parts) != 1L) "s", "\n", sep = "")
  for (p in parts) {
    if (inherits(p, "svi_autoguide")) print(p) else cat("<guide function>\n")
  }
  invisible(x)
}
