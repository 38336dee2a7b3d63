// Glue for TraceGraph_ELBO: a non-reparameterized sample enters the tape as a constant node of
// its own, so that provenance can be marked on it without touching any other node; and the
// per-particle bookkeeping (which cost terms depend on which site, their reduction to the
// site's plates, the decaying-average update) in one call each instead of many small R calls.
// Every node made here is one the R code would make (detach, plate_sum, + - *), in the same
// order where the arithmetic is not exact, so results are unchanged and a compiled replay
// recomputes them.
#include "glue.h"
#include <cstring>

using namespace glue;

// A numeric value as a new constant node on the recording tape (no gradient flows into it).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tape_constant(SEXP x) {
  GlueTape* g = current_tape();
  if (!g) fail("internal: cpp_tape_constant() needs a recording tape");
  return make_handle(*g, as_node(*g, x, "the sampled value"));
}

namespace {

bool has_bit(const svi::Node& x, int site) {  // site 0-based
  std::size_t w = std::size_t(site) / 64;
  return w < x.prov.size() && (x.prov[w] >> (site % 64) & 1u);
}

SEXP list_elt(SEXP list, const char* name) {
  SEXP nms = Rf_getAttrib(list, R_NamesSymbol);
  if (TYPEOF(list) != VECSXP || nms == R_NilValue) return R_NilValue;
  for (R_xlen_t k = 0; k < XLENGTH(list); ++k)
    if (!std::strcmp(CHAR(STRING_ELT(nms, k)), name)) return VECTOR_ELT(list, k);
  return R_NilValue;
}

// A site's plates (a list of frames, each a list with `name` and `size`).
struct Plates {
  std::vector<const char*> names;
  std::vector<int> sizes;
};

Plates plates_of(SEXP frames) {
  Plates p;
  if (frames == R_NilValue) return p;
  if (TYPEOF(frames) != VECSXP) fail("internal: a site's frames must be a list");
  R_xlen_t n = XLENGTH(frames);
  p.names.reserve(n);
  p.sizes.reserve(n);
  for (R_xlen_t k = 0; k < n; ++k) {
    SEXP f = VECTOR_ELT(frames, k);
    SEXP nm = list_elt(f, "name"), sz = list_elt(f, "size");
    if (TYPEOF(nm) != STRSXP || XLENGTH(nm) != 1 || Rf_xlength(sz) != 1)
      fail("internal: a plate frame needs a `name` and a `size`");
    p.names.push_back(CHAR(STRING_ELT(nm, 0)));
    p.sizes.push_back(Rf_asInteger(sz));
  }
  return p;
}

}  // namespace

// Whether handle `v` already carries the mark of site `id` (1-based); if not, a detached copy
// of it that does (it inherits the marks of v's inputs: the draw depends on whatever its
// distribution's parameters depend on). NULL when no tape is recording.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tracegraph_mark(SEXP v, int id) {
  if (!current_tape()) return R_NilValue;
  if (id < 1) fail("internal: provenance site ids start at 1");
  GlueTape& g = handle_tape(v);
  int i = handle_index(v);
  g.tape.check_index(i);
  if (has_bit(g.tape.node(i), id - 1)) return v;
  int out = svi::detach(g.tape, i);
  g.tape.add_provenance(out, id - 1);
  return make_handle(g, out);
}

