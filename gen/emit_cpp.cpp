// C++ back end: ir::Module => one header `<base>.h` per spec file (DESIGN.md §4, STYLE.md 4, 8).
// Each machine becomes plain enums, a fixed-size instance struct whose size the generator
// computes, and a `dispatch<Host>()` with one exhaustive state x event switch and no `default:`,
// no heap, no exceptions, no recursion. Values follow runtime/fsm/fsm_runtime.h bit for bit.
#include <algorithm>
#include <string>

#include "emit.h"
#include "fsm/fsm_runtime.h"
#include "ir_text.h"
#include "naming.h"
#include "printer.h"

namespace fsm::gen {
namespace {

std::string u32(uint32_t v) { return std::to_string(v) + "u"; }

// The largest value an index expression can have, known from its IR alone: a constant, a
// validated payload field (payload_valid() ran first), a bound variable's range, or the storage
// width of a variable. An index whose bound is below the array length needs no range check.
uint32_t static_max(const ir::Machine& m, ir::ExprId id) {
  const ir::Expr& e = m.exprs[id];
  auto width_max = [](uint32_t w) { return w >= 32 ? 0xFFFFFFFFu : (1u << w) - 1u; };
  switch (e.op) {
    case ir::Op::Const: return e.value;
    case ir::Op::Param: return e.type.kind == ir::TypeKind::Bool ? 1u : e.type.hi;
    case ir::Op::Bound: return m.bounds[e.a].hi;
    case ir::Op::Var: case ir::Op::Elem: return width_max(m.vars[e.a].type.width);
    default: return 0xFFFFFFFFu;
  }
}

bool is_bool(const ir::Type& t) { return t.kind == ir::TypeKind::Bool; }

// Expression => C++ expression text. Integers are uint32_t throughout (every narrow variable
// read is widened first, so no promotion to int); bools stay bool. Comparisons go through
// detail:: functions so that comparing a narrow variable with a constant cannot trip
// -Wtype-limits; bounded operators become immediately invoked lambdas over a constant range.
class ExprWriter {
 public:
  explicit ExprWriter(const ir::Machine& m) : m_(m) {}

  std::string operator()(ir::ExprId id) const { return expr(id); }

 private:
  std::string bound(uint32_t b) const { return "q" + std::to_string(b); }

  // `for` header over the bound's constant range, valid when hi == UINT32_MAX too.
  std::string loop(uint32_t b, bool descending) const {
    const ir::Bound& bd = m_.bounds[b];
    std::string q = bound(b);
    if (descending) {
      return "for (uint32_t " + q + " = " + u32(bd.hi) + "; ; --" + q + ")";
    }
    if (bd.hi == 0xFFFFFFFFu) return "for (uint32_t " + q + " = " + u32(bd.lo) + "; ; ++" + q + ")";
    return "for (uint32_t " + q + " = " + u32(bd.lo) + "; " + q + " <= " + u32(bd.hi) + "; ++" + q + ")";
  }
  // Loop exit for the forms whose header has no condition.
  std::string loop_end(uint32_t b, bool descending) const {
    const ir::Bound& bd = m_.bounds[b];
    if (descending) return " if (" + bound(b) + " == " + u32(bd.lo) + ") break;";
    if (bd.hi == 0xFFFFFFFFu) return " if (" + bound(b) + " == " + u32(bd.hi) + ") break;";
    return "";
  }

