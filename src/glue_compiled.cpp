// Compiled mode: a recorded SVI step replayed in C++ for a stretch of steps -- fresh noise and
// minibatches from R's RNG (the sampling ops redraw on every forward pass), the current
// parameters, one backward pass, and the same optimizer update as the dynamic path.
#include "glue.h"
#include <svi/ops/plate.hpp>
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


}  // namespace

// Runs up to `num_steps` replayed steps. params: list of list(name, leaf, value, state) with the
// optimizer state as in R/optim-state.R; averages: list of list(leaf, next, value) (a decaying
// average's store leaf, the node holding its updated value, and its current value).
// Returns the losses, the new values, optimizer states and averages, how many steps were
// skipped as non-finite, and whether an interrupt stopped the stretch (state is then that of
// the last completed step).
// [[Rcpp::export(rng = true)]]
Rcpp::List cpp_compiled_steps(SEXP xp, Rcpp::List params, Rcpp::List averages, int loss_node,
                              int surrogate_node, int num_steps) {
  GlueTape& g = *tape_from_xptr(xp);
  svi::Tape& t = g.tape;
  if (g.serial) fail("internal: a compiled tape must be frozen before it is replayed");
  t.rng = &r_rng();
  t.check_index(loss_node);
  t.check_index(surrogate_node);
  const int np = params.size(), na = averages.size();
  std::vector<int> leaf(np);
  std::vector<std::vector<double>> theta(np);
  std::vector<OptimSlot> slots;
  slots.reserve(np);
  for (int k = 0; k < np; ++k) {
    SEXP p = params[k];
    std::string name = Rcpp::as<std::string>(list_elt(p, "name"));
    leaf[k] = Rcpp::as<int>(list_elt(p, "leaf"));
    t.check_index(leaf[k]);
    R_xlen_t n = t.shape(leaf[k]).n;
    theta[k] = as_values(list_elt(p, "value"), n, "the value of parameter '" + name + "'");
    SEXP st = list_elt(p, "state");
    slots.emplace_back(Rcpp::as<std::string>(list_elt(st, "optimizer")), name, n,
                       Rcpp::as<double>(list_elt(st, "step")), Rcpp::as<double>(list_elt(st, "lr")),
                       list_elt(st, "buffers"), list_elt(st, "settings"));
  }
  std::vector<int> avg_leaf(na), avg_next(na);
  std::vector<std::vector<double>> avg(na);
  for (int k = 0; k < na; ++k) {
    SEXP a = averages[k];
    avg_leaf[k] = Rcpp::as<int>(list_elt(a, "leaf"));
    avg_next[k] = Rcpp::as<int>(list_elt(a, "next"));
    t.check_index(avg_leaf[k]);
    t.check_index(avg_next[k]);
    avg[k] = as_values(list_elt(a, "value"), t.shape(avg_leaf[k]).n, "a decaying-average baseline");
  }

  Rcpp::NumericVector losses(num_steps);
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
    double loss = t.val(loss_node)[0];
    losses[done] = loss;
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

  Rcpp::List values(np), states(np), avg_out(na);
  for (int k = 0; k < np; ++k) {
    values[k] = Rcpp::NumericVector(theta[k].begin(), theta[k].end());
    states[k] = Rcpp::List::create(Rcpp::Named("step") = double(slots[k].step),
                                   Rcpp::Named("lr") = slots[k].lr,
                                   Rcpp::Named("buffers") = slots[k].buffers_to_r());
  }
  for (int k = 0; k < na; ++k) avg_out[k] = Rcpp::NumericVector(avg[k].begin(), avg[k].end());
  return Rcpp::List::create(
      Rcpp::Named("losses") = Rcpp::NumericVector(losses.begin(), losses.begin() + done),
      Rcpp::Named("values") = values, Rcpp::Named("states") = states,
      Rcpp::Named("averages") = avg_out, Rcpp::Named("skipped") = skipped,
      Rcpp::Named("interrupted") = interrupted);
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