// The downstream costs of one particle. `terms`: the cost terms' log-densities (handles or
// numerics), `signs` +1 (model log p) or -1 (guide log q), `term_frames` their plates;
// `ids`: the provenance ids (1-based) of the non-reparameterized guide sites, `site_frames`
// their plates. A term counts for every site its node depends on. Returns list(site = the
// positions in `ids` of the sites some term depends on, in order of first dependence;
// terms = for each, the (1-based) term indices; cost = for each, the sum of its terms
// (sign * value), each reduced to the site's plates by plate_sum, added in term order).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tracegraph_costs(SEXP terms, SEXP signs, SEXP term_frames, SEXP ids, SEXP site_frames) {
  R_xlen_t nt = XLENGTH(terms), ns = XLENGTH(ids);
  if (TYPEOF(signs) != INTSXP || XLENGTH(signs) != nt || XLENGTH(term_frames) != nt ||
      TYPEOF(ids) != INTSXP || XLENGTH(site_frames) != ns)
    fail("internal: cpp_tracegraph_costs() arguments do not line up");
  const int* id = INTEGER(ids);
  const int* sg = INTEGER(signs);
  // which terms each site gets, sites in order of first dependence
  std::vector<std::vector<int>> deps(ns);
  std::vector<int> order;
  GlueTape* g = nullptr;
  int max_id = 0;
  for (R_xlen_t j = 0; j < ns; ++j) max_id = std::max(max_id, id[j]);
  std::vector<int> pos(max_id + 1, -1);  // id -> position in ids
  for (R_xlen_t j = 0; j < ns; ++j) {
    if (id[j] < 1) fail("internal: provenance site ids start at 1");
    pos[id[j]] = int(j);
  }
  for (R_xlen_t k = 0; k < nt; ++k) {
    SEXP t = VECTOR_ELT(terms, k);
    if (!is_handle(t)) continue;  // a number depends on nothing
    GlueTape& tg = handle_tape(t);
    g = &tg;
    int i = handle_index(t);
    tg.tape.check_index(i);
    const svi::Node& x = tg.tape.node(i);
    for (std::size_t w = 0; w < x.prov.size(); ++w) {
      for (int b = 0; b < 64; ++b) {
        if (!(x.prov[w] >> b & 1u)) continue;
        int site = int(w * 64 + b) + 1;
        if (site > max_id || pos[site] < 0) continue;  // a model-only latent
        int j = pos[site];
        if (deps[j].empty()) order.push_back(j);
        deps[j].push_back(int(k));
      }
    }
  }
  int no = int(order.size());
  SEXP out_site = PROTECT(Rf_allocVector(INTSXP, no));
  SEXP out_terms = PROTECT(Rf_allocVector(VECSXP, no));
  SEXP out_cost = PROTECT(Rf_allocVector(VECSXP, no));
  std::vector<Plates> tplates(nt);
  std::vector<bool> have(nt, false);
  for (int q = 0; q < no; ++q) {
    int j = order[q];
    INTEGER(out_site)[q] = j + 1;
    SEXP ti = Rf_allocVector(INTSXP, R_xlen_t(deps[j].size()));
    SET_VECTOR_ELT(out_terms, q, ti);
    Plates target = plates_of(VECTOR_ELT(site_frames, j));
    int acc = -1;
    for (std::size_t r = 0; r < deps[j].size(); ++r) {
      int k = deps[j][r];
      INTEGER(ti)[r] = k + 1;
      if (!have[k]) {
        tplates[k] = plates_of(VECTOR_ELT(term_frames, k));
        have[k] = true;
      }
      const Plates& src = tplates[k];
      std::vector<int> map(src.names.size(), -1);
      for (std::size_t a = 0; a < src.names.size(); ++a)
        for (std::size_t b = 0; b < target.names.size(); ++b)
          if (!std::strcmp(src.names[a], target.names[b])) { map[a] = int(b); break; }
      // sign * v reduced: the reduction of -v is exactly minus that of v, so the sign is
      // applied by the accumulation (a - p == a + (-p)); no gradient flows through plate_sum
      int p = svi::plate_sum(g->tape, handle_index(VECTOR_ELT(terms, k)), src.sizes, target.sizes, map);
      if (acc < 0) {
        acc = sg[k] < 0 ? svi::neg(g->tape, p) : p;
      } else {
        acc = sg[k] < 0 ? svi::sub(g->tape, acc, p) : svi::add(g->tape, acc, p);
      }
    }
    SET_VECTOR_ELT(out_cost, q, make_handle(*g, acc));
  }
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 3));
  SEXP nms = PROTECT(Rf_allocVector(STRSXP, 3));
  SET_VECTOR_ELT(out, 0, out_site);  SET_STRING_ELT(nms, 0, Rf_mkChar("site"));
  SET_VECTOR_ELT(out, 1, out_terms); SET_STRING_ELT(nms, 1, Rf_mkChar("terms"));
  SET_VECTOR_ELT(out, 2, out_cost);  SET_STRING_ELT(nms, 2, Rf_mkChar("cost"));
  Rf_setAttrib(out, R_NamesSymbol, nms);
  UNPROTECT(5);
  return out;
}

// The decaying average's update (1 - beta) * cost + beta * old, as the R expression records it.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tracegraph_decay(SEXP cost, SEXP old, double beta) {
  GlueTape& g = handle_tape(cost);
  svi::Tape& t = g.tape;
  int c = handle_index(cost);
  int o = as_node(g, old, "the decaying average");
  int a = svi::mul(t, t.scalar(1 - beta), c);
  int b = svi::mul(t, t.scalar(beta), o);
  return make_handle(g, svi::add(t, a, b));
}
