// System checker and product builder (system.h). The product is an ordinary ir::Machine with
// one state: each instance's state and variables become variables "i.state", "i.v"; each link
// "i.o" gets a length "i.o.len" and one array per event field "i.o.f" (a queue kept packed at
// the front, vacated cells reset, so every queue content has one encoding); each environment
// input "i.e" and each link delivery "i.o" is an event. The transitions are the instances'
// transitions copied with their guards conjoined with "i.state == S" (and, for a delivery,
// "len > 0" and payload fields read from the queue head), in source order, so first-match and
// the handler kinds mean what they mean for one machine: handle/ignore/reject consume a queued
// event (a handler whose guards all fail consumes it too, as `noguard`), defer leaves it queued.
// A linked emit appends to its queue (one `drop` link ignores it when full); every link has the
// invariant capacity_<link> (never beyond its capacity), and its fields their range invariants.
#include "system.h"

#include <map>
#include <optional>
#include <set>

namespace fsm::gen {
namespace {

using ir::kNone;

uint32_t width_for(uint32_t max_value) {
  uint32_t w = 1;
  while (w < 32 && (max_value >> w) != 0) ++w;
  return w;
}
ir::Type u32_type() { return ir::Type{ir::TypeKind::UInt, 32, 0, 0xFFFFFFFFu, 0, false}; }
ir::Type bool_type() { return ir::Type{ir::TypeKind::Bool, 1, 0, 1, 0, false}; }
bool is_int(const ir::Type& t) { return t.kind == ir::TypeKind::UInt || t.kind == ir::TypeKind::Bits; }

std::string type_name(const ir::Machine& m, const ir::Type& t) {
  switch (t.kind) {
    case ir::TypeKind::Bool: return "bool";
    case ir::TypeKind::Enum: return t.enum_id < m.enums.size() ? m.enums[t.enum_id].name : "enum";
    case ir::TypeKind::State: return "state";
    case ir::TypeKind::Bits: return "bits" + std::to_string(t.width);
    case ir::TypeKind::UInt:
      if (t.ranged) return std::to_string(t.lo) + ".." + std::to_string(t.hi);
      return "u" + std::to_string(t.width);
  }
  return "?";
}

class SystemChecker {
 public:
  SystemChecker(const ast::File& f, const ast::System& s, const std::set<std::string>& all_machines,
                const ir::Module& mod, Reporter& rep)
      : f_(f), s_(s), all_(all_machines), mod_(mod), rep_(rep) {}

  bool run(ir::System& out) {
    sys_.name = s_.name;
    sys_.spec_path = f_.path;
    sys_.loc = s_.loc;
    instances();
    links();
    closed();
    if (skip_) return false;
    build();       // from the declarations that checked, so the properties are checked too
    properties();
    if (!ok_) return false;
    out = std::move(sys_);
    return true;
  }

 private:
  void error(ir::SrcLoc l, const std::string& msg) {
    rep_.error(f_.path, l, msg);
    ok_ = false;
  }
  const ir::Machine& mach(uint32_t inst) const { return mod_.machines[sys_.instances[inst].machine]; }

  // ---- declarations ----
  void instances() {
    for (const ast::Instance& i : s_.instances) {
      if (inst_idx_.count(i.name) || broken_.count(i.name)) { error(i.loc, "duplicate instance '" + i.name + "'"); continue; }
      broken_.insert(i.name);  // until its machine is found
      int found = -1, count = 0;
      for (size_t k = 0; k < mod_.machines.size(); ++k)
        if (mod_.machines[k].name == i.machine) { if (found < 0) found = static_cast<int>(k); ++count; }
      if (count > 1) { error(i.machine_loc, "machine '" + i.machine + "' is defined more than once in the given files"); continue; }
      if (found < 0) {
        if (all_.count(i.machine)) skip_ = true;  // its own errors are reported already
        else error(i.machine_loc, "unknown machine '" + i.machine + "'");
        continue;
      }
      broken_.erase(i.name);
      inst_idx_[i.name] = static_cast<uint32_t>(sys_.instances.size());
      sys_.instances.push_back({i.name, static_cast<uint32_t>(found)});
    }
  }

  std::optional<uint32_t> instance(const std::string& name, ir::SrcLoc l) {
    auto it = inst_idx_.find(name);
    if (it != inst_idx_.end()) return it->second;
    if (!skip_ && !broken_.count(name)) error(l, "unknown instance '" + name + "'");
    return std::nullopt;
  }

  template <class T>
  static int find(const std::vector<T>& v, const std::string& n) {
    for (size_t k = 0; k < v.size(); ++k) if (v[k].name == n) return static_cast<int>(k);
    return -1;
  }

