// Changes to an svi object that must happen together (a step's parameter values, optimizer
// states, averages and step count), bound in one stretch of code that allocates nothing.
// Why: any allocation may run R's garbage collector, and R acts on a pending user interrupt
// as soon as a collection ends, jumping out of the C++ code. So every new value is made
// first (an interrupt there leaves the object as it was), and the bindings are then set
// without allocating (each binding already exists, so defineVar() only replaces its value).
#pragma once
#include <Rinternals.h>
#include <vector>

namespace glue {

class Commit {
 public:
  // Room for `n` bindings; the values are kept protected until the commit is applied.
  // (Preserved rather than protected, so the callers' PROTECT/UNPROTECT counts are their own.)
  explicit Commit(R_xlen_t n) : values_(Rf_allocVector(VECSXP, n)) {
    R_PreserveObject(values_);
    envs_.reserve(std::size_t(n));
    syms_.reserve(std::size_t(n));
  }
  ~Commit() { R_ReleaseObject(values_); }
  Commit(const Commit&) = delete;
  Commit& operator=(const Commit&) = delete;

  // env$sym <- value, when applied. `sym` must be bound in `env` already.
  void bind(SEXP env, SEXP sym, SEXP value) {
    SET_VECTOR_ELT(values_, R_xlen_t(envs_.size()), value);
    envs_.push_back(env);
    syms_.push_back(sym);
  }
  // Sets every binding, in order, allocating nothing.
  void apply() const {
    for (std::size_t i = 0; i < envs_.size(); ++i)
      Rf_defineVar(syms_[i], VECTOR_ELT(values_, R_xlen_t(i)), envs_[i]);
  }

 private:
  SEXP values_;
  std::vector<SEXP> envs_, syms_;
};

}  // namespace glue
