// Reference interpreter (see interp.h). Semantics: spec/README.md "Meaning"; values via eval.cpp.
#include "interp.h"

#include <sstream>

namespace fsm::gen {

Interpreter::Interpreter(const ir::Machine& m) : m_(m) { reset(); }

void Interpreter::reset() {
  env_.state = m_.initial;
  env_.vars.clear();
  for (const ir::Var& v : m_.vars) env_.vars.emplace_back(v.array_len ? v.array_len : 1, v.init);
  env_.bounds.assign(m_.bounds.size(), 0);
  env_.params.clear();
  env_.outputs = &outputs_;
  outputs_.clear();
}

static bool in_domain(const ir::Type& t, uint32_t v) {
  return t.kind == ir::TypeKind::Bool ? v <= 1 : (v >= t.lo && v <= t.hi);
}

rt::Result Interpreter::step(uint32_t event, const std::vector<uint32_t>& args) {
  outputs_.clear();
  const ir::Event& ev = m_.events[event];
  for (size_t k = 0; k < ev.params.size(); ++k)
    if (!in_domain(ev.params[k].type, args[k])) return {rt::Outcome::BadPayload, 0, 0xFFFFFFFFu};
  env_.params = args;
  const ir::Handler& h = m_.handler(env_.state, event);
  switch (h.kind) {
    case ir::HandlerKind::Ignore: return {rt::Outcome::Ignored, 0, 0xFFFFFFFFu};
    case ir::HandlerKind::Defer: return {rt::Outcome::Deferred, 0, 0xFFFFFFFFu};
    case ir::HandlerKind::Reject: return {rt::Outcome::Rejected, h.reject_code, 0xFFFFFFFFu};
    case ir::HandlerKind::Handle: break;
  }
  for (uint32_t tid : h.transitions) {
    const ir::Transition& t = m_.transitions[tid];
    if (t.guard != ir::kNone && !eval_expr(m_, t.guard, env_)) continue;
    exec_block(m_, t.body, env_);
    env_.state = t.target;
    return {rt::Outcome::Transitioned, 0, t.id};
  }
  return {rt::Outcome::NoGuard, 0, 0xFFFFFFFFu};
}

std::vector<std::string> Interpreter::violated() const {
  std::vector<std::string> out;
  for (const ir::Property& p : m_.invariants)
    if (!eval_expr(m_, p.expr, env_)) out.push_back(p.name);
  for (size_t v = 0; v < m_.vars.size(); ++v) {
    const ir::Type& t = m_.vars[v].type;
    if (!(t.kind == ir::TypeKind::UInt && t.ranged)) continue;
    for (uint32_t x : env_.vars[v])
      if (x < t.lo || x > t.hi) { out.push_back("range_" + m_.vars[v].name); break; }
  }
  return out;
}

std::string Interpreter::line(const char* outcome, uint32_t code, uint32_t transition) const {
  std::string s = std::string(outcome) + " " + std::to_string(code) + " " +
                  (transition == 0xFFFFFFFFu ? "-" : std::to_string(transition)) + " | " +
                  m_.states[env_.state].name;
  for (size_t v = 0; v < m_.vars.size(); ++v) {
    s += " " + m_.vars[v].name + "=";
    for (size_t k = 0; k < env_.vars[v].size(); ++k) s += (k ? "," : "") + std::to_string(env_.vars[v][k]);
  }
  s += " |";
  for (const std::string& o : outputs_) s += " " + o;
  s += " | ";
  std::vector<std::string> bad = violated();
  if (bad.empty()) s += "ok";
  for (size_t k = 0; k < bad.size(); ++k) s += (k ? "," : "") + bad[k];
  return s;
}

static bool parse_u32(const std::string& tok, uint32_t& out) {
  if (tok.empty()) return false;
  uint64_t v = 0;
  size_t i = 0;
  uint32_t base = 10;
  if (tok.size() > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) { base = 16; i = 2; }
  for (; i < tok.size(); ++i) {
    char c = tok[i];
    uint32_t d;
    if (c >= '0' && c <= '9') d = uint32_t(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f') d = uint32_t(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F') d = uint32_t(c - 'A' + 10);
    else return false;
    v = v * base + d;
    if (v > 0xFFFFFFFFull) return false;
  }
  out = static_cast<uint32_t>(v);
  return true;
}

int run_interpreter(const ir::Machine& m, std::istream& in, std::ostream& out, std::ostream& err) {
  Interpreter it(m);
  out << it.line("init", 0, 0xFFFFFFFFu) << "\n";
  std::string text;
  for (uint64_t lineno = 1; std::getline(in, text); ++lineno) {
    std::istringstream ls(text);
    std::string name;
    if (!(ls >> name) || name[0] == '#') continue;
    if (name == "reset") {
      it.reset();
      out << it.line("init", 0, 0xFFFFFFFFu) << "\n";
      continue;
    }
    uint32_t ev = 0;
    while (ev < m.events.size() && m.events[ev].name != name) ++ev;
    if (ev == m.events.size()) {
      err << "error: line " << lineno << ": unknown event '" << name << "'\n";
      return 2;
    }
    std::vector<uint32_t> args;
    std::string tok;
    while (ls >> tok) {
      uint32_t v;
      if (!parse_u32(tok, v)) {
        err << "error: line " << lineno << ": expected an unsigned 32-bit value, found '" << tok << "'\n";
        return 2;
      }
      args.push_back(v);
    }
    if (args.size() != m.events[ev].params.size()) {
      err << "error: line " << lineno << ": event '" << name << "' takes " << m.events[ev].params.size()
          << " values, found " << args.size() << "\n";
      return 2;
    }
    rt::Result r = it.step(ev, args);
    out << it.line(rt::outcome_name(r.outcome), r.code, r.transition) << "\n";
  }
  return 0;
}

}  // namespace fsm::gen