  // Does a value of `a` (machine ma) always fit a field of type `b` (machine mb)?
  static bool fits(const ir::Machine& ma, const ir::Type& a, const ir::Machine& mb, const ir::Type& b) {
    if (a.kind == ir::TypeKind::Bool || b.kind == ir::TypeKind::Bool) return a.kind == b.kind;
    if (a.kind == ir::TypeKind::Enum || b.kind == ir::TypeKind::Enum)
      return a.kind == b.kind && ma.enums[a.enum_id].members == mb.enums[b.enum_id].members;
    return is_int(a) && is_int(b) && a.lo >= b.lo && a.hi <= b.hi;
  }

  void links() {
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> out_line, ev_line;
    for (const ast::Link& k : s_.links) {
      auto fi = instance(k.from.inst, k.from.loc);
      auto ti = instance(k.to.inst, k.to.loc);
      bool cap_ok = k.capacity >= 1 && k.capacity <= 64;
      if (k.capacity == 0) error(k.cap_loc, "link capacity must be at least 1");
      else if (!cap_ok) error(k.cap_loc, "link capacity must be at most 64, found " + std::to_string(k.capacity));
      if (!fi || !ti) continue;
      const ir::Machine& fm = mach(*fi);
      const ir::Machine& tm = mach(*ti);
      int o = find(fm.outputs, k.from.name);
      int e = find(tm.events, k.to.name);
      if (o < 0) {
        error(k.from.name_loc, find(fm.events, k.from.name) >= 0
                                   ? "'" + k.from.name + "' is an event of machine '" + fm.name + "'; a link starts at an output"
                                   : "machine '" + fm.name + "' has no output '" + k.from.name + "'");
      }
      if (e < 0) {
        error(k.to.name_loc, find(tm.outputs, k.to.name) >= 0
                                 ? "'" + k.to.name + "' is an output of machine '" + tm.name + "'; a link ends at an event"
                                 : "machine '" + tm.name + "' has no event '" + k.to.name + "'");
      }
      if (o < 0 || e < 0) continue;
      auto ok_key = std::make_pair(*fi, static_cast<uint32_t>(o));
      auto ek_key = std::make_pair(*ti, static_cast<uint32_t>(e));
      if (out_line.count(ok_key)) {
        error(k.from.loc, "output '" + k.from.inst + "." + k.from.name + "' is already linked at line " + std::to_string(out_line[ok_key]));
        continue;
      }
      if (ev_line.count(ek_key)) {
        error(k.to.loc, "event '" + k.to.inst + "." + k.to.name + "' is already linked at line " + std::to_string(ev_line[ek_key]));
        continue;
      }
      out_line[ok_key] = k.loc.line;
      ev_line[ek_key] = k.loc.line;
      const ir::Output& op = fm.outputs[o];
      const ir::Event& ev = tm.events[e];
      // map[j]: the output field feeding event field j.
      std::vector<uint32_t> map;
      std::vector<std::string> binders;
      if (k.from.has_args) {
        if (k.from.args.size() != op.params.size()) {
          error(k.from.name_loc, "output '" + op.name + "' has " + std::to_string(op.params.size()) + " fields, found " +
                                     std::to_string(k.from.args.size()) + " names");
          continue;
        }
        binders = k.from.args;
        for (size_t a = 0; a < binders.size(); ++a)
          for (size_t b = 0; b < a; ++b)
            if (binders[a] == binders[b]) error(k.from.arg_locs[a], "field name '" + binders[a] + "' bound twice");
      } else {
        for (const ir::Field& p : op.params) binders.push_back(p.name);
      }
      if (k.to.has_args) {
        if (k.to.args.size() != ev.params.size()) {
          error(k.to.name_loc, "event '" + ev.name + "' has " + std::to_string(ev.params.size()) + " fields, found " +
                                   std::to_string(k.to.args.size()) + " arguments");
          continue;
        }
        bool good = true;
        for (size_t j = 0; j < k.to.args.size(); ++j) {
          int b = -1;
          for (size_t x = 0; x < binders.size(); ++x) if (binders[x] == k.to.args[j]) b = static_cast<int>(x);
          if (b < 0) { error(k.to.arg_locs[j], "unknown field name '" + k.to.args[j] + "': name one of the output's fields"); good = false; continue; }
          map.push_back(static_cast<uint32_t>(b));
        }
        if (!good) continue;
      } else {
        if (ev.params.size() != op.params.size()) {
          error(k.to.name_loc, "output '" + op.name + "' has " + std::to_string(op.params.size()) + " fields but event '" +
                                   ev.name + "' has " + std::to_string(ev.params.size()) + ": map them, as o(a) -> e(a)");
          continue;
        }
        for (uint32_t j = 0; j < ev.params.size(); ++j) map.push_back(j);
      }
      bool typed = true;
      for (size_t j = 0; j < map.size(); ++j) {
        const ir::Field& of = op.params[map[j]];
        const ir::Field& ef = ev.params[j];
        if (!fits(fm, of.type, tm, ef.type)) {
          error(k.to.has_args ? k.to.arg_locs[j] : k.to.name_loc,
                "link field '" + ef.name + "': output field '" + of.name + "' of type " + type_name(fm, of.type) +
                    " does not fit event field of type " + type_name(tm, ef.type));
          typed = false;
        }
      }
      if (!typed || !cap_ok) continue;
      ir::SystemLink l;
      l.name = k.from.inst + "." + op.name;
      l.from = *fi; l.output = static_cast<uint32_t>(o); l.to = *ti; l.event = static_cast<uint32_t>(e);
      l.capacity = k.capacity; l.drop = k.drop;
      link_map_.push_back(map);
      sys_.links.push_back(l);
    }
  }

