// Small C++ helpers for the dynamic step's hot path: each replaces several R-level calls that
// every svi_step() made per site (parameter checks on distribution construction, shapes of
// values that may be handles, collecting gradients). Each returns a "not handled" answer
// (FALSE or NULL) where the R code must take its slow path, which is also where the R errors
// with their messages live.
#include "glue.h"
#include <svi/ops/arith.hpp>
#include <svi/ops/reduce.hpp>
#include "r_list.h"
#include <cmath>
#include <cstring>

using namespace glue;

// Shape of a double vector/array or of a live handle; false for anything else.
bool glue::value_shape(SEXP x, svi::Shape& s) {
  if (TYPEOF(x) == REALSXP) {
    s = shape_of(x);
    return true;
  }
  if (is_handle(x)) {
    GlueTape& g = handle_tape(x);
    int i = handle_index(x);
    g.tape.check_index(i);
    s = g.tape.shape(i);
    return true;
  }
  return false;
}

namespace {

bool rule_ok(double v, const char* rule) {
  switch (rule[0]) {
    case 'r': return std::isfinite(v);                        // real
    case 'p':
      if (!std::strcmp(rule, "positive")) return v > 0 && std::isfinite(v);
      if (!std::strcmp(rule, "prob")) return v >= 0 && v <= 1;
      return v > 0 && v <= 1;                                // prob_open0
    case 'n': return v >= 0 && std::isfinite(v);              // nonneg
    case 'c': return v >= 0 && std::isfinite(v) && v == std::round(v);  // count
    default: return !std::isnan(v);                           // any
  }
}

}  // namespace

// TRUE when a distribution parameter needs no further checking: a handle, or a non-empty
// double vector without NA whose elements satisfy `rule` (see param_rule_text in R).
// [[Rcpp::export(rng = false)]]
bool cpp_param_ok(SEXP x, const char* rule) {
  if (is_handle(x)) return true;
  if (TYPEOF(x) != REALSXP) return false;
  R_xlen_t n = Rf_xlength(x);
  if (!n) return false;
  const double* v = REAL(x);
  for (R_xlen_t i = 0; i < n; ++i)
    if (std::isnan(v[i]) || !rule_ok(v[i], rule)) return false;
  return true;
}

