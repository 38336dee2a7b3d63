// Glue for TraceGraph_ELBO: a non-reparameterized sample enters the tape as a constant node of
// its own, so that provenance can be marked on it without touching any other node; and the
// per-particle bookkeeping (which cost terms depend on which site, their reduction to the
// site's plates, the decaying-average update) in one call each instead of many small R calls.
// Every node made here is one the R code would make (detach, plate_sum, + - *), in the same
// order where the arithmetic is not exact, so results are unchanged and a compiled replay
// recomputes them.
#include "glue.h"
#include <svi/ops/arith.hpp>
#include <svi/ops/reduce.hpp>
#include <svi/ops/plate.hpp>
#include "r_list.h"
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

// The node of a handle on tape g, or -1 for anything else.
int node_or_none(GlueTape& g, SEXP x) {
  if (!is_handle(x) || &handle_tape(x) != &g) return -1;
  return handle_index(x);
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

// The downstream costs of one particle. The cost terms are the log-densities of the model
// sites (`model_lp`, entering as log p) then of the guide sites (`guide_lp`, as -log q), each
// on its site's plates (`frames` of the site records `model` and `guide`); a term counts for
// every non-reparameterized guide site (one with a `prov_id`) its node depends on. Returns
// list(site = the positions in `guide` of the sites some term depends on, in order of first
// dependence; terms = for each, the (1-based) indices of its terms in c(model, guide);
// cost = for each, the sum of its terms (sign * value), each reduced to the site's plates by
// plate_sum (sum_to_frames' rules), added in term order).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tracegraph_costs(SEXP model, SEXP guide, SEXP model_lp, SEXP guide_lp) {
  R_xlen_t nm = XLENGTH(model), ng = XLENGTH(guide);
  if (XLENGTH(model_lp) != nm || XLENGTH(guide_lp) != ng)
    fail("internal: cpp_tracegraph_costs() needs one log-density per site");
  R_xlen_t nt = nm + ng;
  auto term = [&](R_xlen_t k) { return k < nm ? VECTOR_ELT(model_lp, k) : VECTOR_ELT(guide_lp, k - nm); };
  auto term_site = [&](R_xlen_t k) { return k < nm ? VECTOR_ELT(model, k) : VECTOR_ELT(guide, k - nm); };
  // the non-reparameterized guide sites: their positions in `guide` and ids
  std::vector<int> site_pos, site_id;
  for (R_xlen_t j = 0; j < ng; ++j) {
    SEXP pid = list_elt(VECTOR_ELT(guide, j), "prov_id");
    if (pid == R_NilValue) continue;
    site_pos.push_back(int(j));
    site_id.push_back(Rf_asInteger(pid));
  }
  R_xlen_t ns = R_xlen_t(site_id.size());
  const int* id = site_id.data();
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
    SEXP t = term(k);
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
    INTEGER(out_site)[q] = site_pos[j] + 1;
    SEXP ti = Rf_allocVector(INTSXP, R_xlen_t(deps[j].size()));
    SET_VECTOR_ELT(out_terms, q, ti);
    Plates target = plates_of(list_elt(VECTOR_ELT(guide, site_pos[j]), "frames"));
    int acc = -1;
    for (std::size_t r = 0; r < deps[j].size(); ++r) {
      int k = deps[j][r];
      INTEGER(ti)[r] = k + 1;
      if (!have[k]) {
        tplates[k] = plates_of(list_elt(term_site(k), "frames"));
        have[k] = true;
      }
      const Plates& src = tplates[k];
      std::vector<int> map(src.names.size(), -1);
      for (std::size_t a = 0; a < src.names.size(); ++a)
        for (std::size_t b = 0; b < target.names.size(); ++b)
          if (!std::strcmp(src.names[a], target.names[b])) { map[a] = int(b); break; }
      // sign * v reduced: the reduction of -v is exactly minus that of v, so the sign is
      // applied by the accumulation (a - p == a + (-p)); no gradient flows through plate_sum
      int p = svi::plate_sum(g->tape, handle_index(term(k)), src.sizes, target.sizes, map);
      bool minus = k >= nm;  // a guide term: -log q
      if (acc < 0) {
        acc = minus ? svi::neg(g->tape, p) : p;
      } else {
        acc = minus ? svi::sub(g->tape, acc, p) : svi::add(g->tape, acc, p);
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

// The ELBO of one particle and the start of its surrogate, as elbo_particle() writes them in
// R: elbo = (0 + sum(lp_m1) + sum(lp_m2) ...) - (0 + sum(lq_g1) + ...); surrogate = the model
// part minus sum(lq) of each reparameterized guide site (`reparam`, in guide order). NULL when
// a log-density is not a handle on the recording tape (R's path handles numerics, whose sums
// R computes its own way).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tracegraph_elbo(SEXP model_lp, SEXP guide_lp, SEXP reparam) {
  GlueTape* g = current_tape();
  R_xlen_t nm = XLENGTH(model_lp), ng = XLENGTH(guide_lp);
  if (!g || nm == 0 || TYPEOF(reparam) != LGLSXP || XLENGTH(reparam) != ng) return R_NilValue;
  std::vector<int> m(nm), q(ng);
  for (R_xlen_t k = 0; k < nm; ++k)
    if ((m[k] = node_or_none(*g, VECTOR_ELT(model_lp, k))) < 0) return R_NilValue;
  for (R_xlen_t k = 0; k < ng; ++k)
    if ((q[k] = node_or_none(*g, VECTOR_ELT(guide_lp, k))) < 0) return R_NilValue;
  svi::Tape& t = g->tape;
  std::vector<int> qs(ng);
  for (R_xlen_t k = 0; k < ng; ++k) qs[k] = svi::sum(t, q[k]);
  int model_total = t.scalar(0);
  for (R_xlen_t k = 0; k < nm; ++k) model_total = svi::add(t, model_total, svi::sum(t, m[k]));
  int guide_total = t.scalar(0);
  for (R_xlen_t k = 0; k < ng; ++k) guide_total = svi::add(t, guide_total, qs[k]);
  int elbo = svi::sub(t, model_total, guide_total);
  int surrogate = model_total;
  const int* rp = LOGICAL(reparam);
  for (R_xlen_t k = 0; k < ng; ++k)
    if (rp[k] == TRUE) surrogate = svi::sub(t, surrogate, qs[k]);
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(out, 0, make_handle(*g, elbo));
  SET_VECTOR_ELT(out, 1, make_handle(*g, surrogate));
  UNPROTECT(1);
  return out;
}

// surrogate + sum(score * (cost - detach(baseline))) (baseline NULL: cost alone), as the R
// expression records it; NULL when an operand is not a handle on the recording tape.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tracegraph_score(SEXP surrogate, SEXP score, SEXP cost, SEXP baseline) {
  GlueTape* g = current_tape();
  if (!g) return R_NilValue;
  int s = node_or_none(*g, surrogate), f = node_or_none(*g, score), c = node_or_none(*g, cost);
  int b = baseline == R_NilValue ? -2 : node_or_none(*g, baseline);
  if (s < 0 || f < 0 || c < 0 || b == -1) return R_NilValue;
  svi::Tape& t = g->tape;
  int w = b < 0 ? c : svi::sub(t, c, svi::detach(t, b));
  return make_handle(*g, svi::add(t, s, svi::sum(t, svi::mul(t, f, w))));
}

// sum_to_frames() for the taped terms (each a list(frames = plate names, sizes, value =
// handle)): each term's plate_sum onto the target's plates (`target`: frames), added up in
// order, then `+ total` (the numeric terms' part, as R's `+` would add it).
// [[Rcpp::export(rng = false)]]
SEXP cpp_plate_sum_terms(SEXP terms, SEXP target, SEXP total) {
  GlueTape* g = current_tape();
  if (!g) fail("internal: cpp_plate_sum_terms() needs a recording tape");
  Plates tgt = plates_of(target);
  svi::Tape& t = g->tape;
  int acc = -1;
  for (R_xlen_t k = 0; k < XLENGTH(terms); ++k) {
    SEXP term = VECTOR_ELT(terms, k);
    SEXP v = list_elt(term, "value");
    int x = node_or_none(*g, v);
    if (x < 0) fail("internal: cpp_plate_sum_terms() takes taped terms only");
    SEXP fr = list_elt(term, "frames");
    SEXP sz = PROTECT(Rf_coerceVector(list_elt(term, "sizes"), INTSXP));
    R_xlen_t n = XLENGTH(sz);
    if (TYPEOF(fr) != STRSXP || XLENGTH(fr) != n) fail("internal: a cost term's frames and sizes differ in length");
    std::vector<int> sizes(INTEGER(sz), INTEGER(sz) + n), map(n, -1);
    for (R_xlen_t a = 0; a < n; ++a)
      for (std::size_t b = 0; b < tgt.names.size(); ++b)
        if (!std::strcmp(CHAR(STRING_ELT(fr, a)), tgt.names[b])) { map[a] = int(b); break; }
    UNPROTECT(1);
    int p = svi::plate_sum(t, x, sizes, tgt.sizes, map);
    acc = acc < 0 ? p : svi::add(t, acc, p);
  }
  if (acc < 0) fail("internal: cpp_plate_sum_terms() needs a term");
  int tot = (TYPEOF(total) == REALSXP && XLENGTH(total) == 1 && ATTRIB(total) == R_NilValue)
                ? t.scalar(REAL(total)[0]) : as_node(*g, total, "the cost");
  return make_handle(*g, svi::add(t, acc, tot));
}
