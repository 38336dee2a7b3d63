// The scale handler: multiplies the log-density of every sample site inside it by `factor`, a
// number or a tensor of positive values (one per plate element of the sites it scales, or
// one in all; broadcast over their plates). Nested scales multiply.
#pragma once
#include <string>
#include "../error.hpp"
#include "../ops/arith.hpp"
#include "../tape.hpp"
#include "handler.hpp"

namespace svi {

struct ScaleHandler : Handler {
  double factor = 1.0;
  Tape* tape = nullptr;
  int node = -1;  // a tensor scale, or -1
  explicit ScaleHandler(double f) : factor(f) {
    if (!(f > 0)) throw Error("`scale` must be positive; to drop terms, mask them instead.");
  }
  ScaleHandler(Tape& t, int scale) : tape(&t), node(scale) {
    t.check_index(scale);
    CMap v = t.val(scale);
    if (v.size() == 0) throw Error("`scale` must be positive; it is empty.");
    for (Eigen::Index i = 0; i < v.size(); ++i)
      if (!(v[i] > 0))
        throw Error("`scale` must be positive; element " + std::to_string(i + 1) +
                    " is not. To drop terms, mask them instead.");
  }
  void process(Site& msg) override {
    if (msg.kind != SiteKind::Sample && msg.kind != SiteKind::Factor) return;
    if (node < 0) { msg.scale *= factor; return; }
    msg.scale_node = msg.scale_node < 0 ? node : mul(*tape, msg.scale_node, node);
  }
};

}  // namespace svi
