// Model/guide consistency checks on each particle's pair of traces (pyro-semantics 11), as
// R/validate.R: mismatched event dims and batch shapes (after broadcasting over the plates)
// are errors; auxiliary guide sites in the model, guide sites missing from the model, model
// latents missing from the guide, guide-only plates and sites asking for enumeration (which no
// ELBO here does) are warnings, reported once per
// engine (`seen` holds the kinds already reported).
#pragma once
#include <set>
#include <string>
#include <vector>
#include "error.hpp"
#include "site_dist.hpp"
#include "trace.hpp"

namespace svi {

inline std::string quoted(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t k = 0; k < names.size(); ++k) s += (k ? ", \"" : "\"") + names[k] + "\"";
  return s;
}

// A site's batch shape after broadcasting over its plates (plate dims, then any others), as
// R's site_batch_shape().
inline std::vector<int> site_batch_shape(const Tape& t, const Site& s) {
  std::vector<int> bs = batch_shape(t, s.dist);
  if (!bs.empty() && prod(bs) == 1) bs.clear();
  if (bs.empty() && !s.frames.empty()) bs = s.plate_shape();
  return bs;
}

inline void check_model_guide(const Tape& t, const Trace& model, const Trace& guide, std::set<std::string>& seen,
                              std::vector<std::string>& warnings) {
  auto warn = [&](const char* key, const std::string& msg) {
    if (seen.insert(key).second) warnings.push_back(msg);
  };
  std::vector<std::string> bad_aux, guide_only, model_only, guide_plates, enumerated;
  for (const Site& g : guide.sites) {
    if (g.kind == SiteKind::Sample && g.infer.enumerate) enumerated.push_back(g.name);
    const Site* m = model.find(g.name);
    if (g.kind == SiteKind::Subsample) {
      if (!m || m->kind != SiteKind::Subsample) guide_plates.push_back(g.name);
      continue;
    }
    if (g.kind != SiteKind::Sample) continue;
    bool in_model = m && m->kind == SiteKind::Sample;
    if (g.infer.is_auxiliary) {
      if (in_model && !m->is_observed) bad_aux.push_back(g.name);
    } else if (!in_model) {
      guide_only.push_back(g.name);
    }
  }
  for (const Site& m : model.sites) {
    if (!m.is_latent_sample()) continue;
    if (m.infer.enumerate && !guide.find(m.name)) enumerated.push_back(m.name);
    const Site* g = guide.find(m.name);
    if (!g || g->kind != SiteKind::Sample) { model_only.push_back(m.name); continue; }
    if (m.dist.event_dims != g->dist.event_dims)
      throw Error("Model and guide event dims disagree at site \"" + m.name + "\": " +
                  std::to_string(m.dist.event_dims) + " vs " + std::to_string(g->dist.event_dims) + ".");
    std::vector<int> ms = site_batch_shape(t, m), gs = site_batch_shape(t, *g);
    if (ms != gs)
      throw Error("Model and guide shapes disagree at site \"" + m.name + "\": " + sizes_str(ms) +
                  " vs " + sizes_str(gs) + ".");
  }
  if (!bad_aux.empty()) warn("aux", "Found auxiliary vars in the model: " + quoted(bad_aux) + ".");
  if (!guide_only.empty())
    warn("guide_only", "Found non-auxiliary vars in guide but not model: " + quoted(guide_only) +
                       ". Consider marking them is_auxiliary.");
  if (!model_only.empty())
    warn("model_only", "Found vars in model but not guide: " + quoted(model_only) +
                       ". They are drawn from the prior at every step, which adds variance and fits nothing.");
  if (!enumerated.empty())
    warn("enumerate", (enumerated.size() == 1 ? "Site " : "Sites ") + quoted(enumerated) +
                      (enumerated.size() == 1 ? " asks" : " ask") + " for enumeration (infer enumerate), but no "
                      "ELBO of svi enumerates: " + (enumerated.size() == 1 ? "it is" : "they are") + " sampled. Remove the option, or marginalize "
                      "the discrete variables out of the model by hand.");
  if (!guide_plates.empty())
    warn("guide_plates", "Found plate statements in guide but not model: " + quoted(guide_plates) + ".");
}

}  // namespace svi
