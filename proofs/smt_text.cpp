// `fsmc emit --smt`: each spec file's transition systems as SMT-LIB2 text, built from the same
// Encoder the prover uses so the published model is the proved one. Printed by Z3's own SMT2
// printer from freshly built terms, so the text is identical run to run and names no host path.
#include <z3++.h>

#include <map>

#include "encode.h"
#include "prover.h"

namespace fsm::proofs {

namespace {

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of("/\\");
  std::string b = slash == std::string::npos ? path : path.substr(slash + 1);
  if (b.size() > 4 && b.compare(b.size() - 4, 4, ".fsm") == 0) b.resize(b.size() - 4);
  return b.empty() ? "spec" : b;
}

std::string decl_text(const z3::expr& e) { return e.decl().to_string() + "\n"; }

std::string define(z3::context& c, const std::string& name, const z3::expr& body) {
  z3::func_decl f = c.function(name.c_str(), 0, nullptr, c.bool_sort());
  return "(define-fun " + f.name().str() + " () Bool\n  " + body.simplify().to_string() + ")\n";
}

// One machine: declarations of s (current), n (next), e (input), then Init, Trans and properties.
std::string machine_text(const ir::Machine& m) {
  z3::context c;
  Z3_set_ast_print_mode(c, Z3_PRINT_SMTLIB2_COMPLIANT);
  Encoder enc(c, m);
  const std::string p = m.name + ".";
  Frame s = enc.make_frame(p + "s.");
  Frame n = enc.make_frame(p + "n.");
  Input in = enc.make_input(p + "e.");
  std::string out = "; ---- machine " + m.name + "\n";
  out += "; state ids:";
  for (size_t i = 0; i < m.states.size(); ++i) out += " " + std::to_string(i) + "=" + m.states[i].name;
  out += "\n; event ids:";
  for (size_t i = 0; i < m.events.size(); ++i) out += " " + std::to_string(i) + "=" + m.events[i].name;
  out += "\n";
  for (const z3::expr& v : enc.vars(s)) out += decl_text(v);
  for (const z3::expr& v : enc.vars(n)) out += decl_text(v);
  for (const z3::expr& v : enc.vars(in)) out += decl_text(v);
  out += define(c, p + "Init", enc.is_init(s));
  out += define(c, p + "Trans", enc.input_ok(in) && enc.equal(n, enc.next(s, in)));
  for (const Claim& cl : enc.claims()) {
    if (cl.kind == Claim::Kind::Helper) continue;
    out += define(c, p + "Inv." + cl.name, cl.pred(s));
  }
  for (const ir::Property& r : m.reachables) out += define(c, p + "Goal." + r.name, enc.property(r.expr, s));
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> smt_files(const ir::Module& m) {
  std::vector<std::pair<std::string, std::string>> files;
  std::map<std::string, size_t> index;  // spec path -> position in `files`
  for (const ir::Machine& mc : m.machines) {
    auto it = index.find(mc.spec_path);
    if (it == index.end()) {
      std::string base = base_name(mc.spec_path);
      std::string head = "; " + std::string(ir::kGeneratorVersionString) + ": transition systems of " + base +
                         ".fsm (QF_BV). Generated; do not edit.\n"
                         "; For each machine M: M.s.* is the current state, M.n.* the next state, M.e.* the\n"
                         "; input (event id and one 32-bit word per payload field). M.Trans holds for every\n"
                         "; step, including steps in which no transition fires (then next = current).\n"
                         "; M.Init is the initial state; M.Inv.* must hold in every reachable state and\n"
                         "; M.Goal.* in some reachable state.\n"
                         "(set-logic QF_BV)\n";
      it = index.emplace(mc.spec_path, files.size()).first;
      files.emplace_back(base + ".smt2", head);
    }
    files[it->second].second += machine_text(mc);
  }
  return files;
}

}  // namespace fsm::proofs
