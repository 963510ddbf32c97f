// Symbolic encoding of one ir::Machine as a flat QF_BV transition system for Z3.
// Every engine (induction, PDR, BMC) and the SMT-LIB emitter share this one encoding, so the
// value semantics of spec/README.md "Values" (32-bit unsigned evaluation, low-bit stores,
// out-of-range array reads 0 / writes no-op, first-matching transition wins) live in one place.
#pragma once

#include <z3++.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir.h"

namespace fsm::proofs {

// One scalar storage cell of the flattened state: a scalar variable or one array element.
struct Slot {
  std::string name;  // "tries", "req[3]"
  uint32_t var = 0;  // index into Machine::vars
  uint32_t elem = 0; // element (0 for scalars)
  bool is_bool = false;
  uint32_t width = 1;  // storage bits (1 for bool)
};

// One symbolic machine state: the state id and one expression per slot.
struct Frame {
  z3::expr state;
  std::vector<z3::expr> slots;
};

// One symbolic input: event id and one bv32 per payload position (Machine::max_params()).
struct Input {
  z3::expr event;
  std::vector<z3::expr> params;
};

// A state predicate to prove: a user invariant, an implicit range invariant, or a helper lemma
// (well-formedness of state/enum encodings, never reported on its own).
struct Claim {
  enum class Kind { User, Range, Helper };
  Kind kind = Kind::User;
  std::string name;
  uint32_t index = 0;  // User: index into Machine::invariants; Range: var index
  std::function<z3::expr(const Frame&)> pred;
};

class Encoder {
 public:
  Encoder(z3::context& c, const ir::Machine& m);

  z3::context& ctx() const { return c_; }
  const ir::Machine& machine() const { return m_; }
  const std::vector<Slot>& slots() const { return slots_; }
  uint32_t state_width() const { return state_w_; }
  uint32_t event_width() const { return event_w_; }
  bool events_empty() const { return m_.events.empty(); }

  // Fresh constants named "<prefix>state", "<prefix>tries", "<prefix>req.3", ...
  Frame make_frame(const std::string& prefix) const;
  // Fresh constants "<prefix>event", "<prefix>p0", ...
  Input make_input(const std::string& prefix) const;
  // All constants of a frame / input, in a fixed order (for substitution and quantifiers).
  z3::expr_vector vars(const Frame& f) const;
  z3::expr_vector vars(const Input& in) const;
  z3::expr_vector vars(const Frame& f, const Input& in) const;
  // The sorts of a frame's constants, in vars() order (for the Reach relation).
  z3::sort_vector frame_sorts() const;

  // The initial state, as a concrete frame.
  Frame init_frame() const;
  // f equals the initial state.
  z3::expr is_init(const Frame& f) const;
  // The event id is valid and its payload fields lie in their domains (unused positions are 0).
  z3::expr input_ok(const Input& in) const;
  // The successor of `s` under `in` (first matching transition; unchanged when none matches).
  Frame next(const Frame& s, const Input& in) const;
  // a == b slot by slot.
  z3::expr equal(const Frame& a, const Frame& b) const;

  // Guard of transition t (true when it has none), over the pre-state and the input.
  z3::expr guard(uint32_t t, const Frame& s, const Input& in) const;
  // A Bool-typed expression of the IR (invariant, goal) over a state.
  z3::expr property(ir::ExprId e, const Frame& s) const;
  // Invariants to prove: user invariants, range_<var>, helper lemmas (in that order).
  std::vector<Claim> claims() const;

  // Human-readable values from a model.
  std::string show_state(const z3::model& mdl, const Frame& f) const;
  std::string show_input(const z3::model& mdl, const Input& in) const;
  uint32_t state_value(const z3::model& mdl, const Frame& f) const;

 private:
  struct Env;  // evaluation context of one expression / statement
  z3::expr eval(ir::ExprId id, Env& env) const;
  z3::expr eval_bool(ir::ExprId id, Env& env) const;
  z3::expr eval_bv(ir::ExprId id, Env& env) const;
  z3::expr quantifier(const ir::Expr& x, Env& env) const;
  void exec_block(ir::BlockId b, Env& env) const;
  void exec(ir::StmtId s, Env& env) const;
  void assign(const ir::Stmt& st, Env& env) const;
  z3::expr load(uint32_t slot, const z3::expr& v) const;   // storage value -> bv32 / Bool
  z3::expr store(uint32_t slot, const z3::expr& v) const;  // bv32 / Bool -> storage value
  z3::expr bv32(uint32_t v) const { return c_.bv_val(v, 32); }
  std::string show_value(const ir::Type& t, uint32_t v) const;

  z3::context& c_;
  const ir::Machine& m_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> base_;  // first slot of each variable
  uint32_t state_w_ = 1;
  uint32_t event_w_ = 1;
};

// Value of a bit-vector or Bool model expression as uint32 (model completion on).
uint32_t model_u32(const z3::model& mdl, const z3::expr& e);
// Width in bits needed to hold values 0..n-1 (at least 1).
uint32_t bits_for(uint64_t n);

}  // namespace fsm::proofs
