#' svi: stochastic variational inference with a C++ autodiff core
#'
#' Write a probabilistic model and a guide as plain R functions; svi records them on a
#' reverse-mode automatic differentiation tape whose nodes are whole arrays and fits the
#' guide by maximizing the evidence lower bound.
#'
#' @keywords internal
#' @name svi-package
#' @docType package
#' @aliases svi-package
#' @useDynLib svi, .registration = TRUE
#' @importFrom Rcpp sourceCpp
#' @importFrom methods setOldClass setMethod setGeneric signature
NULL
