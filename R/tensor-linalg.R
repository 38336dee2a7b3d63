# Matrix products, row/column reductions and logsumexp on tensor handles.

matprod <- function(x, y, kind) .Call(`_svi_cpp_tensor_matprod`, x, y, kind)

#' @rdname tensor-ops
setMethod("%*%", signature("svi_tensor", "ANY"), function(x, y) matprod(x, y, "matmul"))
#' @rdname tensor-ops
setMethod("%*%", signature("ANY", "svi_tensor"), function(x, y) matprod(x, y, "matmul"))
#' @rdname tensor-ops
setMethod("%*%", signature("svi_tensor", "svi_tensor"), function(x, y) matprod(x, y, "matmul"))
