// The replay handler: latent sample sites take the value (and infer options) the replayed
// trace recorded under the same name; plates take its minibatch. The model replays the guide
// this way, so both score the same draws.
#pragma once
#include "../error.hpp"
#include "../trace.hpp"
#include "handler.hpp"

namespace svi {

struct ReplayHandler : Handler {
  const Trace* source;
  explicit ReplayHandler(const Trace& t) : source(&t) {}
  void process(Site& msg) override {
    const Site* g = source->find(msg.name);
    if (!g) return;
    if (msg.kind == SiteKind::Subsample) {
      if (g->kind == SiteKind::Subsample) msg.value = g->value;
      return;
    }
    if (msg.kind != SiteKind::Sample || msg.is_observed) return;
    if (g->kind != SiteKind::Sample || g->is_observed)
      throw Error("Site \"" + msg.name + "\" must be a latent sample site in the trace being replayed.");
    msg.value = g->value;
    msg.infer = g->infer;
    msg.done = true;
  }
};

}  // namespace svi
