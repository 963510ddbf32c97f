// The syntax tree of one .fsm file, as parsed (parser.cpp) and before names are resolved
// (checker.cpp). Nodes live in per-file pools and refer to each other by index; -1 = absent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir.h"

namespace fsm::ast {

enum class ExprKind : uint8_t { Int, Bool, Name, Member, State, Unary, Binary, Ternary, Index, Quant };

struct Expr {
  ExprKind kind = ExprKind::Int;
  std::string name;    // Name; Member: enum name; Unary/Binary: operator; Quant: count/forall/…
  std::string member;  // Member: member name; Quant: bound variable name
  uint32_t value = 0;  // Int, Bool
  int a = -1, b = -1, c = -1;  // operands; Quant: a = lo, b = hi, c = body; Index: a[b]
  int d = -1;          // Quant highest/lowest: default
  ir::SrcLoc loc;
};

struct TypeRef {
  std::string name;          // bool, uN, bitsN or an enum name; empty for a range
  int lo = -1, hi = -1;      // range `lo..hi`
  ir::SrcLoc loc;
};

struct Field {
  std::string name;
  TypeRef type;
  ir::SrcLoc loc;
};

enum class StmtKind : uint8_t { Assign, Emit, If, For };

struct Stmt {
  StmtKind kind = StmtKind::Assign;
  std::string name;          // Assign: variable; Emit: output; For: loop variable
  int index = -1;            // Assign: element index
  int value = -1;            // Assign: value; If: condition
  std::vector<int> args;     // Emit
  int lo = -1, hi = -1;      // For
  std::vector<int> then_body, else_body;  // If; For uses then_body
  bool has_else = false;
  ir::SrcLoc loc;
};

enum class GuardKind : uint8_t { When, Always, Else };

struct Transition {
  GuardKind kind = GuardKind::When;
  int guard = -1;
  std::string target;        // empty: stay
  ir::SrcLoc target_loc;
  std::vector<std::string> reqs;
  std::vector<int> body;
  ir::SrcLoc loc;
};

struct On {
  std::string event;         // "" for `others`
  ir::HandlerKind kind = ir::HandlerKind::Ignore;
  int code = -1;             // reject
  std::vector<Transition> transitions;
  ir::SrcLoc loc;
};

struct State {
  std::string name;
  bool initial = false;
  std::vector<std::string> reqs;
  std::vector<On> ons;
  ir::SrcLoc loc;
};

struct Const { std::string name; int value = -1; ir::SrcLoc loc; };
struct Enum { std::string name; std::vector<std::string> members; std::vector<ir::SrcLoc> member_locs; ir::SrcLoc loc; };
struct Var { std::string name; TypeRef type; int array_len = -1; int init = -1; ir::SrcLoc loc; };
struct Event { std::string name; std::vector<Field> fields; std::vector<std::string> reqs; ir::SrcLoc loc; };
struct Output { std::string name; std::vector<Field> fields; ir::SrcLoc loc; };
struct Property { std::string name; int expr = -1; std::vector<std::string> reqs; ir::SrcLoc loc; };

struct Machine {
  std::string name;
  std::vector<std::string> reqs;
  ir::SrcLoc loc;
  std::vector<Const> consts;
  std::vector<Enum> enums;
  std::vector<Var> vars;
  std::vector<Event> events;
  std::vector<Output> outputs;
  std::vector<State> states;
  std::vector<Property> invariants;
  std::vector<Property> reachables;
};

// A system (spec/README.md "Systems"): instances of machines joined by bounded queues.
struct Endpoint {               // inst.name or inst.name(a, b)
  std::string inst, name;
  bool has_args = false;
  std::vector<std::string> args;
  std::vector<ir::SrcLoc> arg_locs;
  ir::SrcLoc loc, name_loc;
};
struct Instance { std::string name, machine; ir::SrcLoc loc, machine_loc; };
struct Link { Endpoint from, to; uint32_t capacity = 0; bool drop = false; ir::SrcLoc loc, cap_loc; };
struct Closed { std::string inst, event; ir::SrcLoc loc; };  // event empty: every unlinked event
struct System {
  std::string name;
  std::vector<std::string> reqs;
  ir::SrcLoc loc;
  std::vector<Instance> instances;
  std::vector<Link> links;
  std::vector<Closed> closed;
  std::vector<Property> invariants;
  std::vector<Property> reachables;
};

struct File {
  std::string path;  // display path
  std::vector<Machine> machines;
  std::vector<System> systems;  // Expr::kind Name with a non-empty member: queued(member) / empty(member)
  std::vector<Expr> exprs;
  std::vector<Stmt> stmts;
};

}  // namespace fsm::ast
