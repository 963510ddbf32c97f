// Reference evaluation of the IR (see eval.h). Recursion here is fine: this is host tooling,
// not generated code, and expression depth is bounded by the spec text.
#include "eval.h"

#include "fsm/fsm_runtime.h"

namespace fsm::gen {

namespace rt = fsm::rt;

bool is_constant(const ir::Machine& m, ir::ExprId id) {
  if (id == ir::kNone) return true;
  const ir::Expr& e = m.exprs[id];
  switch (e.op) {
    case ir::Op::Var: case ir::Op::Elem: case ir::Op::Param: case ir::Op::InState: return false;
    case ir::Op::Const: case ir::Op::Bound: return true;
    case ir::Op::Count: case ir::Op::Forall: case ir::Op::Exists:
      return is_constant(m, e.b);
    case ir::Op::Highest: case ir::Op::Lowest:
      return is_constant(m, e.b) && is_constant(m, e.c);
    default:
      return is_constant(m, e.a) && is_constant(m, e.b) && is_constant(m, e.c);
  }
}

void store(const ir::Machine& m, uint32_t var, uint32_t index, uint32_t v, Env& env) {
  const ir::Var& d = m.vars[var];
  std::vector<uint32_t>& slot = env.vars[var];
  if (index >= slot.size()) return;  // out-of-range write does nothing
  slot[index] = d.type.kind == ir::TypeKind::Bool ? (v != 0) : rt::trunc(v, d.type.width);
}

uint32_t eval_expr(const ir::Machine& m, ir::ExprId id, Env& env) {
  const ir::Expr& e = m.exprs[id];
  auto A = [&] { return eval_expr(m, e.a, env); };
  auto B = [&] { return eval_expr(m, e.b, env); };
  switch (e.op) {
    case ir::Op::Const: return e.value;
    case ir::Op::Var: return env.vars[e.a][0];
    case ir::Op::Elem: {
      uint32_t i = B();
      const std::vector<uint32_t>& slot = env.vars[e.a];
      return i < slot.size() ? slot[i] : 0;
    }
    case ir::Op::Param: return env.params[e.a];
    case ir::Op::Bound: return env.bounds[e.a];
    case ir::Op::InState: return env.state == e.a;
    case ir::Op::Not: return !A();
    case ir::Op::BitNot: return ~A();
    case ir::Op::Neg: return rt::neg(A());
    case ir::Op::Add: return A() + B();
    case ir::Op::Sub: return A() - B();
    case ir::Op::Mul: return A() * B();
    case ir::Op::Div: return rt::udiv(A(), B());
    case ir::Op::Mod: return rt::urem(A(), B());
    case ir::Op::BitAnd: return A() & B();
    case ir::Op::BitOr: return A() | B();
    case ir::Op::BitXor: return A() ^ B();
    case ir::Op::Shl: return rt::shl(A(), B());
    case ir::Op::Shr: return rt::shr(A(), B());
    case ir::Op::Eq: return A() == B();
    case ir::Op::Ne: return A() != B();
    case ir::Op::Lt: return A() < B();
    case ir::Op::Le: return A() <= B();
    case ir::Op::Gt: return A() > B();
    case ir::Op::Ge: return A() >= B();
    case ir::Op::And: return A() && B();
    case ir::Op::Or: return A() || B();
    case ir::Op::Implies: return !A() || B();
    case ir::Op::Ite: return A() ? B() : eval_expr(m, e.c, env);
    case ir::Op::BitTest: return rt::bit(A(), B());
    case ir::Op::Count: case ir::Op::Forall: case ir::Op::Exists:
    case ir::Op::Highest: case ir::Op::Lowest: {
      const ir::Bound& bd = m.bounds[e.a];
      uint32_t count = 0, found = 0;
      bool any = false;
      for (uint64_t i = bd.lo; i <= bd.hi; ++i) {
        env.bounds[e.a] = static_cast<uint32_t>(i);
        if (!eval_expr(m, e.b, env)) continue;
        ++count;
        if (e.op == ir::Op::Highest || !any) found = static_cast<uint32_t>(i);
        any = true;
      }
      switch (e.op) {
        case ir::Op::Count: return count;
        case ir::Op::Forall: return count == bd.hi - bd.lo + 1;
        case ir::Op::Exists: return any;
        default: return any ? found : eval_expr(m, e.c, env);
      }
    }
  }
  return 0;
}

void exec_block(const ir::Machine& m, ir::BlockId b, Env& env) {
  if (b == ir::kNone) return;
  for (ir::StmtId sid : m.blocks[b]) {
    const ir::Stmt& s = m.stmts[sid];
    switch (s.kind) {
      case ir::StmtKind::Assign: {
        uint32_t index = s.index == ir::kNone ? 0 : eval_expr(m, s.index, env);
        uint32_t v = eval_expr(m, s.value, env);
        store(m, s.var, index, v, env);
        break;
      }
      case ir::StmtKind::Emit: {
        std::string text = m.outputs[s.output].name + "(";
        for (size_t i = 0; i < s.args.size(); ++i) {
          if (i) text += ",";
          text += std::to_string(eval_expr(m, s.args[i], env));
        }
        text += ")";
        if (env.outputs) env.outputs->push_back(text);
        break;
      }
      case ir::StmtKind::If:
        if (eval_expr(m, s.cond, env)) exec_block(m, s.then_block, env);
        else exec_block(m, s.else_block, env);
        break;
      case ir::StmtKind::For: {
        const ir::Bound& bd = m.bounds[s.bound];
        for (uint64_t i = bd.lo; i <= bd.hi; ++i) {
          env.bounds[s.bound] = static_cast<uint32_t>(i);
          exec_block(m, s.body, env);
        }
        break;
      }
    }
  }
}

}  // namespace fsm::gen
