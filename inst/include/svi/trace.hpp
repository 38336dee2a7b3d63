// A trace: the sites of one run of a model or guide in order of first appearance, with a name
// index so that appending and looking up are O(1) (pyro-semantics 1).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>
#include "error.hpp"
#include "site.hpp"

namespace svi {

struct Trace {
  std::vector<Site> sites;
  std::unordered_map<std::string, int> index;

  void clear() { sites.clear(); index.clear(); }
  int size() const { return int(sites.size()); }

  const Site* find(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? nullptr : &sites[it->second];
  }
  Site* find(const std::string& name) {
    auto it = index.find(name);
    return it == index.end() ? nullptr : &sites[it->second];
  }

  // Records a finished site. A name seen before is fine for params and plates used again (the
  // newer record replaces the older, in place); anything else is an error.
  void add(const Site& s) {
    auto it = index.find(s.name);
    if (it == index.end()) {
      index.emplace(s.name, int(sites.size()));
      sites.push_back(s);
      sites.back().stop = false;
      return;
    }
    Site& old = sites[it->second];
    if (old.kind != s.kind)
      throw Error("Site \"" + s.name + "\" is already in the trace as a " + kind_name(old.kind) +
                  " site; it cannot also be a " + kind_name(s.kind) + " site.");
    if (s.kind != SiteKind::Param && s.kind != SiteKind::Subsample)
      throw Error(std::string("Multiple ") + kind_name(s.kind) + " sites named \"" + s.name +
                  "\". Each " + kind_name(s.kind) + " site in one run of a model or guide needs its own name.");
    old = s;
    old.stop = false;
  }

  // The positions of the sites with a log-density (sample sites and factors), in order.
  std::vector<int> sample_sites() const {
    std::vector<int> out;
    for (int i = 0; i < size(); ++i)
      if (sites[i].kind == SiteKind::Sample || sites[i].kind == SiteKind::Factor) out.push_back(i);
    return out;
  }
};

}  // namespace svi
