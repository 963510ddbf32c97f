// A bit-level IC3/PDR engine over the Encoder's transition system, using Z3 as the incremental
// SAT solver. It exists because Z3 4.8.12's Spacer times out (> 60 s) on the bit-vector systems
// of our specs, while IC3 with unsat-core generalisation over individual state bits settles the
// same queries in well under a second. Answers "is some reachable state in `bad`?".
#include <algorithm>
#include <chrono>
#include <queue>
#include <string>

#include "engines.h"

namespace fsm::proofs {

namespace {

using Clock = std::chrono::steady_clock;
using Cube = std::vector<uint32_t>;  // sorted literals: 2 * bit + value

struct Timeout {};  // thrown when the time limit is reached

class Pdr {
 public:
  Pdr(const Encoder& enc, const Target& bad, const std::vector<const Claim*>& known, uint32_t timeout_ms)
      : enc_(enc),
        c_(enc.ctx()),
        s_(enc.make_frame("pdr.")),
        n_(enc.make_frame("pdr.n.")),
        in_(enc.make_input("pdr.in.")),
        trans_(c_),
        bad_(bad(s_, in_)),
        defs_(c_),
        lift_(make_solver(c_)),
        deadline_(Clock::now() + std::chrono::milliseconds(timeout_ms)) {
    build_bits();
    z3::expr t = enc.events_empty() ? enc.equal(n_, s_) : enc.input_ok(in_) && enc.equal(n_, enc.next(s_, in_));
    for (const Claim* k : known) t = t && k->pred(s_) && k->pred(n_);
    trans_ = t;
    new_solver(lift_);
  }

  Answer run() {
    try {
      // Depth 0: the initial state itself.
      z3::solver s0 = make_solver(c_);
      configure(s0, remaining());
      s0.add(enc_.is_init(s_) && bad_);
      if (check(s0) == z3::sat) return Answer::Yes;
      frames_.push_back(make_frame_solver(true));   // F0 = Init
      frames_.push_back(make_frame_solver(false));  // F1
      lemmas_.resize(2);
      for (uint32_t k = 1;; ++k) {
        if (!block_bad(k)) return Answer::Yes;
        frames_.push_back(make_frame_solver(false));
        lemmas_.resize(k + 2);
        if (propagate(k)) return Answer::No;
      }
    } catch (const Timeout&) {
      return Answer::Unknown;
    } catch (const z3::exception&) {
      if (Clock::now() >= deadline_) return Answer::Unknown;
      throw;
    }
  }

 private:
  // One Boolean per state bit, for the current (s) and next (n) frame, defined in every solver.
  void build_bits() {
    auto add = [&](const z3::expr& cur, const z3::expr& nxt, uint32_t width, bool is_bool, uint64_t init) {
      for (uint32_t b = 0; b < width; ++b) {
        std::string id = std::to_string(cur_.size());
        z3::expr a = c_.bool_const(("pdr.b" + id).c_str());
        z3::expr a2 = c_.bool_const(("pdr.nb" + id).c_str());
        z3::expr one = c_.bv_val(1, 1);
        defs_.push_back(a == (is_bool ? cur : cur.extract(b, b) == one));
        defs_.push_back(a2 == (is_bool ? nxt : nxt.extract(b, b) == one));
        cur_.push_back(a);
        next_.push_back(a2);
        init_.push_back(((init >> b) & 1) != 0);
      }
    };
    Frame init = enc_.init_frame();
    auto value = [](const z3::expr& e) {
      if (e.is_bool()) return uint64_t{e.is_true() ? 1u : 0u};
      uint64_t v = 0;
      e.is_numeral_u64(v);
      return v;
    };
    add(s_.state, n_.state, enc_.state_width(), false, value(init.state));
    for (size_t i = 0; i < s_.slots.size(); ++i) {
      const Slot& sl = enc_.slots()[i];
      add(s_.slots[i], n_.slots[i], sl.width, sl.is_bool, value(init.slots[i]));
    }
  }

  uint32_t remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    if (left <= 0) throw Timeout{};
    return static_cast<uint32_t>(left);
  }

