// The obligation driver behind `fsmc prove`: for each machine it runs the cheapest engine that
// can settle each obligation (1-induction of the invariant conjunction, plain SAT for guard
// overlaps, BMC witnesses for reachable states, goals and transitions that fire) and falls back
// to IC3/PDR for unbounded answers, then writes the report. Z3 errors are caught here and
// reported as failures.
#include "prover.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "encode.h"
#include "engines.h"

namespace fsm::proofs {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

// One reported obligation.
struct Line {
  bool ok = false;
  std::string what;    // "invariant tries_bounded"
  std::string method;  // "k-induction", "pdr", "bmc, 3 steps", ...
  double secs = 0;
  std::vector<std::string> details;  // indented lines below (counterexamples)
};

struct Tally {
  uint32_t ok = 0, total = 0;
  void add(bool good) { ++total; ok += good ? 1 : 0; }
  std::string str() const { return std::to_string(ok) + "/" + std::to_string(total); }
};

class MachineProver {
 public:
  MachineProver(const ir::Machine& m, const Options& opt, const ir::System* sys = nullptr)
      : m_(m), opt_(opt), sys_(sys), enc_(ctx_, m) {}

  // Runs every obligation; returns true iff all hold. Appends the machine's report to `out`.
  bool run(std::string& out) {
    Clock::time_point t0 = Clock::now();
    out += std::string(sys_ ? "system " : "machine ") + m_.name + " (" + m_.spec_path + ")\n";
    bool error = false;
    try {
      invariants();
      if (!sys_) guards();  // a system's handlers are its instances' (proved there)
      reachability();
    } catch (const z3::exception& e) {
      error = true;
      lines_.push_back({false, "error: z3: " + std::string(e.msg()), "", 0, {}});
    } catch (const std::exception& e) {
      error = true;
      lines_.push_back({false, "error: " + std::string(e.what()), "", 0, {}});
    }
    bool all = !error && inv_.ok == inv_.total && states_.ok == states_.total && goals_.ok == goals_.total &&
               pairs_.ok == pairs_.total && fires_.ok == fires_.total;
    for (const Line& l : lines_) {
      std::string what = l.what;
      if (what.size() < 40) what.resize(40, ' ');
      out += std::string("  ") + (l.ok ? "proved   " : "FAILED   ") + what;
      if (!l.method.empty()) out += " [" + l.method + "] " + seconds(l.secs);
      out += "\n";
      for (const std::string& d : l.details) out += "    " + d + "\n";
    }
    if (sys_) {
      out += "summary " + m_.name + ": " + inv_.str() + " invariants, " + goals_.str() + " goals, " +
             (all ? "proved" : "FAILED") + ", " + seconds(since(t0)) + "\n";
      return all;
    }
    out += "summary " + m_.name + ": " + inv_.str() + " invariants, " + states_.str() + " states reachable, " +
           goals_.str() + " goals, " + pairs_.str() + " guard pairs exclusive, " + fires_.str() + " transitions fire, " + (all ? "proved" : "FAILED") +
           ", " + seconds(since(t0)) + "\n";
    return all;
  }

 private:
  Bmc& bmc() {
    if (!bmc_) {
      bmc_.emplace(enc_, opt_.timeout_ms);
      for (const Claim* k : known()) bmc_->assume(*k);
    }
    return *bmc_;
  }

  // Appends the shortest trace from the initial state into `target`, or says there is none.
  void explain(Line& l, const Target& target, bool show_event) {
    bool gave_up = false;
    std::vector<std::optional<Bmc::Witness>> w = bmc().search({target}, opt_.bmc_depth, gave_up);
    if (!w[0]) {
      l.details.push_back(gave_up ? "no counterexample found: bounded search timed out"
                                  : "no counterexample within " + std::to_string(opt_.bmc_depth) + " steps");
      return;
    }
    l.details.push_back("counterexample (" + std::to_string(w[0]->steps) + " steps):");
    for (size_t i = 0; i < w[0]->trace.size(); ++i)
      l.details.push_back("  " + std::to_string(i + 1) + ". " + (sys_ ? strip_state(w[0]->trace[i]) : w[0]->trace[i]));
    // A system has one product state: its instances' states are variables "i.state".
    l.details.push_back("state: " + (sys_ ? after_first_word(w[0]->state) : w[0]->state));
    if (show_event) l.details.push_back("event: " + w[0]->input);
  }

  static std::string strip_state(const std::string& step) {
    size_t k = step.rfind(" -> ");
    return k == std::string::npos ? step : step.substr(0, k);
  }
  static std::string after_first_word(const std::string& st) {
    size_t k = st.find(' ');
    return k == std::string::npos ? std::string() : st.substr(k + 1);
  }