  void closed() {
    for (const ast::Closed& c : s_.closed) {
      auto i = instance(c.inst, c.loc);
      if (!i) continue;
      const ir::Machine& m = mach(*i);
      if (c.event.empty()) { closed_all_.insert(*i); continue; }
      int e = find(m.events, c.event);
      if (e < 0) { error(c.loc, "machine '" + m.name + "' has no event '" + c.event + "'"); continue; }
      for (const ir::SystemLink& l : sys_.links)
        if (l.to == *i && l.event == static_cast<uint32_t>(e))
          error(c.loc, "event '" + c.inst + "." + c.event + "' is linked; a linked event is never an environment input");
      closed_.insert({*i, static_cast<uint32_t>(e)});
    }
  }

  // ---- product ----
  struct Ctx {
    uint32_t inst = 0;
    int link = -1;  // delivering this link: payload fields are its queue head
  };

  ir::ExprId add(ir::Op op, ir::Type t, uint32_t a = kNone, uint32_t b = kNone, uint32_t c = kNone, uint32_t value = 0) {
    ir::Expr x;
    x.op = op; x.type = t; x.a = a; x.b = b; x.c = c; x.value = value;
    p_.exprs.push_back(x);
    return static_cast<ir::ExprId>(p_.exprs.size() - 1);
  }
  ir::ExprId cnst(uint32_t v, ir::Type t = u32_type()) { return add(ir::Op::Const, t, kNone, kNone, kNone, v); }
  ir::ExprId var(uint32_t v) { return add(ir::Op::Var, p_.vars[v].type, v); }
  ir::ExprId both(ir::ExprId a, ir::ExprId b) {
    if (a == kNone) return b;
    if (b == kNone) return a;
    return add(ir::Op::And, bool_type(), a, b);
  }

  ir::Type remap(const ir::Type& t, uint32_t inst) const {
    ir::Type r = t;
    if (t.kind == ir::TypeKind::Enum) r.enum_id = enum_off_[inst] + t.enum_id;
    if (t.kind == ir::TypeKind::State) r = p_.vars[state_var_[inst]].type;
    return r;
  }

  ir::ExprId cp(const ir::Machine& m, ir::ExprId id, const Ctx& c) {
    if (id == kNone) return kNone;
    ir::Expr x = m.exprs.at(id);
    x.type = remap(x.type, c.inst);
    switch (x.op) {
      case ir::Op::Const: break;
      case ir::Op::Var: x.a += var_off_[c.inst]; break;
      case ir::Op::Elem: x.a += var_off_[c.inst]; x.b = cp(m, x.b, c); break;
      case ir::Op::Param:
        if (c.link >= 0) {
          x.op = ir::Op::Elem;
          x.a = queue_[c.link].fields.at(x.a);
          x.b = cnst(0);
        }
        break;
      case ir::Op::Bound: x.a += bound_off_[c.inst]; break;
      case ir::Op::InState: {
        ir::ExprId sv = var(state_var_[c.inst]);
        ir::ExprId k = cnst(x.a, p_.vars[state_var_[c.inst]].type);
        return add(ir::Op::Eq, bool_type(), sv, k);
      }
      case ir::Op::Count: case ir::Op::Forall: case ir::Op::Exists:
        x.a += bound_off_[c.inst]; x.b = cp(m, x.b, c); break;
      case ir::Op::Highest: case ir::Op::Lowest:
        x.a += bound_off_[c.inst]; x.b = cp(m, x.b, c); x.c = cp(m, x.c, c); break;
      default:
        x.a = cp(m, x.a, c); x.b = cp(m, x.b, c); x.c = cp(m, x.c, c); break;
    }
    p_.exprs.push_back(x);
    return static_cast<ir::ExprId>(p_.exprs.size() - 1);
  }

