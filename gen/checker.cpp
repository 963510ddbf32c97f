// Checker pass: ast::File => canonical ir::Machine (contract in checker.h and frontend.h).
// Every error names what was expected and what was found; checking continues after an error
// so one run reports all of a file's problems.
#include "checker.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "eval.h"

namespace fsm::gen {
namespace {

using ir::kNone;
constexpr uint32_t kMaxArray = 4096;
constexpr uint32_t kMaxRange = 4096;

uint32_t bits_for(uint32_t max_value) {
  uint32_t w = 1;
  while (w < 32 && (max_value >> w) != 0) ++w;
  return w;
}
uint32_t mask(uint32_t width) { return width >= 32 ? 0xFFFFFFFFu : ((1u << width) - 1u); }

ir::Type u32_type() { return ir::Type{ir::TypeKind::UInt, 32, 0, 0xFFFFFFFFu, 0, false}; }
ir::Type bool_type() { return ir::Type{ir::TypeKind::Bool, 1, 0, 1, 0, false}; }
bool is_int(const ir::Type& t) { return t.kind == ir::TypeKind::UInt || t.kind == ir::TypeKind::Bits; }

template <class T>
std::vector<size_t> order_by_name(const std::vector<T>& v) {
  std::vector<size_t> idx(v.size());
  for (size_t i = 0; i < v.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a].name < v[b].name; });
  return idx;
}

class MachineChecker {
 public:
  MachineChecker(const ast::File& f, const ast::Machine& am, Reporter& rep)
      : f_(f), am_(am), rep_(rep) {}

  bool run(ir::Machine& out) {
    m_.name = am_.name;
    m_.spec_path = f_.path;
    m_.reqs = am_.reqs;
    m_.loc = am_.loc;
    declare_names();
    consts();
    enums();
    vars();
    events_and_outputs();
    states();
    handlers();
    properties(am_.invariants, m_.invariants, "invariant");
    properties(am_.reachables, m_.reachables, "reachable goal");
    if (!ok_) return false;
    out = std::move(m_);
    return true;
  }

 private:
  void error(ir::SrcLoc l, const std::string& msg) {
    rep_.error(f_.path, l, msg);
    ok_ = false;
  }

  // ---- declarations ----
  void declare_names() {
    std::map<std::string, std::pair<const char*, ir::SrcLoc>> seen;
    auto add = [&](const std::string& n, const char* kind, ir::SrcLoc l) {
      auto [it, fresh] = seen.emplace(n, std::make_pair(kind, l));
      if (!fresh)
        error(l, std::string("duplicate name '") + n + "': already declared as " + it->second.first +
                     " at line " + std::to_string(it->second.second.line));
    };
    for (const auto& c : am_.consts) add(c.name, "a constant", c.loc);
    for (const auto& e : am_.enums) add(e.name, "an enum", e.loc);
    for (const auto& v : am_.vars) add(v.name, "a variable", v.loc);
    for (const auto& e : am_.events) add(e.name, "an event", e.loc);
    for (const auto& o : am_.outputs) add(o.name, "an output", o.loc);
    for (const auto& s : am_.states) add(s.name, "a state", s.loc);
    std::map<std::string, ir::SrcLoc> props;
    for (const auto* list : {&am_.invariants, &am_.reachables})
      for (const auto& p : *list)
        if (!props.emplace(p.name, p.loc).second) error(p.loc, "duplicate property name '" + p.name + "'");
  }

  std::optional<uint32_t> fold(int ast_expr, const char* what) {
    size_t ne = m_.exprs.size(), nb = m_.bounds.size();
    bool saved = in_const_;
    in_const_ = true;
    ir::ExprId e = expr(ast_expr);
    in_const_ = saved;
    std::optional<uint32_t> result;
    if (e != kNone) {
      if (!is_int(m_.exprs[e].type) && m_.exprs[e].type.kind != ir::TypeKind::Enum) {
        error(f_.exprs[ast_expr].loc, std::string("expected an integer constant for ") + what +
                                          ", found " + type_name(m_.exprs[e].type));
      } else if (!is_constant(m_, e)) {
        error(f_.exprs[ast_expr].loc, std::string("expected a constant expression for ") + what);
      } else {
        Env env;
        env.bounds.assign(m_.bounds.size(), 0);
        result = eval_expr(m_, e, env);
      }
    }
    m_.exprs.resize(ne);
    m_.bounds.resize(nb);
    return result;
  }