  std::string expr(ir::ExprId id) const {
    const ir::Expr& e = m_.exprs[id];
    auto A = [&] { return expr(e.a); };
    auto B = [&] { return expr(e.b); };
    auto bin = [&](const char* op) { return "(" + A() + " " + op + " " + B() + ")"; };
    auto call = [&](const char* f) { return std::string(f) + "(" + A() + ", " + B() + ")"; };
    switch (e.op) {
      case ir::Op::Const:
        if (is_bool(e.type)) return e.value ? "true" : "false";
        if (e.type.kind == ir::TypeKind::Enum && e.type.enum_id < m_.enums.size() &&
            e.value < m_.enums[e.type.enum_id].members.size()) {
          return "static_cast<uint32_t>(" + enum_type(m_, e.type.enum_id) + "::" +
                 cpp_ident(m_.enums[e.type.enum_id].members[e.value]) + ")";
        }
        return u32(e.value);
      case ir::Op::Var:
        if (is_bool(m_.vars[e.a].type)) return "m." + member_name(m_, e.a);
        return "static_cast<uint32_t>(m." + member_name(m_, e.a) + ")";
      case ir::Op::Elem: {
        const ir::Var& v = m_.vars[e.a];
        if (v.array_len == 0) {  // not produced by the checker; mirrors eval.cpp (one element)
          std::string whole = "static_cast<uint32_t>(m." + member_name(m_, e.a) + ")";
          std::string r = "(detail::lt(" + B() + ", 1u) ? " + whole + " : 0u)";
          return is_bool(e.type) ? "(" + r + " != 0u)" : r;
        }
        if (static_max(m_, e.b) < v.array_len) {  // index provably in range: plain access
          std::string direct = "m." + member_name(m_, e.a) + "[" + B() + "]";
          return is_bool(v.type) ? direct : "static_cast<uint32_t>(" + direct + ")";
        }
        return std::string(is_bool(v.type) ? "detail::load_bool" : "detail::load") + "(m." +
               member_name(m_, e.a) + ", " + B() + ")";
      }
      case ir::Op::Param: {
        std::string p = "ev.args[" + std::to_string(e.a) + "]";
        return is_bool(e.type) ? "(" + p + " != 0u)" : p;
      }
      case ir::Op::Bound: return bound(e.a);
      case ir::Op::InState:
        return "(m.state == State::" + state_enumerator(m_, e.a) + ")";
      case ir::Op::Not: return "(!" + A() + ")";
      case ir::Op::BitNot: return "(~" + A() + ")";
      case ir::Op::Neg: return "fsm::rt::neg(" + A() + ")";
      case ir::Op::Add: return bin("+");
      case ir::Op::Sub: return bin("-");
      case ir::Op::Mul: return bin("*");
      case ir::Op::Div: return call("fsm::rt::udiv");
      case ir::Op::Mod: return call("fsm::rt::urem");
      case ir::Op::BitAnd: return bin("&");
      case ir::Op::BitOr: return bin("|");
      case ir::Op::BitXor: return bin("^");
      case ir::Op::Shl: return call("fsm::rt::shl");
      case ir::Op::Shr: return call("fsm::rt::shr");
      case ir::Op::Eq:
        return is_bool(m_.exprs[e.a].type) ? bin("==") : call("detail::eq");
      case ir::Op::Ne:
        return is_bool(m_.exprs[e.a].type) ? bin("!=") : call("detail::ne");
      case ir::Op::Lt: return call("detail::lt");
      case ir::Op::Le: return call("detail::le");
      case ir::Op::Gt: return call("detail::gt");
      case ir::Op::Ge: return call("detail::ge");
      case ir::Op::And: return bin("&&");
      case ir::Op::Or: return bin("||");
      case ir::Op::Implies: return "(!" + A() + " || " + B() + ")";
      case ir::Op::Ite: return "(" + A() + " ? " + B() + " : " + expr(e.c) + ")";
      case ir::Op::BitTest: return call("fsm::rt::bit");
      case ir::Op::Count:
        return "[&]() -> uint32_t { uint32_t n = 0u; " + loop(e.a, false) + " { if (" + B() +
               ") ++n;" + loop_end(e.a, false) + " } return n; }()";
      case ir::Op::Forall:
        return "[&]() -> bool { " + loop(e.a, false) + " { if (!" + B() + ") return false;" +
               loop_end(e.a, false) + " } return true; }()";
      case ir::Op::Exists:
        return "[&]() -> bool { " + loop(e.a, false) + " { if (" + B() + ") return true;" +
               loop_end(e.a, false) + " } return false; }()";
      case ir::Op::Highest:
      case ir::Op::Lowest: {
        bool down = e.op == ir::Op::Highest;
        std::string t = is_bool(e.type) ? "bool" : "uint32_t";
        std::string hit = is_bool(e.type) ? "(" + bound(e.a) + " != 0u)" : bound(e.a);
        return "[&]() -> " + t + " { " + loop(e.a, down) + " { if (" + B() + ") return " + hit +
               ";" + loop_end(e.a, down) + " } return " + expr(e.c) + "; }()";
      }
    }
    return "0u";
  }

