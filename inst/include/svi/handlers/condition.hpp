// The condition handler: sample sites named in `data` become observed at the given values.
#pragma once
#include <string>
#include <unordered_map>
#include "handler.hpp"

namespace svi {

struct ConditionHandler : Handler {
  std::unordered_map<std::string, int> data;  // site name -> value node
  explicit ConditionHandler(std::unordered_map<std::string, int> d) : data(std::move(d)) {}
  void process(Site& msg) override {
    if (msg.kind != SiteKind::Sample) return;
    auto it = data.find(msg.name);
    if (it == data.end()) return;
    msg.value = it->second;
    msg.is_observed = true;
  }
};

}  // namespace svi
