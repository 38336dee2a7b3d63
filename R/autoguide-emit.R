# What every autoguide emits per latent site (autoguides spec section 1.4): its free
# unconstrained coordinates mapped through the support's bijection to a Delta carrying
# -log|det J|, inside the site's plates re-created at their full sizes.

# A site's free coordinates (numeric or handle) to the unconstrained array its transform takes:
# the minibatch's or, for the full-size parameters of a subsampled site, the full plate's.
unpack_site <- function(site, v) {
  if (is.null(site$free)) {
    shape <- if (length(v) == prod(site$u_shape)) site$u_shape else site$u_full_shape
    if (length(shape) > 1L && !identical(as.integer(dim(v)), as.integer(shape))) dim(v) <- shape
    return(v)
  }
  D <- site$dim
  P <- matrix(0, D * D, length(site$free))
  P[cbind(site$free, seq_along(site$free))] <- 1
  if (is_tensor(v)) dim(v) <- c(length(site$free), 1L) else v <- matrix(v, ncol = 1L)
  out <- P %*% v
  dim(out) <- c(D, D)
  out
}

# Unconstrained free coordinates -> the site's value and the guide's log-density correction
# (-log|det J|), as a Delta site of the model's name.
emit_site_delta <- function(site, x) {
  x <- unpack_site(site, x)
  sup <- site$support
  if (inherits(sup, "svi_constraint_real")) {
    return(sample_site(site$name, dist_delta(with_value_names(x, site$value_names), event_dim = site$event_dim)))
  }
  z <- with_value_names(constraint_forward(sup, x), site$value_names)   # (draws outside a step)
  ld <- -constraint_log_det_jacobian(sup, x)
  sample_site(site$name, dist_delta(z, log_density = ld, event_dim = site$event_dim))
}

# While `full_plates` is TRUE (with_full_plates()), subsampled plates are entered at their
# full size: draws for summaries then cover every element of a local latent.
autoguide_env <- new.env(parent = emptyenv())
autoguide_env$full_plates <- FALSE
with_full_plates <- function(expr) {
  old <- autoguide_env$full_plates
  on.exit(autoguide_env$full_plates <- old, add = TRUE)
  autoguide_env$full_plates <- TRUE
  expr
}

# Runs fn(rows) inside the site's plates, re-created at their full sizes with the prototype's
# minibatch sizes; `rows` is the minibatch of the (outermost) subsampled plate, or NULL.
in_site_plates <- function(site, fn) {
  frames <- site$frames
  full <- autoguide_env$full_plates
  enter <- function(k, rows) {
    if (k > length(frames)) return(fn(rows))
    f <- frames[[k]]
    sub <- if (f$size < f$full_size && !full) f$size else NULL
    plate(f$name, f$full_size, subsample_size = sub, function(i) {
      enter(k + 1L, if (!is.null(sub)) i else rows)
    })
  }
  enter(1L, NULL)
}

# The minibatch rows of a full-size parameter (plate dim first).
take_rows <- function(p, rows) {
  if (is.null(rows)) return(p)
  if (length(dim(p)) == 2L) p[rows, ] else p[rows]
}
