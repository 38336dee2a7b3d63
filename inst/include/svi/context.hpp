// The context of a running step: what a model's or guide's site calls go through. It holds the
// tape the step records on, the parameter store, the handler stack and the active plates.
// `current_context()` points at the context of the step being run, so that glue called from a
// host language's site function can reach it.
#pragma once
#include <cstring>
#include <deque>
#include <initializer_list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
#include "compiled.hpp"
#include "handlers/handler.hpp"
#include "ops/plate.hpp"
#include "param_store.hpp"
#include "site_dist.hpp"
#include "subsample.hpp"
#include "transforms.hpp"

namespace svi {

struct Context;
inline Context*& current_context() {
  static Context* ctx = nullptr;
  return ctx;
}

struct Context {
  Tape& tape;
  ParamStore& store;
  HandlerStack stack;
  std::vector<Frame> frames;  // active plates, outermost first
  double scale = 1.0;         // product of their full_size / size, outermost first
  // this step's parameters: the Input leaves to differentiate (the constrained node of each is
  // kept in its store entry, stamped with the step's id)
  std::vector<std::pair<int, int>> leaves;  // (store entry, leaf node)
  long long step_id = 0;
  // 1..size for plates without subsampling, kept between steps (constants read in place)
  std::unordered_map<long long, Vec> iota;
  // decaying-average baselines updated by this step (committed by the engine on success)
  std::unordered_map<std::string, int> averages;
  std::unordered_map<std::string, int> average_leaves;  // name -> the State leaf it started from
  bool training = true;
  // compiled mode's recording steps: where each site call begins on the tape (else null)
  std::vector<SiteMark>* marks = nullptr;
  // warnings for the step's result (the engine hands them out in StepResult::warnings)
  std::vector<std::string>* warnings = nullptr;
  void warn(const std::string& msg) {
    if (warnings) warnings->push_back(msg);
  }
  void mark(const std::string& name) {
    if (marks) marks->push_back({name, tape.size()});
  }

  Context(Tape& t, ParamStore& s) : tape(t), store(s) {}

  // Site messages are built in kept buffers (one per nesting depth; a deque keeps them in
  // place), so that a site call does not allocate its name or frames again each step.
  std::deque<Site> msg_pool;
  std::size_t msg_depth = 0;
  struct MsgLease {
    Context& c;
    Site& msg;
    explicit MsgLease(Context& ctx) : c(ctx), msg(ctx.acquire_msg()) {}
    ~MsgLease() { --c.msg_depth; }
    MsgLease(const MsgLease&) = delete;
    MsgLease& operator=(const MsgLease&) = delete;
  };
  Site& acquire_msg() {
    static const Site blank;
    if (msg_depth == msg_pool.size()) msg_pool.emplace_back();
    Site& m = msg_pool[msg_depth++];
    m = blank;  // copy-assigning keeps the buffers
    return m;
  }

  // Ready for a new step (the containers keep their buffers).
  void reset() {
    stack.handlers.clear();
    frames.clear();
    scale = 1.0;
    leaves.clear();
    static long long steps_begun = 0;  // unique over contexts sharing a store
    step_id = ++steps_begun;
    averages.clear();
    average_leaves.clear();
    training = true;
    marks = nullptr;
  }

  // ---- values ---------------------------------------------------------------------------
  int constant(const double* v, Shape s) { return tape.leaf(Leaf::Constant, v, s); }
  int constant(const Vec& v) { return constant(v.data(), Shape::vec(v.size())); }
  int constant(std::initializer_list<double> v) {
    std::vector<double> x(v);
    return constant(x.data(), Shape::vec(Eigen::Index(x.size())));
  }
  // Data that stays in caller-owned memory for the life of the step (not copied).
  int data(const double* v, Shape s) { return tape.constant_ref(v, s); }
  int scalar(double v) { return tape.scalar(v); }
  CMap value(int node) const { return tape.val(node); }

  // A distribution from the registry's family name and parameter nodes. reparameterized =
  // false asks for a score-function estimator even where pathwise gradients exist.
  DistRef dist(const char* family, std::initializer_list<int> params, bool reparameterized = true) {
    DistRef d;
    d.family = &dist::family(family);
    if (int(params.size()) != d.family->nparams)
      throw Error(std::string("distribution `") + family + "` takes " +
                  std::to_string(d.family->nparams) + " parameters, got " + std::to_string(params.size()));
    for (int p : params) { tape.check_index(p); d.params[d.nparams++] = p; }
    d.has_rsample = reparameterized && d.family->reparam;
    auto is = [&](const char* f) { return std::strcmp(family, f) == 0; };
    d.event_dims = (is("dirichlet") || is("mvnormal")) ? 1 : 0;
    d.vec_param = d.event_dims == 1 || is("categorical_prob") || is("categorical_logit");
    return d;
  }

  // ---- sites ------------------------------------------------------------------------------
  static void check_name(const std::string& name, const char* fn) {
    if (name.empty()) throw Error(std::string("`name` of ") + fn + "() must be a single non-empty string.");
  }

  // A sample site; obs >= 0 makes it observed at that node. Returns the value node.
  int sample(const std::string& name, const DistRef& d, int obs = -1, const InferOptions& infer = {}) {
    check_name(name, "sample_site");
    mark(name);
    if (!d.family) throw Error("`dist` of sample site \"" + name + "\" must be a distribution.");
    MsgLease lease(*this);
    Site& msg = lease.msg;
    msg.name = name;
    msg.kind = SiteKind::Sample;
    msg.dist = d;
    msg.is_observed = obs >= 0;
    msg.value = obs;
    msg.infer = infer;
    msg.scale = scale;
    msg.frames = frames;
    stack.apply(msg, [&](Site& m) { m.value = draw_site(tape, m); });
    return msg.value;
  }

