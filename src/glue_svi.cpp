// Glue for the SVI layer: tape validity after reload, recording status, masking.
#include "glue.h"
#include <svi/ops/mask.hpp>
#include <svi/ops/plate.hpp>
#include <svi/subsample.hpp>

using namespace glue;

// FALSE for a NULL or reloaded (saveRDS) external pointer: the caller rebuilds the tape.
// [[Rcpp::export(rng = false)]]
bool cpp_tape_valid(SEXP xp) { return TYPEOF(xp) == EXTPTRSXP && R_ExternalPtrAddr(xp) != nullptr; }

// Whether a tape (other than a private scratch tape) is recording.
// [[Rcpp::export(rng = false)]]
bool cpp_tape_recording() { return current_tape() != nullptr; }

// x where mask is TRUE, else 0 (x a handle; mask logical or numeric, broadcast like arithmetic).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_mask(SEXP x, SEXP mask) {
  GlueTape& g = handle_tape(x);
  int a = as_node(g, x, "x");
  int m = as_node(g, mask, "mask");
  return make_handle(g, svi::mask(g.tape, a, m));
}

// Marks a handle's node as depending on non-reparameterized site `site` (1-based).
// [[Rcpp::export(rng = false)]]
void cpp_tensor_add_provenance(SEXP x, int site) {
  if (site < 1) fail("internal: provenance site ids start at 1");
  GlueTape& g = handle_tape(x);
  g.tape.add_provenance(handle_index(x), site - 1);
}

// The non-reparameterized sites (1-based ids) a value depends on; integer(0) for numerics.
// [[Rcpp::export(rng = false)]]
Rcpp::IntegerVector cpp_tensor_provenance(SEXP x) {
  if (!is_handle(x)) return Rcpp::IntegerVector(0);
  GlueTape& g = handle_tape(x);
  std::vector<int> p = g.tape.provenance(handle_index(x));
  Rcpp::IntegerVector out(p.size());
  for (std::size_t k = 0; k < p.size(); ++k) out[k] = p[k] + 1;
  return out;
}

// A minibatch of k of the indices 1..n, identical to sample.int(n, k) for the same seed.
// [[Rcpp::export(rng = true)]]
Rcpp::NumericVector cpp_subsample(double n, double k) {
  Rcpp::NumericVector out(static_cast<R_xlen_t>(k));
  svi::subsample_indices(r_rng(), static_cast<long long>(n), static_cast<long long>(k), out.begin());
  return out;
}

// A value with no gradient path (the tape keeps it, so a replay recomputes it).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_detach(SEXP x) {
  GlueTape& g = handle_tape(x);
  return make_handle(g, svi::detach(g.tape, handle_index(x)));
}

// Sum a plate-shaped cost onto target plates (see svi/ops/plate.hpp); no gradient.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_plate_sum(SEXP x, std::vector<int> src_dims, std::vector<int> tgt_dims,
                          std::vector<int> map) {
  GlueTape& g = handle_tape(x);
  return make_handle(g, svi::plate_sum(g.tape, handle_index(x), src_dims, tgt_dims, map));
}
