// The mask handler: elements where the mask is 0 contribute exactly zero to the ELBO (and to
// its gradient). A mask is a node of 0/1 values broadcasting to the sites' plate shape, or
// the scalar "all masked out". Nested masks combine by elementwise product (logical and).
#pragma once
#include "../ops/arith.hpp"
#include "../tape.hpp"
#include "handler.hpp"

namespace svi {

struct MaskHandler : Handler {
  Tape* tape;
  int mask = -1;  // node, or -1 with all_false
  bool all_false = false;
  MaskHandler(Tape& t, int m) : tape(&t), mask(m) {}
  static MaskHandler none(Tape& t) { MaskHandler h(t, -1); h.all_false = true; return h; }
  void process(Site& msg) override {
    if (msg.kind != SiteKind::Sample && msg.kind != SiteKind::Factor) return;
    if (all_false) { msg.mask_false = true; return; }
    msg.mask = msg.mask < 0 ? mask : mul(*tape, msg.mask, mask);
  }
};

}  // namespace svi
