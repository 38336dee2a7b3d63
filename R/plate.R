#' Conditionally independent replicates, optionally subsampled
#'
#' `plate()` declares that the sample sites created inside `fn` are independent across
#' `size` replicates. `fn` is called once with the (sub)sample indices; sites inside are
#' vectorized over the plate, and their log-densities are scaled by `size / subsample_size`
#' so a minibatch gives an unbiased estimate of the full-data term. Nested plates occupy
#' successive dimensions (outermost first); dimensions not covered by a plate are event
#' dimensions.
#'
#' @param name A single string, unique among the active plates.
#' @param size The number of replicates (a positive whole number).
#' @param fn A function of the index vector.
#' @param subsample_size Minibatch size, or `NULL` for no subsampling.
#' @param subsample Explicit indices to use instead of a random minibatch.
#' @return Whatever `fn` returns.
#' @examples
#' model <- function(y) {
#'   mu <- sample_site("mu", dist_normal(0, 10))
#'   plate("data", length(y), subsample_size = 2, function(i) {
#'     sample_site("obs", dist_normal(mu, 1), obs = y[i])
#'   })
#' }
#' @export
plate <- function(name, size, fn, subsample_size = NULL, subsample = NULL) {
  # The guard that puts the frames back exists before anything changes them, so an error or
  # interrupt at any point leaves them as they were (one C++ call: no interrupt inside it);
  # the normal end does the same in the body (see "Interrupt safety" in R/handlers.R).
  old_frames <- .svi$frames
  old_batch <- .svi$batch
  old_scale <- .svi$scale
  on.exit(.Call(`_svi_cpp_plate_exit`, old_frames, old_batch, old_scale, .svi))
  # the usual case -- valid arguments, only handlers the C++ walk knows -- in one C++ call
  entered <- .Call(`_svi_cpp_plate_enter`, name, size, fn, subsample_size, subsample, .svi)
  if (!is.null(entered)) {
    out <- fn(.subset2(entered, 1L))
    .Call(`_svi_cpp_plate_exit`, old_frames, old_batch, old_scale, .svi)
    return(out)
  }
  check_site_name(name, "plate")
  if (identical(size, 0) || identical(size, 0L)) {
    cli::cli_abort("{.arg size} of plate {.val {name}} cannot be zero.")
  }
  where <- paste0(" of plate \"", name, "\"")
  size <- check_count(size, "size", where = where)
  if (!is.function(fn)) cli::cli_abort("{.arg fn} of plate {.val {name}} must be a function of the indices.")
  if (!is.null(subsample_size)) {
    subsample_size <- check_count(subsample_size, "subsample_size", where = where)
  }
  if (!is.null(subsample)) {
    if (!is.numeric(subsample) || is.object(subsample) || length(subsample) > size ||
        anyNA(subsample) || any(subsample < 1 | subsample > size) ||
        any(subsample != round(subsample))) {
      cli::cli_abort("{.arg subsample} of plate {.val {name}} must hold indices between 1 and {size}.")
    }
    if (!is.null(subsample_size) && subsample_size != length(subsample)) {
      cli::cli_abort("{.arg subsample_size} ({subsample_size}) of plate {.val {name}} does not match the length of {.arg subsample} ({length(subsample)}).")
    }
  }
  if (length(old_frames) && name %in% vapply(old_frames, function(f) f$name, "")) {
    cli::cli_abort("Duplicate plate {.val {name}}: a plate of that name is already active.")
  }

  idx <- subsample
  if (length(.svi$stack)) {
    # The indices go through the handler stack as a pseudo-site, so the model replays the
    # guide's minibatch.
    msg <- list(type = "subsample", name = name, value = subsample, size = size,
                subsample_size = subsample_size, infer = list(), frames = old_frames,
                batch = .svi$batch, scale = 1, done = FALSE, stop = FALSE)
    idx <- apply_stack(msg)$value
  } else if (is.null(idx)) {
    idx <- plate_indices(size, subsample_size)
  }
  if (!is.null(subsample_size) && length(idx) != subsample_size) {
    cli::cli_abort(c(
      "{.arg subsample_size} does not match the number of indices at plate {.val {name}}: {subsample_size} vs {length(idx)}.",
      i = "Did you use different subsample sizes in the model and the guide?"
    ))
  }
  k <- length(idx)
  frame <- list(name = name, size = k, full_size = size, dim = length(old_frames) + 1L)
  .svi$frames <- c(old_frames, list(frame))
  .svi$batch <- c(old_batch, as.integer(k))
  .svi$scale <- old_scale * (size / k)   # outermost plate first
  out <- fn(idx)
  .Call(`_svi_cpp_plate_exit`, old_frames, old_batch, old_scale, .svi)
  out
}

# sample.int(size, subsample_size)'s draws, in O(subsample_size) time and memory.
# In a compiled recording the minibatch is a node of the tape instead, redrawn on replay.
plate_indices <- function(size, subsample_size) {
  if (is.null(subsample_size) || subsample_size >= size) return(seq_len(size))
  ctx <- .svi$ctx
  if (!is.null(ctx) && isTRUE(ctx$compile)) {
    return(.Call(`_svi_cpp_tape_subsample`, ctx$tape, size, subsample_size))
  }
  .Call(`_svi_cpp_subsample`, size, subsample_size)
}


frames_shape <- function(frames) vapply(frames, function(f) as.integer(f$size), 1L)

# A site's plate shape: recorded when the site was created (frames_shape() of its frames).
site_plate_shape <- function(site) {
  b <- site$batch
  if (is.null(b)) frames_shape(site$frames) else b
}
