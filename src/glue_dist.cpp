// Glue for distributions and KL divergences: R values -> nodes, then one core op. With a
// tensor handle among the inputs (or, for draws, while a tape is recording) the op goes on
// that tape and a handle comes back; otherwise it runs on a scratch tape and returns numerics.
#include "glue.h"
#include <svi/dist/dist.hpp>
#include <svi/kl.hpp>
#include <vector>

using namespace glue;

namespace {

// The tape of the first handle in xs, else the recording tape when `record`, else nullptr.
GlueTape* tape_for(const std::vector<SEXP>& xs, bool record) {
  for (SEXP x : xs)
    if (is_handle(x)) return &handle_tape(x);
  return record ? current_tape() : nullptr;
}

// Runs build(g) -> node index on the right tape and returns a handle or plain numerics.
template <class F>
SEXP run(const std::vector<SEXP>& xs, bool record, F build) {
  if (GlueTape* g = tape_for(xs, record)) return make_handle(*g, build(*g));
  ScratchScope scope;
  int r = build(scope.g);
  return to_r(scope.g.tape.shape(r), scope.g.tape.node(r).data());
}

std::vector<SEXP> as_vec(const Rcpp::List& l) {
  std::vector<SEXP> v;
  for (R_xlen_t i = 0; i < l.size(); ++i) v.push_back(l[i]);
  return v;
}

std::vector<int> nodes(GlueTape& g, const Rcpp::List& l) {
  std::vector<int> v;
  SEXP nms = Rf_getAttrib(l, R_NamesSymbol);
  for (R_xlen_t i = 0; i < l.size(); ++i) {
    std::string what = Rf_isNull(nms) ? "parameter " + std::to_string(i + 1)
                                      : "`" + std::string(CHAR(STRING_ELT(nms, i))) + "`";
    v.push_back(as_node(g, l[i], what.c_str()));
  }
  return v;
}

}  // namespace

// log_prob of `x` under the family with named parameters `params` (in the family's order).
// [[Rcpp::export(rng = false)]]
SEXP cpp_dist_log_prob(std::string family, SEXP x, Rcpp::List params) {
  const svi::dist::Family& f = svi::dist::family(family);
  std::vector<SEXP> xs = as_vec(params);
  xs.insert(xs.begin(), x);
  return run(xs, false, [&](GlueTape& g) {
    std::vector<int> in = nodes(g, params);
    in.insert(in.begin(), as_node(g, x, "the value"));
    return f.log_prob(g.tape, in.data());
  });
}

// Draws: reps = 0 for one draw of the batch shape, else reps draws along a leading dim.
// reparam = FALSE draws without a gradient path. record = TRUE puts the draw on the
// recording tape even when every parameter is a plain number (so replays redraw it).
// [[Rcpp::export(rng = true)]]
SEXP cpp_dist_sample(std::string family, Rcpp::List params, int reps, bool reparam, bool record) {
  const svi::dist::Family& f = svi::dist::family(family);
  if (reps < 0) fail("the number of draws must be non-negative");
  return run(as_vec(params), record, [&](GlueTape& g) {
    std::vector<int> in = nodes(g, params);
    return f.sample(g.tape, in.data(), reps, reparam);
  });
}

namespace glue {

const svi::dist::Family& dist_family(const char* name) { return svi::dist::family(name); }
// One draw of the batch shape, as cpp_dist_sample(family, params, 0, reparam, record); the
// caller holds R's RNG state (GetRNGstate/PutRNGstate).
SEXP dist_draw_value(const char* family, SEXP params, bool reparam, bool record) {
  const svi::dist::Family& f = svi::dist::family(family);
  Rcpp::List ps(params);
  return run(as_vec(ps), record, [&](GlueTape& g) {
    std::vector<int> in = nodes(g, ps);
    return f.sample(g.tape, in.data(), 0, reparam);
  });
}
}  // namespace glue

// KL(p || q) for a family pair; params: p's then q's.
// [[Rcpp::export(rng = false)]]
SEXP cpp_kl_divergence(std::string pair, Rcpp::List params) {
  return run(as_vec(params), false, [&](GlueTape& g) {
    std::vector<int> in = nodes(g, params);
    return svi::kl::divergence(g.tape, pair, in.data());
  });
}

// Lower Cholesky factor of a covariance (or, with precision = TRUE, a precision) matrix,
// differentiable on the tape.
// [[Rcpp::export(rng = false)]]
SEXP cpp_cholesky(SEXP cov, bool precision = false) {
  return run({cov}, false, [&](GlueTape& g) {
    return svi::dist::cholesky(g.tape, as_node(g, cov, precision ? "`precision`" : "`cov`"), precision ? 1 : 0);
  });
}
