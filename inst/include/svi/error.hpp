// svi::Error -- the one exception type the core throws. The glue turns it into an R error, so
// every message here is written for an R user to read.
#pragma once
#include <stdexcept>
#include <string>

namespace svi {

struct Error : std::runtime_error {
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

}  // namespace svi
