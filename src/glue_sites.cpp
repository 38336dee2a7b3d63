// The walk of a site through a handler stack that holds only trace and replay handlers and
// TraceGraph's tracker (the stack of every svi_step() unless the user adds handlers), done in
// C++: sample_site(), param() and plate() call in first and take their R path -- apply_stack(),
// and the checks that explain bad input -- whenever these return NULL. Nothing is drawn or
// recorded before a NULL.
#include "glue.h"
#include "r_list.h"
#include <cmath>
#include <climits>
#include <cstring>
#include <initializer_list>

using namespace glue;

SEXP cpp_tracegraph_mark(SEXP v, int id);   // glue_tracegraph.cpp

namespace {

void set_field(SEXP msg, const char* name, SEXP value) {
  R_xlen_t i = list_pos(msg, name);
  if (i < 0) fail(std::string("internal: a site message has no field ") + name);
  SET_VECTOR_ELT(msg, i, value);
}

bool is_true(SEXP x) { return TYPEOF(x) == LGLSXP && Rf_xlength(x) == 1 && LOGICAL(x)[0] == TRUE; }

bool type_is(SEXP site, const char* type) {
  SEXP t = list_elt(site, "type");
  return TYPEOF(t) == STRSXP && Rf_xlength(t) == 1 && !std::strcmp(CHAR(STRING_ELT(t, 0)), type);
}

// Appends (name, value) to the named list or character vector bound to `sym` in `env`; `name`
// is a CHARSXP (the site's own, so no string is looked up again).
void append_binding(SEXP env, SEXP sym, SEXP name, SEXP value) {
  SEXP old = Rf_findVarInFrame(env, sym);
  const R_xlen_t n = Rf_xlength(old);
  const bool chr = TYPEOF(old) == STRSXP;
  SEXP out = PROTECT(Rf_allocVector(chr ? STRSXP : VECSXP, n + 1));
  SEXP nms = PROTECT(Rf_allocVector(STRSXP, n + 1));
  SEXP onms = Rf_getAttrib(old, R_NamesSymbol);
  for (R_xlen_t i = 0; i < n; ++i) {
    if (chr) SET_STRING_ELT(out, i, STRING_ELT(old, i));
    else SET_VECTOR_ELT(out, i, VECTOR_ELT(old, i));
    SET_STRING_ELT(nms, i, onms == R_NilValue ? R_BlankString : STRING_ELT(onms, i));
  }
  if (chr) SET_STRING_ELT(out, n, STRING_ELT(value, 0));
  else SET_VECTOR_ELT(out, n, value);
  SET_STRING_ELT(nms, n, name);
  Rf_setAttrib(out, R_NamesSymbol, nms);
  Rf_defineVar(sym, out, env);
  UNPROTECT(2);
}

// Whether the stack holds only handlers this walk knows (trace, replay, TraceGraph's tracker)
// and no trace has `name` yet (a name seen before is apply_stack()'s to handle: repeated
// plates, or its error for samples).
bool plain_stack_for(SEXP stack, const char* name) {
  for (R_xlen_t i = 0; i < Rf_xlength(stack); ++i) {
    SEXP h = VECTOR_ELT(stack, i);
    if (type_is(h, "trace")) {
      SEXP rec = list_elt(h, "rec");
      if (list_pos(Rf_findVarInFrame(rec, Rf_install("sites")), name) >= 0) return false;
    } else if (!type_is(h, "replay") && !type_is(h, "track_nonreparam")) {
      return false;
    }
  }
  return true;
}

// Records the finished message in every trace handler, outermost first.
void record_in_traces(SEXP stack, SEXP msg) {
  static SEXP types_sym = Rf_install("types"), sites_sym = Rf_install("sites");
  Fields f(msg);
  SEXP type = f["type"];
  SEXP name = STRING_ELT(f["name"], 0);
  for (R_xlen_t i = 0; i < Rf_xlength(stack); ++i) {
    SEXP h = VECTOR_ELT(stack, i);
    if (!type_is(h, "trace")) continue;
    SEXP rec = list_elt(h, "rec");
    append_binding(rec, types_sym, name, type);
    append_binding(rec, sites_sym, name, msg);
  }
}


// A list of `n` fields named by `names` (a preserved, shared names vector).
SEXP new_msg(SEXP names) {
  SEXP msg = Rf_allocVector(VECSXP, Rf_xlength(names));
  Rf_setAttrib(msg, R_NamesSymbol, names);
  return msg;
}

SEXP preserved_strings(std::initializer_list<const char*> xs) {
  SEXP out = Rf_allocVector(STRSXP, xs.size());
  R_PreserveObject(out);
  R_xlen_t i = 0;
  for (const char* x : xs) SET_STRING_ELT(out, i++, Rf_mkChar(x));
  MARK_NOT_MUTABLE(out);
  return out;
}

bool is_site_name(SEXP x) {
  return TYPEOF(x) == STRSXP && Rf_xlength(x) == 1 && STRING_ELT(x, 0) != NA_STRING &&
         CHAR(STRING_ELT(x, 0))[0] != 0;
}

// Whether observed data are free of NA (what check_obs() asks of numeric or logical data);
// false also for anything else, which R then explains. Long double vectors already scanned
// on the recording tape are not scanned again.
bool obs_clean(SEXP obs) {
  if (is_handle(obs)) return true;
  if (TYPEOF(obs) == REALSXP) {
    GlueTape* g = current_tape();
    if (g && g->known_clean(obs)) return true;
    if (first_nan(REAL(obs), Rf_xlength(obs)) >= 0) return false;
    if (g) g->mark_clean(obs);
    return true;
  }
  if (TYPEOF(obs) == LGLSXP || TYPEOF(obs) == INTSXP) {
    const int* v = TYPEOF(obs) == INTSXP ? INTEGER(obs) : LOGICAL(obs);
    for (R_xlen_t i = 0, n = Rf_xlength(obs); i < n; ++i)
      if (v[i] == NA_INTEGER) return false;
    return true;
  }
  return false;
}

struct Syms {
  SEXP stack, plain, ctx, compile, frames, batch, scale, tape, store, values, constraints,
      handles, leaves;
  Syms()
      : stack(Rf_install("stack")), plain(Rf_install("plain")), ctx(Rf_install("ctx")),
        compile(Rf_install("compile")), frames(Rf_install("frames")), batch(Rf_install("batch")),
        scale(Rf_install("scale")), tape(Rf_install("tape")), store(Rf_install("store")),
        values(Rf_install("values")), constraints(Rf_install("constraints")),
        handles(Rf_install("handles")), leaves(Rf_install("leaves")) {}
};

const Syms& syms() {
  static const Syms s;
  return s;
}

// The handler stack when a site can take the C++ walk: only handlers it knows, and no
// compiled step being recorded (that marks sites in R); R_NilValue otherwise.
SEXP plain_walk_stack(SEXP state) {
  const Syms& y = syms();
  SEXP stack = env_get(state, y.stack);
  if (TYPEOF(stack) != VECSXP || !Rf_xlength(stack) || !is_true(env_get(state, y.plain)))
    return R_NilValue;
  SEXP ctx = env_get(state, y.ctx);
  if (TYPEOF(ctx) == ENVSXP && is_true(env_get(ctx, y.compile))) return R_NilValue;
  return stack;
}


// The fields of a sample message as cpp_sample_site() lays them out (the order of sample_site()'s
// list(...) in R).
enum SampleField { kType, kName, kFn, kObserved, kValue, kInfer, kScale, kMask, kFrames, kBatch,
                   kDone, kStop, kNumSampleFields };

// 1..n as an integer vector. The last one made is kept and handed out again (a data plate asks
// for the same n every step); it is marked not mutable, so R copies it before any change.
SEXP all_indices(R_xlen_t n) {
  static SEXP cache = R_NilValue;
  if (cache != R_NilValue && Rf_xlength(cache) == n) return cache;
  SEXP idx = PROTECT(Rf_allocVector(INTSXP, n));
  int* v = INTEGER(idx);
  for (R_xlen_t i = 0; i < n; ++i) v[i] = int(i + 1);
  MARK_NOT_MUTABLE(idx);
  if (cache != R_NilValue) R_ReleaseObject(cache);
  R_PreserveObject(idx);
  cache = idx;
  UNPROTECT(1);
  return idx;
}

// `msg` with one more field (R's `msg$field <- value` on a list without that field).
SEXP with_field(SEXP msg, const char* field, SEXP value) {
  const R_xlen_t n = Rf_xlength(msg);
  SEXP out = PROTECT(Rf_allocVector(VECSXP, n + 1));
  SEXP nms = PROTECT(Rf_allocVector(STRSXP, n + 1));
  SEXP old = Rf_getAttrib(msg, R_NamesSymbol);
  for (R_xlen_t i = 0; i < n; ++i) {
    SET_VECTOR_ELT(out, i, VECTOR_ELT(msg, i));
    SET_STRING_ELT(nms, i, STRING_ELT(old, i));
  }
  SET_VECTOR_ELT(out, n, value);
  SET_STRING_ELT(nms, n, Rf_mkChar(field));
  Rf_setAttrib(out, R_NamesSymbol, nms);
  UNPROTECT(2);
  return out;
}

// TraceGraph's track_nonreparam handlers (R/elbo-tracegraph.R) as postprocess steps, outermost
// first: while a tape records, a latent sample site without a reparameterized draw gets its
// site id (counted over the step, kept per name in the handler's `ids`), its value the id's
// mark, and the message a `prov_id`. The same as the handler's R closure does.
SEXP track_nonreparam(SEXP stack, SEXP msg) {
  PROTECT_INDEX ipx;
  PROTECT_WITH_INDEX(msg, &ipx);
  for (R_xlen_t i = 0; i < Rf_xlength(stack); ++i) {
    SEXP h = VECTOR_ELT(stack, i);
    if (!type_is(h, "track_nonreparam")) continue;
    Fields f(msg);
    static SEXP rsample_sym = Rf_install("svi_rsample");
    if (is_true(f["is_observed"]) || is_true(Rf_getAttrib(f["fn"], rsample_sym)) || !current_tape())
      continue;
    SEXP ids = list_elt(h, "ids"), counter = list_elt(h, "counter");
    SEXP name = STRING_ELT(f["name"], 0);
    SEXP sym = Rf_installChar(name);
    SEXP id = Rf_findVarInFrame(ids, sym);
    if (id == R_UnboundValue) {
      static SEXP n_sym = Rf_install("n");
      id = PROTECT(Rf_ScalarInteger(Rf_asInteger(Rf_findVarInFrame(counter, n_sym)) + 1));
      Rf_defineVar(n_sym, id, counter);
      Rf_defineVar(sym, id, ids);
      UNPROTECT(1);
    }
    PROTECT(id);
    SEXP v = f["value"];
    SEXP marked;
    if (is_handle(v)) {
      marked = cpp_tracegraph_mark(v, Rf_asInteger(id));
    } else {  // not met under a recording tape (draws there are handles); R's own helper
      SEXP call = PROTECT(Rf_lang4(Rf_install("mark_draw"), f["fn"], v, id));
      SEXP pkg = PROTECT(Rf_mkString("svi"));
      marked = Rf_eval(call, R_FindNamespace(pkg));
      UNPROTECT(2);
    }
    PROTECT(marked);
    SEXP out = PROTECT(Rf_shallow_duplicate(msg));
    set_field(out, "value", marked);
    R_xlen_t k = list_pos(out, "prov_id");
    if (k >= 0) SET_VECTOR_ELT(out, k, id);
    else out = with_field(out, "prov_id", id);
    REPROTECT(msg = out, ipx);
    UNPROTECT(3);
  }
  UNPROTECT(1);
  return msg;
}

// apply_stack() for a sample site when the stack holds only handlers this walk knows and no
// compiled step is being recorded: replay from the innermost handler outwards, the default
// draw when no replay gave a value (for a distribution whose batch already has the plates'
// shape), the tracker's marks, then recording in every trace, outermost first -- what the R
// loop does, in one call.
// Fills in and returns `msg` (a fresh message laid out as cpp_sample_site() builds it, see
// kType...), or NULL (nothing drawn or recorded) whenever anything is unusual, so that
// apply_stack() handles it and gives its errors.
SEXP sample_plain(SEXP msg, SEXP stack) {
  const char* name = CHAR(STRING_ELT(VECTOR_ELT(msg, kName), 0));
  const R_xlen_t nh = Rf_xlength(stack);
  if (!plain_stack_for(stack, name)) return R_NilValue;
  SEXP out = PROTECT(msg);
  const bool observed = is_true(VECTOR_ELT(out, kObserved));
  bool done = is_true(VECTOR_ELT(out, kDone));
  for (R_xlen_t i = nh - 1; i >= 0; --i) {
    SEXP h = VECTOR_ELT(stack, i);
    if (!type_is(h, "replay") || observed) continue;
    SEXP sites = list_elt(h, "sites");
    R_xlen_t k = list_pos(sites, name);
    if (k < 0) continue;
    Fields g(VECTOR_ELT(sites, k));
    SEXP gt = g["type"];
    if (TYPEOF(gt) != STRSXP || std::strcmp(CHAR(STRING_ELT(gt, 0)), "sample") || is_true(g["is_observed"])) {
      UNPROTECT(1);
      return R_NilValue;
    }
    SET_VECTOR_ELT(out, kValue, g["value"]);
    SET_VECTOR_ELT(out, kInfer, g["infer"]);
    done = true;
  }
  if (VECTOR_ELT(out, kValue) == R_NilValue && !done) {
    static SEXP family_sym = Rf_install("svi_family"), ed_sym = Rf_install("svi_event_dim"),
                rsample_sym = Rf_install("svi_rsample");
    SEXP d = VECTOR_ELT(out, kFn);
    SEXP fam = Rf_getAttrib(d, family_sym);
    SEXP klass = Rf_getAttrib(d, R_ClassSymbol);
    SEXP ed = Rf_getAttrib(d, ed_sym);
    // only distributions whose batch shape is the generic one (R's dist_batch_shape.svi_dist)
    static const char* own_shape[] = {"svi_dist_categorical", "svi_dist_dirichlet",
                                      "svi_dist_mvnormal", "svi_dist_delta"};
    bool plain = TYPEOF(fam) == STRSXP && TYPEOF(klass) == STRSXP && Rf_xlength(klass) == 2 &&
                 TYPEOF(ed) == INTSXP && INTEGER(ed)[0] == 0;
    for (const char* c : own_shape) plain = plain && std::strcmp(CHAR(STRING_ELT(klass, 0)), c);
    if (!plain) {
      UNPROTECT(1);
      return R_NilValue;
    }
    SEXP batch = VECTOR_ELT(out, kBatch);
    if (TYPEOF(batch) != INTSXP) { UNPROTECT(1); return R_NilValue; }
    if (Rf_xlength(batch) > 0) {
      // the batch must already have the plates' shape (else site_dist() expands or explains)
      svi::Shape bs;
      bool found = false;
      for (R_xlen_t k = 0; k < Rf_xlength(d) && !found; ++k) {
        svi::Shape s;
        if (!value_shape(VECTOR_ELT(d, k), s)) { UNPROTECT(1); return R_NilValue; }
        if (s.n != 1) { bs = s; found = true; }
      }
      const int nb = Rf_length(batch);
      bool ok = found;
      if (ok && bs.nd == 0) ok = nb == 1 && bs.n == INTEGER(batch)[0];
      else for (int i = 0; ok && i < nb; ++i) ok = i < bs.nd && bs.d[i] == INTEGER(batch)[i];
      if (!ok) { UNPROTECT(1); return R_NilValue; }
    }
    bool reparam = is_true(Rf_getAttrib(d, rsample_sym));
    // R's RNG state is held only while a draw is made. The draw is stored in `out` (which is
    // protected) before the scope ends: the scope's end writes .Random.seed, which allocates
    // and may collect an unprotected value.
    {
      Rcpp::RNGScope rng;
      SET_VECTOR_ELT(out, kValue,
                     dist_draw_value(CHAR(STRING_ELT(fam, 0)), d, reparam, current_tape() != nullptr));
    }
  }
  SET_VECTOR_ELT(out, kDone, Rf_ScalarLogical(TRUE));
  out = track_nonreparam(stack, out);
  PROTECT(out);
  record_in_traces(stack, out);
  UNPROTECT(2);
  return out;
}

}  // namespace

