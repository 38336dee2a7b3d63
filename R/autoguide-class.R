# The autoguide object: an R function (the guide) of class c("svi_autoguide_<kind>",
# "svi_autoguide", "function") whose environment -- also its "state" attribute -- holds the
# model, the settings and, after the first call, the prototype. Being a plain closure, it is
# saved with the svi object by saveRDS().

new_autoguide <- function(kind, guide_name, model, init_loc_fn, emit, settings = list()) {
  state <- new.env(parent = emptyenv())
  state$kind <- kind
  state$guide_name <- guide_name
  state$model <- model
  state$init_loc_fn <- init_loc_fn
  state$settings <- settings
  state$proto <- NULL
  guide <- function(...) {
    proto <- autoguide_build(state, list(...))
    emit(proto, state)
  }
  structure(guide, class = c(paste0("svi_autoguide_", kind), "svi_autoguide", "function"), state = state)
}

autoguide_state <- function(g) attr(g, "state")

# The prototype, built from the model on the guide's first call with these arguments.
autoguide_build <- function(state, args) {
  if (is.null(state$proto)) {
    state$proto <- autoguide_prototype(state$model, args, state$init_loc_fn, state$guide_name)
    if (!is.null(state$on_build)) state$on_build(state)
  }
  state$proto
}

check_model <- function(model, fn, call = parent.frame()) {
  if (!is.function(model)) cli::cli_abort("{.arg model} of {.fn {fn}} must be a model function.", call = call)
}

# The guide's latent sites (names), once it has been built.
autoguide_site_names <- function(g) {
  proto <- autoguide_state(g)$proto
  if (is.null(proto)) return(NULL)
  names(proto$sites)
}

#' @export
print.svi_autoguide <- function(x, ...) {
  st <- autoguide_state(x)
  cat("<svi autoguide> ", st$guide_name, "()\n", sep = "")
  if (is.null(st$proto)) {
    cat("  not built yet: the prototype is traced on the first call\n")
  } else {
    sites <- st$proto$sites
    for (s in sites) {
      cat("  ", s$name, ": [", paste(s$shape, collapse = " x "), "] ", s$support$label,
          if (length(s$frames)) paste0(" in ", paste(vapply(s$frames, function(f) f$name, ""), collapse = ", ")),
          "\n", sep = "")
    }
  }
  invisible(x)
}

# Per-kind internals (autoguide_marginals.<class>, autoguide_median.<class>) looked up along
# the guide's class, like S3 dispatch but without registering internal generics.
autoguide_method <- function(what, g) {
  ns <- environment(autoguide_method)
  for (cl in class(g)) {
    f <- get0(paste0("autoguide_", what, ".", cl), envir = ns, inherits = FALSE)
    if (!is.null(f)) return(f)
  }
  cli::cli_abort("Internal error: no {what} method for {.cls {class(g)[1]}}.", call = NULL)
}