  std::string unknown() const {
    return "pdr: unknown, time limit " + std::to_string(opt_.timeout_ms) + " ms";
  }

  void mark_proven(size_t i) {
    proven_[i] = true;
    if (bmc_) bmc_->assume(claims_[i]);
  }

  std::vector<const Claim*> known() const {
    std::vector<const Claim*> k;
    for (size_t i = 0; i < claims_.size(); ++i)
      if (proven_[i]) k.push_back(&claims_[i]);
    return k;
  }

  void invariants() {
    claims_ = enc_.claims();
    // A system's instance invariants (after its reported ones) are lemmas: used when proven,
    // never reported.
    if (sys_)
      for (Claim& cl : claims_)
        if (cl.kind == Claim::Kind::User && cl.index >= sys_->reported_invariants) cl.kind = Claim::Kind::Helper;
    proven_.assign(claims_.size(), false);
    Clock::time_point t0 = Clock::now();
    std::vector<bool> init = hold_initially(enc_, claims_, opt_.timeout_ms);
    std::vector<size_t> cand;
    for (size_t i = 0; i < claims_.size(); ++i)
      if (init[i]) cand.push_back(i);
    bool complete = true;
    for (size_t i : inductive_subset(enc_, claims_, cand, opt_.timeout_ms, complete)) mark_proven(i);
    double ind_secs = since(t0);

    for (size_t i = 0; i < claims_.size(); ++i) {
      const Claim& cl = claims_[i];
      if (cl.kind == Claim::Kind::Helper) continue;
      Line l;
      l.what = "invariant " + cl.name;
      Target violated = [&cl](const Frame& s, const Input&) { return !cl.pred(s); };
      if (!init[i]) {
        l.method = "initial state";
        explain(l, violated, false);
      } else if (proven_[i]) {
        l.ok = true;
        l.method = "k-induction";
        l.secs = ind_secs;
      } else {
        Clock::time_point t1 = Clock::now();
        Answer a = pdr_reachable(enc_, violated, known(), opt_.timeout_ms);
        l.secs = since(t1);
        l.method = "pdr";
        if (a == Answer::No) {
          l.ok = true;
          mark_proven(i);
        } else {
          if (a == Answer::Unknown) l.method = unknown();
          explain(l, violated, false);
        }
      }
      inv_.add(l.ok);
      lines_.push_back(std::move(l));
    }
  }

  void guards() {
    Frame s = enc_.make_frame("g.");
    Input in = enc_.make_input("g.in.");
    z3::solver sol = make_solver(ctx_);
    configure(sol, opt_.timeout_ms);
    sol.add(enc_.input_ok(in));
    for (const Claim* k : known()) sol.add(k->pred(s));
    for (uint32_t st = 0; st < m_.states.size(); ++st) {
      for (uint32_t ev = 0; ev < m_.events.size(); ++ev) {
        const ir::Handler& h = m_.handler(st, ev);
        if (h.kind != ir::HandlerKind::Handle) continue;
        for (size_t i = 0; i < h.transitions.size(); ++i) {
          for (size_t j = i + 1; j < h.transitions.size(); ++j) pair(sol, st, ev, h.transitions[i], h.transitions[j], s, in);
        }
      }
    }
  }

  void pair(z3::solver& sol, uint32_t st, uint32_t ev, uint32_t ti, uint32_t tj, const Frame& s, const Input& in) {
    const ir::Transition& a = m_.transitions[ti];
    const ir::Transition& b = m_.transitions[tj];
    Line l;
    l.what = "exclusive " + m_.states[st].name + "." + m_.events[ev].name + " #" + std::to_string(a.id) + " (line " +
             std::to_string(a.loc.line) + ") / #" + std::to_string(b.id) + " (line " + std::to_string(b.loc.line) + ")";
    Target overlap = [this, st, ev, ti, tj](const Frame& f, const Input& e) {
      return enc_.input_ok(e) && f.state == ctx_.bv_val(st, enc_.state_width()) &&
             e.event == ctx_.bv_val(ev, enc_.event_width()) && enc_.guard(ti, f, e) && enc_.guard(tj, f, e);
    };
    Clock::time_point t0 = Clock::now();
    sol.push();
    sol.add(overlap(s, in));
    z3::check_result r = sol.check();
    sol.pop();
    if (r == z3::unsat) {
      l.ok = true;
      l.method = "sat";
      l.secs = since(t0);
    } else {
      Answer ans = pdr_reachable(enc_, overlap, known(), opt_.timeout_ms);
      l.secs = since(t0);
      l.ok = ans == Answer::No;
      l.method = ans == Answer::Unknown ? unknown() : "pdr";
      if (!l.ok) explain(l, overlap, true);
    }
    pairs_.add(l.ok);
    lines_.push_back(std::move(l));
  }