  const ir::Machine& m_;
};

class CppEmitter {
 public:
  CppEmitter(const ir::Machine& m, Printer& p) : m_(m), p_(p), x_(m) {}

  void emit() {
    p_.print("// ---- machine $name$ ----\n", {{"name", m_.name}});
    for (const std::string& r : m_.reqs) p_.print("// req $r$\n", {{"r", quoted(r)}});
    p_.print("namespace $ns$ {\n\n", {{"ns", machine_namespace(m_)}});
    enums();
    names();
    events();
    instance();
    helpers();
    null_host();
    invariants();
    dispatch();
    p_.print(
        "#ifdef FSM_GENERATED_CHECKS\n"
        "// Out-of-line uses of the entry points, for the allocation check of FSM_ASSURANCE builds.\n"
        "fsm::rt::Result checks_dispatch($s$& m, const Event& ev) {\n"
        "  NullHost host;\n"
        "  return dispatch(m, host, ev);\n"
        "}\n"
        "bool checks_invariants(const $s$& m) {\n"
        "  bool ok = true;\n"
        "  for (uint32_t i = 0; i < invariant_count; ++i) ok = invariant_holds(m, i) && ok;\n"
        "  return ok;\n"
        "}\n"
        "#endif\n\n",
        {{"s", machine_struct(m_)}});
    p_.print("}  // namespace $ns$\n\n", {{"ns", machine_namespace(m_)}});
  }

 private:
  void enums() {
    p_.print("enum class State : $t$ {\n", {{"t", enum_underlying(m_.states.size())}});
    for (uint32_t s = 0; s < m_.states.size(); ++s) {
      std::string note = s == m_.initial ? "initial" : "";
      for (const std::string& r : m_.states[s].reqs) note += (note.empty() ? "req " : "; req ") + quoted(r);
      p_.print(note.empty() ? "  $n$,\n" : "  $n$,  // $note$\n", {{"n", state_enumerator(m_, s)}, {"note", note}});
    }
    p_.print("};\n");
    p_.print("enum class EventId : $t$ {\n", {{"t", enum_underlying(m_.events.size())}});
    for (uint32_t e = 0; e < m_.events.size(); ++e) {
      p_.print("  $n$,\n", {{"n", event_enumerator(m_, e)}});
    }
    p_.print("};\n");
    for (uint32_t i = 0; i < m_.enums.size(); ++i) {
      const ir::EnumDecl& d = m_.enums[i];
      p_.print("enum class $n$ : $t$ {", {{"n", enum_type(m_, i)}, {"t", enum_underlying(d.members.size())}});
      for (size_t k = 0; k < d.members.size(); ++k) {
        p_.print(k ? ", $m$" : " $m$", {{"m", cpp_ident(d.members[k])}});
      }
      p_.print(" };\n");
    }
    p_.print(
        "\ninline constexpr uint32_t kStateCount = $s$;\n"
        "inline constexpr uint32_t kEventCount = $e$;\n"
        "inline constexpr uint32_t kTransitionCount = $t$;  // transition ids are 0..kTransitionCount-1\n"
        "inline constexpr uint32_t kMaxParams = $p$;\n"
        "inline constexpr uint32_t kNoTransition = 0xFFFFFFFFu;\n\n",
        {{"s", std::to_string(m_.states.size())},
         {"e", std::to_string(m_.events.size())},
         {"t", std::to_string(m_.transitions.size())},
         {"p", std::to_string(std::max<uint32_t>(1, m_.max_params()))}});
  }

