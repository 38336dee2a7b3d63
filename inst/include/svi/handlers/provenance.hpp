// TraceGraph_ELBO's provenance tracker (pyro-semantics 4.1). In postprocess, the value of
// every latent sample site without a pathwise gradient becomes a detached copy of itself that
// carries the site's provenance mark; tape nodes computed from it inherit the mark, so the
// ELBO can read off which log-density terms are downstream of which draw. The copy also
// inherits the marks of the distribution's parameters (a draw depends on what its parameters
// depend on). A value that already carries the mark (the model replaying the guide's draw)
// is kept. Ids are per name within a particle and count up over the whole step (`counter`),
// so one particle's nodes never carry another particle's ids.
#pragma once
#include <string>
#include <unordered_map>
#include "../ops/plate.hpp"
#include "../tape.hpp"
#include "handler.hpp"

namespace svi {

inline bool has_provenance(const Node& x, int site) {
  std::size_t w = std::size_t(site) / 64;
  return w < x.prov.size() && (x.prov[w] >> (site % 64) & 1u);
}

struct ProvenanceHandler : Handler {
  Tape* tape;
  int* counter;
  std::unordered_map<std::string, int> ids;
  ProvenanceHandler(Tape& t, int& c) : tape(&t), counter(&c) {}
  void postprocess(Site& msg) override {
    if (msg.kind != SiteKind::Sample || msg.is_observed || msg.dist.has_rsample) return;
    auto it = ids.find(msg.name);
    int id;
    if (it == ids.end()) { id = (*counter)++; ids.emplace(msg.name, id); }
    else id = it->second;
    if (!has_provenance(tape->node(msg.value), id)) {
      int v = detach(*tape, msg.value);
      tape->add_provenance(v, id);
      msg.value = v;
    }
    msg.prov_id = id;
  }
};

}  // namespace svi
