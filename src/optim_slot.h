// One parameter's optimizer, unpacked from its R state (plain lists, see R/optim-state.R) into
// C++-owned buffers. The dynamic path steps it once per svi_step(); the compiled path keeps it
// for a whole stretch of replayed steps. Both run the very same update, so they agree exactly.
#pragma once
#include <Rcpp.h>
#include <string>
#include <vector>
#include <svi/optim/optim.hpp>

namespace glue {

struct OptimSlot {
  std::string kind, name;
  R_xlen_t n = 0;
  long long step = 0;
  double lr = 0;
  double clip_norm = NA_REAL, clip_value = NA_REAL;  // PyroOptim's clip_args
  svi::optim::AdamConfig adam;
  svi::optim::ClippedAdamConfig cadam;
  svi::optim::SgdConfig sgd;
  std::vector<std::string> buffer_names;
  std::vector<std::vector<double>> buffers;
  std::vector<double> g;  // scratch: the clipped gradient

  OptimSlot(const std::string& kind, const std::string& name, R_xlen_t n, double step, double lr,
            SEXP buffers, SEXP settings);
  // One update of theta (length n) with grad (nullptr: no gradient this step).
  void update(double* theta, const double* grad);
  SEXP buffers_to_r() const;
  // The parameter's R state `old` (a list as in R/optim-state.R) with this slot's step, lr
  // and buffers: a new list, `old` is not modified.
  SEXP state_to_r(SEXP old) const;
};

class Commit;

// One dynamic step's optimizer update of every parameter in `grads` (named), added to `commit`
// (commit.h) for the caller to apply; false (nothing added) when R's parameter-by-parameter
// path must take it (src/glue_optim.cpp).
bool optim_apply_into(SEXP store, SEXP states_env, SEXP grads, const std::string& optimizer,
                      Commit& commit);

}  // namespace glue