  void names() {
    p_.print("// The spec's own spelling, for logs.\n");
    p_.print("constexpr const char* state_name(State s) {\n  switch (s) {\n");
    for (uint32_t s = 0; s < m_.states.size(); ++s) {
      p_.print("    case State::$e$: return $n$;\n",
               {{"e", state_enumerator(m_, s)}, {"n", quoted(m_.states[s].name)}});
    }
    p_.print("  }\n  return \"?\";\n}\n\n");
    p_.print("constexpr const char* event_name(EventId e) {\n");
    if (m_.events.empty()) p_.print("  (void)e;\n");
    if (!m_.events.empty()) {
      p_.print("  switch (e) {\n");
      for (uint32_t e = 0; e < m_.events.size(); ++e) {
        p_.print("    case EventId::$e$: return $n$;\n",
                 {{"e", event_enumerator(m_, e)}, {"n", quoted(m_.events[e].name)}});
      }
      p_.print("  }\n");
    }
    p_.print("  return \"?\";\n}\n\n");
  }

  void events() {
    uint32_t n = std::max<uint32_t>(1, m_.max_params());
    p_.print(
        "// One event with its payload; args[k] is field k (bools 0/1, enums by position).\n"
        "struct Event {\n  EventId id{};\n  uint32_t args[$n$]{};\n};\n\n",
        {{"n", std::to_string(n)}});
    for (uint32_t e = 0; e < m_.events.size(); ++e) {
      const ir::Event& ev = m_.events[e];
      p_.print("// event $n$($sig$)", {{"n", ev.name}, {"sig", fields_text(m_, ev.params)}});
      for (const std::string& r : ev.reqs) p_.print("  req $r$", {{"r", quoted(r)}});
      p_.print("\n");
      std::string params, args;
      for (size_t k = 0; k < ev.params.size(); ++k) {
        const ir::Field& f = ev.params[k];
        std::string name = param_name(m_, e, static_cast<uint32_t>(k));
        std::string type = f.type.kind == ir::TypeKind::Bool   ? "bool"
                           : f.type.kind == ir::TypeKind::Enum ? enum_type(m_, f.type.enum_id)
                                                               : "uint32_t";
        params += (k ? ", " : "") + type + " " + name;
        std::string value = f.type.kind == ir::TypeKind::Bool   ? "(" + name + " ? 1u : 0u)"
                            : f.type.kind == ir::TypeKind::Enum ? "static_cast<uint32_t>(" + name + ")"
                                                                : name;
        args += (k ? ", " : "") + value;
      }
      p_.print("constexpr Event $f$($p$) { return Event{EventId::$e$, {$a$}}; }\n",
               {{"f", event_factory(m_, e)}, {"p", params}, {"e", event_enumerator(m_, e)}, {"a", args}});
    }
    p_.print("\n// Every payload field within its declared domain (and the id one of this machine's).\n");
    p_.print("constexpr bool payload_valid(const Event& ev) {\n");
    if (m_.events.empty()) {
      p_.print("  (void)ev;\n  return false;\n}\n\n");
      return;
    }
    p_.print("  switch (ev.id) {\n");
    for (uint32_t e = 0; e < m_.events.size(); ++e) {
      const ir::Event& ev = m_.events[e];
      std::string cond;
      for (size_t k = 0; k < ev.params.size(); ++k) {
        auto [lo, hi] = field_domain(ev.params[k].type);
        std::string a = "ev.args[" + std::to_string(k) + "]";
        if (lo > 0) cond += (cond.empty() ? "" : " && ") + a + " >= " + u32(lo);
        if (hi < 0xFFFFFFFFu) cond += (cond.empty() ? "" : " && ") + a + " <= " + u32(hi);
      }
      p_.print("    case EventId::$e$: return $c$;\n",
               {{"e", event_enumerator(m_, e)}, {"c", cond.empty() ? "true" : cond}});
    }
    p_.print("  }\n  return false;\n}\n\n");
  }

