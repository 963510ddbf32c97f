// The machine IR: the one checked form of a spec that every back end reads.
//
// The front end (lexer -> parser -> checker) produces an ir::Module; the C++, SMT, DOT,
// table, RapidCheck and fuzz emitters, the prover and the reference interpreter read only
// this. Postcondition of the checker (what every back end may rely on):
//   - every name is resolved to an index; every expression has a scalar type;
//   - handlers[s * events.size() + e] exists for every (state, event) pair;
//   - ExprId/StmtId/BlockId indices are valid; quantifier and loop bounds are constants lo <= hi;
//   - all containers are in declaration order, so iteration is deterministic.
// Value semantics (shared with runtime/fsm/fsm_runtime.h and spec/README.md):
//   integers are evaluated as uint32_t with wrap-around; division by zero gives 0xFFFFFFFF,
//   remainder by zero gives the dividend, shifts by >= 32 give 0; storing into a variable of
//   width N keeps the low N bits. Bools are a separate sort.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fsm::ir {

struct SrcLoc {
  uint32_t line = 0;
  uint32_t col = 0;
};

enum class TypeKind : uint8_t { Bool, UInt, Enum, Bits, State };

// A scalar type. Arrays are a property of variables, not of types.
struct Type {
  TypeKind kind = TypeKind::UInt;
  uint32_t width = 32;    // storage bits: Bool 1, UInt N (1..32), Enum/State ceil(log2 n) (>= 1), Bits N
  uint32_t lo = 0;        // smallest valid value (UInt range types narrow it; 0 otherwise)
  uint32_t hi = 0;        // largest valid value (2^width-1 for plain uN/bitsN, n-1 for enums)
  uint32_t enum_id = 0;   // Enum: index into Machine::enums
  bool ranged = false;    // UInt declared as a range `lo..hi`: hi < 2^width-1 or lo > 0 is a domain restriction
};

using ExprId = uint32_t;
using StmtId = uint32_t;
using BlockId = uint32_t;
constexpr uint32_t kNone = 0xFFFFFFFFu;

enum class Op : uint8_t {
  Const,       // value
  Var,         // scalar machine variable: a = var index
  Elem,        // array element: a = var index, b = index expr (out-of-range read gives 0 / false)
  Param,       // payload field of the event being handled: a = param index
  Bound,       // quantifier / loop variable: a = bound index (Machine::bounds)
  InState,     // current state == a (bool)
  Not, BitNot, Neg,                        // unary: a
  Add, Sub, Mul, Div, Mod,                 // binary: a, b (uint32 wrap-around)
  BitAnd, BitOr, BitXor, Shl, Shr,
  Eq, Ne, Lt, Le, Gt, Ge,                  // unsigned comparisons, bool result (Eq/Ne also on bools)
  And, Or, Implies,                        // bool
  Ite,                                     // a ? b : c
  BitTest,                                 // bit b of value a (bool); b >= 32 gives false
  Count,                                   // a = bound index, b = body expr (bool): number of i in [lo, hi] with body
  Forall, Exists,                          // a = bound index, b = body expr (bool)
  Highest, Lowest,                         // a = bound index, b = predicate, c = default: largest/smallest i with predicate, else default
};

struct Expr {
  Op op = Op::Const;
  Type type;
  uint32_t a = kNone, b = kNone, c = kNone;
  uint32_t value = 0;  // Const
  SrcLoc loc;
};

enum class StmtKind : uint8_t {
  Assign,  // var = a; index = kNone for scalars, else index expr (out-of-range write is a no-op); value expr
  Emit,    // output = output index; args
  If,      // cond; then_block; else_block (kNone when absent)
  For,     // bound = bound index (range from Machine::bounds); body = block
};

struct Stmt {
  StmtKind kind = StmtKind::Assign;
  uint32_t var = kNone;
  ExprId index = kNone;
  ExprId value = kNone;
  uint32_t output = kNone;
  std::vector<ExprId> args;
  ExprId cond = kNone;
  BlockId then_block = kNone;
  BlockId else_block = kNone;
  uint32_t bound = kNone;
  BlockId body = kNone;
  SrcLoc loc;
};

using Block = std::vector<StmtId>;

