// The trace handler: records every site that reaches it (in postprocess, after inner handlers
// and the default behaviour), and lets a second plate of the same name in one run reuse the
// first one's minibatch.
#pragma once
#include "../trace.hpp"
#include "handler.hpp"

namespace svi {

struct TraceHandler : Handler {
  Trace trace;
  void process(Site& msg) override {
    if (msg.kind != SiteKind::Subsample || msg.value >= 0) return;
    const Site* old = trace.find(msg.name);
    if (old && old->kind == SiteKind::Subsample) msg.value = old->value;
  }
  void postprocess(Site& msg) override { trace.add(msg); }
};

}  // namespace svi