  void instance() {
    Layout l = machine_layout(m_);
    std::string name = machine_struct(m_);
    p_.print(
        "// The instance: fixed size, caller-owned; value-initialised to the spec's initial values.\n"
        "// Members are ordered by alignment so there is no padding to speak of.\n"
        "struct $n$ {\n  static constexpr std::size_t kSizeBytes = $size$;\n",
        {{"n", name}, {"size", std::to_string(l.size)}});
    for (const Member& mem : l.members) {
      if (mem.var == ir::kNone) {
        p_.print("  State state = State::$s$;\n", {{"s", state_enumerator(m_, m_.initial)}});
        continue;
      }
      const ir::Var& v = m_.vars[mem.var];
      std::string init = is_bool(v.type) ? (v.init ? "true" : "false") : u32(v.init);
      if (v.array_len == 0) {
        p_.print("  $t$ $n$ = $i$;", {{"t", mem.decl_type}, {"n", mem.name}, {"i", init}});
      } else {
        std::string list;
        if (v.init != 0) {
          for (uint32_t k = 0; k < v.array_len; ++k) list += (k ? ", " : "") + init;
        }
        p_.print("  $t$ $n$[$len$] = {$l$};",
                 {{"t", mem.decl_type}, {"n", mem.name}, {"len", std::to_string(v.array_len)}, {"l", list}});
      }
      p_.print("  // $sig$\n", {{"sig", v.name + ": " + type_text(m_, v.type) +
                                            (v.array_len ? "[" + std::to_string(v.array_len) + "]" : "")}});
    }
    p_.print("};\n");
    p_.print("static_assert(sizeof($n$) == $size$, \"fsmc computed sizeof($n$) as $size$ bytes\");\n",
             {{"n", name}, {"size", std::to_string(l.size)}});
    if (name != "Machine") p_.print("using Machine = $n$;\n", {{"n", name}});
    p_.print("\nconstexpr void init($n$& m) { m = $n${}; }\n\n", {{"n", name}});
  }

  void helpers() {
    p_.print(
        "namespace detail {\n"
        "// The language's unsigned comparisons as functions, so that comparing a narrow variable\n"
        "// with a constant cannot trip -Wtype-limits.\n"
        "constexpr bool eq(uint32_t a, uint32_t b) { return a == b; }\n"
        "constexpr bool ne(uint32_t a, uint32_t b) { return a != b; }\n"
        "constexpr bool lt(uint32_t a, uint32_t b) { return a < b; }\n"
        "constexpr bool le(uint32_t a, uint32_t b) { return a <= b; }\n"
        "constexpr bool gt(uint32_t a, uint32_t b) { return a > b; }\n"
        "constexpr bool ge(uint32_t a, uint32_t b) { return a >= b; }\n"
        "// Array reads: out of range gives 0 / false (spec/README.md, Values).\n"
        "template <class T, uint32_t N>\n"
        "constexpr uint32_t load(const T (&a)[N], uint32_t i) { return i < N ? static_cast<uint32_t>(a[i]) : 0u; }\n"
        "template <uint32_t N>\n"
        "constexpr bool load_bool(const bool (&a)[N], uint32_t i) { return i < N && a[i]; }\n"
        "// The one choke point of every taken transition: moves the state and traces it.\n"
        "template <class Host>\n"
        "constexpr fsm::rt::Result enter($n$& m, Host& host, State from, EventId ev, State to, uint32_t id) {\n"
        "  m.state = to;\n"
        "  host.trace(from, ev, to, id);\n"
        "  return {fsm::rt::Outcome::Transitioned, 0u, id};\n"
        "}\n"
        "// A self-loop: the state does not change, so only the trace.\n"
        "template <class Host>\n"
        "constexpr fsm::rt::Result stay(Host& host, State s, EventId ev, uint32_t id) {\n"
        "  host.trace(s, ev, s, id);\n"
        "  return {fsm::rt::Outcome::Transitioned, 0u, id};\n"
        "}\n"
        "}  // namespace detail\n\n",
        {{"n", machine_struct(m_)}});
  }

  static std::string arg_type(const ir::Type& t) { return is_bool(t) ? "bool" : "uint32_t"; }

  void null_host() {
    p_.print("// A host that ignores every output (benchmarks, compile checks).\nstruct NullHost {\n");
    for (uint32_t o = 0; o < m_.outputs.size(); ++o) {
      std::string params;
      for (size_t k = 0; k < m_.outputs[o].params.size(); ++k) {
        params += (k ? ", " : "") + arg_type(m_.outputs[o].params[k].type);
      }
      p_.print("  void $n$($p$) {}\n", {{"n", output_method(m_, o)}, {"p", params}});
    }
    p_.print("  void trace(State, EventId, State, uint32_t) {}\n};\n\n");
  }