  // Explains an unreachable state (target i < states) or goal: no trace can exist, so list what
  // would have to happen instead.
  void unreachable(Line& l, size_t i) {
    l.details.push_back("unreachable: no reachable state satisfies it, so there is no trace to show");
    if (sys_ || i >= m_.states.size()) return;
    std::vector<std::string> into;
    for (const ir::Transition& t : m_.transitions)
      if (t.target == i && t.state != i)
        into.push_back("#" + std::to_string(t.id) + " " + m_.states[t.state].name + "." + m_.events[t.event].name +
                       " (line " + std::to_string(t.loc.line) + ")");
    if (into.empty()) {
      l.details.push_back("no transition leads to it");
      return;
    }
    l.details.push_back("transitions into it, none of which is ever taken:");
    for (const std::string& t : into) l.details.push_back("  " + t);
  }

  // Transition t is the one taken: its state and event, its guard, and no earlier transition of
  // the same handler matching first (the encoding's first-match semantics).
  z3::expr fires(uint32_t t, const Frame& f, const Input& e) {
    const ir::Transition& tr = m_.transitions[t];
    z3::expr x = enc_.input_ok(e) && f.state == ctx_.bv_val(tr.state, enc_.state_width()) &&
                 e.event == ctx_.bv_val(tr.event, enc_.event_width()) && enc_.guard(t, f, e);
    for (uint32_t u : m_.handler(tr.state, tr.event).transitions) {
      if (u == t) break;
      x = x && !enc_.guard(u, f, e);
    }
    return x;
  }

  std::string transition_name(uint32_t t) const {
    const ir::Transition& tr = m_.transitions[t];
    return "#" + std::to_string(tr.id) + " " + m_.states[tr.state].name + "." + m_.events[tr.event].name + " (line " +
           std::to_string(tr.loc.line) + ")";
  }

  // Explains a transition that is never taken. Why: its state is unreachable, the proven
  // invariants exclude its guard there (`by_invariants`), or PDR found a stronger invariant.
  void never_fires(Line& l, uint32_t t, bool state_unreachable, bool by_invariants) {
    const std::string st = m_.states[m_.transitions[t].state].name;
    l.details.push_back("unreachable: no reachable state and event take it, so there is no trace to show");
    if (state_unreachable)
      l.details.push_back("its state " + st + " is unreachable");
    else if (by_invariants)
      l.details.push_back("the proven invariants rule out its guard in state " + st);
    else
      l.details.push_back("its guard (with no earlier transition of the handler matching) holds in no reachable " +
                          st + " state");
  }