// sample_site(name, dist, obs, infer) in one call when its arguments pass sample_site()'s checks
// and the stack allows the C++ walk (see plain_walk_stack()): the message R would build, then
// the walk. Returns the site's value, or NULL for R's path.
// [[Rcpp::export(rng = false)]]
SEXP cpp_sample_site(SEXP name, SEXP dist, SEXP obs, SEXP infer, SEXP state) {
  if (!is_site_name(name) || !Rf_inherits(dist, "svi_dist") || TYPEOF(infer) != VECSXP)
    return R_NilValue;
  SEXP stack = plain_walk_stack(state);
  if (stack == R_NilValue) return R_NilValue;
  if (obs != R_NilValue && !obs_clean(obs)) return R_NilValue;
  static SEXP names = preserved_strings({"type", "name", "fn", "is_observed", "value", "infer",
                                         "scale", "mask", "frames", "batch", "done", "stop"});
  static_assert(kNumSampleFields == 12, "the names above follow SampleField");
  static SEXP type = preserved_strings({"sample"});
  const Syms& y = syms();
  SEXP msg = PROTECT(new_msg(names));
  SET_VECTOR_ELT(msg, kType, type);
  SET_VECTOR_ELT(msg, kName, name);
  SET_VECTOR_ELT(msg, kFn, dist);
  SET_VECTOR_ELT(msg, kObserved, Rf_ScalarLogical(obs != R_NilValue));
  SET_VECTOR_ELT(msg, kValue, obs);
  SET_VECTOR_ELT(msg, kInfer, infer);
  SET_VECTOR_ELT(msg, kScale, env_get(state, y.scale));
  SET_VECTOR_ELT(msg, kMask, R_NilValue);
  SET_VECTOR_ELT(msg, kFrames, env_get(state, y.frames));
  SET_VECTOR_ELT(msg, kBatch, env_get(state, y.batch));
  SET_VECTOR_ELT(msg, kDone, Rf_ScalarLogical(FALSE));
  SET_VECTOR_ELT(msg, kStop, Rf_ScalarLogical(FALSE));
  SEXP out = sample_plain(msg, stack);
  UNPROTECT(1);
  return out == R_NilValue ? R_NilValue : VECTOR_ELT(out, kValue);
}

