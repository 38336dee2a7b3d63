// TraceGraph_ELBO's downstream costs (pyro-semantics 4.2). The cost terms are the model
// sites' log p then the guide sites' -log q; a term counts for every non-reparameterized guide
// site whose provenance mark its node carries. Sites come in order of first dependence; each
// one's cost is the sum of its terms reduced to its plates (rao_blackwell.hpp's rules), added
// in term order, detached (plate_sum is forward-only). As src/glue_tracegraph.cpp.
#pragma once
#include <vector>
#include "../handlers/provenance.hpp"
#include "../trace.hpp"
#include "rao_blackwell.hpp"

namespace svi {

struct DownstreamCost {
  int site;                // position in the guide trace
  std::vector<int> terms;  // indices into (model sample sites, then guide sample sites)
  int cost;                // node, on the site's plates
};

inline std::vector<DownstreamCost> downstream_costs(Tape& t, const Trace& model, const std::vector<int>& mpos,
                                                    const Trace& guide, const std::vector<int>& gpos) {
  const int nm = int(mpos.size()), nt = nm + int(gpos.size());
  auto site_of = [&](int k) -> const Site& { return k < nm ? model.sites[mpos[k]] : guide.sites[gpos[k - nm]]; };
  int max_id = -1;
  for (int i : gpos) max_id = std::max(max_id, guide.sites[i].prov_id);
  std::vector<int> by_id(std::size_t(max_id + 1), -1);  // provenance id -> guide position
  for (int i : gpos)
    if (guide.sites[i].prov_id >= 0) by_id[guide.sites[i].prov_id] = i;
  std::vector<DownstreamCost> out;
  std::vector<int> slot(guide.sites.size(), -1);  // guide position -> index in out
  for (int k = 0; k < nt; ++k) {
    const Node& x = t.node(site_of(k).log_prob);
    for (std::size_t w = 0; w < x.prov.size(); ++w)
      for (int b = 0; b < 64; ++b) {
        if (!(x.prov[w] >> b & 1u)) continue;
        int id = int(w * 64) + b;
        if (id > max_id || by_id[id] < 0) continue;  // a model-only latent
        int g = by_id[id];
        if (slot[g] < 0) { slot[g] = int(out.size()); out.push_back({g, {}, -1}); }
        out[slot[g]].terms.push_back(k);
      }
  }
  for (DownstreamCost& d : out) {
    const std::vector<Frame>& target = guide.sites[d.site].frames;
    for (int k : d.terms) {
      const Site& s = site_of(k);
      int p = reduce_to_frames(t, s.log_prob, s.frames, target);
      bool minus = k >= nm;  // a guide term: -log q
      if (d.cost < 0) d.cost = minus ? neg(t, p) : p;
      else d.cost = minus ? sub(t, d.cost, p) : add(t, d.cost, p);
    }
  }
  return out;
}

}  // namespace svi