  ir::StmtId stmt(ir::Stmt s) {
    p_.stmts.push_back(std::move(s));
    return static_cast<ir::StmtId>(p_.stmts.size() - 1);
  }
  ir::BlockId block(ir::Block b) {
    p_.blocks.push_back(std::move(b));
    return static_cast<ir::BlockId>(p_.blocks.size() - 1);
  }
  ir::StmtId assign(uint32_t v, ir::ExprId index, ir::ExprId value) {
    ir::Stmt s;
    s.kind = ir::StmtKind::Assign; s.var = v; s.index = index; s.value = value;
    return stmt(s);
  }

  void cp_block(const ir::Machine& m, ir::BlockId b, const Ctx& c, ir::Block& out) {
    if (b == kNone) return;
    for (ir::StmtId s : m.blocks.at(b)) cp_stmt(m, s, c, out);
  }

  void cp_stmt(const ir::Machine& m, ir::StmtId id, const Ctx& c, ir::Block& out) {
    const ir::Stmt& st = m.stmts.at(id);
    switch (st.kind) {
      case ir::StmtKind::Assign:
        out.push_back(assign(var_off_[c.inst] + st.var, cp(m, st.index, c), cp(m, st.value, c)));
        return;
      case ir::StmtKind::Emit: {
        for (uint32_t l = 0; l < sys_.links.size(); ++l)
          if (sys_.links[l].from == c.inst && sys_.links[l].output == st.output) enqueue(m, l, st.args, c, out);
        return;  // an unlinked output is an observation: no state
      }
      case ir::StmtKind::If: {
        ir::Stmt s;
        s.kind = ir::StmtKind::If;
        s.cond = cp(m, st.cond, c);
        ir::Block t, e;
        cp_block(m, st.then_block, c, t);
        s.then_block = block(std::move(t));
        if (st.else_block != kNone) {
          cp_block(m, st.else_block, c, e);
          s.else_block = block(std::move(e));
        }
        out.push_back(stmt(s));
        return;
      }
      case ir::StmtKind::For: {
        ir::Stmt s;
        s.kind = ir::StmtKind::For;
        s.bound = bound_off_[c.inst] + st.bound;
        ir::Block b;
        cp_block(m, st.body, c, b);
        s.body = block(std::move(b));
        out.push_back(stmt(s));
        return;
      }
    }
  }

  void enqueue(const ir::Machine& m, uint32_t l, const std::vector<ir::ExprId>& args, const Ctx& c, ir::Block& out) {
    const Queue& q = queue_[l];
    ir::Block b;
    for (size_t j = 0; j < q.fields.size(); ++j)
      b.push_back(assign(q.fields[j], var(q.len), cp(m, args.at(link_map_[l][j]), c)));
    b.push_back(assign(q.len, kNone, add(ir::Op::Add, u32_type(), var(q.len), cnst(1))));
    if (!sys_.links[l].drop) {
      out.insert(out.end(), b.begin(), b.end());
      return;
    }
    ir::Stmt s;
    s.kind = ir::StmtKind::If;
    s.cond = add(ir::Op::Lt, bool_type(), var(q.len), cnst(sys_.links[l].capacity));
    s.then_block = block(std::move(b));
    out.push_back(stmt(s));
  }

  void pop(uint32_t l, ir::Block& out) {
    const Queue& q = queue_[l];
    uint32_t cap = sys_.links[l].capacity;
    for (uint32_t k = 0; k + 1 < cap; ++k)
      for (uint32_t f : q.fields)
        out.push_back(assign(f, cnst(k), add(ir::Op::Elem, p_.vars[f].type, f, cnst(k + 1))));
    for (uint32_t f : q.fields) out.push_back(assign(f, cnst(cap - 1), cnst(p_.vars[f].init, p_.vars[f].type)));
    out.push_back(assign(q.len, kNone, add(ir::Op::Sub, u32_type(), var(q.len), cnst(1))));
  }

  void add_transition(uint32_t ev, ir::ExprId guard, ir::Block body, const ir::Transition* src) {
    ir::Transition t;
    t.id = static_cast<uint32_t>(p_.transitions.size());
    t.state = 0; t.event = ev; t.guard = guard; t.target = 0;
    t.body = block(std::move(body));
    if (src) { t.loc = src->loc; t.reqs = src->reqs; }
    p_.handlers[ev].transitions.push_back(t.id);
    p_.handlers[ev].kind = ir::HandlerKind::Handle;
    p_.transitions.push_back(std::move(t));
  }