  void invariants() {
    std::vector<InvariantRef> inv = checked_invariants(m_);
    p_.print(
        "// Invariants: the spec's, then range_<var> for each ranged variable.\n"
        "inline constexpr uint32_t invariant_count = $n$;\n\n"
        "constexpr const char* invariant_name(uint32_t i) {\n",
        {{"n", std::to_string(inv.size())}});
    if (inv.empty()) p_.print("  (void)i;\n");
    if (!inv.empty()) {
      p_.print("  switch (i) {\n");
      for (size_t k = 0; k < inv.size(); ++k) {
        p_.print("    case $k$: return $n$;\n", {{"k", u32(static_cast<uint32_t>(k))}, {"n", quoted(inv[k].name)}});
      }
      p_.print("  }\n");
    }
    p_.print("  return \"?\";\n}\n\n");
    p_.print("constexpr bool invariant_holds(const $s$& m, uint32_t i) {\n", {{"s", machine_struct(m_)}});
    if (inv.empty()) p_.print("  (void)m;\n  (void)i;\n");
    if (!inv.empty()) {
      p_.print("  switch (i) {\n");
      for (size_t k = 0; k < inv.size(); ++k) {
        p_.print("    case $k$:  // $n$", {{"k", u32(static_cast<uint32_t>(k))}, {"n", inv[k].name}});
        for (const std::string& r : inv[k].reqs) p_.print("  req $r$", {{"r", quoted(r)}});
        p_.print("\n      return $e$;\n", {{"e", invariant_expr(inv[k])}});
      }
      p_.print("  }\n");
    }
    p_.print("  return true;\n}\n\n");
  }

  std::string invariant_expr(const InvariantRef& inv) const {
    if (inv.expr != ir::kNone) return x_(inv.expr);
    const ir::Var& v = m_.vars[inv.var];
    std::string mem = "m." + member_name(m_, inv.var);
    auto in_range = [&](const std::string& val) {
      std::string c;
      if (v.type.lo > 0) c = "detail::ge(" + val + ", " + u32(v.type.lo) + ")";
      if (v.type.hi < 0xFFFFFFFFu) c += (c.empty() ? "" : " && ") + std::string("detail::le(") + val + ", " + u32(v.type.hi) + ")";
      return c.empty() ? std::string("true") : c;
    };
    if (v.array_len == 0) return in_range("static_cast<uint32_t>(" + mem + ")");
    return "[&]() -> bool { for (uint32_t k = 0u; k < " + u32(v.array_len) + "; ++k) { if (!(" +
           in_range("static_cast<uint32_t>(" + mem + "[k])") + ")) return false; } return true; }()";
  }

  // ---- dispatch ----

  void dispatch() {
    std::string s = machine_struct(m_);
    p_.print(
        "// Dispatches one event: payload check, then the state x event switch (spec/README.md,\n"
        "// Totality and Transitions). Host: host.<output>(…) per emit, host.trace(…) per transition.\n"
        "template <class Host>\n"
        "fsm::rt::Result dispatch($s$& m, Host& host, const Event& ev) {\n",
        {{"s", s}});
    {
      Printer::Scope fn(p_);
      dispatch_body();
    }
    p_.print("}\n\n");
  }

  void dispatch_body() {
    if (m_.transitions.empty()) p_.print("(void)host;\n");
    p_.print("if (!payload_valid(ev)) return {fsm::rt::Outcome::BadPayload, 0u, kNoTransition};\n");
    p_.print("switch (m.state) {\n");
    for (uint32_t st = 0; st < m_.states.size(); ++st) {
      p_.print("  case State::$s$:", {{"s", state_enumerator(m_, st)}});
      for (const std::string& r : m_.states[st].reqs) p_.print("  // req $r$", {{"r", quoted(r)}});
      p_.print("\n");
      Printer::Scope state_scope(p_);
      Printer::Scope case_scope(p_);
      if (m_.events.empty()) {
        p_.print("break;\n");
        continue;
      }
      p_.print("switch (ev.id) {\n");
      for (uint32_t e = 0; e < m_.events.size(); ++e) handler(st, e);
      p_.print("}\nbreak;\n");
    }
    p_.print("}\n");
    p_.print("return {fsm::rt::Outcome::BadPayload, 0u, kNoTransition};  // not a State / EventId value\n");
  }