// A bound variable of a quantifier or for-loop: name and constant range [lo, hi].
struct Bound {
  std::string name;
  uint32_t lo = 0;
  uint32_t hi = 0;
};

struct EnumDecl {
  std::string name;
  std::vector<std::string> members;  // value = position
  SrcLoc loc;
};

struct Field {  // event payload field or output argument
  std::string name;
  Type type;
};

struct Var {
  std::string name;
  Type type;                 // element type
  uint32_t array_len = 0;    // 0 = scalar
  uint32_t init = 0;         // initial value of the scalar / of every element (bool: 0/1)
  SrcLoc loc;
};

struct Event {
  std::string name;
  std::vector<Field> params;
  std::vector<std::string> reqs;
  SrcLoc loc;
};

struct Output {
  std::string name;
  std::vector<Field> params;
  SrcLoc loc;
};

struct State {
  std::string name;
  std::vector<std::string> reqs;
  SrcLoc loc;
};

struct Transition {
  uint32_t id = 0;           // machine-wide transition number, in source order
  uint32_t state = 0;        // source state
  uint32_t event = 0;
  ExprId guard = kNone;      // kNone = always; an `else` transition gets the explicit negation of its siblings
  bool is_else = false;
  BlockId body = kNone;
  uint32_t target = 0;       // target state (== state when the transition names none)
  std::vector<std::string> reqs;
  SrcLoc loc;
};

enum class HandlerKind : uint8_t { Handle, Ignore, Defer, Reject };

struct Handler {
  HandlerKind kind = HandlerKind::Ignore;
  uint32_t reject_code = 0;
  std::vector<uint32_t> transitions;  // Handle: indices into Machine::transitions, in source order
  SrcLoc loc;
};

struct Property {  // invariant or reachability goal
  std::string name;
  ExprId expr = kNone;
  std::vector<std::string> reqs;
  SrcLoc loc;
};

struct Machine {
  std::string name;
  std::string spec_path;  // repo-relative (or as given on the command line when outside a repo)
  std::vector<std::string> reqs;
  SrcLoc loc;
  std::vector<EnumDecl> enums;
  std::vector<Var> vars;
  std::vector<State> states;
  uint32_t initial = 0;
  std::vector<Event> events;
  std::vector<Output> outputs;
  std::vector<Handler> handlers;  // states.size() * events.size(), row-major by state
  std::vector<Transition> transitions;
  std::vector<Property> invariants;
  std::vector<Property> reachables;
  std::vector<Expr> exprs;
  std::vector<Stmt> stmts;
  std::vector<Block> blocks;
  std::vector<Bound> bounds;

  const Handler& handler(uint32_t state, uint32_t event) const {
    return handlers[state * events.size() + event];
  }
  uint32_t max_params() const {
    uint32_t n = 0;
    for (const Event& e : events) n = e.params.size() > n ? static_cast<uint32_t>(e.params.size()) : n;
    return n;
  }
};

// A system (spec/README.md "Systems"): instances of checked machines and the bounded queues
// between them. `product` is the whole system as one machine (gen/system.cpp builds it from the
// instances' IR): one state, a variable per instance state and per instance variable ("i.v"),
// a length and ring per link, an event per environment input ("i.e") and per link (delivery
// of its head). The prover proves it like a machine; no other back end reads it.
struct SystemInstance {
  std::string name;
  uint32_t machine = 0;  // index into Module::machines
};
struct SystemLink {
  std::string name;      // "inst.output"
  uint32_t from = 0, output = 0, to = 0, event = 0, capacity = 1;
  bool drop = false;
};
struct System {
  std::string name;
  std::string spec_path;
  SrcLoc loc;
  std::vector<SystemInstance> instances;  // source order
  std::vector<SystemLink> links;          // source order
  Machine product;
  uint32_t reported_invariants = 0;  // product.invariants beyond these are the instances' own (lemmas)
};

struct Module {
  std::vector<Machine> machines;  // in input-file order, then source order
  std::vector<System> systems;    // in input-file order, then source order
};

// Generator version: printed in banners, checked by generated code against the runtime header.
constexpr uint32_t kGeneratorVersion = 1;
constexpr const char* kGeneratorVersionString = "fsmc 1";

}  // namespace fsm::ir
