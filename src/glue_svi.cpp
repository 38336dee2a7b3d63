// Glue for the SVI layer: tape validity after reload, recording status, masking.
#include "glue.h"

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
