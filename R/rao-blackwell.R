# Partial Rao-Blackwellization over plates (pyro-semantics 3.3): the detached cost terms
# log p - log q of every model site, each living on its own plates, reduced to the plates of a
# non-reparameterized guide site: same index on shared plates, summed over the site's other
# plates, added in full where the cost has no plate the guide site lacks.
# The weights carry no gradient: on a recording tape they are forward-only nodes (so a replay
# recomputes them), otherwise plain numerics.

# terms: list of list(frames = <frame names>, sizes = <sizes>, value = numeric array)
cost_term <- function(frames, value) {
  list(frames = vapply(frames, function(f) f$name, ""),
       sizes = vapply(frames, function(f) as.integer(f$size), 1L),
       value = value)
}

# Reduces `terms` to the shape of `target` frames; returns a numeric array of the target's
# batch shape (a plain vector for one plate, a number for none).
sum_to_frames <- function(terms, target) {
  taped <- vapply(terms, function(term) is_tensor(term$value), NA)
  tnames <- vapply(target, function(f) f$name, "")
  tsizes <- vapply(target, function(f) as.integer(f$size), 1L)
  total <- if (length(tsizes) > 1L) array(0, tsizes) else numeric(max(1L, prod(tsizes)))
  for (term in terms[!taped]) {
    v <- term$value
    if (!length(term$frames)) {
      total <- total + sum(v)
      next
    }
    keep <- term$frames %in% tnames
    if (!any(keep)) {
      total <- total + sum(v)
      next
    }
    if (identical(term$frames, tnames)) {
      total <- total + v
      next
    }
    dims <- term$sizes
    arr <- array(v, dims)
    red <- if (all(keep)) arr else apply(arr, which(keep), sum)
    kept <- term$frames[keep]
    # position of every target element in `red`, via the kept frames' indices
    grid <- arrayInd(seq_along(total), if (length(tsizes)) tsizes else 1L)
    sub <- grid[, match(kept, tnames), drop = FALSE]
    # as.vector(): a one-frame term picked for a target of several frames is a 1-d array
    total[] <- total[] + as.vector(array(red, dims[keep])[sub])
  }
  # the taped terms (kept apart so `total` stays numeric for the index arithmetic): each
  # one's plate_sum onto the target, added in order, then `+ total`, in one call
  if (any(taped)) .Call(`_svi_cpp_plate_sum_terms`, terms[taped], target, total) else total
}