// An init of another shape than the stored value (a parameter created again with a new
// shape) is R's to report; a NULL init or a function cannot be checked here.
static bool same_shape_init(SEXP init, SEXP u) {
  const int t = TYPEOF(init);
  if (t != REALSXP && t != INTSXP && t != LGLSXP) return true;
  if (Rf_xlength(init) != Rf_xlength(u)) return false;
  SEXP a = Rf_getAttrib(init, R_DimSymbol), b = Rf_getAttrib(u, R_DimSymbol);
  if (a == R_NilValue || b == R_NilValue) return a == b;
  if (Rf_length(a) != Rf_length(b)) return false;
  for (int k = 0; k < Rf_length(a); ++k)
    if (INTEGER(a)[k] != INTEGER(b)[k]) return false;
  return true;
}

// param(name, init, constraint) in one call for a parameter that exists in the step's store,
// first met in this step, when the stack allows the C++ walk and its constraint is the identity
// or positive: its Input leaf, the constraint's transform, the step context's leaves and
// handles, and the message in every trace -- what store_param() and param() record. Returns
// the handle, or NULL for R's path (new parameters, repeated calls, other constraints, an init
// of another shape).
// [[Rcpp::export(rng = false)]]
SEXP cpp_param_plain(SEXP name, SEXP init, SEXP constraint, SEXP state) {
  if (!is_site_name(name) || !Rf_inherits(constraint, "svi_constraint")) return R_NilValue;
  SEXP stack = plain_walk_stack(state);
  if (stack == R_NilValue) return R_NilValue;
  const Syms& y = syms();
  SEXP ctx = env_get(state, y.ctx);
  if (TYPEOF(ctx) != ENVSXP) return R_NilValue;
  SEXP tape = env_get(ctx, y.tape);
  if (TYPEOF(tape) != EXTPTRSXP || !R_ExternalPtrAddr(tape)) return R_NilValue;
  GlueTape& g = *tape_from_xptr(tape);
  if (!g.serial) return R_NilValue;
  const char* nm = CHAR(STRING_ELT(name, 0));
  if (!plain_stack_for(stack, nm) || list_pos(env_get(ctx, y.handles), nm) >= 0) return R_NilValue;
  SEXP store = env_get(ctx, y.store);
  if (TYPEOF(store) != ENVSXP) return R_NilValue;
  SEXP u = list_elt(env_get(store, y.values), nm);
  if (TYPEOF(u) != REALSXP) return R_NilValue;
  SEXP kind = list_elt(list_elt(env_get(store, y.constraints), nm), "kind");
  if (TYPEOF(kind) != INTSXP || Rf_xlength(kind) != 1) return R_NilValue;
  int k = INTEGER(kind)[0];
  if (k != svi::transform::Real && k != svi::transform::Positive) return R_NilValue;
  const svi::Shape s = shape_of(u);
  if (first_nan(REAL(u), s.n) >= 0) return R_NilValue;   // cpp_tape_input()'s error, from R
  if (!same_shape_init(init, u)) return R_NilValue;      // R's error naming both shapes
  const int leaf_idx = g.tape.leaf(svi::Leaf::Input, REAL(u), s);
  SEXP leaf = PROTECT(make_handle(g, leaf_idx));
  SEXP h = k == svi::transform::Real
               ? leaf
               : make_handle(g, transform_apply(g.tape, k, 0, leaf_idx, 0, 0));
  PROTECT(h);
  append_binding(ctx, y.leaves, STRING_ELT(name, 0), leaf);
  append_binding(ctx, y.handles, STRING_ELT(name, 0), h);
  static SEXP names = preserved_strings({"type", "name", "value", "infer", "done", "stop",
                                         "frames", "batch", "scale"});
  static SEXP type = preserved_strings({"param"});
  SEXP msg = PROTECT(new_msg(names));
  SET_VECTOR_ELT(msg, 0, type);
  SET_VECTOR_ELT(msg, 1, name);
  SET_VECTOR_ELT(msg, 2, h);
  SET_VECTOR_ELT(msg, 3, Rf_allocVector(VECSXP, 0));
  SET_VECTOR_ELT(msg, 4, Rf_ScalarLogical(TRUE));
  SET_VECTOR_ELT(msg, 5, Rf_ScalarLogical(FALSE));
  SET_VECTOR_ELT(msg, 6, env_get(state, y.frames));
  SET_VECTOR_ELT(msg, 7, env_get(state, y.batch));
  SET_VECTOR_ELT(msg, 8, Rf_ScalarReal(1));
  record_in_traces(stack, msg);
  UNPROTECT(3);
  return h;
}

