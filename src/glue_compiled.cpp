// Compiled mode: a recorded SVI step replayed in C++ for a stretch of steps -- fresh noise and
// minibatches from R's RNG (the sampling ops redraw on every forward pass), the current
// parameters, one backward pass, and the same optimizer update as the dynamic path.
#include "glue.h"
#include <svi/ops/plate.hpp>
#include "commit.h"
#include "optim_slot.h"
#include "r_list.h"
#include <cmath>

using namespace glue;

// [[Rcpp::export(rng = false)]]
void cpp_tape_freeze(SEXP xp) {
  if (TYPEOF(xp) == EXTPTRSXP && R_ExternalPtrAddr(xp)) tape_freeze(*tape_from_xptr(xp));
}

// A constant on the recording tape (data passed to a compiled model), without a copy.
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_constant(SEXP xp, SEXP x) {
  GlueTape& g = *tape_from_xptr(xp);
  if (!g.serial) fail("the tape is not recording");
  return make_handle(g, as_node(g, x, "data"));
}

// A minibatch index node on the recording tape (redrawn on replay).
// [[Rcpp::export(rng = true)]]
SEXP cpp_tape_subsample(SEXP xp, double n, double k) {
  GlueTape& g = *tape_from_xptr(xp);
  if (!g.serial) fail("the tape is not recording");
  g.tape.rng = &r_rng();
  return make_handle(g, svi::subsample(g.tape, n, static_cast<Eigen::Index>(k)));
}

// The node index (0-based) a live handle points at.
// [[Rcpp::export(rng = false)]]
int cpp_tensor_node(SEXP h) {
  handle_tape(h);
  return handle_index(h);
}

// One line per node describing everything a replay depends on: comparing two recordings
// tells whether the model's structure is static.
// [[Rcpp::export(rng = false)]]
Rcpp::CharacterVector cpp_tape_signature(SEXP xp) {
  const svi::Tape& t = tape_from_xptr(xp)->tape;
  Rcpp::CharacterVector out(t.size());
  for (int i = 0; i < t.size(); ++i) {
    const svi::Node& x = t.node(i);
    std::string s = x.op ? x.op->name : "leaf" + std::to_string(int(x.leaf));
    s += "|" + x.shape.str() + "|";
    for (int k = 0; k < x.nin; ++k) s += std::to_string(t.input(x, k)) + ",";
    s += "|" + std::to_string(x.a0) + "," + std::to_string(x.a1) + "," + std::to_string(x.i0) +
         "," + std::to_string(x.i1) + "," + std::to_string(x.i2);
    if (x.leaf == svi::Leaf::Constant) {
      // constants are baked into the replay: a value that changes between steps is a change
      // of structure too (FNV-1a over the bytes)
      std::uint64_t h = 1469598103934665603ull;
      const unsigned char* b = reinterpret_cast<const unsigned char*>(x.data());
      for (std::size_t k = 0; k < std::size_t(x.shape.n) * sizeof(double); ++k) {
        h ^= b[k];
        h *= 1099511628211ull;
      }
      s += "|" + std::to_string(h);
    }
    out[i] = s;
  }
  return out;
}

namespace {

std::vector<double> as_values(SEXP x, R_xlen_t n, const std::string& what) {
  if (TYPEOF(x) != REALSXP || Rf_xlength(x) != n)
    fail(what + " does not match the recorded tape (length " + std::to_string(n) + ")");
  return std::vector<double>(REAL(x), REAL(x) + n);
}

SEXP sym(const char* s) { return Rf_install(s); }

// R's RNG state, read when made and written back by put() (or when an error leaves early).
struct RRngState {
  bool done = false;
  RRngState() { GetRNGstate(); }
  ~RRngState() { put(); }
  void put() {
    if (!done) { done = true; PutRNGstate(); }
  }
};

int int_elt(SEXP list, const char* name) {
  SEXP x = list_elt(list, name);
  if ((TYPEOF(x) != INTSXP && TYPEOF(x) != REALSXP) || Rf_xlength(x) != 1)
    fail(std::string("internal: a compiled program has no `") + name + "`");
  return Rf_asInteger(x);
}

// `old` with the values `v` (a fresh vector; `keep_all`: all of old's attributes, else only
// its dim, as R's like_shape()).
SEXP fresh_like(SEXP old, const std::vector<double>& v, bool keep_all) {
  SEXP out = PROTECT(Rf_allocVector(REALSXP, R_xlen_t(v.size())));
  std::copy(v.begin(), v.end(), REAL(out));
  if (keep_all) DUPLICATE_ATTRIB(out, old);
  else Rf_setAttrib(out, R_DimSymbol, Rf_getAttrib(old, R_DimSymbol));
  UNPROTECT(1);
  return out;
}

// Position of the element named `nm` in a named list, or an error naming the parameter.
R_xlen_t must_pos(SEXP list, const char* nm, const char* what) {
  R_xlen_t i = list_pos(list, nm);
  if (i < 0) fail(std::string("the ") + what + " '" + nm + "' of the compiled step is missing");
  return i;
}

}  // namespace

