// Glue for constraint transforms: kind codes are svi::transform::Kind; dir 0 forward
// (unconstrained -> constrained), 1 inverse, 2 log |det J| of the forward map.
#include "glue.h"
#include <svi/transforms.hpp>

using namespace glue;

int glue::transform_apply(svi::Tape& t, int kind, int dir, int x, double a, double b) {
  return svi::transform::apply(t, kind, dir, x, a, b);
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_transform(int kind, int dir, SEXP x, double a, double b) {
  if (is_handle(x)) {
    GlueTape& g = handle_tape(x);
    return make_handle(g, svi::transform::apply(g.tape, kind, dir, handle_index(x), a, b));
  }
  ScratchScope scope;
  int r = svi::transform::apply(scope.g.tape, kind, dir, as_node(scope.g, x, "the value"), a, b);
  return to_r(scope.g.tape.shape(r), scope.g.tape.node(r).data());
}