  // The transitions of instance i taking its event e; `link` >= 0 when e comes from that queue.
  void deliver(uint32_t ev, uint32_t i, uint32_t e, int link) {
    const ir::Machine& m = mach(i);
    Ctx c{i, link};
    for (uint32_t s = 0; s < m.states.size(); ++s) {
      const ir::Handler& h = m.handler(s, e);
      auto here = [&] {
        ir::ExprId g = add(ir::Op::Eq, bool_type(), var(state_var_[i]), cnst(s, p_.vars[state_var_[i]].type));
        if (link >= 0) g = both(add(ir::Op::Gt, bool_type(), var(queue_[link].len), cnst(0)), g);
        return g;
      };
      if (h.kind == ir::HandlerKind::Defer) continue;  // stays queued (from the environment: nothing happens)
      if (h.kind == ir::HandlerKind::Handle) {
        for (uint32_t t : h.transitions) {
          const ir::Transition& tr = m.transitions[t];
          ir::Block body;
          cp_block(m, tr.body, c, body);
          if (tr.target != s)
            body.push_back(assign(state_var_[i], kNone, cnst(tr.target, p_.vars[state_var_[i]].type)));
          if (link >= 0) pop(static_cast<uint32_t>(link), body);
          add_transition(ev, both(here(), cp(m, tr.guard, c)), std::move(body), &tr);
        }
      }
      if (link >= 0) {  // consumed: ignore, reject, or a handler no guard of which holds
        ir::Block body;
        pop(static_cast<uint32_t>(link), body);
        add_transition(ev, here(), std::move(body), nullptr);
      }
    }
  }

  void build() {
    p_.name = sys_.name;
    p_.spec_path = sys_.spec_path;
    p_.reqs = s_.reqs;
    p_.loc = s_.loc;
    p_.states.push_back({"system", {}, s_.loc});
    p_.initial = 0;
    for (uint32_t i = 0; i < sys_.instances.size(); ++i) {
      const ir::Machine& m = mach(i);
      const std::string pre = sys_.instances[i].name + ".";
      enum_off_.push_back(static_cast<uint32_t>(p_.enums.size()));
      for (const ir::EnumDecl& d : m.enums) p_.enums.push_back({pre + d.name, d.members, d.loc});
      ir::EnumDecl st{pre + "state", {}, m.loc};
      for (const ir::State& s : m.states) st.members.push_back(s.name);
      uint32_t n = static_cast<uint32_t>(m.states.size());
      p_.enums.push_back(st);
      state_var_.push_back(static_cast<uint32_t>(p_.vars.size()));
      ir::Var sv;
      sv.name = pre + "state";
      sv.type = ir::Type{ir::TypeKind::Enum, width_for(n - 1), 0, n - 1, static_cast<uint32_t>(p_.enums.size() - 1), false};
      sv.init = m.initial;
      sv.loc = m.loc;
      p_.vars.push_back(sv);
      var_off_.push_back(static_cast<uint32_t>(p_.vars.size()));
      for (const ir::Var& v : m.vars) {
        ir::Var c = v;
        c.name = pre + v.name;
        c.type = remap(v.type, i);
        p_.vars.push_back(c);
      }
      bound_off_.push_back(static_cast<uint32_t>(p_.bounds.size()));
      for (const ir::Bound& b : m.bounds) p_.bounds.push_back(b);
    }
    for (const ir::SystemLink& l : sys_.links) {
      Queue q;
      q.len = static_cast<uint32_t>(p_.vars.size());
      ir::Var lv;
      lv.name = l.name + ".len";
      lv.type = ir::Type{ir::TypeKind::UInt, width_for(l.capacity + 1), 0, (1u << width_for(l.capacity + 1)) - 1, 0, false};
      p_.vars.push_back(lv);
      for (const ir::Field& f : mach(l.to).events[l.event].params) {
        q.fields.push_back(static_cast<uint32_t>(p_.vars.size()));
        ir::Var fv;
        fv.name = l.name + "." + f.name;
        fv.type = remap(f.type, l.to);
        fv.array_len = l.capacity;
        fv.init = fv.type.lo;
        p_.vars.push_back(fv);
      }
      queue_.push_back(q);
    }
    // Events: the environment's inputs, then one delivery per link.
    struct Source { uint32_t inst, event; int link; };
    std::vector<Source> src;
    for (uint32_t i = 0; i < sys_.instances.size(); ++i) {
      const ir::Machine& m = mach(i);
      for (uint32_t e = 0; e < m.events.size(); ++e) {
        bool linked = false;
        for (const ir::SystemLink& l : sys_.links) linked = linked || (l.to == i && l.event == e);
        if (linked || closed_all_.count(i) || closed_.count({i, e})) continue;
        ir::Event ev = m.events[e];
        ev.name = sys_.instances[i].name + "." + ev.name;
        for (ir::Field& f : ev.params) f.type = remap(f.type, i);
        p_.events.push_back(ev);
        src.push_back({i, e, -1});
      }
    }
    for (uint32_t l = 0; l < sys_.links.size(); ++l) {
      p_.events.push_back({sys_.links[l].name, {}, {}, s_.loc});
      src.push_back({sys_.links[l].to, sys_.links[l].event, static_cast<int>(l)});
    }
    p_.handlers.assign(p_.events.size(), ir::Handler{});
    for (uint32_t ev = 0; ev < src.size(); ++ev) deliver(ev, src[ev].inst, src[ev].event, src[ev].link);
  }