  z3::check_result check(z3::solver& s, const z3::expr_vector& assumptions) {
    configure(s, remaining());
    z3::check_result r = s.check(assumptions);
    if (r == z3::unknown) throw Timeout{};
    return r;
  }
  z3::check_result check(z3::solver& s) {
    z3::expr_vector none(c_);
    return check(s, none);
  }

  void new_solver(z3::solver& s) {
    for (const z3::expr& d : defs_) s.add(d);
    s.add(trans_);
  }

  z3::solver make_frame_solver(bool initial) {
    z3::solver s = make_solver(c_);
    new_solver(s);
    if (initial) s.add(enc_.is_init(s_));
    return s;
  }

  z3::expr lit(uint32_t l, bool next) const {
    const z3::expr& a = (next ? next_ : cur_)[l / 2];
    return (l & 1) ? a : !a;
  }
  z3::expr_vector lits(const Cube& c, bool next) const {
    z3::expr_vector v(c_);
    for (uint32_t l : c) v.push_back(lit(l, next));
    return v;
  }
  z3::expr clause(const Cube& c) const {  // ¬c over the current frame
    z3::expr r = c_.bool_val(false);
    for (uint32_t l : c) r = r || !lit(l, false);
    return r;
  }
  Cube cube_of(const z3::model& m) const {
    Cube c;
    for (uint32_t b = 0; b < cur_.size(); ++b) c.push_back(2 * b + (m.eval(cur_[b], true).is_true() ? 1 : 0));
    return c;
  }
  bool meets_init(const Cube& c) const {
    for (uint32_t l : c)
      if (init_[l / 2] != ((l & 1) != 0)) return false;
    return true;
  }
  // The literals of `c` that appear in an unsat core (over the literals' expressions).
  Cube from_core(const Cube& c, const z3::expr_vector& core, bool next) const {
    Cube out;
    for (uint32_t l : c) {
      z3::expr e = lit(l, next);
      for (const z3::expr& k : core)
        if (z3::eq(k, e)) {
          out.push_back(l);
          break;
        }
    }
    return out;
  }
  z3::expr fresh_act() { return c_.bool_const(("pdr.act" + std::to_string(acts_++)).c_str()); }

  // Shrinks a state cube `p` whose every state, under the model's input, satisfies `goal`.
  Cube lift(const Cube& p, const z3::model& m, const z3::expr& not_goal) {
    z3::expr act = fresh_act();
    z3::expr fix = c_.bool_val(true);
    for (const z3::expr& v : enc_.vars(in_)) fix = fix && v == m.eval(v, true);
    lift_.add(z3::implies(act, fix && not_goal));
    z3::expr_vector as = lits(p, false);
    as.push_back(act);
    z3::check_result r = check(lift_, as);
    Cube out = p;
    if (r == z3::unsat) out = from_core(p, lift_.unsat_core(), false);
    lift_.add(!act);
    if (out.empty() || meets_init(out) != meets_init(p)) return p;  // keep init-ness exact
    return out;
  }

  // Finds and blocks every bad state in F_k; false if one is reachable.
  bool block_bad(uint32_t k) {
    z3::expr act = fresh_act();
    frames_[k].add(z3::implies(act, bad_));
    for (;;) {
      z3::expr_vector as(c_);
      as.push_back(act);
      if (check(frames_[k], as) == z3::unsat) break;
      z3::model m = frames_[k].get_model();
      Cube c = lift(cube_of(m), m, !bad_);
      if (!block(c, k)) return false;
    }
    frames_[k].add(!act);
    return true;
  }

  // Is ¬c inductive relative to F_{i-1}: F_{i-1} ∧ ¬c ∧ T ⇒ ¬c'? On success `core` shrinks c.
  bool rel_inductive(const Cube& c, uint32_t i, Cube* core, z3::model* pred) {
    z3::solver& s = frames_[i - 1];
    z3::expr act = fresh_act();
    s.add(z3::implies(act, clause(c)));
    z3::expr_vector as = lits(c, true);
    as.push_back(act);
    z3::check_result r = check(s, as);
    if (r == z3::sat) {
      if (pred) *pred = s.get_model();
    } else if (core) {
      *core = from_core(c, s.unsat_core(), true);
    }
    s.add(!act);
    return r == z3::unsat;
  }

