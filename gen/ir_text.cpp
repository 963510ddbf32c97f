// Text forms of the IR (see ir_text.h).
#include "ir_text.h"

#include "printer.h"

namespace fsm::gen {

std::string type_text(const ir::Machine& m, const ir::Type& t) {
  switch (t.kind) {
    case ir::TypeKind::Bool: return "bool";
    case ir::TypeKind::Bits: return "bits" + std::to_string(t.width);
    case ir::TypeKind::Enum: return m.enums[t.enum_id].name;
    case ir::TypeKind::State: return "state";
    case ir::TypeKind::UInt:
      if (t.ranged) return std::to_string(t.lo) + ".." + std::to_string(t.hi);
      return "u" + std::to_string(t.width);
  }
  return "?";
}

namespace {

const char* op_text(ir::Op op) {
  switch (op) {
    case ir::Op::Add: return "+"; case ir::Op::Sub: return "-"; case ir::Op::Mul: return "*";
    case ir::Op::Div: return "/"; case ir::Op::Mod: return "%"; case ir::Op::BitAnd: return "&";
    case ir::Op::BitOr: return "|"; case ir::Op::BitXor: return "^"; case ir::Op::Shl: return "<<";
    case ir::Op::Shr: return ">>"; case ir::Op::Eq: return "=="; case ir::Op::Ne: return "!=";
    case ir::Op::Lt: return "<"; case ir::Op::Le: return "<="; case ir::Op::Gt: return ">";
    case ir::Op::Ge: return ">="; case ir::Op::And: return "&&"; case ir::Op::Or: return "||";
    case ir::Op::Implies: return "=>";
    default: return "?";
  }
}

std::string text(const ir::Machine& m, ir::ExprId id, bool top, const ir::Event* ev) {
  const ir::Expr& e = m.exprs[id];
  auto wrap = [&](const std::string& s) { return top ? s : "(" + s + ")"; };
  switch (e.op) {
    case ir::Op::Const:
      if (e.type.kind == ir::TypeKind::Bool) return e.value ? "true" : "false";
      if (e.type.kind == ir::TypeKind::Enum) return m.enums[e.type.enum_id].name + "." + m.enums[e.type.enum_id].members[e.value];
      return std::to_string(e.value);
    case ir::Op::Var: return m.vars[e.a].name;
    case ir::Op::Elem: return m.vars[e.a].name + "[" + text(m, e.b, true, ev) + "]";
    case ir::Op::Param: return ev ? ev->params[e.a].name : "$" + std::to_string(e.a);
    case ir::Op::Bound: return m.bounds[e.a].name;
    case ir::Op::InState: return wrap("state == " + m.states[e.a].name);
    case ir::Op::Not: return "!" + text(m, e.a, false, ev);
    case ir::Op::BitNot: return "~" + text(m, e.a, false, ev);
    case ir::Op::Neg: return "-" + text(m, e.a, false, ev);
    case ir::Op::Ite: return wrap(text(m, e.a, false, ev) + " ? " + text(m, e.b, false, ev) + " : " + text(m, e.c, false, ev));
    case ir::Op::BitTest: return text(m, e.a, false, ev) + "[" + text(m, e.b, true, ev) + "]";
    case ir::Op::Count: case ir::Op::Forall: case ir::Op::Exists:
    case ir::Op::Highest: case ir::Op::Lowest: {
      const char* name = e.op == ir::Op::Count ? "count" : e.op == ir::Op::Forall ? "forall"
                       : e.op == ir::Op::Exists ? "exists" : e.op == ir::Op::Highest ? "highest" : "lowest";
      const ir::Bound& b = m.bounds[e.a];
      std::string s = std::string(name) + "(" + b.name + " in " + std::to_string(b.lo) + ".." +
                      std::to_string(b.hi) + ": " + text(m, e.b, true, ev);
      if (e.c != ir::kNone) s += ", " + text(m, e.c, true, ev);
      return s + ")";
    }
    default:
      return wrap(text(m, e.a, false, ev) + " " + op_text(e.op) + " " + text(m, e.b, false, ev));
  }
}

}  // namespace

std::string fields_text(const ir::Machine& m, const std::vector<ir::Field>& f) {
  std::string s;
  for (size_t k = 0; k < f.size(); ++k) s += (k ? ", " : "") + f[k].name + ": " + type_text(m, f[k].type);
  return s;
}

std::string expr_text(const ir::Machine& m, ir::ExprId e, uint32_t event) {
  return e == ir::kNone ? "true" : text(m, e, true, event == ir::kNone ? nullptr : &m.events[event]);
}

namespace {

void dump_block(Printer& p, const ir::Machine& m, ir::BlockId b) {
  if (b == ir::kNone) return;
  for (ir::StmtId sid : m.blocks[b]) {
    const ir::Stmt& s = m.stmts[sid];
    switch (s.kind) {
      case ir::StmtKind::Assign:
        p.print("$v$$i$ := $e$\n", {{"v", m.vars[s.var].name},
                                    {"i", s.index == ir::kNone ? "" : "[" + expr_text(m, s.index) + "]"},
                                    {"e", expr_text(m, s.value)}});
        break;
      case ir::StmtKind::Emit: {
        std::string args;
        for (size_t k = 0; k < s.args.size(); ++k) args += (k ? ", " : "") + expr_text(m, s.args[k]);
        p.print("emit $o$($a$)\n", {{"o", m.outputs[s.output].name}, {"a", args}});
        break;
      }
      case ir::StmtKind::If: {
        p.print("if $c$\n", {{"c", expr_text(m, s.cond)}});
        { Printer::Scope sc(p); dump_block(p, m, s.then_block); }
        if (s.else_block != ir::kNone) {
          p.print("else\n");
          Printer::Scope sc(p);
          dump_block(p, m, s.else_block);
        }
        break;
      }
      case ir::StmtKind::For: {
        const ir::Bound& bd = m.bounds[s.bound];
        p.print("for $n$ in $lo$..$hi$\n", {{"n", bd.name}, {"lo", std::to_string(bd.lo)}, {"hi", std::to_string(bd.hi)}});
        Printer::Scope sc(p);
        dump_block(p, m, s.body);
        break;
      }
    }
  }
}

std::string reqs_text(const std::vector<std::string>& r) {
  std::string s;
  for (const std::string& x : r) s += " req \"" + x + "\"";
  return s;
}

}  // namespace

std::string dump_ir(const ir::Module& mod) {
  Printer p;
  for (const ir::Machine& m : mod.machines) {
    p.print("machine $n$ ($s$)$r$\n", {{"n", m.name}, {"s", m.spec_path}, {"r", reqs_text(m.reqs)}});
    Printer::Scope sc(p);
    for (const ir::EnumDecl& e : m.enums) {
      std::string mem;
      for (size_t k = 0; k < e.members.size(); ++k) mem += (k ? ", " : "") + e.members[k];
      p.print("enum $n$ { $m$ }\n", {{"n", e.name}, {"m", mem}});
    }
    for (const ir::Var& v : m.vars)
      p.print("var $n$: $t$$a$ = $i$ (width $w$)\n",
              {{"n", v.name}, {"t", type_text(m, v.type)}, {"a", v.array_len ? "[" + std::to_string(v.array_len) + "]" : ""},
               {"i", std::to_string(v.init)}, {"w", std::to_string(v.type.width)}});
    for (const ir::Event& e : m.events)
      p.print("event $n$($f$)$r$\n", {{"n", e.name}, {"f", fields_text(m, e.params)}, {"r", reqs_text(e.reqs)}});
    for (const ir::Output& o : m.outputs)
      p.print("output $n$($f$)\n", {{"n", o.name}, {"f", fields_text(m, o.params)}});
    for (uint32_t s = 0; s < m.states.size(); ++s) {
      p.print("$i$state $n$$r$\n", {{"i", s == m.initial ? "initial " : ""}, {"n", m.states[s].name}, {"r", reqs_text(m.states[s].reqs)}});
      Printer::Scope ss(p);
      for (uint32_t e = 0; e < m.events.size(); ++e) {
        const ir::Handler& h = m.handler(s, e);
        const char* kind = h.kind == ir::HandlerKind::Handle ? "handle" : h.kind == ir::HandlerKind::Ignore ? "ignore"
                         : h.kind == ir::HandlerKind::Defer ? "defer" : "reject";
        p.print("on $e$ $k$$c$\n", {{"e", m.events[e].name}, {"k", kind},
                                    {"c", h.kind == ir::HandlerKind::Reject ? "(" + std::to_string(h.reject_code) + ")" : ""}});
        Printer::Scope hs(p);
        for (uint32_t t : h.transitions) {
          const ir::Transition& tr = m.transitions[t];
          p.print("t$id$ $g$ -> $to$$r$\n", {{"id", std::to_string(tr.id)},
                                              {"g", (tr.is_else ? "else " : "when ") + expr_text(m, tr.guard, tr.event)},
                                              {"to", m.states[tr.target].name}, {"r", reqs_text(tr.reqs)}});
          Printer::Scope ts(p);
          dump_block(p, m, tr.body);
        }
      }
    }
    for (const ir::Property& q : m.invariants)
      p.print("invariant $n$: $e$$r$\n", {{"n", q.name}, {"e", expr_text(m, q.expr)}, {"r", reqs_text(q.reqs)}});
    for (const ir::Property& q : m.reachables)
      p.print("reachable $n$: $e$$r$\n", {{"n", q.name}, {"e", expr_text(m, q.expr)}, {"r", reqs_text(q.reqs)}});
  }
  return p.str();
}

}  // namespace fsm::gen