  // ---- system expressions ----
  ir::ExprId bad() { return kNone; }
  const ir::Type& type_of(ir::ExprId e) const { return p_.exprs[e].type; }

  // An enum member named by `e` (a bare name, or Enum.Member) of product enum `id`, if any.
  std::optional<uint32_t> member_of(const ast::Expr& e, uint32_t id) const {
    const ir::EnumDecl& d = p_.enums[id];
    std::string mem;
    if (e.kind == ast::ExprKind::Name && e.member.empty()) mem = e.name;
    else if (e.kind == ast::ExprKind::Member && !inst_idx_.count(e.name)) {
      std::string base = d.name.substr(d.name.find('.') + 1);
      if (e.name != base) return std::nullopt;
      mem = e.member;
    } else {
      return std::nullopt;
    }
    for (size_t k = 0; k < d.members.size(); ++k) if (d.members[k] == mem) return static_cast<uint32_t>(k);
    return std::nullopt;
  }

  ir::ExprId link_len(const ast::Expr& e) {
    for (uint32_t l = 0; l < sys_.links.size(); ++l)
      if (sys_.links[l].name == e.member) return var(queue_[l].len);
    error(e.loc, "no link starts at '" + e.member + "'");
    return bad();
  }

  ir::ExprId sx(int id) {
    if (id < 0) return bad();
    const ast::Expr& e = f_.exprs[id];
    switch (e.kind) {
      case ast::ExprKind::Int: return cnst(e.value);
      case ast::ExprKind::Bool: return cnst(e.value, bool_type());
      case ast::ExprKind::Name: {
        if (!e.member.empty()) {
          ir::ExprId len = link_len(e);
          if (len == kNone) return bad();
          return e.name == "queued" ? len : add(ir::Op::Eq, bool_type(), len, cnst(0));
        }
        if (e.name == "quiescent") {
          ir::ExprId r = cnst(1, bool_type());
          for (const Queue& q : queue_) r = both(r, add(ir::Op::Eq, bool_type(), var(q.len), cnst(0)));
          return r;
        }
        error(e.loc, "unknown name '" + e.name + "': a system names 'inst.var', 'inst.state', queued(inst.output), empty(inst.output) or quiescent");
        return bad();
      }
      case ast::ExprKind::Member: {
        auto it = inst_idx_.find(e.name);
        if (it == inst_idx_.end()) {
          if (broken_.count(e.name)) ok_ = false;
          else error(e.loc, "unknown instance '" + e.name + "'");
          return bad();
        }
        if (e.member == "state") return var(state_var_[it->second]);
        int v = find(mach(it->second).vars, e.member);
        if (v < 0) { error(e.loc, "machine '" + mach(it->second).name + "' of instance '" + e.name + "' has no variable '" + e.member + "'"); return bad(); }
        uint32_t pv = var_off_[it->second] + static_cast<uint32_t>(v);
        if (p_.vars[pv].array_len) { error(e.loc, "array '" + e.name + "." + e.member + "' needs an index"); return bad(); }
        return var(pv);
      }
      case ast::ExprKind::State:
        error(e.loc, "'state' in a system: name an instance's state as 'inst.state'");
        return bad();
      case ast::ExprKind::Quant:
        error(e.loc, "'" + e.name + "' is not supported in system expressions");
        return bad();
      case ast::ExprKind::Index: {
        const ast::Expr& base = f_.exprs[e.a];
        ir::ExprId idx = sx(e.b);
        if (base.kind != ast::ExprKind::Member || !inst_idx_.count(base.name)) { error(e.loc, "expected 'inst.array[index]'"); return bad(); }
        uint32_t i = inst_idx_[base.name];
        int v = find(mach(i).vars, base.member);
        if (v < 0) { error(base.loc, "machine '" + mach(i).name + "' of instance '" + base.name + "' has no variable '" + base.member + "'"); return bad(); }
        if (idx == kNone) return bad();
        if (!is_int(type_of(idx))) { error(f_.exprs[e.b].loc, "an index must be an integer"); return bad(); }
        uint32_t pv = var_off_[i] + static_cast<uint32_t>(v);
        const ir::Var& pvar = p_.vars[pv];
        if (pvar.array_len == 0 && pvar.type.kind != ir::TypeKind::Bits) { error(e.loc, "'" + base.name + "." + base.member + "' is not an array or bit set"); return bad(); }
        return add(ir::Op::Elem, pvar.array_len ? pvar.type : bool_type(), pv, idx);
      }
      case ast::ExprKind::Unary: {
        ir::ExprId a = sx(e.a);
        if (a == kNone) return bad();
        if (e.name == "!") {
          if (type_of(a).kind != ir::TypeKind::Bool) { error(e.loc, "'!' needs a bool"); return bad(); }
          return add(ir::Op::Not, bool_type(), a);
        }
        if (!is_int(type_of(a))) { error(e.loc, "'" + e.name + "' needs an integer"); return bad(); }
        return add(e.name == "~" ? ir::Op::BitNot : ir::Op::Neg, u32_type(), a);
      }
      case ast::ExprKind::Ternary: {
        ir::ExprId c = sx(e.a), a = sx(e.b), b = sx(e.c);
        if (c == kNone || a == kNone || b == kNone) return bad();
        if (type_of(c).kind != ir::TypeKind::Bool) { error(e.loc, "the condition of '?' must be a bool"); return bad(); }
        if ((type_of(a).kind == ir::TypeKind::Bool) != (type_of(b).kind == ir::TypeKind::Bool)) {
          error(e.loc, "the branches of '?' have different types"); return bad();
        }
        return add(ir::Op::Ite, type_of(a).kind == ir::TypeKind::Bool ? bool_type() : u32_type(), c, a, b);
      }
      case ast::ExprKind::Binary: return binary(e);
    }
    return bad();
  }