  void handler(uint32_t st, uint32_t e) {
    const ir::Handler& h = m_.handler(st, e);
    Vars v = {{"e", event_enumerator(m_, e)}, {"code", u32(h.reject_code)}};
    switch (h.kind) {
      case ir::HandlerKind::Ignore:
        p_.print("  case EventId::$e$: return {fsm::rt::Outcome::Ignored, 0u, kNoTransition};\n", v);
        return;
      case ir::HandlerKind::Defer:
        p_.print("  case EventId::$e$: return {fsm::rt::Outcome::Deferred, 0u, kNoTransition};\n", v);
        return;
      case ir::HandlerKind::Reject:
        p_.print("  case EventId::$e$: return {fsm::rt::Outcome::Rejected, $code$, kNoTransition};\n", v);
        return;
      case ir::HandlerKind::Handle:
        break;
    }
    p_.print("  case EventId::$e$: {\n", v);
    {
      Printer::Scope outer(p_);
      Printer::Scope inner(p_);
      transitions(h, e);
    }
    p_.print("  }\n");
  }

  void transitions(const ir::Handler& h, uint32_t e) {
    bool open_end = true;
    for (uint32_t tid : h.transitions) {
      const ir::Transition& t = m_.transitions[tid];
      p_.print("// transition $id$: $from$ --$ev$--> $to$\n",
               {{"id", std::to_string(t.id)}, {"from", m_.states[t.state].name},
                {"ev", m_.events[t.event].name}, {"to", m_.states[t.target].name}});
      for (const std::string& r : t.reqs) p_.print("// req $r$\n", {{"r", quoted(r)}});
      bool unconditional = t.guard == ir::kNone || t.is_else;
      if (unconditional) {
        p_.print(t.is_else ? "{  // else\n" : "{  // always\n");
      } else {
        p_.print("if ($g$) {\n", {{"g", x_(t.guard)}});
      }
      {
        Printer::Scope body(p_);
        block(t.body);
        Vars tv = {{"from", state_enumerator(m_, t.state)}, {"e", event_enumerator(m_, e)},
                   {"to", state_enumerator(m_, t.target)}, {"id", u32(t.id)}};
        if (t.target == t.state)
          p_.print("return detail::stay(host, State::$from$, EventId::$e$, $id$);\n", tv);
        else
          p_.print("return detail::enter(m, host, State::$from$, EventId::$e$, State::$to$, $id$);\n", tv);
      }
      p_.print("}\n");
      if (unconditional) {
        open_end = false;
        break;
      }
    }
    if (open_end) p_.print("return {fsm::rt::Outcome::NoGuard, 0u, kNoTransition};\n");
  }

  void block(ir::BlockId b) {
    if (b == ir::kNone) return;
    for (ir::StmtId sid : m_.blocks[b]) stmt(m_.stmts[sid]);
  }

  // The value stored into an element of `v`: bools as is, integers truncated to the width.
  std::string store_value(const ir::Var& v, ir::ExprId value) const {
    std::string x = x_(value);
    if (is_bool(v.type)) return x;
    const ir::Expr& e = m_.exprs[value];
    if (e.op == ir::Op::Const && e.type.kind != ir::TypeKind::Enum) {  // fold the truncation
      return "static_cast<" + storage_type(v.type) + ">(" + u32(fsm::rt::trunc(e.value, v.type.width)) + ")";
    }
    uint32_t bits = storage_bytes(v.type) * 8;
    if (v.type.width < bits) x = "fsm::rt::trunc(" + x + ", " + u32(v.type.width) + ")";
    return "static_cast<" + storage_type(v.type) + ">(" + x + ")";
  }