  void consts() {
    for (const auto& c : am_.consts) {  // source order: a constant may use earlier ones
      std::optional<uint32_t> v = fold(c.value, "a constant");
      if (v) consts_[c.name] = *v;
      else consts_[c.name] = 0, bad_consts_.insert(c.name);
    }
  }

  void enums() {
    for (size_t i : order_by_name(am_.enums)) {
      const ast::Enum& e = am_.enums[i];
      ir::EnumDecl d{e.name, e.members, e.loc};
      std::map<std::string, int> seen;
      for (size_t k = 0; k < e.members.size(); ++k) {
        if (!seen.emplace(e.members[k], 0).second)
          error(e.member_locs[k], "duplicate member '" + e.members[k] + "' in enum '" + e.name + "'");
        auto [it, fresh] = members_.emplace(e.members[k], std::make_pair(uint32_t(m_.enums.size()), uint32_t(k)));
        if (!fresh) ambiguous_members_.insert(e.members[k]);
      }
      if (e.members.empty()) error(e.loc, "enum '" + e.name + "' has no members");
      enum_idx_[e.name] = static_cast<uint32_t>(m_.enums.size());
      m_.enums.push_back(d);
    }
  }

  std::string type_name(const ir::Type& t) const {
    switch (t.kind) {
      case ir::TypeKind::Bool: return "bool";
      case ir::TypeKind::Bits: return "bits" + std::to_string(t.width);
      case ir::TypeKind::Enum: return "enum " + m_.enums[t.enum_id].name;
      case ir::TypeKind::State: return "state";
      case ir::TypeKind::UInt:
        if (t.ranged) return std::to_string(t.lo) + ".." + std::to_string(t.hi);
        return t.width == 32 && !t.ranged ? "integer" : "u" + std::to_string(t.width);
    }
    return "?";
  }

