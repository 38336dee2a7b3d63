// A trace: the sites of one run of a model or guide in order of first appearance, with a name
// index so that appending and looking up are O(1) (pyro-semantics 1).
#pragma once
#include <string>
#include <algorithm>
#include <functional>
#include <vector>
#include "error.hpp"
#include "site.hpp"

namespace svi {

// The sites of a trace: a vector whose elements are kept when it is cleared, so that the next
// run's sites are copy-assigned into them (their names' and frames' buffers reused) and a
// step in steady state allocates nothing here.
struct SiteList {
  std::vector<Site> buf;
  std::size_t n = 0;
  std::size_t size() const { return n; }
  bool empty() const { return n == 0; }
  Site& operator[](std::size_t i) { return buf[i]; }
  const Site& operator[](std::size_t i) const { return buf[i]; }
  Site* begin() { return buf.data(); }
  Site* end() { return buf.data() + n; }
  const Site* begin() const { return buf.data(); }
  const Site* end() const { return buf.data() + n; }
  Site& back() { return buf[n - 1]; }
  void clear() { n = 0; }
  Site& push_back(const Site& s) {
    if (n == buf.size()) buf.push_back(s);
    else buf[n] = s;
    return buf[n++];
  }
};

// Name -> position: open addressing over positions, compared through the sites' own names (no
// key copies); a generation count clears it in O(1).
struct NameIndex {
  struct Slot { int pos = -1; unsigned gen = 0; };
  std::vector<Slot> slots;
  unsigned gen = 1;
  std::size_t count = 0;
  static std::size_t hash(const std::string& s) { return std::hash<std::string>()(s); }
  void clear() {
    count = 0;
    if (++gen == 0) { for (Slot& x : slots) x.gen = 0; gen = 1; }
  }
  template <class NameAt>
  int find(const std::string& name, NameAt&& name_at) const {
    if (slots.empty()) return -1;
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = hash(name) & mask;; i = (i + 1) & mask) {
      const Slot& x = slots[i];
      if (x.gen != gen) return -1;
      if (name_at(x.pos) == name) return x.pos;
    }
  }
  template <class NameAt>
  void insert(const std::string& name, int pos, NameAt&& name_at) {
    if (2 * (count + 1) > slots.size()) grow(name_at);
    place(hash(name), pos);
    ++count;
  }
 private:
  void place(std::size_t h, int pos) {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = h & mask;
    while (slots[i].gen == gen) i = (i + 1) & mask;
    slots[i].pos = pos;
    slots[i].gen = gen;
  }
  template <class NameAt>
  void grow(NameAt&& name_at) {
    std::vector<int> live;
    live.reserve(count);
    for (const Slot& x : slots)
      if (x.gen == gen) live.push_back(x.pos);
    slots.assign(std::max<std::size_t>(16, 2 * slots.size()), Slot());
    gen = 1;
    for (int pos : live) place(hash(name_at(pos)), pos);
  }
};

struct Trace {
  SiteList sites;
  NameIndex index;

  void clear() { sites.clear(); index.clear(); }
  int size() const { return int(sites.size()); }

  const Site* find(const std::string& name) const {
    int i = index.find(name, [this](int k) -> const std::string& { return sites[std::size_t(k)].name; });
    return i < 0 ? nullptr : &sites[std::size_t(i)];
  }
  Site* find(const std::string& name) {
    int i = index.find(name, [this](int k) -> const std::string& { return sites[std::size_t(k)].name; });
    return i < 0 ? nullptr : &sites[std::size_t(i)];
  }

  // Records a finished site. A name seen before is fine for params and plates used again (the
  // newer record replaces the older, in place); anything else is an error.
  void add(const Site& s) {
    Site* found = find(s.name);
    if (!found) {
      index.insert(s.name, size(), [this](int k) -> const std::string& { return sites[std::size_t(k)].name; });
      sites.push_back(s).stop = false;
      return;
    }
    Site& old = *found;
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
    sample_sites(out);
    return out;
  }
  void sample_sites(std::vector<int>& out) const {
    out.clear();
    for (int i = 0; i < size(); ++i)
      if (sites[std::size_t(i)].kind == SiteKind::Sample || sites[std::size_t(i)].kind == SiteKind::Factor)
        out.push_back(i);
  }
};

}  // namespace svi
