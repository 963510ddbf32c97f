// Inductive strengthening, relative induction and incremental BMC (see engines.h).
// All solvers get fixed random seeds and the caller's per-query time limit so that results and
// counterexamples are the same run to run.
#include "engines.h"

#include <chrono>

namespace fsm::proofs {

z3::solver make_solver(z3::context& c) {
  // QF_FD selects Z3's incremental SAT solver with bit-blasting (it supports assumptions and
  // unsat cores); on our systems it is 10-100x faster than the default SMT core.
  return z3::solver(c, "QF_FD");
}

void configure(z3::solver& s, uint32_t timeout_ms) {
  z3::params p(s.ctx());
  p.set("timeout", timeout_ms);
  p.set("random_seed", 0u);
  s.set(p);
}

std::vector<bool> hold_initially(const Encoder& enc, const std::vector<Claim>& claims, uint32_t timeout_ms) {
  Frame init = enc.init_frame();
  std::vector<bool> out;
  for (const Claim& cl : claims) {
    z3::expr v = cl.pred(init).simplify();
    if (v.is_true() || v.is_false()) {
      out.push_back(v.is_true());
      continue;
    }
    z3::solver s = make_solver(enc.ctx());
    configure(s, timeout_ms);
    s.add(!v);
    out.push_back(s.check() == z3::unsat);
  }
  return out;
}

std::vector<size_t> inductive_subset(const Encoder& enc, const std::vector<Claim>& claims,
                                     std::vector<size_t> cand, uint32_t timeout_ms, bool& complete) {
  complete = true;
  z3::context& c = enc.ctx();
  Frame s = enc.make_frame("ind.");
  Input in = enc.make_input("ind.in.");
  Frame n = enc.next(s, in);
  std::vector<z3::expr> pre, post;
  for (const Claim& cl : claims) {
    pre.push_back(cl.pred(s));
    post.push_back(cl.pred(n));
  }
  z3::solver sol = make_solver(c);
  configure(sol, timeout_ms);
  sol.add(enc.input_ok(in));
  while (!cand.empty()) {
    sol.push();
    z3::expr some_broken = c.bool_val(false);
    for (size_t i : cand) {
      sol.add(pre[i]);
      some_broken = some_broken || !post[i];
    }
    sol.add(some_broken);
    z3::check_result r = sol.check();
    if (r == z3::unsat) {
      sol.pop();
      break;
    }
    if (r == z3::unknown) {
      sol.pop();
      complete = false;
      cand.clear();
      break;
    }
    z3::model mdl = sol.get_model();
    std::vector<size_t> keep;
    for (size_t i : cand)
      if (mdl.eval(post[i], true).is_true()) keep.push_back(i);
    sol.pop();
    cand = std::move(keep);
  }
  return cand;
}

Answer relatively_inductive(const Encoder& enc, const std::function<z3::expr(const Frame&)>& pred,
                            const std::vector<const Claim*>& known, uint32_t timeout_ms) {
  z3::expr at_init = pred(enc.init_frame()).simplify();
  if (!at_init.is_true()) return Answer::No;  // not provable this way (or false initially)
  Frame s = enc.make_frame("rel.");
  Input in = enc.make_input("rel.in.");
  z3::solver sol = make_solver(enc.ctx());
  configure(sol, timeout_ms);
  sol.add(enc.input_ok(in));
  for (const Claim* k : known) sol.add(k->pred(s));
  sol.add(pred(s));
  sol.add(!pred(enc.next(s, in)));
  switch (sol.check()) {
    case z3::unsat: return Answer::Yes;
    case z3::sat: return Answer::No;
    default: return Answer::Unknown;
  }
}

// ---- BMC ------------------------------------------------------------------------------------

Bmc::Bmc(const Encoder& enc, uint32_t timeout_ms)
    : enc_(enc),
      timeout_ms_(timeout_ms),
      solver_(make_solver(enc.ctx())),
      tmpl_(enc.make_frame("bmc.t.")),
      tmpl_in_(enc.make_input("bmc.t.in.")),
      tmpl_next_(enc.next(tmpl_, tmpl_in_)) {
  configure(solver_, timeout_ms);
  frames_.push_back(enc.make_frame("bmc0."));
  inputs_.push_back(enc.make_input("bmc0.in."));
  solver_.add(enc.is_init(frames_[0]));
}

void Bmc::assume(const Claim& lemma) {
  lemmas_.push_back(&lemma);
  for (const Frame& f : frames_) solver_.add(lemma.pred(f));
}

void Bmc::extend() {
  size_t k = frames_.size() - 1;
  std::string pre = "bmc" + std::to_string(k + 1) + ".";
  frames_.push_back(enc_.make_frame(pre));
  inputs_.push_back(enc_.make_input(pre + "in."));
  z3::expr_vector from = enc_.vars(tmpl_, tmpl_in_);
  z3::expr_vector to = enc_.vars(frames_[k], inputs_[k]);
  solver_.add(enc_.input_ok(inputs_[k]));
  const Frame& nx = frames_[k + 1];
  for (const Claim* l : lemmas_) solver_.add(l->pred(nx));
  solver_.add(nx.state == z3::expr(tmpl_next_.state).substitute(from, to));
  for (size_t i = 0; i < nx.slots.size(); ++i)
    solver_.add(nx.slots[i] == z3::expr(tmpl_next_.slots[i]).substitute(from, to));
}

std::vector<std::optional<Bmc::Witness>> Bmc::search(const std::vector<Target>& targets, uint32_t max_depth,
                                                     bool& gave_up) {
  gave_up = false;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::optional<Witness>> out(targets.size());
  std::vector<size_t> open;
  for (size_t i = 0; i < targets.size(); ++i) open.push_back(i);
  z3::context& c = enc_.ctx();
  for (uint32_t k = 0; k <= max_depth && !open.empty(); ++k) {
    while (frames_.size() <= k) extend();
    std::vector<z3::expr> goals;
    for (size_t i = 0; i < targets.size(); ++i) goals.push_back(targets[i](frames_[k], inputs_[k]));
    while (!open.empty()) {
      solver_.push();
      z3::expr any = c.bool_val(false);
      for (size_t i : open) any = any || goals[i];
      solver_.add(any);
      double left_ms = timeout_ms_ - 1000 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      z3::check_result r = z3::unknown;
      if (left_ms >= 1) {
        configure(solver_, static_cast<uint32_t>(left_ms));
        r = solver_.check();
      }
      if (r != z3::sat) {
        solver_.pop();
        if (r == z3::unknown) {
          gave_up = true;
          return out;
        }
        break;
      }
      z3::model mdl = solver_.get_model();
      Witness w;
      w.steps = k;
      w.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (uint32_t j = 0; j < k; ++j) {
        uint32_t st = enc_.state_value(mdl, frames_[j + 1]);
        const auto& states = enc_.machine().states;
        w.trace.push_back(enc_.show_input(mdl, inputs_[j]) + " -> " +
                          (st < states.size() ? states[st].name : "?"));
      }
      w.state = enc_.show_state(mdl, frames_[k]);
      w.input = enc_.show_input(mdl, inputs_[k]);
      std::vector<size_t> still;
      for (size_t i : open) {
        if (mdl.eval(goals[i], true).is_true()) out[i] = w;
        else still.push_back(i);
      }
      solver_.pop();
      if (still.size() == open.size()) break;  // cannot happen with model completion; never spin
      open = std::move(still);
    }
  }
  return out;
}

}  // namespace fsm::proofs
