// A site: one named effect of a model or guide run (pyro-semantics 0.1). The same struct is
// the message the handler stack passes around and the record a trace keeps, as in Pyro: a
// handler edits the message, the trace handler records it when the walk is done.
// Values and densities are tape node indices (-1: none), so a site costs no array copies.
#pragma once
#include <string>
#include <vector>
#include "dist/registry.hpp"

namespace svi {

enum class SiteKind { Sample, Param, Deterministic, Factor, Subsample };

inline const char* kind_name(SiteKind k) {
  switch (k) {
    case SiteKind::Sample: return "sample";
    case SiteKind::Param: return "param";
    case SiteKind::Deterministic: return "deterministic";
    case SiteKind::Factor: return "factor";
    case SiteKind::Subsample: return "subsample";
  }
  return "?";
}

// One active plate as a site inside it sees it. `size` is the (sub)sample size, the extent of
// the site's plate dim; `full_size` the plate's size; `dim` its 1-based position (outermost 1).
struct Frame {
  std::string name;
  long long full_size = 0;
  int size = 0;
  int dim = 0;
  int indices = -1;  // the node of the (sub)sample indices (1-based, as R's)
};

// A distribution: a family of the registry and its parameter nodes on the tape.
// has_rsample: draws carry pathwise gradients (false for a family that cannot, or when the
// caller asked for a score-function estimator, as nonreparameterized() does in R).
struct DistRef {
  const dist::Family* family = nullptr;
  int params[4] = {-1, -1, -1, -1};
  int nparams = 0;
  bool has_rsample = false;
  int event_dims = 0;  // dims of a value that one density term covers (1 for multivariate)
  bool vec_param = false;  // parameters carry a vector per batch element (dirichlet, mvnormal, categorical)
};

// The baselines of a non-reparameterized guide site under TraceGraph_ELBO. `value` is a node
// the caller recorded (a given value, or a learned baseline computed from params); it is
// trained by the squared-error loss sum((cost - baseline)^2). Both kinds add up when combined.
// A learned baseline's caller computes it before the site, from a detached input (detach()),
// so that only the baseline loss trains its parameters, as R's baseline_learned() does.
struct BaselineConfig {
  bool decay = false;   // decaying average of the downstream cost, per plate element
  double beta = 0.90;
  int value = -1;       // a given or learned baseline node, or -1
  bool learned = false; // documentation only: a learned value is a node like a given one
  bool any() const { return decay || value >= 0; }
};

struct InferOptions {
  bool is_auxiliary = false;
  bool enumerate = false;  // recorded for later estimators; no estimator here enumerates
  BaselineConfig baseline;
};

struct Site {
  std::string name;
  SiteKind kind = SiteKind::Sample;
  DistRef dist;
  int value = -1;
  bool is_observed = false;
  int log_prob = -1;      // scaled and masked, plate-shaped (filled by the ELBO)
  int log_prob_raw = -1;  // neither scaled nor masked (the score function)
  std::vector<Frame> frames;
  double scale = 1.0;
  int scale_node = -1;     // a tensor scale (scale handlers), broadcast over the plates, or -1
  int mask = -1;           // node of 0/1 values, or -1 for none
  bool mask_false = false; // masked out entirely (a scalar FALSE mask)
  InferOptions infer;
  // subsample sites: the plate's size and requested minibatch size (0: none)
  long long size = 0;
  int subsample_size = 0;
  int prov_id = -1;  // TraceGraph: the site's provenance id (0-based), -1 for none
  // walk flags
  bool stop = false;
  bool done = false;

  bool is_latent_sample() const { return kind == SiteKind::Sample && !is_observed; }
  // Whether a guide site's gradient is pathwise: decided by has_rsample alone, as R's
  // site_reparam(), so an observed guide site from a non-reparameterized distribution gets a
  // score term too. A factor has no distribution and no estimator to choose.
  bool pathwise() const { return kind == SiteKind::Factor || dist.has_rsample; }
  std::vector<int> plate_shape() const {
    std::vector<int> s;
    s.reserve(frames.size());
    for (const Frame& f : frames) s.push_back(f.size);
    return s;
  }
};

}  // namespace svi