  std::optional<ir::Type> resolve_type(const ast::TypeRef& t) {
    if (t.name.empty()) {  // range
      std::optional<uint32_t> lo = fold(t.lo, "a range bound"), hi = fold(t.hi, "a range bound");
      if (!lo || !hi) return std::nullopt;
      if (*lo > *hi) {
        error(t.loc, "empty range " + std::to_string(*lo) + ".." + std::to_string(*hi));
        return std::nullopt;
      }
      ir::Type r{ir::TypeKind::UInt, bits_for(*hi), *lo, *hi, 0, true};
      return r;
    }
    if (t.name == "bool") return bool_type();
    for (const char* prefix : {"u", "bits"}) {
      size_t n = std::string(prefix).size();
      if (t.name.size() > n && t.name.compare(0, n, prefix) == 0 &&
          std::all_of(t.name.begin() + n, t.name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        uint32_t w = static_cast<uint32_t>(std::stoul(t.name.substr(n, 3)));
        if (t.name.size() - n > 2 || w < 1 || w > 32) {
          error(t.loc, "expected a width from 1 to 32 in '" + t.name + "'");
          return std::nullopt;
        }
        ir::TypeKind k = prefix[0] == 'u' ? ir::TypeKind::UInt : ir::TypeKind::Bits;
        return ir::Type{k, w, 0, mask(w), 0, false};
      }
    }
    auto it = enum_idx_.find(t.name);
    if (it == enum_idx_.end()) {
      error(t.loc, "unknown type '" + t.name + "' (expected bool, u1..u32, bits1..bits32, a range or an enum)");
      return std::nullopt;
    }
    uint32_t n = static_cast<uint32_t>(m_.enums[it->second].members.size());
    return ir::Type{ir::TypeKind::Enum, bits_for(n ? n - 1 : 0), 0, n ? n - 1 : 0, it->second, false};
  }

  // Does a constant `v` fit type `t`? (Reports and returns false when not.)
  bool fits(const ir::Type& t, uint32_t v, ir::SrcLoc l) {
    bool ok = t.kind == ir::TypeKind::Bool ? v <= 1 : (v >= t.lo && v <= t.hi);
    if (!ok) error(l, "value " + std::to_string(v) + " does not fit " + type_name(t));
    return ok;
  }

  // Can an expression of type `from` be stored into `to`? Constants must fit.
  bool assignable(const ir::Type& to, ir::ExprId e, ir::SrcLoc l, const std::string& what) {
    const ir::Type& from = m_.exprs[e].type;
    bool ok = false;
    if (to.kind == ir::TypeKind::Bool) ok = from.kind == ir::TypeKind::Bool;
    else if (to.kind == ir::TypeKind::Enum) ok = from.kind == ir::TypeKind::Enum && from.enum_id == to.enum_id;
    else ok = is_int(from);
    if (!ok) {
      error(l, "type mismatch in " + what + ": expected " + type_name(to) + ", found " + type_name(from));
      return false;
    }
    if (is_int(to) && m_.exprs[e].op == ir::Op::Const) return fits(to, m_.exprs[e].value, l);
    return true;
  }

  void vars() {
    for (size_t i : order_by_name(am_.vars)) {
      const ast::Var& v = am_.vars[i];
      std::optional<ir::Type> t = resolve_type(v.type);
      ir::Var d;
      d.name = v.name;
      d.loc = v.loc;
      if (t) d.type = *t;
      if (v.array_len >= 0) {
        std::optional<uint32_t> n = fold(v.array_len, "an array length");
        if (n && (*n < 1 || *n > kMaxArray))
          error(f_.exprs[v.array_len].loc, "array length " + std::to_string(*n) + " out of range 1.." + std::to_string(kMaxArray));
        else if (n) d.array_len = *n;
      }
      if (t && t->ranged) d.init = t->lo;
      if (v.init >= 0 && t) {
        size_t ne = m_.exprs.size(), nb = m_.bounds.size();
        bool saved = in_const_;
        in_const_ = true;
        ir::ExprId e = expr(v.init);
        in_const_ = saved;
        if (e != kNone && assignable(*t, e, f_.exprs[v.init].loc, "the initial value of '" + v.name + "'")) {
          if (!is_constant(m_, e)) error(f_.exprs[v.init].loc, "expected a constant initial value for '" + v.name + "'");
          else {
            Env env;
            env.bounds.assign(m_.bounds.size(), 0);
            d.init = eval_expr(m_, e, env);
            if (is_int(*t)) fits(*t, d.init, f_.exprs[v.init].loc);
          }
        }
        m_.exprs.resize(ne);
        m_.bounds.resize(nb);
      }
      var_idx_[v.name] = static_cast<uint32_t>(m_.vars.size());
      m_.vars.push_back(d);
    }
  }

  bool fields(const std::vector<ast::Field>& in, std::vector<ir::Field>& out, const std::string& owner) {
    std::map<std::string, int> seen;
    bool ok = true;
    for (const auto& fl : in) {
      if (!seen.emplace(fl.name, 0).second) {
        error(fl.loc, "duplicate field '" + fl.name + "' in " + owner);
        ok = false;
      }
      std::optional<ir::Type> t = resolve_type(fl.type);
      if (!t) { ok = false; continue; }
      out.push_back(ir::Field{fl.name, *t});
    }
    return ok;
  }

  void events_and_outputs() {
    for (size_t i : order_by_name(am_.events)) {
      const ast::Event& e = am_.events[i];
      ir::Event d;
      d.name = e.name; d.reqs = e.reqs; d.loc = e.loc;
      fields(e.fields, d.params, "event '" + e.name + "'");
      event_idx_[e.name] = static_cast<uint32_t>(m_.events.size());
      m_.events.push_back(d);
    }
    for (size_t i : order_by_name(am_.outputs)) {
      const ast::Output& o = am_.outputs[i];
      ir::Output d;
      d.name = o.name; d.loc = o.loc;
      fields(o.fields, d.params, "output '" + o.name + "'");
      output_idx_[o.name] = static_cast<uint32_t>(m_.outputs.size());
      m_.outputs.push_back(d);
    }
  }

  void states() {
    if (am_.states.empty()) { error(am_.loc, "machine '" + am_.name + "' has no states"); return; }
    if (am_.events.empty()) error(am_.loc, "machine '" + am_.name + "' has no events");
    std::vector<const ast::State*> initials;
    for (size_t i : order_by_name(am_.states)) {
      const ast::State& s = am_.states[i];
      if (s.initial) { m_.initial = static_cast<uint32_t>(m_.states.size()); initials.push_back(&s); }
      state_idx_[s.name] = static_cast<uint32_t>(m_.states.size());
      m_.states.push_back(ir::State{s.name, s.reqs, s.loc});
    }
    if (initials.empty()) error(am_.loc, "machine '" + am_.name + "' has no initial state (mark one 'initial state')");
    for (size_t k = 1; k < initials.size(); ++k)
      error(initials[k]->loc, "second initial state '" + initials[k]->name + "': '" + initials[0]->name + "' is already initial");
  }

  // ---- handlers and transitions ----
  void handlers() {
    if (m_.states.empty()) return;
    m_.handlers.assign(m_.states.size() * m_.events.size(), ir::Handler{});
    for (size_t si : order_by_name(am_.states)) {
      const ast::State& s = am_.states[si];
      uint32_t sid = state_idx_[s.name];
      std::vector<const ast::On*> by_event(m_.events.size(), nullptr);
      const ast::On* others = nullptr;
      for (const ast::On& o : s.ons) {
        if (o.event.empty()) {
          if (others) error(o.loc, "'on others' is declared twice in state '" + s.name + "'");
          others = &o;
          continue;
        }
        auto it = event_idx_.find(o.event);
        if (it == event_idx_.end()) { error(o.loc, "unknown event '" + o.event + "' in state '" + s.name + "'"); continue; }
        if (by_event[it->second])
          error(o.loc, "event '" + o.event + "' is declared twice in state '" + s.name + "' (first at line " +
                           std::to_string(by_event[it->second]->loc.line) + ")");
        else by_event[it->second] = &o;
      }
      for (uint32_t ev = 0; ev < m_.events.size(); ++ev) {
        const ast::On* o = by_event[ev] ? by_event[ev] : others;
        if (!o) {
          error(s.loc, "state '" + s.name + "' does not declare event '" + m_.events[ev].name +
                           "' (expected handle, ignore, defer or reject)");
          continue;
        }
        handler(sid, ev, *o);
      }
    }
  }

  void handler(uint32_t sid, uint32_t ev, const ast::On& o) {
    ir::Handler& h = m_.handlers[sid * m_.events.size() + ev];
    h.kind = o.kind;
    h.loc = o.loc;
    if (o.kind == ir::HandlerKind::Reject) {
      std::optional<uint32_t> c = fold(o.code, "a reject code");
      if (c) h.reject_code = *c;
    }
    if (o.kind != ir::HandlerKind::Handle) return;
    cur_event_ = static_cast<int>(ev);
    std::vector<ir::ExprId> previous;
    for (size_t k = 0; k < o.transitions.size(); ++k) {
      const ast::Transition& t = o.transitions[k];
      ir::Transition d;
      d.id = static_cast<uint32_t>(m_.transitions.size());
      d.state = sid;
      d.event = ev;
      d.reqs = t.reqs;
      d.loc = t.loc;
      d.target = sid;
      if (!t.target.empty()) {
        auto it = state_idx_.find(t.target);
        if (it == state_idx_.end()) error(t.target_loc, "unknown target state '" + t.target + "'");
        else d.target = it->second;
      }
      if (t.kind == ast::GuardKind::When) {
        d.guard = bool_expr(t.guard, "a guard");
        if (d.guard != kNone) previous.push_back(d.guard);
      } else if (t.kind == ast::GuardKind::Else) {
        d.is_else = true;
        if (k + 1 != o.transitions.size()) error(t.loc, "'else' must be the last transition of a handle block");
        if (k == 0) error(t.loc, "'else' needs a preceding 'when' transition");
        ir::ExprId any = kNone;
        for (ir::ExprId g : previous) any = any == kNone ? g : make(ir::Op::Or, bool_type(), any, g, t.loc);
        if (any != kNone) d.guard = make(ir::Op::Not, bool_type(), any, kNone, t.loc);
      }
      d.body = block(t.body);
      h.transitions.push_back(d.id);
      m_.transitions.push_back(std::move(d));
    }
    cur_event_ = -1;
  }

  ir::BlockId block(const std::vector<int>& stmts) {
    ir::Block b;
    for (int s : stmts) {
      ir::StmtId id = stmt(s);
      if (id != kNone) b.push_back(id);
    }
    m_.blocks.push_back(std::move(b));
    return static_cast<ir::BlockId>(m_.blocks.size() - 1);
  }

  ir::StmtId push_stmt(ir::Stmt s) {
    m_.stmts.push_back(std::move(s));
    return static_cast<ir::StmtId>(m_.stmts.size() - 1);
  }

  ir::StmtId stmt(int sid) {
    const ast::Stmt& s = f_.stmts[sid];
    ir::Stmt d;
    d.loc = s.loc;
    switch (s.kind) {
      case ast::StmtKind::Assign: {
        auto it = var_idx_.find(s.name);
        if (it == var_idx_.end()) {
          error(s.loc, "unknown variable '" + s.name + "' on the left of ':='");
          return kNone;
        }
        const ir::Var& v = m_.vars[it->second];
        ir::ExprId value = expr(s.value);
        ir::ExprId index = s.index >= 0 ? int_expr(s.index, "an index") : kNone;
        if (value == kNone || (s.index >= 0 && index == kNone)) return kNone;
        d.kind = ir::StmtKind::Assign;
        d.var = it->second;
        if (s.index >= 0 && v.array_len == 0) {
          if (v.type.kind != ir::TypeKind::Bits) {
            error(s.loc, "'" + s.name + "' is neither an array nor a bit set and cannot be indexed");
            return kNone;
          }
          if (!assignable(bool_type(), value, f_.exprs[s.value].loc, "a bit of '" + s.name + "'")) return kNone;
          // b[i] := v  ==>  b := (b & ~(1 << i)) | ((v ? 1 : 0) << i)
          ir::Type u = u32_type();
          ir::ExprId cur = make(ir::Op::Var, v.type, it->second, kNone, s.loc);
          ir::ExprId one = constant(1, s.loc), zero = constant(0, s.loc);
          ir::ExprId bitmask = make(ir::Op::Shl, u, one, index, s.loc);
          ir::ExprId cleared = make(ir::Op::BitAnd, u, cur, make(ir::Op::BitNot, u, bitmask, kNone, s.loc), s.loc);
          ir::ExprId as_int = make3(ir::Op::Ite, u, value, one, zero, s.loc);
          d.value = make(ir::Op::BitOr, u, cleared, make(ir::Op::Shl, u, as_int, index, s.loc), s.loc);
          return push_stmt(std::move(d));
        }
        if (s.index < 0 && v.array_len != 0) {
          error(s.loc, "array '" + s.name + "' needs an index on the left of ':='");
          return kNone;
        }
        if (!assignable(v.type, value, f_.exprs[s.value].loc, "assignment to '" + s.name + "'")) return kNone;
        d.index = index;
        d.value = value;
        return push_stmt(std::move(d));
      }
      case ast::StmtKind::Emit: {
        auto it = output_idx_.find(s.name);
        if (it == output_idx_.end()) { error(s.loc, "unknown output '" + s.name + "'"); return kNone; }
        const ir::Output& o = m_.outputs[it->second];
        if (s.args.size() != o.params.size()) {
          error(s.loc, "output '" + s.name + "' takes " + std::to_string(o.params.size()) +
                           " arguments, found " + std::to_string(s.args.size()));
          return kNone;
        }
        d.kind = ir::StmtKind::Emit;
        d.output = it->second;
        for (size_t k = 0; k < s.args.size(); ++k) {
          ir::ExprId a = expr(s.args[k]);
          if (a == kNone) return kNone;
          if (!assignable(o.params[k].type, a, f_.exprs[s.args[k]].loc, "argument '" + o.params[k].name + "' of '" + s.name + "'"))
            return kNone;
          d.args.push_back(a);
        }
        return push_stmt(std::move(d));
      }
      case ast::StmtKind::If: {
        d.kind = ir::StmtKind::If;
        d.cond = bool_expr(s.value, "an if condition");
        d.then_block = block(s.then_body);
        if (s.has_else) d.else_block = block(s.else_body);
        if (d.cond == kNone) return kNone;
        return push_stmt(std::move(d));
      }
      case ast::StmtKind::For: {
        d.kind = ir::StmtKind::For;
        std::optional<uint32_t> b = bound(s.name, s.lo, s.hi, s.loc);
        if (!b) return kNone;
        d.bound = *b;
        scope_.push_back({s.name, *b});
        d.body = block(s.then_body);
        scope_.pop_back();
        return push_stmt(std::move(d));
      }
    }
    return kNone;
  }

  std::optional<uint32_t> bound(const std::string& name, int lo_e, int hi_e, ir::SrcLoc l) {
    std::optional<uint32_t> lo = fold(lo_e, "a range bound"), hi = fold(hi_e, "a range bound");
    if (!lo || !hi) return std::nullopt;
    if (*lo > *hi) { error(l, "empty range " + std::to_string(*lo) + ".." + std::to_string(*hi)); return std::nullopt; }
    if (*hi - *lo >= kMaxRange) { error(l, "range " + std::to_string(*lo) + ".." + std::to_string(*hi) + " is longer than " + std::to_string(kMaxRange)); return std::nullopt; }
    m_.bounds.push_back(ir::Bound{name, *lo, *hi});
    return static_cast<uint32_t>(m_.bounds.size() - 1);
  }

  void properties(const std::vector<ast::Property>& in, std::vector<ir::Property>& out, const char* what) {
    for (size_t i : order_by_name(in)) {
      const ast::Property& p = in[i];
      ir::Property d{p.name, bool_expr(p.expr, what), p.reqs, p.loc};
      out.push_back(d);
    }
  }

  // ---- expressions ----
  ir::ExprId make(ir::Op op, ir::Type t, uint32_t a, uint32_t b, ir::SrcLoc l) { return make3(op, t, a, b, kNone, l); }
  ir::ExprId make3(ir::Op op, ir::Type t, uint32_t a, uint32_t b, uint32_t c, ir::SrcLoc l) {
    ir::Expr e;
    e.op = op; e.type = t; e.a = a; e.b = b; e.c = c; e.loc = l;
    m_.exprs.push_back(e);
    return static_cast<ir::ExprId>(m_.exprs.size() - 1);
  }
  ir::ExprId constant(uint32_t v, ir::SrcLoc l, ir::Type t = u32_type()) {
    ir::ExprId id = make(ir::Op::Const, t, kNone, kNone, l);
    m_.exprs[id].value = v;
    return id;
  }

  ir::ExprId bool_expr(int e, const std::string& what) {
    ir::ExprId id = expr(e);
    if (id != kNone && m_.exprs[id].type.kind != ir::TypeKind::Bool) {
      error(f_.exprs[e].loc, "expected a bool for " + what + ", found " + type_name(m_.exprs[id].type));
      return kNone;
    }
    return id;
  }
  ir::ExprId int_expr(int e, const std::string& what) {
    ir::ExprId id = expr(e);
    if (id != kNone && !is_int(m_.exprs[id].type)) {
      error(f_.exprs[e].loc, "expected an integer for " + what + ", found " + type_name(m_.exprs[id].type));
      return kNone;
    }
    return id;
  }

  ir::ExprId name(const ast::Expr& e) {
    for (auto it = scope_.rbegin(); it != scope_.rend(); ++it)
      if (it->first == e.name) return make(ir::Op::Bound, u32_type(), it->second, kNone, e.loc);
    if (cur_event_ >= 0 && !in_const_) {
      const ir::Event& ev = m_.events[cur_event_];
      for (size_t k = 0; k < ev.params.size(); ++k)
        if (ev.params[k].name == e.name) return make(ir::Op::Param, ev.params[k].type, static_cast<uint32_t>(k), kNone, e.loc);
    }
    if (auto it = var_idx_.find(e.name); it != var_idx_.end()) {
      if (in_const_) { error(e.loc, "expected a constant, found variable '" + e.name + "'"); return kNone; }
      const ir::Var& v = m_.vars[it->second];
      if (v.array_len) { error(e.loc, "array '" + e.name + "' needs an index"); return kNone; }
      return make(ir::Op::Var, v.type, it->second, kNone, e.loc);
    }
    if (auto it = consts_.find(e.name); it != consts_.end()) {
      if (bad_consts_.count(e.name)) { ok_ = false; return kNone; }
      return constant(it->second, e.loc);
    }
    if (auto it = members_.find(e.name); it != members_.end()) {
      if (ambiguous_members_.count(e.name)) {
        error(e.loc, "ambiguous enum member '" + e.name + "': qualify it as Enum." + e.name);
        return kNone;
      }
      const ir::EnumDecl& d = m_.enums[it->second.first];
      uint32_t n = static_cast<uint32_t>(d.members.size());
      return constant(it->second.second, e.loc, ir::Type{ir::TypeKind::Enum, bits_for(n - 1), 0, n - 1, it->second.first, false});
    }
    if (state_idx_.count(e.name)) {
      error(e.loc, "state '" + e.name + "' used as a value: compare it as 'state == " + e.name + "'");
      return kNone;
    }
    if (cur_event_ < 0 && !in_const_ && event_idx_.size()) {
      for (const ir::Event& ev : m_.events)
        for (const ir::Field& fl : ev.params)
          if (fl.name == e.name) { error(e.loc, "payload field '" + e.name + "' used outside a transition"); return kNone; }
    }
    error(e.loc, "unknown name '" + e.name + "'");
    return kNone;
  }

  ir::ExprId state_compare(const ast::Expr& e, const ast::Expr& other) {
    if (other.kind != ast::ExprKind::Name || !state_idx_.count(other.name)) {
      error(other.loc, "expected a state name after 'state " + e.name + "'");
      return kNone;
    }
    if (in_const_) { error(e.loc, "expected a constant, found 'state'"); return kNone; }
    ir::ExprId in = make(ir::Op::InState, bool_type(), state_idx_[other.name], kNone, e.loc);
    return e.name == "==" ? in : make(ir::Op::Not, bool_type(), in, kNone, e.loc);
  }

  ir::ExprId expr(int id) {
    if (id < 0) return kNone;
    const ast::Expr& e = f_.exprs[id];
    switch (e.kind) {
      case ast::ExprKind::Int: return constant(e.value, e.loc);
      case ast::ExprKind::Bool: return constant(e.value, e.loc, bool_type());
      case ast::ExprKind::Name: return name(e);
      case ast::ExprKind::State:
        error(e.loc, "'state' can only be compared with == or != to a state name");
        return kNone;
      case ast::ExprKind::Member: {
        auto it = enum_idx_.find(e.name);
        if (it == enum_idx_.end()) { error(e.loc, "unknown enum '" + e.name + "'"); return kNone; }
        const ir::EnumDecl& d = m_.enums[it->second];
        for (uint32_t k = 0; k < d.members.size(); ++k)
          if (d.members[k] == e.member) {
            uint32_t n = static_cast<uint32_t>(d.members.size());
            return constant(k, e.loc, ir::Type{ir::TypeKind::Enum, bits_for(n - 1), 0, n - 1, it->second, false});
          }
        error(e.loc, "enum '" + e.name + "' has no member '" + e.member + "'");
        return kNone;
      }
      case ast::ExprKind::Unary: {
        ir::ExprId a = expr(e.a);
        if (a == kNone) return kNone;
        const ir::Type& t = m_.exprs[a].type;
        if (e.name == "!") {
          if (t.kind != ir::TypeKind::Bool) { error(e.loc, "expected a bool after '!', found " + type_name(t)); return kNone; }
          return make(ir::Op::Not, bool_type(), a, kNone, e.loc);
        }
        if (!is_int(t)) { error(e.loc, "expected an integer after '" + e.name + "', found " + type_name(t)); return kNone; }
        return make(e.name == "~" ? ir::Op::BitNot : ir::Op::Neg, u32_type(), a, kNone, e.loc);
      }
      case ast::ExprKind::Binary: return binary(e);
      case ast::ExprKind::Ternary: {
        ir::ExprId c = bool_expr(e.a, "the condition of '?'");
        ir::ExprId a = expr(e.b), b = expr(e.c);
        if (c == kNone || a == kNone || b == kNone) return kNone;
        const ir::Type &ta = m_.exprs[a].type, &tb = m_.exprs[b].type;
        if (is_int(ta) && is_int(tb)) return make3(ir::Op::Ite, u32_type(), c, a, b, e.loc);
        if (ta.kind == tb.kind && ta.kind != ir::TypeKind::UInt && ta.enum_id == tb.enum_id)
          return make3(ir::Op::Ite, ta, c, a, b, e.loc);
        error(e.loc, "the branches of '?' differ: " + type_name(ta) + " and " + type_name(tb));
        return kNone;
      }
      case ast::ExprKind::Index: {
        const ast::Expr& base = f_.exprs[e.a];
        ir::ExprId idx = int_expr(e.b, "an index");
        if (base.kind == ast::ExprKind::Name && var_idx_.count(base.name) && m_.vars[var_idx_[base.name]].array_len) {
          if (in_const_) { error(e.loc, "expected a constant, found variable '" + base.name + "'"); return kNone; }
          if (idx == kNone) return kNone;
          uint32_t v = var_idx_[base.name];
          return make(ir::Op::Elem, m_.vars[v].type, v, idx, e.loc);
        }
        ir::ExprId b = expr(e.a);
        if (b == kNone || idx == kNone) return kNone;
        if (m_.exprs[b].type.kind != ir::TypeKind::Bits) {
          error(e.loc, "expected an array or a bit set before '[', found " + type_name(m_.exprs[b].type));
          return kNone;
        }
        return make(ir::Op::BitTest, bool_type(), b, idx, e.loc);
      }
      case ast::ExprKind::Quant: {
        std::optional<uint32_t> b = bound(e.member, e.a, e.b, e.loc);
        if (!b) return kNone;
        scope_.push_back({e.member, *b});
        ir::ExprId body = bool_expr(e.c, "the body of '" + e.name + "'");
        scope_.pop_back();
        ir::ExprId dflt = kNone;
        if (e.d >= 0) dflt = int_expr(e.d, "the default of '" + e.name + "'");
        if (body == kNone || (e.d >= 0 && dflt == kNone)) return kNone;
        if (e.name == "count") return make(ir::Op::Count, u32_type(), *b, body, e.loc);
        if (e.name == "forall") return make(ir::Op::Forall, bool_type(), *b, body, e.loc);
        if (e.name == "exists") return make(ir::Op::Exists, bool_type(), *b, body, e.loc);
        return make3(e.name == "highest" ? ir::Op::Highest : ir::Op::Lowest, u32_type(), *b, body, dflt, e.loc);
      }
    }
    return kNone;
  }

  ir::ExprId binary(const ast::Expr& e) {
    const std::string& op = e.name;
    const ast::Expr& l = f_.exprs[e.a];
    const ast::Expr& r = f_.exprs[e.b];
    if (op == "==" || op == "!=") {
      if (l.kind == ast::ExprKind::State) return state_compare(e, r);
      if (r.kind == ast::ExprKind::State) return state_compare(e, l);
    }
    ir::ExprId a = expr(e.a), b = expr(e.b);
    if (a == kNone || b == kNone) return kNone;
    const ir::Type &ta = m_.exprs[a].type, &tb = m_.exprs[b].type;
    static const std::pair<const char*, ir::Op> arith[] = {
        {"+", ir::Op::Add}, {"-", ir::Op::Sub}, {"*", ir::Op::Mul}, {"/", ir::Op::Div}, {"%", ir::Op::Mod},
        {"&", ir::Op::BitAnd}, {"|", ir::Op::BitOr}, {"^", ir::Op::BitXor}, {"<<", ir::Op::Shl}, {">>", ir::Op::Shr}};
    static const std::pair<const char*, ir::Op> cmp[] = {
        {"==", ir::Op::Eq}, {"!=", ir::Op::Ne}, {"<", ir::Op::Lt}, {"<=", ir::Op::Le}, {">", ir::Op::Gt}, {">=", ir::Op::Ge}};
    static const std::pair<const char*, ir::Op> logic[] = {{"&&", ir::Op::And}, {"||", ir::Op::Or}, {"=>", ir::Op::Implies}};
    for (const auto& [s, o] : arith) {
      if (op != s) continue;
      if (!is_int(ta) || !is_int(tb)) {
        error(e.loc, "expected integers on both sides of '" + op + "', found " + type_name(ta) + " and " + type_name(tb));
        return kNone;
      }
      return make(o, u32_type(), a, b, e.loc);
    }
    for (const auto& [s, o] : cmp) {
      if (op != s) continue;
      bool eq = o == ir::Op::Eq || o == ir::Op::Ne;
      bool ok = (is_int(ta) && is_int(tb)) ||
                (ta.kind == ir::TypeKind::Enum && tb.kind == ir::TypeKind::Enum && ta.enum_id == tb.enum_id) ||
                (eq && ta.kind == ir::TypeKind::Bool && tb.kind == ir::TypeKind::Bool);
      if (!ok) {
        error(e.loc, "cannot compare " + type_name(ta) + " with " + type_name(tb) + " using '" + op + "'");
        return kNone;
      }
      return make(o, bool_type(), a, b, e.loc);
    }
    for (const auto& [s, o] : logic) {
      if (op != s) continue;
      if (ta.kind != ir::TypeKind::Bool || tb.kind != ir::TypeKind::Bool) {
        error(e.loc, "expected bools on both sides of '" + op + "', found " + type_name(ta) + " and " + type_name(tb));
        return kNone;
      }
      return make(o, bool_type(), a, b, e.loc);
    }
    error(e.loc, "unknown operator '" + op + "'");
    return kNone;
  }

  const ast::File& f_;
  const ast::Machine& am_;
  Reporter& rep_;
  ir::Machine m_;
  bool ok_ = true;
  bool in_const_ = false;
  int cur_event_ = -1;
  std::map<std::string, uint32_t> consts_;
  std::set<std::string> bad_consts_;
  std::map<std::string, uint32_t> enum_idx_, var_idx_, event_idx_, output_idx_, state_idx_;
  std::map<std::string, std::pair<uint32_t, uint32_t>> members_;
  std::set<std::string> ambiguous_members_;
  std::vector<std::pair<std::string, uint32_t>> scope_;
};

}  // namespace

bool check(const ast::File& f, Reporter& rep, ir::Module& out) {
  bool ok = true;
  std::map<std::string, ir::SrcLoc> names;
  for (const ast::Machine& am : f.machines) {
    if (am.name.empty()) { ok = false; continue; }  // the parser already reported it
    if (!names.emplace(am.name, am.loc).second) {
      rep.error(f.path, am.loc, "duplicate machine '" + am.name + "'");
      ok = false;
      continue;
    }
    ir::Machine m;
    MachineChecker c(f, am, rep);
    if (c.run(m)) out.machines.push_back(std::move(m));
    else ok = false;
  }
  return ok;
}

}  // namespace fsm::gen