  void stmt(const ir::Stmt& s) {
    switch (s.kind) {
      case ir::StmtKind::Assign: {
        const ir::Var& v = m_.vars[s.var];
        Vars vars = {{"m", member_name(m_, s.var)}, {"v", store_value(v, s.value)}};
        if (s.index == ir::kNone) {
          p_.print("m.$m$ = $v$;\n", vars);
          return;
        }
        vars.push_back({"i", x_(s.index)});
        if (v.array_len == 0) {  // not produced by the checker; mirrors eval.cpp store()
          p_.print("if (detail::lt($i$, 1u)) m.$m$ = $v$;\n", vars);
          return;
        }
        vars.push_back({"n", u32(v.array_len)});
        if (static_max(m_, s.index) < v.array_len) {  // index provably in range
          p_.print("m.$m$[$i$] = $v$;\n", vars);
          return;
        }
        p_.print("if (const uint32_t i = $i$; i < $n$) m.$m$[i] = $v$;\n", vars);
        return;
      }
      case ir::StmtKind::Emit: {
        std::string args;
        for (size_t k = 0; k < s.args.size(); ++k) args += (k ? ", " : "") + x_(s.args[k]);
        p_.print("host.$o$($a$);\n", {{"o", output_method(m_, s.output)}, {"a", args}});
        return;
      }
      case ir::StmtKind::If:
        p_.print("if ($c$) {\n", {{"c", x_(s.cond)}});
        {
          Printer::Scope sc(p_);
          block(s.then_block);
        }
        if (s.else_block != ir::kNone) {
          p_.print("} else {\n");
          Printer::Scope sc(p_);
          block(s.else_block);
        }
        p_.print("}\n");
        return;
      case ir::StmtKind::For: {
        const ir::Bound& bd = m_.bounds[s.bound];
        std::string q = "q" + std::to_string(s.bound);
        bool full = bd.hi == 0xFFFFFFFFu;
        p_.print(full ? "for (uint32_t $q$ = $lo$; ; ++$q$) {\n" : "for (uint32_t $q$ = $lo$; $q$ <= $hi$; ++$q$) {\n",
                 {{"q", q}, {"lo", u32(bd.lo)}, {"hi", u32(bd.hi)}});
        {
          Printer::Scope sc(p_);
          block(s.body);
          if (full) p_.print("if ($q$ == $hi$) break;\n", {{"q", q}, {"hi", u32(bd.hi)}});
        }
        p_.print("}\n");
        return;
      }
    }
  }

  const ir::Machine& m_;
  Printer& p_;
  ExprWriter x_;
};

}  // namespace

std::vector<OutFile> emit_cpp(const ir::Module& mod) {
  std::vector<OutFile> out;
  for (const SpecGroup& g : group_by_spec(mod)) {
    Printer p;
    Vars v = {{"gen", ir::kGeneratorVersionString}, {"spec", g.spec_path}, {"base", g.base},
              {"ver", std::to_string(ir::kGeneratorVersion)}};
    p.print(
        "// Generated by $gen$ from $spec$ — DO NOT EDIT.\n"
        "//\n"
        "// Each machine lives in namespace fsm::machines::<snake_case machine name> and has: enum\n"
        "// class State / EventId and one enum class per spec enum (spec spelling; a C++ keyword gets a\n"
        "// trailing '_'); state_name() / event_name(); struct Event with make_<event>() factories and\n"
        "// payload_valid(); the fixed-size instance struct named after the machine (alias Machine,\n"
        "// kSizeBytes) and init(); dispatch<Host>(); invariant_count, invariant_name(),\n"
        "// invariant_holds(); NullHost. A Host provides one method per output, host.<output>(args…)\n"
        "// with uint32_t arguments (bool for bool fields), and\n"
        "// host.trace(State from, EventId event, State to, uint32_t transition_id).\n"
        "#pragma once\n\n"
        "#include \"fsm/fsm_runtime.h\"\n\n"
        "static_assert(FSM_RUNTIME_VERSION == $ver$, \"$base$.h was generated by $gen$ for fsm runtime version $ver$\");\n\n",
        v);
    for (const ir::Machine* m : g.machines) CppEmitter(*m, p).emit();
    out.push_back(OutFile{g.base + ".h", p.str()});
  }
  return out;
}

}  // namespace fsm::gen