  // Reachable states, goals, and fired transitions: one target list, so one BMC search (whose
  // models usually cover many targets at once) serves all three.
  void reachability() {
    std::vector<Target> targets;
    std::vector<std::string> names;
    const size_t nstates = sys_ ? 0 : m_.states.size();
    // A system proves its goals only: its states and transitions are its instances'.
    for (uint32_t st = 0; st < (sys_ ? 0u : m_.states.size()); ++st) {
      targets.push_back([this, st](const Frame& f, const Input&) {
        return f.state == ctx_.bv_val(st, enc_.state_width());
      });
      names.push_back("reachable state " + m_.states[st].name);
    }
    for (const ir::Property& p : m_.reachables) {
      ir::ExprId e = p.expr;
      targets.push_back([this, e](const Frame& f, const Input&) { return enc_.property(e, f); });
      names.push_back("reachable goal " + p.name);
    }
    const size_t first_tr = targets.size();
    std::vector<uint32_t> trs;  // transition index of target first_tr + j
    for (uint32_t st = 0; st < (sys_ ? 0u : m_.states.size()); ++st) {
      for (uint32_t ev = 0; ev < m_.events.size(); ++ev) {
        const ir::Handler& h = m_.handler(st, ev);
        if (h.kind != ir::HandlerKind::Handle) continue;
        for (uint32_t t : h.transitions) {
          trs.push_back(t);
          targets.push_back([this, t](const Frame& f, const Input& e) { return fires(t, f, e); });
          names.push_back("reachable transition " + transition_name(t));
        }
      }
    }
    // Cheap first: a state or goal whose negation is inductive relative to the proven invariants
    // is unreachable; a transition is never taken if its state is (then) unreachable or the
    // proven invariants exclude it. The rest are searched by BMC, and what BMC cannot reach goes
    // to PDR.
    std::vector<double> refuted(targets.size(), -1);
    std::vector<bool> dead_state(targets.size(), false);
    std::vector<Target> open;
    std::vector<size_t> open_idx;
    Frame g = enc_.make_frame("f.");
    Input gin = enc_.make_input("f.in.");
    z3::solver sol = make_solver(ctx_);
    configure(sol, opt_.timeout_ms);
    for (const Claim* k : known()) sol.add(k->pred(g));
    for (size_t i = 0; i < targets.size(); ++i) {
      Clock::time_point t0 = Clock::now();
      const Target& t = targets[i];
      if (i >= first_tr) {
        uint32_t st = m_.transitions[trs[i - first_tr]].state;
        if (refuted[st] >= 0) {
          dead_state[i] = true;
          refuted[i] = since(t0);
          continue;
        }
        sol.push();
        sol.add(t(g, gin));
        z3::check_result r = sol.check();
        sol.pop();
        if (r == z3::unsat) {
          refuted[i] = since(t0);
          continue;
        }
      } else {
        Input none = enc_.make_input("r.in.");
        auto never = [&t, &none](const Frame& f) { return !t(f, none); };
        if (relatively_inductive(enc_, never, known(), opt_.timeout_ms) == Answer::Yes) {
          refuted[i] = since(t0);
          continue;
        }
      }
      open.push_back(t);
      open_idx.push_back(i);
    }
    bool gave_up = false;
    std::vector<std::optional<Bmc::Witness>> found(targets.size());
    std::vector<std::optional<Bmc::Witness>> hits = bmc().search(open, opt_.bmc_depth, gave_up);
    for (size_t j = 0; j < open.size(); ++j) found[open_idx[j]] = hits[j];
    std::vector<bool> state_dead(m_.states.size(), false);
    for (size_t i = 0; i < targets.size(); ++i) {
      Line l;
      l.what = names[i];
      bool is_tr = i >= first_tr;
      uint32_t tr = is_tr ? trs[i - first_tr] : 0;
      if (refuted[i] >= 0) {
        l.method = dead_state[i] ? "state unreachable" : "induction";
        l.secs = refuted[i];
        if (is_tr) never_fires(l, tr, dead_state[i], !dead_state[i]);
        else unreachable(l, i);
      } else if (found[i]) {
        l.ok = true;
        l.method = "bmc, " + std::to_string(found[i]->steps) + " steps";
        l.secs = found[i]->secs;
      } else if (is_tr && state_dead[m_.transitions[tr].state]) {
        l.method = "state unreachable";
        never_fires(l, tr, true, false);
      } else {
        Clock::time_point t0 = Clock::now();
        Answer a = pdr_reachable(enc_, targets[i], known(), opt_.timeout_ms);
        l.secs = since(t0);
        l.ok = a == Answer::Yes;
        l.method = a == Answer::Unknown ? unknown() : "pdr";
        if (a == Answer::No) {
          if (is_tr) never_fires(l, tr, false, false);
          else unreachable(l, i);
        }
      }
      if (i < nstates && refuted[i] >= 0) state_dead[i] = true;
      if (i < nstates && !l.ok && l.method == "pdr") state_dead[i] = true;
      (is_tr ? fires_ : i < nstates ? states_ : goals_).add(l.ok);
      lines_.push_back(std::move(l));
    }
  }

  const ir::Machine& m_;
  const Options& opt_;
  const ir::System* sys_;  // proving a system's product machine
  z3::context ctx_;
  Encoder enc_;
  std::optional<Bmc> bmc_;
  std::vector<Claim> claims_;
  std::vector<bool> proven_;
  std::vector<Line> lines_;
  Tally inv_, states_, goals_, pairs_, fires_;
};

}  // namespace

bool prove(const ir::Module& m, const Options& opt, std::string& out) {
  Clock::time_point t0 = Clock::now();
  uint32_t failed = 0;
  for (const ir::Machine& mc : m.machines) {
    bool ok = false;
    try {
      MachineProver p(mc, opt);
      ok = p.run(out);
    } catch (const std::exception& e) {  // z3::exception derives from std::exception
      out += "machine " + mc.name + ": error: " + e.what() + "\n";
      out += "summary " + mc.name + ": FAILED\n";
    }
    failed += ok ? 0 : 1;
  }
  for (const ir::System& sy : m.systems) {
    bool ok = false;
    try {
      MachineProver p(sy.product, opt, &sy);
      ok = p.run(out);
    } catch (const std::exception& e) {
      out += "system " + sy.name + ": error: " + e.what() + "\n";
      out += "summary " + sy.name + ": FAILED\n";
    }
    failed += ok ? 0 : 1;
  }
  out += "total: " + std::to_string(m.machines.size()) + " machines, ";
  if (!m.systems.empty()) out += std::to_string(m.systems.size()) + " systems, ";
  out += failed == 0 ? "all proved" : std::to_string(failed) + " FAILED";
  out += " in " + seconds(since(t0)) + "\n";
  return failed == 0;
}

}  // namespace fsm::proofs