// Replays up to `num_steps` steps of the compiled svi object `s` (an environment: its
// `program` from R/svi-compiled.R, `store`, `optim_state` and `steps`) and stores the result
// in `s` -- parameter values, optimizer states, decaying averages and the step count -- so a
// svi_step() on a compiled object is this one call. Everything is read before the first step
// and written after the last, with no R code in between, so the object is always at a
// completed step. Returns the losses (attribute "skipped": non-finite steps, which leave the
// parameters as they were; "interrupted": a user interrupt cut the stretch short), or NULL
// when the program's tape is gone (a reloaded object) and R must record again.
// [[Rcpp::export(rng = false)]]
SEXP cpp_compiled_replay(SEXP s, int num_steps) {
  if (TYPEOF(s) != ENVSXP) fail("internal: a compiled replay needs the svi object");
  RRngState rng;
  SEXP prog = env_get(s, sym("program"));
  SEXP xp = list_elt(prog, "tape");
  if (TYPEOF(xp) != EXTPTRSXP || !R_ExternalPtrAddr(xp)) return R_NilValue;
  GlueTape& g = *tape_from_xptr(xp);
  svi::Tape& t = g.tape;
  if (g.serial) fail("internal: a compiled tape must be frozen before it is replayed");
  t.rng = &r_rng();
  const int loss_node = int_elt(prog, "loss_node"), surrogate_node = int_elt(prog, "surrogate_node");
  t.check_index(loss_node);
  t.check_index(surrogate_node);

  SEXP store = env_get(s, sym("store"));
  SEXP states = env_get(env_get(s, sym("optim_state")), sym("params"));
  if (TYPEOF(store) != ENVSXP || TYPEOF(states) != ENVSXP)
    fail("internal: a compiled replay needs the object's store and optimizer state");
  SEXP values = env_get(store, sym("values"));
  SEXP leaves = list_elt(prog, "leaves");
  SEXP leaf_names = Rf_getAttrib(leaves, R_NamesSymbol);
  if (TYPEOF(leaves) != INTSXP || leaf_names == R_NilValue)
    fail("internal: a compiled program has no parameter leaves");
  const int np = int(Rf_xlength(leaves));
  std::vector<int> leaf(np);
  std::vector<R_xlen_t> at(np);
  std::vector<std::vector<double>> theta(np);
  std::vector<OptimSlot> slots;
  slots.reserve(np);
  for (int k = 0; k < np; ++k) {
    const char* nm = CHAR(STRING_ELT(leaf_names, k));
    leaf[k] = INTEGER(leaves)[k];
    t.check_index(leaf[k]);
    const R_xlen_t n = t.shape(leaf[k]).n;
    at[k] = must_pos(values, nm, "parameter");
    theta[k] = as_values(VECTOR_ELT(values, at[k]), n, std::string("the value of parameter '") + nm + "'");
    SEXP st = env_get(states, sym(nm));
    if (TYPEOF(st) != VECSXP) fail(std::string("the optimizer state of parameter '") + nm + "' is missing");
    SEXP kind = list_elt(st, "optimizer");
    if (TYPEOF(kind) != STRSXP || Rf_xlength(kind) != 1)
      fail(std::string("the optimizer state of parameter '") + nm + "' has no optimizer");
    slots.emplace_back(CHAR(STRING_ELT(kind, 0)), nm, n, Rf_asReal(list_elt(st, "step")),
                       Rf_asReal(list_elt(st, "lr")), list_elt(st, "buffers"), list_elt(st, "settings"));
  }
  SEXP averages = list_elt(prog, "averages");
  SEXP avg_values = env_get(store, sym("averages"));
  const int na = int(Rf_xlength(averages));
  std::vector<int> avg_leaf(na), avg_next(na);
  std::vector<R_xlen_t> avg_at(na);
  std::vector<std::vector<double>> avg(na);
  for (int k = 0; k < na; ++k) {
    SEXP a = VECTOR_ELT(averages, k);
    avg_leaf[k] = int_elt(a, "leaf");
    avg_next[k] = int_elt(a, "next");
    t.check_index(avg_leaf[k]);
    t.check_index(avg_next[k]);
    SEXP nm = list_elt(a, "name");
    avg_at[k] = must_pos(avg_values, CHAR(STRING_ELT(nm, 0)), "decaying-average baseline");
    avg[k] = as_values(VECTOR_ELT(avg_values, avg_at[k]), t.shape(avg_leaf[k]).n,
                       "a decaying-average baseline");
  }

  SEXP losses = PROTECT(Rf_allocVector(REALSXP, num_steps));
  int done = 0, skipped = 0;
  bool interrupted = false;
  std::vector<svi::Vec> grads(np);
  for (; done < num_steps; ++done) {
    if (done % 64 == 63) {
      try { Rcpp::checkUserInterrupt(); }
      catch (Rcpp::internal::InterruptedException&) { interrupted = true; break; }
    }
    for (int k = 0; k < np; ++k) t.node(leaf[k]).own = Eigen::Map<const svi::Vec>(theta[k].data(), theta[k].size());
    for (int k = 0; k < na; ++k) t.node(avg_leaf[k]).own = Eigen::Map<const svi::Vec>(avg[k].data(), avg[k].size());
    t.forward();
    const double loss = t.val(loss_node)[0];
    REAL(losses)[done] = loss;
    t.backward(surrogate_node);
    bool finite = std::isfinite(loss);
    for (int k = 0; k < np; ++k) {
      grads[k] = t.grad(leaf[k]);
      finite = finite && grads[k].allFinite();
    }
    if (!finite) { ++skipped; continue; }  // as the dynamic path: the store is left as it was
    for (int k = 0; k < np; ++k) slots[k].update(theta[k].data(), grads[k].data());
    for (int k = 0; k < na; ++k) {
      svi::CMap v = t.val(avg_next[k]);
      avg[k].assign(v.data(), v.data() + v.size());
    }
  }

  // Store the stretch's result: new vectors in new lists (the old ones may be shared with the
  // user's copies), all made before any is bound (commit.h). R's RNG state is written back just
  // before the bindings: an interrupt up to there leaves object and RNG as they were.
  Commit commit(np + 3);
  if (done > skipped) {
    SEXP nv = PROTECT(Rf_shallow_duplicate(values));
    for (int k = 0; k < np; ++k) SET_VECTOR_ELT(nv, at[k], fresh_like(VECTOR_ELT(values, at[k]), theta[k], true));
    for (int k = 0; k < np; ++k) {
      SEXP nm = sym(CHAR(STRING_ELT(leaf_names, k)));
      commit.bind(states, nm, slots[k].state_to_r(env_get(states, nm)));
    }
    if (na) {
      SEXP navg = PROTECT(Rf_shallow_duplicate(avg_values));
      for (int k = 0; k < na; ++k)
        SET_VECTOR_ELT(navg, avg_at[k], fresh_like(VECTOR_ELT(avg_values, avg_at[k]), avg[k], false));
      commit.bind(store, sym("averages"), navg);
      UNPROTECT(1);
    }
    commit.bind(store, sym("values"), nv);
    UNPROTECT(1);
    SEXP steps = env_get(s, sym("steps"));
    const double now = Rf_asReal(steps) + (done - skipped);
    commit.bind(s, sym("steps"), TYPEOF(steps) == INTSXP ? Rf_ScalarInteger(int(now)) : Rf_ScalarReal(now));
  }
  rng.put();
  commit.apply();
  if (done < num_steps) losses = Rf_xlengthgets(losses, done);
  PROTECT(losses);
  if (skipped) Rf_setAttrib(losses, sym("skipped"), Rf_ScalarInteger(skipped));
  if (interrupted) Rf_setAttrib(losses, sym("interrupted"), Rf_ScalarLogical(TRUE));
  UNPROTECT(2);
  return losses;
}

// A state leaf: a copied constant that a compiled replay may overwrite between steps (the
// decaying-average baselines).
// [[Rcpp::export(rng = false)]]
SEXP cpp_tensor_state(SEXP xp, SEXP x) {
  GlueTape& g = *tape_from_xptr(xp);
  if (!g.serial) fail("the tape is not recording");
  if (TYPEOF(x) != REALSXP) fail("internal: a state leaf must be a double vector");
  return make_handle(g, g.tape.leaf(svi::Leaf::State, REAL(x), shape_of(x)));
}
