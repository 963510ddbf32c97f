// Symbolic evaluation of IR expressions and statement blocks into Z3 terms (see encode.h).
// Expressions are bv32 or Bool; variables are stored at their own width and zero-extended when
// read. Blocks run over a symbolic environment; `if` merges with ite, `for` and the bounded
// quantifiers unroll over their constant ranges.
#include "encode.h"

#include <optional>

namespace fsm::proofs {

namespace {

// Largest value an unbounded unsigned type of `w` bits can hold.
uint32_t max_of_width(uint32_t w) { return w >= 32 ? 0xFFFFFFFFu : ((1u << w) - 1u); }

uint32_t clamp_width(uint32_t w) { return w == 0 ? 1 : (w > 32 ? 32 : w); }

// Loops and quantifiers are unrolled; refuse absurd ranges instead of exhausting memory.
constexpr uint64_t kMaxUnroll = 65536;

uint64_t range_len(const ir::Bound& b) {
  if (b.hi < b.lo) return 0;
  uint64_t n = uint64_t{b.hi} - b.lo + 1;
  if (n > kMaxUnroll) throw z3::exception("bound range too large to unroll");
  return n;
}

}  // namespace

uint32_t bits_for(uint64_t n) {
  uint32_t w = 1;
  while (w < 32 && (uint64_t{1} << w) < n) ++w;
  return w;
}

uint32_t model_u32(const z3::model& mdl, const z3::expr& e) {
  z3::expr v = mdl.eval(e, true);
  if (v.is_bool()) return v.is_true() ? 1u : 0u;
  uint64_t x = 0;
  if (v.is_numeral_u64(x)) return static_cast<uint32_t>(x);
  return 0;
}

struct Encoder::Env {
  const Frame* pre = nullptr;   // state before the step (for InState)
  std::vector<z3::expr> cur;    // current slot values, storage sorts
  const Input* in = nullptr;    // event being handled (null in state properties)
  std::vector<std::optional<z3::expr>> bounds;  // values of bound variables being unrolled
};

Encoder::Encoder(z3::context& c, const ir::Machine& m) : c_(c), m_(m) {
  state_w_ = bits_for(m.states.size());
  event_w_ = bits_for(m.events.size());
  for (uint32_t v = 0; v < m.vars.size(); ++v) {
    const ir::Var& var = m.vars[v];
    base_.push_back(static_cast<uint32_t>(slots_.size()));
    uint32_t n = var.array_len == 0 ? 1 : var.array_len;
    for (uint32_t k = 0; k < n; ++k) {
      Slot s;
      s.name = var.array_len == 0 ? var.name : var.name + "[" + std::to_string(k) + "]";
      s.var = v;
      s.elem = k;
      s.is_bool = var.type.kind == ir::TypeKind::Bool;
      s.width = s.is_bool ? 1 : clamp_width(var.type.width);
      slots_.push_back(std::move(s));
    }
  }
}

// ---- frames and inputs ----------------------------------------------------------------------

static std::string slot_symbol(const Slot& s, bool array) {
  return array ? s.name.substr(0, s.name.find('[')) + "." + std::to_string(s.elem) : s.name;
}

Frame Encoder::make_frame(const std::string& prefix) const {
  Frame f{c_.bv_const((prefix + "state").c_str(), state_w_), {}};
  for (const Slot& s : slots_) {
    std::string n = prefix + slot_symbol(s, m_.vars[s.var].array_len != 0);
    f.slots.push_back(s.is_bool ? c_.bool_const(n.c_str()) : c_.bv_const(n.c_str(), s.width));
  }
  return f;
}

Input Encoder::make_input(const std::string& prefix) const {
  Input in{c_.bv_const((prefix + "event").c_str(), event_w_), {}};
  for (uint32_t j = 0; j < m_.max_params(); ++j)
    in.params.push_back(c_.bv_const((prefix + "p" + std::to_string(j)).c_str(), 32));
  return in;
}

z3::expr_vector Encoder::vars(const Frame& f) const {
  z3::expr_vector v(c_);
  v.push_back(f.state);
  for (const z3::expr& e : f.slots) v.push_back(e);
  return v;
}

z3::expr_vector Encoder::vars(const Input& in) const {
  z3::expr_vector v(c_);
  v.push_back(in.event);
  for (const z3::expr& e : in.params) v.push_back(e);
  return v;
}

z3::expr_vector Encoder::vars(const Frame& f, const Input& in) const {
  z3::expr_vector v = vars(f);
  for (const z3::expr& e : vars(in)) v.push_back(e);
  return v;
}

z3::sort_vector Encoder::frame_sorts() const {
  z3::sort_vector v(c_);
  v.push_back(c_.bv_sort(state_w_));
  for (const Slot& s : slots_) v.push_back(s.is_bool ? c_.bool_sort() : c_.bv_sort(s.width));
  return v;
}

Frame Encoder::init_frame() const {
  Frame f{c_.bv_val(m_.initial, state_w_), {}};
  for (const Slot& s : slots_) {
    uint32_t v = m_.vars[s.var].init;
    f.slots.push_back(s.is_bool ? c_.bool_val(v != 0)
                                : c_.bv_val(uint64_t{v} & max_of_width(s.width), s.width));
  }
  return f;
}

z3::expr Encoder::equal(const Frame& a, const Frame& b) const {
  z3::expr r = a.state == b.state;
  for (size_t i = 0; i < a.slots.size(); ++i) r = r && a.slots[i] == b.slots[i];
  return r;
}

z3::expr Encoder::is_init(const Frame& f) const { return equal(f, init_frame()); }

// Valid values [lo, hi] of a scalar type, derived from its kind (not trusting unused fields).
static std::pair<uint32_t, uint32_t> domain(const ir::Machine& m, const ir::Type& t) {
  switch (t.kind) {
    case ir::TypeKind::Bool: return {0, 1};
    case ir::TypeKind::Enum: {
      size_t n = t.enum_id < m.enums.size() ? m.enums[t.enum_id].members.size() : 1;
      return {0, static_cast<uint32_t>(n == 0 ? 0 : n - 1)};
    }
    case ir::TypeKind::State: return {0, static_cast<uint32_t>(m.states.size() - 1)};
    case ir::TypeKind::UInt:
      if (t.ranged) return {t.lo, t.hi};
      return {0, max_of_width(clamp_width(t.width))};
    case ir::TypeKind::Bits: return {0, max_of_width(clamp_width(t.width))};
  }
  return {0, 0xFFFFFFFFu};
}

z3::expr Encoder::input_ok(const Input& in) const {
  if (m_.events.empty()) return c_.bool_val(false);
  z3::expr ok = c_.bool_val(true);
  if (m_.events.size() < (uint64_t{1} << event_w_))
    ok = z3::ult(in.event, c_.bv_val(static_cast<uint64_t>(m_.events.size()), event_w_));
  for (uint32_t e = 0; e < m_.events.size(); ++e) {
    const ir::Event& ev = m_.events[e];
    z3::expr d = c_.bool_val(true);
    for (uint32_t j = 0; j < in.params.size(); ++j) {
      if (j < ev.params.size()) {
        auto [lo, hi] = domain(m_, ev.params[j].type);
        if (lo > 0) d = d && z3::uge(in.params[j], bv32(lo));
        if (hi < 0xFFFFFFFFu) d = d && z3::ule(in.params[j], bv32(hi));
      } else {
        d = d && in.params[j] == bv32(0);
      }
    }
    ok = ok && z3::implies(in.event == c_.bv_val(e, event_w_), d);
  }
  return ok;
}

// ---- expressions ----------------------------------------------------------------------------

z3::expr Encoder::load(uint32_t slot, const z3::expr& v) const {
  const Slot& s = slots_[slot];
  if (s.is_bool || s.width >= 32) return v;
  return z3::zext(v, 32 - s.width);
}

z3::expr Encoder::store(uint32_t slot, const z3::expr& v) const {
  const Slot& s = slots_[slot];
  if (s.is_bool) return v.is_bool() ? v : v != bv32(0);
  if (v.is_bool()) return z3::ite(v, c_.bv_val(1, s.width), c_.bv_val(0, s.width));
  if (s.width >= 32) return v;
  return v.extract(s.width - 1, 0);
}

static std::optional<uint32_t> constant_of(const z3::expr& e) {
  z3::expr s = e.simplify();
  uint64_t v = 0;
  if (s.is_numeral_u64(v)) return static_cast<uint32_t>(v);
  return std::nullopt;
}

z3::expr Encoder::eval_bool(ir::ExprId id, Env& env) const {
  z3::expr e = eval(id, env);
  return e.is_bool() ? e : e != bv32(0);
}

z3::expr Encoder::eval_bv(ir::ExprId id, Env& env) const {
  z3::expr e = eval(id, env);
  return e.is_bool() ? z3::ite(e, bv32(1), bv32(0)) : e;
}

z3::expr Encoder::eval(ir::ExprId id, Env& env) const {
  if (id >= m_.exprs.size()) throw z3::exception("expression id out of range");
  const ir::Expr& x = m_.exprs[id];
  switch (x.op) {
    case ir::Op::Const:
      return x.type.kind == ir::TypeKind::Bool ? c_.bool_val(x.value != 0) : bv32(x.value);
    case ir::Op::Var: {
      uint32_t s = base_.at(x.a);
      return load(s, env.cur[s]);
    }
    case ir::Op::Elem: {
      const ir::Var& var = m_.vars.at(x.a);
      z3::expr idx = eval_bv(x.b, env);
      uint32_t s0 = base_[x.a];
      if (var.array_len == 0) {  // bit i of a bitsN scalar
        z3::expr v = load(s0, env.cur[s0]);
        return (z3::lshr(v, idx) & bv32(1)) == bv32(1);
      }
      bool is_bool = slots_[s0].is_bool;
      z3::expr dflt = is_bool ? c_.bool_val(false) : bv32(0);
      if (auto k = constant_of(idx)) return *k < var.array_len ? load(s0 + *k, env.cur[s0 + *k]) : dflt;
      z3::expr r = dflt;
      for (uint32_t k = var.array_len; k-- > 0;) r = z3::ite(idx == bv32(k), load(s0 + k, env.cur[s0 + k]), r);
      return r;
    }
    case ir::Op::Param: {
      if (env.in == nullptr || x.a >= env.in->params.size())
        throw z3::exception("payload field used outside a handler");
      const z3::expr& p = env.in->params[x.a];
      return x.type.kind == ir::TypeKind::Bool ? p != bv32(0) : p;
    }
    case ir::Op::Bound:
      if (x.a >= env.bounds.size() || !env.bounds[x.a]) throw z3::exception("unbound loop variable");
      return *env.bounds[x.a];
    case ir::Op::InState: return env.pre->state == c_.bv_val(x.a, state_w_);
    case ir::Op::Not: return !eval_bool(x.a, env);
    case ir::Op::BitNot: return ~eval_bv(x.a, env);
    case ir::Op::Neg: return -eval_bv(x.a, env);
    case ir::Op::And: return eval_bool(x.a, env) && eval_bool(x.b, env);
    case ir::Op::Or: return eval_bool(x.a, env) || eval_bool(x.b, env);
    case ir::Op::Implies: return z3::implies(eval_bool(x.a, env), eval_bool(x.b, env));
    case ir::Op::Ite: {
      z3::expr c = eval_bool(x.a, env);
      z3::expr a = eval(x.b, env), b = eval(x.c, env);
      if (a.is_bool() != b.is_bool()) {
        a = a.is_bool() ? z3::ite(a, bv32(1), bv32(0)) : a;
        b = b.is_bool() ? z3::ite(b, bv32(1), bv32(0)) : b;
      }
      return z3::ite(c, a, b);
    }
    case ir::Op::Eq:
    case ir::Op::Ne: {
      z3::expr a = eval(x.a, env), b = eval(x.b, env);
      if (a.is_bool() != b.is_bool()) { a = eval_bv(x.a, env); b = eval_bv(x.b, env); }
      return x.op == ir::Op::Eq ? a == b : a != b;
    }
    case ir::Op::Count:
    case ir::Op::Forall:
    case ir::Op::Exists:
    case ir::Op::Highest:
    case ir::Op::Lowest: return quantifier(x, env);
    default: break;
  }
  z3::expr a = eval_bv(x.a, env), b = eval_bv(x.b, env);
  switch (x.op) {
    case ir::Op::Add: return a + b;
    case ir::Op::Sub: return a - b;
    case ir::Op::Mul: return a * b;
    case ir::Op::Div: return z3::udiv(a, b);   // bvudiv: x/0 = 0xFFFFFFFF
    case ir::Op::Mod: return z3::urem(a, b);   // bvurem: x%0 = x
    case ir::Op::BitAnd: return a & b;
    case ir::Op::BitOr: return a | b;
    case ir::Op::BitXor: return a ^ b;
    case ir::Op::Shl: return z3::shl(a, b);    // >= 32 gives 0
    case ir::Op::Shr: return z3::lshr(a, b);
    case ir::Op::Lt: return z3::ult(a, b);
    case ir::Op::Le: return z3::ule(a, b);
    case ir::Op::Gt: return z3::ugt(a, b);
    case ir::Op::Ge: return z3::uge(a, b);
    case ir::Op::BitTest: return (z3::lshr(a, b) & bv32(1)) == bv32(1);  // b >= 32 gives false
    default: break;
  }
  throw z3::exception("unknown IR operator");
}

z3::expr Encoder::quantifier(const ir::Expr& x, Env& env) const {
  const ir::Bound& b = m_.bounds.at(x.a);
  uint64_t n = range_len(b);
  if (env.bounds.size() <= x.a) env.bounds.resize(x.a + 1);
  std::optional<z3::expr> saved = env.bounds[x.a];
  std::vector<z3::expr> preds;
  for (uint64_t k = 0; k < n; ++k) {
    env.bounds[x.a] = bv32(static_cast<uint32_t>(b.lo + k));
    preds.push_back(eval_bool(x.b, env));
  }
  env.bounds[x.a] = saved;
  z3::expr r(c_);
  switch (x.op) {
    case ir::Op::Count:
      r = bv32(0);
      for (const z3::expr& p : preds) r = r + z3::ite(p, bv32(1), bv32(0));
      return r;
    case ir::Op::Forall:
      r = c_.bool_val(true);
      for (const z3::expr& p : preds) r = r && p;
      return r;
    case ir::Op::Exists:
      r = c_.bool_val(false);
      for (const z3::expr& p : preds) r = r || p;
      return r;
    case ir::Op::Highest:  // the last (largest) i with p wins
      r = eval_bv(x.c, env);
      for (uint64_t k = 0; k < n; ++k) r = z3::ite(preds[k], bv32(static_cast<uint32_t>(b.lo + k)), r);
      return r;
    default:  // Lowest: the first (smallest) i with p wins
      r = eval_bv(x.c, env);
      for (uint64_t k = n; k-- > 0;) r = z3::ite(preds[k], bv32(static_cast<uint32_t>(b.lo + k)), r);
      return r;
  }
}

// ---- statements -----------------------------------------------------------------------------

void Encoder::assign(const ir::Stmt& st, Env& env) const {
  const ir::Var& var = m_.vars.at(st.var);
  uint32_t s0 = base_[st.var];
  z3::expr val = eval(st.value, env);
  if (st.index == ir::kNone) {
    env.cur[s0] = store(s0, val);
    return;
  }
  z3::expr idx = eval_bv(st.index, env);
  if (var.array_len == 0) {  // b[i] := bool on a bitsN scalar; i >= N is a no-op after truncation
    z3::expr old = load(s0, env.cur[s0]);
    z3::expr bit = z3::shl(bv32(1), idx);
    z3::expr set = val.is_bool() ? val : val != bv32(0);
    env.cur[s0] = store(s0, z3::ite(set, old | bit, old & ~bit));
    return;
  }
  if (auto k = constant_of(idx)) {
    if (*k < var.array_len) env.cur[s0 + *k] = store(s0 + *k, val);
    return;
  }
  for (uint32_t k = 0; k < var.array_len; ++k)
    env.cur[s0 + k] = z3::ite(idx == bv32(k), store(s0 + k, val), env.cur[s0 + k]);
}

void Encoder::exec(ir::StmtId id, Env& env) const {
  const ir::Stmt& st = m_.stmts.at(id);
  switch (st.kind) {
    case ir::StmtKind::Assign: assign(st, env); return;
    case ir::StmtKind::Emit: return;  // observations do not change the state
    case ir::StmtKind::If: {
      z3::expr c = eval_bool(st.cond, env);
      Env then_env = env;
      exec_block(st.then_block, then_env);
      if (st.else_block != ir::kNone) exec_block(st.else_block, env);
      for (size_t i = 0; i < env.cur.size(); ++i)
        if (!z3::eq(then_env.cur[i], env.cur[i])) env.cur[i] = z3::ite(c, then_env.cur[i], env.cur[i]);
      return;
    }
    case ir::StmtKind::For: {
      const ir::Bound& b = m_.bounds.at(st.bound);
      uint64_t n = range_len(b);
      if (env.bounds.size() <= st.bound) env.bounds.resize(st.bound + 1);
      std::optional<z3::expr> saved = env.bounds[st.bound];
      for (uint64_t k = 0; k < n; ++k) {
        env.bounds[st.bound] = bv32(static_cast<uint32_t>(b.lo + k));
        exec_block(st.body, env);
      }
      env.bounds[st.bound] = saved;
      return;
    }
  }
}

void Encoder::exec_block(ir::BlockId b, Env& env) const {
  if (b == ir::kNone) return;
  for (ir::StmtId s : m_.blocks.at(b)) exec(s, env);
}

// ---- transitions and properties -------------------------------------------------------------

z3::expr Encoder::guard(uint32_t t, const Frame& s, const Input& in) const {
  const ir::Transition& tr = m_.transitions.at(t);
  if (tr.guard == ir::kNone) return c_.bool_val(true);
  Env env{&s, s.slots, &in, {}};
  return eval_bool(tr.guard, env);
}

z3::expr Encoder::property(ir::ExprId e, const Frame& s) const {
  Env env{&s, s.slots, nullptr, {}};
  return eval_bool(e, env);
}

Frame Encoder::next(const Frame& s, const Input& in) const {
  struct Effect {
    z3::expr cond;
    std::vector<z3::expr> vals;
    uint32_t target;
    uint32_t source;
  };
  std::vector<Effect> effects;
  for (uint32_t st = 0; st < m_.states.size(); ++st) {
    for (uint32_t ev = 0; ev < m_.events.size(); ++ev) {
      const ir::Handler& h = m_.handler(st, ev);
      if (h.kind != ir::HandlerKind::Handle) continue;
      z3::expr here = s.state == c_.bv_val(st, state_w_) && in.event == c_.bv_val(ev, event_w_);
      z3::expr none_before = c_.bool_val(true);  // first matching transition wins
      for (uint32_t t : h.transitions) {
        const ir::Transition& tr = m_.transitions.at(t);
        z3::expr g = guard(t, s, in);
        Env env{&s, s.slots, &in, {}};
        exec_block(tr.body, env);
        effects.push_back({here && none_before && g, std::move(env.cur), tr.target, tr.state});
        none_before = none_before && !g;
      }
    }
  }
  // Conditions are pairwise disjoint, so unchanged values need no ite.
  Frame out = s;
  for (size_t k = effects.size(); k-- > 0;) {
    const Effect& e = effects[k];
    if (e.target != e.source) out.state = z3::ite(e.cond, c_.bv_val(e.target, state_w_), out.state);
    for (size_t i = 0; i < s.slots.size(); ++i)
      if (!z3::eq(e.vals[i], s.slots[i])) out.slots[i] = z3::ite(e.cond, e.vals[i], out.slots[i]);
  }
  return out;
}

std::vector<Claim> Encoder::claims() const {
  std::vector<Claim> out;
  for (uint32_t i = 0; i < m_.invariants.size(); ++i) {
    ir::ExprId e = m_.invariants[i].expr;
    out.push_back({Claim::Kind::User, m_.invariants[i].name, i,
                   [this, e](const Frame& f) { return property(e, f); }});
  }
  // Every element of `v` lies in [lo, hi] (lo > 0 or hi below the storage maximum).
  auto in_domain = [this](uint32_t v, uint32_t lo, uint32_t hi) {
    return [this, v, lo, hi](const Frame& f) {
      z3::expr r = c_.bool_val(true);
      const ir::Var& var = m_.vars[v];
      uint32_t n = var.array_len == 0 ? 1 : var.array_len;
      for (uint32_t k = 0; k < n; ++k) {
        z3::expr x = load(base_[v] + k, f.slots[base_[v] + k]);
        if (lo > 0) r = r && z3::uge(x, bv32(lo));
        r = r && z3::ule(x, bv32(hi));
      }
      return r;
    };
  };
  for (uint32_t v = 0; v < m_.vars.size(); ++v) {
    const ir::Type& t = m_.vars[v].type;
    if (t.kind == ir::TypeKind::UInt && t.ranged)
      out.push_back({Claim::Kind::Range, "range_" + m_.vars[v].name, v, in_domain(v, t.lo, t.hi)});
  }
  if (m_.states.size() < (uint64_t{1} << state_w_)) {
    uint32_t n = static_cast<uint32_t>(m_.states.size());
    out.push_back({Claim::Kind::Helper, "state_valid", 0, [this, n](const Frame& f) {
                     return z3::ult(f.state, c_.bv_val(n, state_w_));
                   }});
  }
  for (uint32_t v = 0; v < m_.vars.size(); ++v) {
    const ir::Type& t = m_.vars[v].type;
    if (t.kind != ir::TypeKind::Enum) continue;
    uint32_t hi = domain(m_, t).second;
    if (hi < max_of_width(slots_[base_[v]].width))
      out.push_back({Claim::Kind::Helper, "enum_" + m_.vars[v].name, v, in_domain(v, 0, hi)});
  }
  return out;
}

// ---- display --------------------------------------------------------------------------------

std::string Encoder::show_value(const ir::Type& t, uint32_t v) const {
  if (t.kind == ir::TypeKind::Enum && t.enum_id < m_.enums.size() && v < m_.enums[t.enum_id].members.size())
    return m_.enums[t.enum_id].members[v];
  return std::to_string(v);
}

uint32_t Encoder::state_value(const z3::model& mdl, const Frame& f) const { return model_u32(mdl, f.state); }

std::string Encoder::show_state(const z3::model& mdl, const Frame& f) const {
  uint32_t st = state_value(mdl, f);
  std::string out = st < m_.states.size() ? m_.states[st].name : "state#" + std::to_string(st);
  for (uint32_t v = 0; v < m_.vars.size(); ++v) {
    const ir::Var& var = m_.vars[v];
    out += " " + var.name + "=";
    uint32_t n = var.array_len == 0 ? 1 : var.array_len;
    for (uint32_t k = 0; k < n; ++k) {
      if (k > 0) out += ",";
      out += show_value(var.type, model_u32(mdl, f.slots[base_[v] + k]));
    }
  }
  return out;
}

std::string Encoder::show_input(const z3::model& mdl, const Input& in) const {
  uint32_t e = model_u32(mdl, in.event);
  if (e >= m_.events.size()) return "event#" + std::to_string(e);
  const ir::Event& ev = m_.events[e];
  std::string out = ev.name;
  if (ev.params.empty()) return out;
  out += "(";
  for (size_t j = 0; j < ev.params.size(); ++j) {
    if (j > 0) out += ", ";
    // A number, an enum's position included: event lines are `fsmc run` input (spec/README.md),
    // and tests/gen/expect_proof_failure.sh turns them into regression traces as they are.
    out += ev.params[j].name + "=" + std::to_string(model_u32(mdl, in.params[j]));
  }
  return out + ")";
}

}  // namespace fsm::proofs
