// Shared glue between R and the core tape: the registry of active tapes, tensor handles
// (external pointers that encode a tape serial and a node index), and SEXP <-> node conversion.
// Only this layer knows about R; inst/include/svi knows nothing of it.
#pragma once
#include <Rcpp.h>
#include <cmath>
#include <cstdint>
#include <vector>
#include <svi/tape.hpp>
#include <svi/dist/family.hpp>
#include <svi/transform_kind.hpp>

namespace glue {

// A core tape plus what R needs around it: a serial that handles carry (so handles from a
// finished tape are detectably stale) and a list keeping R constants alive while the tape
// points at their memory.
struct GlueTape {
  svi::Tape tape;
  std::uint32_t serial = 0;  // 0 when not recording
  SEXP keep = R_NilValue;    // VECSXP of R objects whose memory constant nodes map
  int nkeep = 0;
  // Large double vectors already checked for NA/NaN (data passed step after step). Holding a
  // reference makes R copy rather than modify them in place, so a hit means unchanged data.
  SEXP clean = R_NilValue;
  int nclean = 0;
  ~GlueTape();
  void hold(SEXP x);
  void release();
  bool known_clean(SEXP x) const;
  void mark_clean(SEXP x);
};

GlueTape* tape_from_xptr(SEXP xp);
void tape_begin(GlueTape& g);
void tape_end(GlueTape& g);
// Ends recording (handles go stale) but keeps the nodes and the R constants they point at, so
// the tape can be replayed (compiled mode).
void tape_freeze(GlueTape& g);

// Handles
SEXP make_handle(const GlueTape& g, int idx);
bool is_handle(SEXP x);
// The tape and node a handle points at; a clear R-facing error when it is stale.
GlueTape& handle_tape(SEXP h);
int handle_index(SEXP h);
// The innermost tape that is recording, or nullptr.
GlueTape* current_tape();

// R value -> node on g: handles map to their node, doubles enter as constants without a copy,
// integers and logicals are converted. `what` names the argument in error messages.
int as_node(GlueTape& g, SEXP x, const char* what);
svi::Shape shape_of(SEXP x);
// The position of the first NA/NaN among v[0..n), or -1.
inline R_xlen_t first_nan(const double* v, R_xlen_t n) {
  for (R_xlen_t i = 0; i < n; ++i)
    if (std::isnan(v[i])) return i;
  return -1;
}
// Shape of a double vector/array or of a live handle; false for anything else.
bool value_shape(SEXP x, svi::Shape& s);
SEXP to_r(const svi::Shape& s, const double* v);

[[noreturn]] void fail(const std::string& msg);

// The core's distribution family by name. Defined in glue_dist.cpp, the one glue file that
// compiles the registry (every family's ops), so that others need not.
const svi::dist::Family& dist_family(const char* name);

// svi::transform::apply (kind: svi::transform::Kind; dir 0 forward, 1 inverse, 2 log |det J|),
// defined in glue_transforms.cpp, the one glue file that compiles the transforms.
int transform_apply(svi::Tape& t, int kind, int dir, int x, double a, double b);

// One draw of a distribution's batch shape (see cpp_dist_sample); R's RNG state must be held.
SEXP dist_draw_value(const char* family, SEXP params, bool reparam, bool record);

}  // namespace glue

namespace glue {

// R's RNG behind the core's Rng interface. Use it only inside an Rcpp export with rng = true
// (or between GetRNGstate()/PutRNGstate()).
struct RRng : svi::Rng {
  double uniform() override { return unif_rand(); }
  double normal() override { return norm_rand(); }
  double gamma(double shape) override { return R::rgamma(shape, 1.0); }
  double poisson(double mu) override { return R::rpois(mu); }
  double binomial(double n, double p) override { return R::rbinom(n, p); }
  double index(double n) override { return R_unif_index(n); }
};
RRng& r_rng();

// For evaluating core ops on plain numerics outside inference: starts a private scratch tape
// for the lifetime of the scope (so the usual op code runs, and nothing is recorded for long).
struct ScratchScope {
  GlueTape& g;
  ScratchScope();
  ~ScratchScope();
};

// The tape of the first handle among xs, or a scratch tape when there is none.
GlueTape* tape_among(std::initializer_list<SEXP> xs);

}  // namespace glue