  // Shrinks a blocked cube: unsat core, then drop literals one at a time while still inductive.
  Cube generalize(Cube c, uint32_t i) {
    for (size_t j = 0; j < c.size() && c.size() > 1;) {
      Cube d = c;
      d.erase(d.begin() + static_cast<long>(j));
      Cube core;
      if (!meets_init(d) && rel_inductive(d, i, &core, nullptr)) {
        if (!core.empty() && !meets_init(core)) d = core;
        c = d;
        if (j >= c.size()) break;
      } else {
        ++j;
      }
    }
    return c;
  }

  void add_lemma(const Cube& c, uint32_t level) {
    for (uint32_t j = 1; j <= level && j < frames_.size(); ++j) frames_[j].add(clause(c));
    lemmas_[std::min<size_t>(level, lemmas_.size() - 1)].push_back(c);
  }

  bool block(const Cube& bad_cube, uint32_t k) {
    struct Pob {
      Cube cube;
      uint32_t level;
      uint64_t seq;
      bool operator>(const Pob& o) const { return level != o.level ? level > o.level : seq > o.seq; }
    };
    std::priority_queue<Pob, std::vector<Pob>, std::greater<Pob>> q;
    uint64_t seq = 0;
    q.push({bad_cube, k, seq++});
    while (!q.empty()) {
      Pob p = q.top();
      if (p.level == 0) return false;  // the obligation chain reaches the initial state
      // Already blocked in F_level?
      if (check(frames_[p.level], lits(p.cube, false)) == z3::unsat) {
        q.pop();
        continue;
      }
      Cube core;
      z3::model m(c_);
      if (rel_inductive(p.cube, p.level, &core, &m)) {
        q.pop();
        Cube g = core.empty() || meets_init(core) ? p.cube : core;
        g = generalize(g, p.level);
        uint32_t level = p.level;
        while (level < k && rel_inductive(g, level + 1, nullptr, nullptr)) ++level;
        add_lemma(g, level);
        if (level < k) q.push({p.cube, level + 1, seq++});
      } else {
        Cube pred = cube_of(m);
        if (meets_init(pred) && p.level == 1) return false;
        z3::expr goal = c_.bool_val(true);
        for (uint32_t l : p.cube) goal = goal && lit(l, true);
        q.push({lift(pred, m, !goal), p.level - 1, seq++});
      }
    }
    return true;
  }

  // Pushes lemmas forward; true when two consecutive frames are equal (an inductive invariant).
  bool propagate(uint32_t k) {
    for (uint32_t i = 1; i <= k; ++i) {
      std::vector<Cube> stay;
      for (const Cube& c : lemmas_[i]) {
        if (check(frames_[i], lits(c, true)) == z3::unsat) {
          frames_[i + 1].add(clause(c));
          lemmas_[i + 1].push_back(c);
        } else {
          stay.push_back(c);
        }
      }
      lemmas_[i] = std::move(stay);
      if (lemmas_[i].empty()) return true;
    }
    return false;
  }

  const Encoder& enc_;
  z3::context& c_;
  Frame s_, n_;
  Input in_;
  z3::expr trans_;
  z3::expr bad_;
  z3::expr_vector defs_;
  std::vector<z3::expr> cur_, next_;
  std::vector<bool> init_;
  std::vector<z3::solver> frames_;
  std::vector<std::vector<Cube>> lemmas_;  // lemmas_[i]: clauses that hold in F_1..F_i exactly
  z3::solver lift_;
  uint64_t acts_ = 0;
  Clock::time_point deadline_;
};

}  // namespace

Answer pdr_reachable(const Encoder& enc, const Target& bad, const std::vector<const Claim*>& known,
                     uint32_t timeout_ms) {
  return Pdr(enc, bad, known, timeout_ms).run();
}

}  // namespace fsm::proofs
