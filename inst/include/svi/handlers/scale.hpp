// The scale handler: multiplies the log-density of every sample site inside it by `factor`.
#pragma once
#include "../error.hpp"
#include "handler.hpp"

namespace svi {

struct ScaleHandler : Handler {
  double factor;
  explicit ScaleHandler(double f) : factor(f) {
    if (!(f > 0)) throw Error("`scale` must be positive; to drop terms, mask them instead.");
  }
  void process(Site& msg) override {
    if (msg.kind == SiteKind::Sample || msg.kind == SiteKind::Factor) msg.scale *= factor;
  }
};

}  // namespace svi
