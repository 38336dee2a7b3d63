// Glue for TraceGraph_ELBO: a non-reparameterized sample enters the tape as a constant node of
// its own, so that provenance can be marked on it without touching any other node.
#include "glue.h"

using namespace glue;

// A numeric value as a new constant node on the recording tape (no gradient flows into it).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tape_constant(SEXP x) {
  GlueTape* g = current_tape();
  if (!g) fail("internal: cpp_tape_constant() needs a recording tape");
  return make_handle(*g, as_node(*g, x, "the sampled value"));
}