// TRUE when elementwise parameters broadcast to each other (shape.hpp's rule: length 1, equal
// shapes, or dims of 1 and missing trailing dims expanding). FALSE sends R to the slow path,
// which explains the mismatch.
// [[Rcpp::export(rng = false)]]
bool cpp_params_broadcast_ok(SEXP params) {
  svi::Shape acc = svi::Shape::vec(1);
  for (R_xlen_t k = 0; k < Rf_xlength(params); ++k) {
    svi::Shape s;
    if (!value_shape(VECTOR_ELT(params, k), s)) return false;
    if (s.n == 1) continue;
    try {
      acc = svi::broadcast_shape(acc, s, "params");
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

// Gives a checked parameter list the attributes of a distribution object (see new_dist()).
// [[Rcpp::export(rng = false)]]
SEXP cpp_dist_new(SEXP params, SEXP name, SEXP family, int event_dim, bool rsample) {
  SEXP d = PROTECT(Rf_shallow_duplicate(params));
  std::string cls = std::string("svi_dist_") + CHAR(STRING_ELT(name, 0));
  SEXP klass = PROTECT(Rf_allocVector(STRSXP, 2));
  SET_STRING_ELT(klass, 0, Rf_mkChar(cls.c_str()));
  SET_STRING_ELT(klass, 1, Rf_mkChar("svi_dist"));
  Rf_setAttrib(d, R_ClassSymbol, klass);
  Rf_setAttrib(d, Rf_install("svi_name"), name);
  Rf_setAttrib(d, Rf_install("svi_family"), family);
  Rf_setAttrib(d, Rf_install("svi_event_dim"), Rf_ScalarInteger(event_dim));
  Rf_setAttrib(d, Rf_install("svi_rsample"), Rf_ScalarLogical(rsample));
  UNPROTECT(2);
  return d;
}

// Shape of a value that may be a handle: integer dims (the length for a plain vector);
// NULL for anything that is neither a double vector nor a handle.
// [[Rcpp::export(rng = false)]]
SEXP cpp_value_shape(SEXP x) {
  svi::Shape s;
  if (!value_shape(x, s)) return R_NilValue;
  if (s.nd == 0) return Rf_ScalarInteger(int(s.n));
  SEXP out = PROTECT(Rf_allocVector(INTSXP, s.nd));
  for (int i = 0; i < s.nd; ++i) INTEGER(out)[i] = s.d[i];
  UNPROTECT(1);
  return out;
}

// The gradients at the given leaf handles after backward(), as plain double vectors (named as
// `leaves`), with attribute "finite": whether every element of every gradient is finite.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tape_grads(SEXP leaves) {
  R_xlen_t n = Rf_xlength(leaves);
  SEXP out = PROTECT(Rf_allocVector(VECSXP, n));
  bool finite = true;
  for (R_xlen_t k = 0; k < n; ++k) {
    SEXP h = VECTOR_ELT(leaves, k);
    GlueTape& g = handle_tape(h);
    int i = handle_index(h);
    svi::Vec gr = g.tape.grad(i);
    SEXP v = Rf_allocVector(REALSXP, gr.size());
    SET_VECTOR_ELT(out, k, v);
    double* p = REAL(v);
    for (Eigen::Index j = 0; j < gr.size(); ++j) {
      p[j] = gr[j];
      finite = finite && std::isfinite(p[j]);
    }
  }
  Rf_setAttrib(out, R_NamesSymbol, Rf_getAttrib(leaves, R_NamesSymbol));
  Rf_setAttrib(out, Rf_install("finite"), Rf_ScalarLogical(finite));
  UNPROTECT(1);
  return out;
}

// sum(x_1) + sum(x_2) + ... for a list of site log-densities (handles or numerics), recorded
// as one reduction per handle and a chain of adds: what `total <- total + sum(x)` in R
// records, without an R dispatch per op. NULL when no element is a handle (R sums those).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_total(SEXP xs) {
  GlueTape* g = nullptr;
  for (R_xlen_t k = 0; k < Rf_xlength(xs) && !g; ++k)
    if (is_handle(VECTOR_ELT(xs, k))) g = &handle_tape(VECTOR_ELT(xs, k));
  if (!g) return R_NilValue;
  svi::Tape& t = g->tape;
  int acc = -1;
  for (R_xlen_t k = 0; k < Rf_xlength(xs); ++k) {
    SEXP x = VECTOR_ELT(xs, k);
    int term;
    if (is_handle(x)) {
      term = svi::sum(t, as_node(*g, x, "a log-density"), 0);
    } else if (TYPEOF(x) == REALSXP) {
      long double s = 0;  // as R's sum()
      for (R_xlen_t i = 0; i < Rf_xlength(x); ++i) s += REAL(x)[i];
      term = t.scalar(double(s));
    } else {
      fail("internal: a log-density must be a double vector or a tensor handle");
    }
    acc = acc < 0 ? term : svi::add(t, acc, term);
  }
  return make_handle(*g, acc);
}

// A distribution object in one call when every parameter passes its rule (see cpp_param_ok)
// and the parameters broadcast; NULL otherwise (R then runs the checks that explain why). The
// attributes are the spec's own objects (dist_spec() in R/dist-class.R), as new_dist() sets them.
// [[Rcpp::export(rng = false)]]
SEXP cpp_dist_make(SEXP params, SEXP spec) {
  // spec: list(name, rules, family, event_dim, rsample, class) from dist_spec()
  SEXP rules = VECTOR_ELT(spec, 1);
  for (R_xlen_t k = 0; k < Rf_xlength(params); ++k)
    if (!cpp_param_ok(VECTOR_ELT(params, k), CHAR(STRING_ELT(rules, k)))) return R_NilValue;
  if (!cpp_params_broadcast_ok(params)) return R_NilValue;
  SEXP d = PROTECT(Rf_shallow_duplicate(params));
  static SEXP name_sym = Rf_install("svi_name"), family_sym = Rf_install("svi_family"),
              ed_sym = Rf_install("svi_event_dim"), rs_sym = Rf_install("svi_rsample");
  Rf_setAttrib(d, R_ClassSymbol, VECTOR_ELT(spec, 5));
  Rf_setAttrib(d, name_sym, VECTOR_ELT(spec, 0));
  Rf_setAttrib(d, family_sym, VECTOR_ELT(spec, 2));
  Rf_setAttrib(d, ed_sym, VECTOR_ELT(spec, 3));
  Rf_setAttrib(d, rs_sym, VECTOR_ELT(spec, 4));
  UNPROTECT(1);
  return d;
}

namespace {

// The tape the site's log-density goes on: that of the first handle among its value and
// parameters; nullptr when there is none or the site is not one the fast path handles
// (a distribution with its own R log_prob method, a mask, a scale that is not one number,
// a site recorded without its plate shape).
GlueTape* site_fast_tape(SEXP site) {
  static SEXP family_sym = Rf_install("svi_family");
  Fields f(site);
  SEXP d = f["fn"];
  SEXP fam = Rf_getAttrib(d, family_sym);
  SEXP klass = Rf_getAttrib(d, R_ClassSymbol);
  if (TYPEOF(fam) != STRSXP || TYPEOF(klass) != STRSXP ||
      !std::strcmp(CHAR(STRING_ELT(klass, 0)), "svi_dist_delta"))
    return nullptr;
  if (f["mask"] != R_NilValue) return nullptr;
  SEXP scale = f["scale"];
  if (TYPEOF(scale) != REALSXP || Rf_xlength(scale) != 1) return nullptr;
  if (TYPEOF(f["batch"]) != INTSXP) return nullptr;
  if (Rf_xlength(d) != dist_family(CHAR(STRING_ELT(fam, 0))).nparams) return nullptr;
  SEXP x = f["value"];
  if (is_handle(x)) return &handle_tape(x);
  for (R_xlen_t k = 0; k < Rf_xlength(d); ++k)
    if (is_handle(VECTOR_ELT(d, k))) return &handle_tape(VECTOR_ELT(d, k));
  return nullptr;
}

// Records the site's unscaled log-density on g; sets `simple` when it has one element per
// plate element (plates' dims, if more than one), i.e. when nothing is left for R to do but
// scaling. A site outside any plate gets its density summed over all (event) dims, as in R.
int site_lp(GlueTape& g, SEXP site, bool& simple) {
  static SEXP family_sym = Rf_install("svi_family");
  Fields fs(site);
  SEXP d = fs["fn"];
  const svi::dist::Family& f = dist_family(CHAR(STRING_ELT(Rf_getAttrib(d, family_sym), 0)));
  int ins[16];
  if (f.nparams + 1 > 16) fail("internal: too many distribution parameters");
  ins[0] = as_node(g, fs["value"], "the value");
  for (int k = 0; k < f.nparams; ++k) ins[k + 1] = as_node(g, VECTOR_ELT(d, k), "a parameter");
  int lp = f.log_prob(g.tape, ins);
  const svi::Shape& s = g.tape.shape(lp);
  SEXP batch = fs["batch"];
  const int nb = Rf_length(batch);
  Eigen::Index n_target = 1;
  for (int i = 0; i < nb; ++i) n_target *= INTEGER(batch)[i];
  simple = s.n == n_target;
  for (int i = 0; simple && nb > 1 && i < nb; ++i) simple = s.nd == nb && s.d[i] == INTEGER(batch)[i];
  if (!simple && nb == 0) {   // outside plates every dim is an event dim: sum(lp), as R's finish_log_prob()
    lp = svi::sum(g.tape, lp, 0);
    simple = true;
  }
  return lp;
}

// lp * scale, as R's `lp * scale` records it (nothing for a scale of one).
int scaled(svi::Tape& t, int lp, SEXP site) {
  double sc = REAL(list_elt(site, "scale"))[0];
  return sc == 1 ? lp : svi::mul(t, lp, t.scalar(sc));
}

}  // namespace

// The scaled log-density of a site in the common case (see site_fast_tape()), recorded as
// dist_log_prob() then `* scale` would record it. NULL when the fast path does not apply, or
// list(raw log-density) when only the plate/event bookkeeping is left to R.
// [[Rcpp::export(rng = false)]]
SEXP cpp_site_log_prob(SEXP site) {
  GlueTape* g = site_fast_tape(site);
  if (!g) return R_NilValue;
  bool simple;
  int lp = site_lp(*g, site, simple);
  if (!simple) {
    SEXP raw = PROTECT(Rf_allocVector(VECSXP, 1));
    SET_VECTOR_ELT(raw, 0, make_handle(*g, lp));
    UNPROTECT(1);
    return raw;
  }
  return make_handle(*g, scaled(g->tape, lp, site));
}

// The ELBO of one particle when every guide site is reparameterized and every site takes the
// fast path: sum over model sites of sum(log p) minus the same over guide sites, recorded
// exactly as site_log_prob(), sum_log_probs() and `-` in R would record it. NULL otherwise
// (before anything is recorded, except in the rare case of a density with event dims left).
// [[Rcpp::export(rng = false)]]
SEXP cpp_elbo_reparam(SEXP model, SEXP guide) {
  if (!Rf_xlength(model) || !Rf_xlength(guide)) return R_NilValue;
  GlueTape* g = nullptr;
  for (SEXP sites : {model, guide}) {
    for (R_xlen_t k = 0; k < Rf_xlength(sites); ++k) {
      SEXP site = VECTOR_ELT(sites, k);
      if (sites == guide) {
        SEXP rs = Rf_getAttrib(list_elt(site, "fn"), Rf_install("svi_rsample"));
        if (TYPEOF(rs) != LGLSXP || LOGICAL(rs)[0] != TRUE) return R_NilValue;
      }
      GlueTape* h = site_fast_tape(site);
      if (!h || (g && h != g)) return R_NilValue;
      g = h;
    }
  }
  svi::Tape& t = g->tape;
  int total[2];
  int which = 0;
  for (SEXP sites : {model, guide}) {
    int acc = -1;
    for (R_xlen_t k = 0; k < Rf_xlength(sites); ++k) {
      SEXP site = VECTOR_ELT(sites, k);
      bool simple;
      int lp = site_lp(*g, site, simple);
      if (!simple) return R_NilValue;
      int term = svi::sum(t, scaled(t, lp, site), 0);
      acc = acc < 0 ? term : svi::add(t, acc, term);
    }
    total[which++] = acc;
  }
  return make_handle(*g, svi::sub(t, total[0], total[1]));
}

namespace {

// Appends a non-negative count without std::to_string's temporary string.
void key_int(std::string& key, long long v) {
  char buf[24];
  int n = 0;
  do { buf[n++] = char('0' + v % 10); v /= 10; } while (v > 0 && n < 24);
  while (n) key += buf[--n];
}

void key_value_shape(std::string& key, SEXP v) {
  svi::Shape s;
  if (value_shape(v, s)) {
    if (s.nd == 0) {
      key += 'n';
      key_int(key, s.n);
    }
    for (int i = 0; i < s.nd; ++i) {
      key += 'x';
      key_int(key, s.d[i]);
    }
  } else {
    key += Rf_type2char(TYPEOF(v));
    key_int(key, Rf_xlength(v));
  }
  key += ',';
}

}  // namespace

// A string that changes whenever anything the model/guide consistency checks look at
// changes: per site its name, type, observed, auxiliary and enumerate flags, plates, and for sample sites
// the distribution's class, event dim and parameter shapes (which fix its batch shape).
// Equal keys on two steps mean the checks would find the same, so they run once per structure.
// [[Rcpp::export(rng = false)]]
std::string cpp_sites_key(SEXP model, SEXP guide) {
  std::string key;
  key.reserve(64 * (Rf_xlength(model) + Rf_xlength(guide)) + 8);
  for (SEXP sites : {model, guide}) {
    SEXP names = Rf_getAttrib(sites, R_NamesSymbol);
    for (R_xlen_t k = 0; k < Rf_xlength(sites); ++k) {
      Fields s(VECTOR_ELT(sites, k));
      key += CHAR(STRING_ELT(names, k));
      key += '|';
      SEXP type = s["type"];
      key += TYPEOF(type) == STRSXP ? CHAR(STRING_ELT(type, 0)) : "?";
      key += '|';
      SEXP obs = s["is_observed"];
      key += TYPEOF(obs) == LGLSXP && LOGICAL(obs)[0] == TRUE ? 'o' : '-';
      SEXP infer = s["infer"];
      SEXP aux = TYPEOF(infer) == VECSXP ? list_elt(infer, "is_auxiliary") : R_NilValue;
      key += TYPEOF(aux) == LGLSXP && Rf_xlength(aux) == 1 && LOGICAL(aux)[0] == TRUE ? 'a' : '-';
      key += TYPEOF(infer) == VECSXP && list_elt(infer, "enumerate") != R_NilValue ? 'e' : '-';
      key += '|';
      SEXP batch = s["batch"];
      if (TYPEOF(batch) == INTSXP)
        for (R_xlen_t i = 0; i < Rf_xlength(batch); ++i) {
          key_int(key, INTEGER(batch)[i]);
          key += ',';
        }
      else
        key += Rf_length(s["frames"]) ? "?" : "";
      key += '|';
      SEXP d = s["fn"];
      if (TYPEOF(d) == VECSXP) {
        SEXP klass = Rf_getAttrib(d, R_ClassSymbol);
        if (TYPEOF(klass) == STRSXP) key += CHAR(STRING_ELT(klass, 0));
        static SEXP ed_sym = Rf_install("svi_event_dim");
        SEXP ed = Rf_getAttrib(d, ed_sym);
        if (TYPEOF(ed) == INTSXP && INTEGER(ed)[0] >= 0) key_int(key, INTEGER(ed)[0]);
        else key += '?';
        key += ':';
        for (R_xlen_t i = 0; i < Rf_xlength(d); ++i) key_value_shape(key, VECTOR_ELT(d, i));
      }
      key += '\n';
    }
    key += "##\n";
  }
  return key;
}
