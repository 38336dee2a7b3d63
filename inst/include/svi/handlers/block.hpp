// The block handler: sites it hides are invisible to the handlers outside it (the walk stops
// there). hide_all hides everything; otherwise `names` are hidden, or, with expose = true,
// everything except `names`.
#pragma once
#include <string>
#include <unordered_set>
#include "handler.hpp"

namespace svi {

struct BlockHandler : Handler {
  bool hide_all = true;
  bool expose = false;
  std::unordered_set<std::string> names;
  BlockHandler() = default;
  BlockHandler(std::unordered_set<std::string> n, bool expose_them)
      : hide_all(false), expose(expose_them), names(std::move(n)) {}
  void process(Site& msg) override {
    bool listed = names.count(msg.name) > 0;
    if (hide_all || (expose ? !listed : listed)) msg.stop = true;
  }
};

}  // namespace svi
