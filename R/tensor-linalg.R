# Matrix products, transpose and row/column reductions on tensor handles.
#
# In R 4.2, rowSums(), colSums(), rowMeans(), colMeans(), crossprod() and tcrossprod() are
# plain closures, not generics, so a package can only make them work on its objects by
# exporting a generic of the same name. S4 generics made with setGeneric() (as Matrix does)
# keep library() quiet -- it skips generics derived from another package's function -- but the
# generic still sits before base on the search path: conflicts() lists it, and it is a second
# function under base's name. svi masks nothing, so it exports row_sums() & co. instead; each
# works on handles and on plain numerics alike.

# `%*%` is an internal generic that dispatches only on S4 objects in R < 4.3: this is why
# handles carry the S4 bit.
setMethod("%*%", signature("svi_tensor", "ANY"), function(x, y) .Call(`_svi_cpp_tensor_matprod`, x, y, 0L))
setMethod("%*%", signature("ANY", "svi_tensor"), function(x, y) .Call(`_svi_cpp_tensor_matprod`, x, y, 0L))
setMethod("%*%", signature("svi_tensor", "svi_tensor"), function(x, y) .Call(`_svi_cpp_tensor_matprod`, x, y, 0L))


#' Matrix cross products
#'
#' `cross_prod(x, y)` is `t(x) %*% y` and `tcross_prod(x, y)` is `x %*% t(y)`, computed without
#' forming the transpose, for tensor handles and plain numerics alike. With `y = NULL`, `y` is
#' `x`. They are svi's versions of [crossprod()] and [tcrossprod()], which are not generic in
#' R 4.2 and could only be extended by masking them (see [row_sums()]).
#'
#' @param x,y Numeric matrices or vectors (vectors are columns), or tensor handles.
#' @return A matrix: a tensor handle when `x` or `y` is one, else a numeric matrix.
#' @export
#' @examples
#' x <- matrix(1:6, 3)
#' cross_prod(x)
#' value_and_grad(function(x) sum(cross_prod(x)), x)
cross_prod <- function(x, y = NULL) {
  if (!inherits(x, "svi_tensor") && !inherits(y, "svi_tensor")) return(base::crossprod(x, y))
  .Call(`_svi_cpp_tensor_matprod`, x, if (is.null(y)) x else y, 1L)
}

#' @rdname cross_prod
#' @export
tcross_prod <- function(x, y = NULL) {
  if (!inherits(x, "svi_tensor") && !inherits(y, "svi_tensor")) return(base::tcrossprod(x, y))
  .Call(`_svi_cpp_tensor_matprod`, x, if (is.null(y)) x else y, 2L)
}

#' Row and column sums and means
#'
#' `row_sums()`, `col_sums()`, `row_means()` and `col_means()` are [rowSums()], [colSums()],
#' [rowMeans()] and [colMeans()] for tensor handles as well as numerics (on numerics they call
#' the base functions).
#'
#' Why not methods for the base functions? In R 4.2 those are not generic. The only way to
#' extend them is to export a new generic under the same name (Matrix does this with S4
#' generics): `library()` stays quiet about such generics, but they still mask base's
#' functions, and `conflicts()` lists them. svi masks nothing in base, stats, utils or
#' graphics, so it exports these names instead.
#'
#' @param x A numeric matrix or array, or a tensor handle with at least two dimensions.
#' @param na.rm Passed to the base function for numerics (handles never hold `NA`).
#' @return A vector (an array for `col_*` of arrays with more than two dimensions): a tensor
#'   handle when `x` is one.
#' @export
#' @examples
#' m <- matrix(1:6, 2)
#' row_sums(m)
#' value_and_grad(function(x) sum(row_means(x)^2), m)
row_sums <- function(x, na.rm = FALSE) {
  if (inherits(x, "svi_tensor")) .Call(`_svi_cpp_tensor_reduce`, x, "sum", 1L) else base::rowSums(x, na.rm = na.rm)
}

#' @rdname row_sums
#' @export
col_sums <- function(x, na.rm = FALSE) {
  if (inherits(x, "svi_tensor")) .Call(`_svi_cpp_tensor_reduce`, x, "sum", 2L) else base::colSums(x, na.rm = na.rm)
}

#' @rdname row_sums
#' @export
row_means <- function(x, na.rm = FALSE) {
  if (inherits(x, "svi_tensor")) .Call(`_svi_cpp_tensor_reduce`, x, "mean", 1L) else base::rowMeans(x, na.rm = na.rm)
}

#' @rdname row_sums
#' @export
col_means <- function(x, na.rm = FALSE) {
  if (inherits(x, "svi_tensor")) .Call(`_svi_cpp_tensor_reduce`, x, "mean", 2L) else base::colMeans(x, na.rm = na.rm)
}
