// Effect handlers and the site walk (pyro-semantics 0.1), written once. A site call builds a
// message (a Site) and hands it to the stack: the handlers' process() run innermost first
// until one sets `stop`; then, unless a handler gave the site a value (or marked it done), the
// default behaviour fills it in; then the visited handlers' postprocess() run outermost first.
#pragma once
#include <vector>
#include "../site.hpp"

namespace svi {

struct Handler {
  virtual ~Handler() = default;
  virtual void process(Site&) {}
  virtual void postprocess(Site&) {}
};

struct HandlerStack {
  std::vector<Handler*> handlers;  // outermost first

  bool empty() const { return handlers.empty(); }
  void push(Handler* h) { handlers.push_back(h); }
  void pop() { handlers.pop_back(); }

  // `fill(msg)` is the default behaviour (draw a sample, make plate indices).
  template <class Fill>
  void apply(Site& msg, Fill&& fill) {
    const int n = int(handlers.size());
    int first = 0;
    for (int i = n - 1; i >= 0; --i) {
      handlers[i]->process(msg);
      if (msg.stop) { first = i; break; }
    }
    if (msg.value < 0 && !msg.done) fill(msg);
    msg.done = true;
    for (int i = first; i < n; ++i) handlers[i]->postprocess(msg);
  }
};

// Pushes a handler for the life of a scope (popped on any exit, so an error unwinds the stack).
struct Pushed {
  HandlerStack& stack;
  Pushed(HandlerStack& s, Handler& h) : stack(s) { s.push(&h); }
  ~Pushed() { stack.pop(); }
  Pushed(const Pushed&) = delete;
  Pushed& operator=(const Pushed&) = delete;
};

}  // namespace svi