// plate(name, size, fn, subsample_size, subsample) up to calling fn, when the arguments pass
// plate()'s checks, no explicit `subsample` is given and the stack allows the C++ walk: the
// indices (the guide's, replayed, or 1..size when nothing is subsampled), the subsample message
// in every trace, and the new frame pushed onto the state's frames, batch and scale. Returns
// list(indices, old frames, old batch, old scale) for cpp_plate_exit(), or NULL for R's path
// (which also draws random minibatches and explains bad arguments).
// [[Rcpp::export(rng = false)]]
SEXP cpp_plate_enter(SEXP name, SEXP size, SEXP fn, SEXP subsample_size, SEXP subsample, SEXP state) {
  if (!is_site_name(name) || !Rf_isFunction(fn) || subsample != R_NilValue) return R_NilValue;
  if ((TYPEOF(size) != REALSXP && TYPEOF(size) != INTSXP) || Rf_xlength(size) != 1) return R_NilValue;
  const double n = Rf_asReal(size);
  if (!(n >= 1) || n != std::floor(n) || n > INT_MAX) return R_NilValue;
  double m = n;   // minibatch size
  if (subsample_size != R_NilValue) {
    if ((TYPEOF(subsample_size) != REALSXP && TYPEOF(subsample_size) != INTSXP) ||
        Rf_xlength(subsample_size) != 1)
      return R_NilValue;
    m = Rf_asReal(subsample_size);
    if (!(m >= 1) || m != std::floor(m)) return R_NilValue;
  }
  SEXP stack = plain_walk_stack(state);
  if (stack == R_NilValue) return R_NilValue;
  const Syms& y = syms();
  const char* nm = CHAR(STRING_ELT(name, 0));
  SEXP frames = env_get(state, y.frames);
  for (R_xlen_t i = 0; i < Rf_xlength(frames); ++i) {   // a duplicate plate: R's error
    SEXP f = list_elt(VECTOR_ELT(frames, i), "name");
    if (TYPEOF(f) == STRSXP && !std::strcmp(CHAR(STRING_ELT(f, 0)), nm)) return R_NilValue;
  }
  if (!plain_stack_for(stack, nm)) return R_NilValue;
  // the indices: replayed from the innermost replay handler that has this plate, else 1..size
  SEXP idx = R_NilValue;
  for (R_xlen_t i = 0; i < Rf_xlength(stack); ++i) {
    SEXP h = VECTOR_ELT(stack, i);
    if (!type_is(h, "replay")) continue;
    SEXP sites = list_elt(h, "sites");
    R_xlen_t k = list_pos(sites, nm);
    if (k >= 0 && type_is(VECTOR_ELT(sites, k), "subsample")) idx = list_elt(VECTOR_ELT(sites, k), "value");
  }
  if (idx == R_NilValue) {
    if (m < n) return R_NilValue;   // a random minibatch: drawn by R
    idx = all_indices((R_xlen_t) n);
  }
  PROTECT(idx);
  const R_xlen_t k = Rf_xlength(idx);
  if ((subsample_size != R_NilValue && (double) k != m) || k == 0) {   // R explains
    UNPROTECT(1);
    return R_NilValue;
  }
  SEXP batch = env_get(state, y.batch);
  SEXP scale = env_get(state, y.scale);
  if (TYPEOF(batch) != INTSXP || TYPEOF(scale) != REALSXP || Rf_xlength(scale) != 1) {
    UNPROTECT(1);
    return R_NilValue;
  }
  static SEXP msg_names = preserved_strings({"type", "name", "value", "size", "subsample_size",
                                             "infer", "frames", "batch", "scale", "done", "stop"});
  static SEXP type = preserved_strings({"subsample"});
  SEXP msg = PROTECT(new_msg(msg_names));
  SET_VECTOR_ELT(msg, 0, type);
  SET_VECTOR_ELT(msg, 1, name);
  SET_VECTOR_ELT(msg, 2, idx);
  SET_VECTOR_ELT(msg, 3, size);
  SET_VECTOR_ELT(msg, 4, subsample_size);
  SET_VECTOR_ELT(msg, 5, Rf_allocVector(VECSXP, 0));
  SET_VECTOR_ELT(msg, 6, frames);
  SET_VECTOR_ELT(msg, 7, batch);
  SET_VECTOR_ELT(msg, 8, Rf_ScalarReal(1));
  SET_VECTOR_ELT(msg, 9, Rf_ScalarLogical(TRUE));
  SET_VECTOR_ELT(msg, 10, Rf_ScalarLogical(FALSE));
  record_in_traces(stack, msg);
  // the frame: list(name, size = k, full_size = size, dim)
  static SEXP frame_names = preserved_strings({"name", "size", "full_size", "dim"});
  const R_xlen_t nf = Rf_xlength(frames);
  SEXP frame = PROTECT(new_msg(frame_names));
  SET_VECTOR_ELT(frame, 0, name);
  SET_VECTOR_ELT(frame, 1, Rf_ScalarInteger((int) k));
  SET_VECTOR_ELT(frame, 2, size);
  SET_VECTOR_ELT(frame, 3, Rf_ScalarInteger((int) nf + 1));
  SEXP new_frames = PROTECT(Rf_allocVector(VECSXP, nf + 1));
  for (R_xlen_t i = 0; i < nf; ++i) SET_VECTOR_ELT(new_frames, i, VECTOR_ELT(frames, i));
  SET_VECTOR_ELT(new_frames, nf, frame);
  const R_xlen_t nb = Rf_xlength(batch);
  SEXP new_batch = PROTECT(Rf_allocVector(INTSXP, nb + 1));
  for (R_xlen_t i = 0; i < nb; ++i) INTEGER(new_batch)[i] = INTEGER(batch)[i];
  INTEGER(new_batch)[nb] = (int) k;
  SEXP saved = PROTECT(Rf_allocVector(VECSXP, 4));
  SET_VECTOR_ELT(saved, 0, idx);
  SET_VECTOR_ELT(saved, 1, frames);
  SET_VECTOR_ELT(saved, 2, batch);
  SET_VECTOR_ELT(saved, 3, scale);
  Rf_defineVar(y.frames, new_frames, state);
  Rf_defineVar(y.batch, new_batch, state);
  Rf_defineVar(y.scale, Rf_ScalarReal(REAL(scale)[0] * (n / (double) k)), state);  // outermost first
  UNPROTECT(6);
  return saved;
}

// Puts back the frames, batch and scale plate() read before entering (its on.exit guard,
// registered before cpp_plate_enter() changes them; one call, so no interrupt lands inside).
// [[Rcpp::export(rng = false)]]
void cpp_plate_exit(SEXP frames, SEXP batch, SEXP scale, SEXP state) {
  const Syms& y = syms();
  Rf_defineVar(y.frames, frames, state);
  Rf_defineVar(y.batch, batch, state);
  Rf_defineVar(y.scale, scale, state);
}