  // A factor: an arbitrary log-density term `log_factor` (on the active plates, like an observed
  // site's), added to the model's log joint. Recorded as an observed site.
  void factor(const std::string& name, int log_factor) {
    record_value_site(name, "factor", SiteKind::Factor, log_factor, scale);
  }

  // A deterministic site: records `value` under `name` (no density, so no scale); returns it.
  int deterministic(const std::string& name, int value) {
    return record_value_site(name, "deterministic", SiteKind::Deterministic, value, 1.0);
  }

  // A site whose value is given (factor, deterministic): recorded through the handlers as an
  // observed site of `kind`.
  int record_value_site(const std::string& name, const char* what, SiteKind kind, int value,
                        double site_scale) {
    check_name(name, what);
    mark(name);
    tape.check_index(value);
    MsgLease lease(*this);
    Site& msg = lease.msg;
    msg.name = name;
    msg.kind = kind;
    msg.is_observed = true;
    msg.value = value;
    msg.scale = site_scale;
    msg.frames = frames;
    stack.apply(msg, [](Site&) {});
    return msg.value;
  }

  // A parameter: its constrained value, created from `init` (constrained space) when the store
  // lacks it; later calls ignore init and constraint. One Input leaf per parameter and step,
  // reading the store's array in place.
  int param(const std::string& name, const double* init, Shape shape, Constraint c = {}) {
    check_name(name, "param");
    mark(name);
    int k = store.find(name);
    int value;
    if (k >= 0 && store.at(k).stamp == step_id) {
      value = store.at(k).handle;
    } else {
      if (k < 0) {
        if (!init) throw Error("Parameter \"" + name + "\" does not exist yet and has no `init`.");
        k = store.create(name, init, shape, c);
      }
      ParamEntry& e = store.at(k);
      int leaf = tape.constant_ref(e.data, e.shape);
      Node& x = tape.node(leaf);
      x.leaf = Leaf::Input;
      x.needs_grad = true;
      const Constraint& ec = e.constraint;
      value = ec.kind == transform::Real ? leaf : transform::apply(tape, ec.kind, 0, leaf, ec.a, ec.b);
      leaves.emplace_back(k, leaf);
      e.stamp = step_id;
      e.handle = value;
    }
    if (!stack.empty()) {
      MsgLease lease(*this);
      Site& msg = lease.msg;
      msg.name = name;
      msg.kind = SiteKind::Param;
      msg.value = value;
      msg.done = true;
      msg.frames = frames;
      stack.apply(msg, [](Site&) {});
    }
    return value;
  }
  int param(const std::string& name, const Vec& init, Constraint c = {}) {
    return param(name, init.data(), Shape::vec(init.size()), c);
  }
  int param(const std::string& name, double init, Constraint c = {}) {
    return param(name, &init, Shape::vec(1), c);
  }

  // A plate: calls body(indices node) with the sites inside it vectorized over a new dim.
  // subsample_size 0 (or >= size) means no subsampling; `subsample` >= 0 gives the indices.
  template <class Body>
  auto plate(const std::string& name, long long size, int subsample_size, Body&& body,
             int subsample = -1) -> decltype(body(0)) {
    check_name(name, "plate");
    mark(name);
    if (size <= 0) throw Error("`size` of plate \"" + name + "\" must be a positive whole number.");
    if (subsample_size < 0) throw Error("`subsample_size` of plate \"" + name + "\" must be a positive whole number.");
    for (const Frame& f : frames)
      if (f.name == name) throw Error("Duplicate plate \"" + name + "\": a plate of that name is already active.");
    MsgLease lease(*this);
    Site& msg = lease.msg;
    msg.name = name;
    msg.kind = SiteKind::Subsample;
    msg.value = subsample;
    msg.size = size;
    msg.subsample_size = subsample_size;
    msg.frames = frames;
    stack.apply(msg, [&](Site& m) { m.value = plate_indices(size, subsample_size); });
    int idx = msg.value;
    int k = int(tape.shape(idx).n);
    if (subsample_size > 0 && subsample_size < size && k != subsample_size)
      throw Error("`subsample_size` does not match the number of indices at plate \"" + name + "\": " +
                  std::to_string(subsample_size) + " vs " + std::to_string(k) +
                  ". Did you use different subsample sizes in the model and the guide?");
    Frame f;
    f.name = name; f.full_size = size; f.size = k; f.dim = int(frames.size()) + 1; f.indices = idx;
    frames.push_back(f);
    struct Restore {
      Context& c; double scale;
      ~Restore() { c.frames.pop_back(); c.scale = scale; }
    } restore{*this, scale};
    scale = scale * (double(size) / double(k));
    return body(idx);
  }

  // 1..size, or a fresh minibatch as sample.int(size, k) draws it (a tape op, redrawn on replay).
  int plate_indices(long long size, int k) {
    if (k <= 0 || k >= size) {
      Vec& all = iota[size];
      if (all.size() != size) {
        all.resize(size);
        for (long long i = 0; i < size; ++i) all[i] = double(i + 1);
      }
      return data(all.data(), Shape::vec(size));
    }
    return subsample(tape, double(size), k);
  }
};

// Sets the current context for the life of a scope.
struct ContextScope {
  Context* old;
  explicit ContextScope(Context& c) : old(current_context()) { current_context() = &c; }
  ~ContextScope() { current_context() = old; }
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;
};

}  // namespace svi