  ir::ExprId binary(const ast::Expr& e) {
    static const std::map<std::string, ir::Op> ops = {
        {"+", ir::Op::Add}, {"-", ir::Op::Sub}, {"*", ir::Op::Mul}, {"/", ir::Op::Div}, {"%", ir::Op::Mod},
        {"&", ir::Op::BitAnd}, {"|", ir::Op::BitOr}, {"^", ir::Op::BitXor}, {"<<", ir::Op::Shl}, {">>", ir::Op::Shr},
        {"==", ir::Op::Eq}, {"!=", ir::Op::Ne}, {"<", ir::Op::Lt}, {"<=", ir::Op::Le}, {">", ir::Op::Gt},
        {">=", ir::Op::Ge}, {"&&", ir::Op::And}, {"||", ir::Op::Or}, {"=>", ir::Op::Implies}};
    auto op = ops.find(e.name);
    if (op == ops.end()) { error(e.loc, "unknown operator '" + e.name + "'"); return bad(); }
    const ast::Expr& la = f_.exprs[e.a];
    const ast::Expr& lb = f_.exprs[e.b];
    if (op->second == ir::Op::Eq || op->second == ir::Op::Ne) {
      // inst.state == S, inst.v == Enum.M / == M: the bare side is a member of the other's enum.
      for (int side = 0; side < 2; ++side) {
        const ast::Expr& known = side == 0 ? la : lb;
        const ast::Expr& other = side == 0 ? lb : la;
        bool other_plain = (other.kind == ast::ExprKind::Name && other.member.empty() && other.name != "quiescent") ||
                           (other.kind == ast::ExprKind::Member && !inst_idx_.count(other.name));
        if (!other_plain || known.kind == ast::ExprKind::Int) continue;
        ir::ExprId k = sx(side == 0 ? e.a : e.b);
        if (k == kNone) return bad();
        const ir::Type t = type_of(k);
        if (t.kind != ir::TypeKind::Enum) { error(other.loc, "unknown name '" + (other.kind == ast::ExprKind::Member ? other.name + "." + other.member : other.name) + "'"); return bad(); }
        auto mem = member_of(other, t.enum_id);
        if (!mem) {
          error(other.loc, "'" + (other.kind == ast::ExprKind::Member ? other.name + "." + other.member : other.name) +
                               "' is not a member of " + p_.enums[t.enum_id].name);
          return bad();
        }
        return add(op->second, bool_type(), k, cnst(*mem, t));
      }
    }
    ir::ExprId a = sx(e.a), b = sx(e.b);
    if (a == kNone || b == kNone) return bad();
    const ir::Type ta = type_of(a), tb = type_of(b);
    bool logic = op->second == ir::Op::And || op->second == ir::Op::Or || op->second == ir::Op::Implies;
    if (logic) {
      if (ta.kind != ir::TypeKind::Bool || tb.kind != ir::TypeKind::Bool) { error(e.loc, "'" + e.name + "' needs bools"); return bad(); }
      return add(op->second, bool_type(), a, b);
    }
    if (op->second == ir::Op::Eq || op->second == ir::Op::Ne) {
      // Enums of two instances compare when they have the same members (one enum declared in
      // both machines, as a protocol's state names are).
      bool same = (is_int(ta) && is_int(tb)) ||
                  (ta.kind == tb.kind && (ta.kind != ir::TypeKind::Enum || p_.enums[ta.enum_id].members == p_.enums[tb.enum_id].members));
      if (!same) { error(e.loc, "'" + e.name + "' compares " + type_name(p_, ta) + " with " + type_name(p_, tb)); return bad(); }
      return add(op->second, bool_type(), a, b);
    }
    if (!is_int(ta) || !is_int(tb)) { error(e.loc, "'" + e.name + "' needs integers"); return bad(); }
    bool cmp = op->second == ir::Op::Lt || op->second == ir::Op::Le || op->second == ir::Op::Gt || op->second == ir::Op::Ge;
    return add(op->second, cmp ? bool_type() : u32_type(), a, b);
  }

  void properties() {
    std::set<std::string> names;
    auto one = [&](const ast::Property& p, std::vector<ir::Property>& out, const char* what) {
      if (!names.insert(p.name).second) { error(p.loc, std::string("duplicate ") + what + " '" + p.name + "'"); return; }
      ir::ExprId x = sx(p.expr);
      if (x == kNone) return;
      if (type_of(x).kind != ir::TypeKind::Bool) { error(p.loc, std::string("the ") + what + " '" + p.name + "' must be a bool"); return; }
      out.push_back({p.name, x, p.reqs, p.loc});
    };
    for (const ast::Property& p : s_.invariants) one(p, p_.invariants, "invariant");
    for (uint32_t l = 0; l < sys_.links.size(); ++l) {
      ir::ExprId x = add(ir::Op::Le, bool_type(), var(queue_[l].len), cnst(sys_.links[l].capacity));
      p_.invariants.push_back({"capacity_" + sys_.links[l].name, x, {}, s_.loc});
    }
    for (const ast::Property& p : s_.reachables) one(p, p_.reachables, "reachable goal");
    sys_.reported_invariants = static_cast<uint32_t>(p_.invariants.size());
    // The instances' own invariants hold in every system run (each instance's events are a run
    // of the machine alone): lemmas that strengthen the system's induction, not reported.
    for (uint32_t i = 0; i < sys_.instances.size(); ++i) {
      const ir::Machine& m = mach(i);
      for (const ir::Property& p : m.invariants)
        p_.invariants.push_back({sys_.instances[i].name + "." + p.name, cp(m, p.expr, Ctx{i, -1}), {}, p.loc});
    }
    if (ok_) sys_.product = std::move(p_);
  }

  struct Queue {
    uint32_t len = 0;
    std::vector<uint32_t> fields;  // product var per event field
  };

  const ast::File& f_;
  const ast::System& s_;
  const std::set<std::string>& all_;
  const ir::Module& mod_;
  Reporter& rep_;
  bool ok_ = true;
  bool skip_ = false;  // an instance's machine has errors of its own
  ir::System sys_;
  ir::Machine p_;
  std::map<std::string, uint32_t> inst_idx_;
  std::set<std::string> broken_;  // instances whose machine is unknown (reported once)
  std::vector<std::vector<uint32_t>> link_map_;
  std::set<uint32_t> closed_all_;
  std::set<std::pair<uint32_t, uint32_t>> closed_;
  std::vector<uint32_t> enum_off_, state_var_, var_off_, bound_off_;
  std::vector<Queue> queue_;
};

}  // namespace

bool check_systems(const std::vector<const ast::File*>& files, Reporter& rep, ir::Module& mod) {
  std::set<std::string> all;
  for (const ast::File* f : files)
    for (const ast::Machine& m : f->machines) all.insert(m.name);
  bool ok = true;
  std::map<std::string, std::string> seen;
  for (const ast::File* f : files) {
    for (const ast::System& s : f->systems) {
      if (seen.count(s.name) || all.count(s.name)) {
        rep.error(f->path, s.loc, "duplicate system name '" + s.name + "'");
        ok = false;
        continue;
      }
      seen[s.name] = f->path;
      ir::System out;
      SystemChecker c(*f, s, all, mod, rep);
      if (c.run(out)) mod.systems.push_back(std::move(out));
      else ok = false;
    }
  }
  return ok;
}

}  // namespace fsm::gen
