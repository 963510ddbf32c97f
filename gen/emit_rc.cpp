// RapidCheck back end: ir::Module => `<base>_rc_test.cpp`, one property per machine (DESIGN.md
// §4 "Property tests"). Random event sequences run through the generated C++ (`<base>.h`) and
// through the reference interpreter (`fsmc run`); both transcripts use the step-line format of
// spec/README.md and must be equal, and every invariant must hold after every step.
#include <set>
#include <string>

#include "emit.h"
#include "naming.h"
#include "printer.h"

namespace fsm::gen {
namespace {

std::string u32(uint32_t v) { return std::to_string(v) + "u"; }

// Support code shared by the machines of one test file (FSMC_PATH and FSM_SPEC_PATH come from
// fsm_generate() as compile definitions).
const char* const kCommon = R"cpp(namespace fsm_rc {

// One step of a test case: an event (index, spec name, raw payload) or a reset.
struct Step {
  bool reset = false;
  uint32_t event = 0;
  const char* name = "";
  std::vector<uint32_t> args;
};

// Counterexamples print as the `fsmc run` input that reproduces them.
void showValue(const Step& s, std::ostream& os) {
  if (s.reset) {
    os << "reset";
    return;
  }
  os << s.name;
  for (uint32_t a : s.args) os << " " << a;
}

std::string script(const std::vector<Step>& steps) {
  std::ostringstream os;
  for (const Step& s : steps) {
    showValue(s, os);
    os << "\n";
  }
  return os.str();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `fsmc run SPEC --machine NAME` over the steps; its stdout lines, or an error text.
std::vector<std::string> run_fsmc(const char* machine, const std::vector<Step>& steps, std::string& error) {
  std::string path = (std::filesystem::temp_directory_path() / "fsm_rc_XXXXXX").string();
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) {
    error = "cannot create a temporary file";
    return {};
  }
  std::string text = script(steps);
  bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  std::vector<std::string> lines;
  std::string cmd = shell_quote(FSMC_PATH) + " run " + shell_quote(FSM_SPEC_PATH) + " --machine " +
                    machine + " < " + shell_quote(name.data());
  FILE* p = written ? popen(cmd.c_str(), "r") : nullptr;
  if (p == nullptr) {
    unlink(name.data());
    error = "cannot run " + cmd;
    return {};
  }
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  unlink(name.data());
  if (status != 0) error = cmd + " exited with status " + std::to_string(status);
  std::istringstream is(out);
  for (std::string l; std::getline(is, l);) lines.push_back(l);
  return lines;
}

// Fails the property at the first line where the two transcripts differ.
void compare(const std::vector<std::string>& got, const std::vector<std::string>& want,
             const std::string& error, const std::vector<Step>& steps) {
  if (!error.empty()) RC_FAIL(error);
  for (size_t i = 0; i < got.size() || i < want.size(); ++i) {
    std::string g = i < got.size() ? got[i] : "(nothing)";
    std::string w = i < want.size() ? want[i] : "(nothing)";
    if (g != w) {
      RC_FAIL("line " + std::to_string(i) + " differs\n  generated C++: " + g + "\n  fsmc run:      " +
              w + "\nevents:\n" + script(steps));
    }
  }
}

// A payload value: mostly inside [lo, hi] (boundaries, the spec's constants and the machine's
// current variable values favoured, so guards like `l == active` hold often), sometimes
// anything, which exercises `badpayload`.
rc::Gen<uint32_t> field(uint32_t lo, uint32_t hi, const std::vector<uint32_t>& consts,
                        const std::vector<uint32_t>& live) {
  rc::Gen<uint32_t> inside = rc::gen::map(
      rc::gen::inRange<uint64_t>(lo, static_cast<uint64_t>(hi) + 1),
      [](uint64_t v) { return static_cast<uint32_t>(v); });
  std::vector<uint32_t> near, now;
  for (uint32_t c : consts) {
    if (c >= lo && c <= hi) near.push_back(c);
  }
  for (uint32_t c : live) {
    if (c >= lo && c <= hi) now.push_back(c);
  }
  if (near.empty()) near.push_back(lo);
  if (now.empty()) now.push_back(hi);
  return rc::gen::weightedOneOf<uint32_t>({
      {4, inside},
      {1, rc::gen::element(lo, hi)},
      {2, rc::gen::elementOf(near)},
      {2, rc::gen::elementOf(now)},
      {1, rc::gen::arbitrary<uint32_t>()},
  });
}

std::string value_list(const uint32_t* begin, size_t n) {
  std::string s;
  for (size_t k = 0; k < n; ++k) s += (k ? "," : "") + std::to_string(begin[k]);
  return s;
}

#ifdef FSM_TRACE_DIR
// A regression trace (DESIGN.md §4, tests/gen/traces/*.trace): `fsmc run` input whose `# spec:`
// and `# machine:` comment lines say which machine it is for.
struct TraceLine {
  unsigned number = 0;
  std::string name;
  std::vector<uint32_t> args;
};
struct Trace {
  std::string path, spec, machine, error;
  std::vector<TraceLine> lines;
};

// `fsmc run` numbers: decimal, or 0x hex; at most 32 bits.
bool parse_u32(const std::string& w, uint32_t& v) {
  const bool hex = w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X');
  const std::string digits = hex ? w.substr(2) : w;
  if (digits.empty() || digits.size() > (hex ? 8u : 10u)) return false;
  uint64_t x = 0;
  for (char c : digits) {
    int d = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10 : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return false;
    x = x * (hex ? 16u : 10u) + static_cast<uint64_t>(d);
  }
  if (x > 0xFFFFFFFFull) return false;
  v = static_cast<uint32_t>(x);
  return true;
}

// Every `*.trace` of `dir` in name order; a file that cannot be read, or has a bad line, carries
// the error instead of its lines.
std::vector<Trace> load_traces(const char* dir) {
  std::vector<Trace> out;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".trace") files.push_back(it->path());
  }
  if (ec) {
    Trace t;
    t.path = dir;
    t.error = "cannot list the directory: " + ec.message();
    out.push_back(t);
  }
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& f : files) {
    Trace t;
    t.path = f.string();
    std::ifstream in(f);
    if (!in) t.error = "cannot read the file";
    unsigned n = 0;
    for (std::string l; t.error.empty() && std::getline(in, l);) {
      ++n;
      const std::string where = "line " + std::to_string(n) + ": ";
      if (l.size() > 4096) {
        t.error = where + "longer than 4096 characters";
      } else if (l.rfind("# spec: ", 0) == 0) {
        t.spec = l.substr(8);
      } else if (l.rfind("# machine: ", 0) == 0) {
        t.machine = l.substr(11);
      } else if (!l.empty() && l[0] != '#') {
        std::istringstream is(l);
        TraceLine tl;
        tl.number = n;
        is >> tl.name;
        for (std::string w; t.error.empty() && is >> w;) {
          uint32_t v = 0;
          if (!parse_u32(w, v)) t.error = where + "'" + w + "' is not a 32-bit decimal or 0x number";
          tl.args.push_back(v);
        }
        if (!tl.name.empty()) t.lines.push_back(tl);
      }
    }
    if (t.error.empty() && (t.spec.empty() || t.machine.empty())) t.error = "no '# spec:' or no '# machine:' line";
    out.push_back(t);
  }
  return out;
}

// Whether a trace's `# spec:` path (relative to the repository) is FSM_SPEC_PATH.
bool names_this_spec(const std::string& spec) {
  const std::string p = FSM_SPEC_PATH;
  if (p == spec) return true;
  return p.size() > spec.size() && p.compare(p.size() - spec.size(), spec.size(), spec) == 0 &&
         p[p.size() - spec.size() - 1] == '/';
}
#endif

}  // namespace fsm_rc

)cpp";

class RcEmitter {
 public:
  RcEmitter(const ir::Machine& m, Printer& p) : m_(m), p_(p) {}

  void emit() {
    Vars v = {{"leaf", machine_ns_leaf(m_)}, {"ns", machine_namespace(m_)}, {"s", machine_struct(m_)},
              {"name", m_.name}, {"qname", quoted(m_.name)}};
    p_.print("// ---- machine $name$ ----\nnamespace rc_$leaf$ {\n\nnamespace g = $ns$;\n\n", v);
    constants();
    recorder();
    line(v);
    gen_step();
    event_of(v);
    property(v);
    traces(v);
    p_.print("}  // namespace rc_$leaf$\n\n", v);
  }

 private:
  // Every integer constant of the spec and its neighbours: likely guard boundaries.
  void constants() {
    std::set<uint32_t> c;
    for (const ir::Expr& e : m_.exprs) {
      if (e.op != ir::Op::Const || e.type.kind == ir::TypeKind::Bool) continue;
      c.insert(e.value);
      c.insert(e.value + 1);
      c.insert(e.value - 1);
    }
    std::string list;
    size_t n = 0;
    for (uint32_t v : c) {
      if (n++ == 64) break;
      list += (list.empty() ? "" : ", ") + u32(v);
    }
    p_.print("const std::vector<uint32_t> kConsts = {$l$};\n\n", {{"l", list}});
  }

  void recorder() {
    p_.print(
        "// What the recording host saw. A base class, so that no output method can hide it.\n"
        "struct Log {\n"
        "  std::vector<std::string> outs;\n"
        "  uint32_t traces = 0;\n"
        "  g::State from{}, to{};\n"
        "  g::EventId event{};\n"
        "  uint32_t id = 0;\n"
        "};\n\n"
        "// Records outputs as `name(a,b)` and the trace hook's arguments (names fully qualified:\n"
        "// an output may be called `g`).\n"
        "struct Recorder : Log {\n"
        "  void trace(::$ns$::State f, ::$ns$::EventId e, ::$ns$::State t, uint32_t i) {\n"
        "    ::rc_$leaf$::Log& log = *this;\n"
        "    ++log.traces;\n"
        "    log.from = f;\n"
        "    log.event = e;\n"
        "    log.to = t;\n"
        "    log.id = i;\n"
        "  }\n",
        {{"leaf", machine_ns_leaf(m_)}, {"ns", machine_namespace(m_)}});
    for (uint32_t o = 0; o < m_.outputs.size(); ++o) {
      const ir::Output& out = m_.outputs[o];
      std::string params, body;
      for (size_t k = 0; k < out.params.size(); ++k) {
        bool b = out.params[k].type.kind == ir::TypeKind::Bool;
        std::string a = "a" + std::to_string(k);
        params += (k ? ", " : "") + std::string(b ? "bool " : "uint32_t ") + a;
        body += std::string(k ? " + \",\" + " : " + ") + "std::to_string(" + (b ? a + " ? 1u : 0u" : a) + ")";
      }
      p_.print("  void $m$($p$) { static_cast<::rc_$leaf$::Log&>(*this).outs.push_back(std::string($n$) + \"(\"$b$ + \")\"); }\n",
               {{"m", output_method(m_, o)}, {"p", params}, {"n", quoted(out.name)}, {"b", body}, {"leaf", machine_ns_leaf(m_)}});
    }
    p_.print("};\n\n");
  }

  void line(const Vars& v) {
    p_.print(
        "// The step line of spec/README.md (`fsmc run`), from the generated machine.\n"
        "std::string line(const g::$s$& m, const char* outcome, uint32_t code, uint32_t transition,\n"
        "                 const std::vector<std::string>& outs) {\n"
        "  std::string s = std::string(outcome) + \" \" + std::to_string(code) + \" \" +\n"
        "                  (transition == g::kNoTransition ? std::string(\"-\") : std::to_string(transition)) +\n"
        "                  \" | \" + g::state_name(m.state);\n",
        v);
    for (uint32_t i = 0; i < m_.vars.size(); ++i) {
      const ir::Var& var = m_.vars[i];
      Vars w = {{"n", quoted(" " + var.name + "=")}, {"m", member_name(m_, i)}, {"len", std::to_string(var.array_len)}};
      if (var.array_len == 0) {
        p_.print("  s += $n$ + std::to_string(static_cast<uint32_t>(m.$m$));\n", w);
      } else {
        p_.print(
            "  {\n"
            "    uint32_t a[$len$];\n"
            "    for (uint32_t k = 0; k < $len$; ++k) a[k] = static_cast<uint32_t>(m.$m$[k]);\n"
            "    s += $n$ + fsm_rc::value_list(a, $len$);\n"
            "  }\n",
            w);
      }
    }
    p_.print(
        "  s += \" |\";\n"
        "  for (const std::string& o : outs) s += \" \" + o;\n"
        "  std::string bad;\n"
        "  for (uint32_t i = 0; i < g::invariant_count; ++i) {\n"
        "    if (!g::invariant_holds(m, i)) bad += (bad.empty() ? \"\" : \",\") + std::string(g::invariant_name(i));\n"
        "  }\n"
        "  return s + \" | \" + (bad.empty() ? std::string(\"ok\") : bad);\n"
        "}\n\n");
  }

  void gen_step() {
    p_.print(
        "rc::Gen<fsm_rc::Step> gen_step(const std::vector<uint32_t>& live) {\n"
        "  return rc::gen::exec([live] {\n"
        "    fsm_rc::Step s;\n");
    if (m_.events.empty()) {
      p_.print("    (void)live;\n    s.reset = true;\n    return s;\n  });\n}\n\n");
      return;
    }
    p_.print(
        "    if (*rc::gen::inRange(0, 40) == 0) {\n"
        "      s.reset = true;\n"
        "      return s;\n"
        "    }\n"
        "    s.event = *rc::gen::inRange<uint32_t>(0u, g::kEventCount);\n"
        "    s.name = g::event_name(static_cast<g::EventId>(s.event));\n");
    bool any = false;
    for (const ir::Event& e : m_.events) any = any || !e.params.empty();
    if (any) {
      p_.print("    switch (s.event) {\n");
      for (uint32_t e = 0; e < m_.events.size(); ++e) {
        const ir::Event& ev = m_.events[e];
        if (ev.params.empty()) continue;
        p_.print("      case $e$:  // $n$\n", {{"e", u32(e)}, {"n", ev.name}});
        for (const ir::Field& f : ev.params) {
          auto [lo, hi] = field_domain(f.type);
          p_.print("        s.args.push_back(*fsm_rc::field($lo$, $hi$, kConsts, live));\n", {{"lo", u32(lo)}, {"hi", u32(hi)}});
        }
        p_.print("        break;\n");
      }
      p_.print("    }\n");
    }
    p_.print("    return s;\n  });\n}\n\n");
  }

  void event_of(const Vars& v) {
    p_.print("// The current values of the scalar variables.\nstd::vector<uint32_t> live(const g::$s$& m) {\n", v);
    std::string list;
    for (uint32_t i = 0; i < m_.vars.size(); ++i) {
      if (m_.vars[i].array_len == 0) list += (list.empty() ? "" : ", ") + ("static_cast<uint32_t>(m." + member_name(m_, i) + ")");
    }
    p_.print(list.empty() ? "  (void)m;\n  return {};\n}\n\n" : "  return {$l$};\n}\n\n", {{"l", list}});
    p_.print(
        "g::Event event(const fsm_rc::Step& s) {\n"
        "  g::Event ev{static_cast<g::EventId>(s.event), {}};\n"
        "  for (size_t k = 0; k < s.args.size(); ++k) ev.args[k] = s.args[k];\n"
        "  return ev;\n"
        "}\n\n",
        v);
  }

  // Steps are drawn one at a time while the generated machine runs, so that most of them can be
  // steered: the most promising of up to 12 draws (a new state, then a new transition; uniform
  // draws rarely get deep into a machine whose guards compare payloads with its variables).
  // A quarter are plain draws. Generation depends only on RapidCheck's choices, so shrinking
  // and `reproduce` stay deterministic.
  void property(const Vars& v) {
    p_.print(
        "// How much `s` would widen this case's coverage: entering a state not visited yet, taking a\n"
        "// transition not taken yet.\n"
        "int promise(const g::$s$& m, const fsm_rc::Step& s, const std::vector<bool>& taken,\n"
        "            const std::vector<bool>& visited) {\n"
        "  if (s.reset) return 0;\n"
        "  g::$s$ probe = m;\n"
        "  g::NullHost null_host;\n"
        "  const fsm::rt::Result r = g::dispatch(probe, null_host, event(s));\n"
        "  if (r.outcome != fsm::rt::Outcome::Transitioned) return 0;\n"
        "  return (visited[static_cast<uint32_t>(probe.state)] ? 0 : 4) + (taken[r.transition] ? 0 : 2) + 1;\n"
        "}\n\n"        "RC_GTEST_PROP(Rc_$leaf$, generated_cpp_matches_fsmc_run, ()) {\n"
        "  const int length = *rc::gen::withSize([](int size) { return rc::gen::inRange(0, 2 * size + 1); });\n"
        "  std::vector<fsm_rc::Step> steps;\n"
        "  g::$s$ m{};\n"
        "  Recorder host;\n"
        "  const Log& log = host;\n"
        "  std::vector<std::string> got{line(m, \"init\", 0u, g::kNoTransition, log.outs)};\n"
        "  std::string trace_error, invariant_error;\n"
        "  std::vector<bool> taken(g::kTransitionCount, false), visited(g::kStateCount, false);\n"
        "  visited[static_cast<uint32_t>(m.state)] = true;\n"
        "  for (int n = 0; n < length; ++n) {\n"
        "    const std::vector<uint32_t> now = live(m);\n"
        "    fsm_rc::Step s = *gen_step(now);\n"
        "    if (*rc::gen::inRange(0, 4) != 0) {  // steer: the most promising of 12 draws\n"
        "      int best = promise(m, s, taken, visited);\n"
        "      for (int t = 0; t < 11 && best < 6; ++t) {\n"
        "        fsm_rc::Step c = *gen_step(now);\n"
        "        const int p = promise(m, c, taken, visited);\n"
        "        if (p > best) {\n"
        "          best = p;\n"
        "          s = c;\n"
        "        }\n"
        "      }\n"
        "    }\n"
        "    steps.push_back(s);\n"
        "    host = Recorder{};\n"
        "    if (s.reset) {\n"
        "      g::init(m);\n"
        "      got.push_back(line(m, \"init\", 0u, g::kNoTransition, log.outs));\n"
        "      continue;\n"
        "    }\n"
        "    const g::Event ev = event(s);\n"
        "    const g::State before = m.state;\n"
        "    const fsm::rt::Result r = g::dispatch(m, host, ev);\n"
        "    got.push_back(line(m, fsm::rt::outcome_name(r.outcome), r.code, r.transition, log.outs));\n"
        "    const bool moved = r.outcome == fsm::rt::Outcome::Transitioned;\n"
        "    if (moved && r.transition < g::kTransitionCount) taken[r.transition] = true;\n"
        "    visited[static_cast<uint32_t>(m.state)] = true;\n"
        "    const bool traced = log.traces == (moved ? 1u : 0u) &&\n"
        "                        (!moved || (log.from == before && log.to == m.state &&\n"
        "                                    log.event == ev.id && log.id == r.transition));\n"
        "    if (!traced && trace_error.empty()) trace_error = \"wrong trace hook calls at step \" + std::to_string(n + 1);\n"
        "    for (uint32_t i = 0; i < g::invariant_count && invariant_error.empty(); ++i) {\n"
        "      if (!g::invariant_holds(m, i)) {\n"
        "        invariant_error = std::string(\"invariant \") + g::invariant_name(i) + \" fails after step \" +\n"
        "                          std::to_string(n + 1) + \":\\n\" + fsm_rc::script(steps);\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "  if (!trace_error.empty()) RC_FAIL(trace_error);\n"
        "  if (!invariant_error.empty()) RC_FAIL(invariant_error);\n"
        "  std::string error;\n"
        "  const std::vector<std::string> want = fsm_rc::run_fsmc($qname$, steps, error);\n"
        "  fsm_rc::compare(got, want, error, steps);\n"
        "}\n\n",
        v);
  }

  // The regression traces of DESIGN.md §4 (fsm_rc_traces() in FsmGenerate.cmake defines
  // FSM_TRACE_DIR): each trace naming this machine runs through the generated C++ and `fsmc run`
  // with equal step lines and every invariant holding after every step. A trace may contain
  // events the spec rejects or ignores; both sides must agree on that too.
  void traces(const Vars& v) {
    std::string arity;
    for (const ir::Event& e : m_.events) arity += (arity.empty() ? "" : ", ") + u32(static_cast<uint32_t>(e.params.size()));
    p_.print("#ifdef FSM_TRACE_DIR\n", v);
    p_.print(m_.events.empty() ? "constexpr uint32_t kArity[1] = {0u};\n\n" : "constexpr uint32_t kArity[] = {$a$};\n\n", {{"a", arity}});
    p_.print(
        "TEST(Rc_$leaf$, regression_traces) {\n"
        "  size_t replayed = 0;\n"
        "  for (const fsm_rc::Trace& t : fsm_rc::load_traces(FSM_TRACE_DIR)) {\n"
        "    if (!t.error.empty()) {\n"
        "      ADD_FAILURE() << t.path << \": \" << t.error;\n"
        "      continue;\n"
        "    }\n"
        "    if (t.machine != $qname$ || !fsm_rc::names_this_spec(t.spec)) continue;\n"
        "    ++replayed;\n"
        "    std::vector<fsm_rc::Step> steps;\n"
        "    bool known = true;\n"
        "    for (const fsm_rc::TraceLine& l : t.lines) {\n"
        "      fsm_rc::Step s;\n"
        "      if (l.name == \"reset\" && l.args.empty()) {\n"
        "        s.reset = true;\n"
        "        steps.push_back(s);\n"
        "        continue;\n"
        "      }\n"
        "      while (s.event < g::kEventCount && l.name != g::event_name(static_cast<g::EventId>(s.event))) ++s.event;\n"
        "      if (s.event == g::kEventCount || l.args.size() != kArity[s.event]) {\n"
        "        ADD_FAILURE() << t.path << \":\" << l.number << \": \" << (s.event == g::kEventCount ? \"no event '\" + l.name + \"' in \" $qname$\n"
        "                                                             : \"wrong number of fields for '\" + l.name + \"'\");\n"
        "        known = false;\n"
        "        break;\n"
        "      }\n"
        "      s.name = g::event_name(static_cast<g::EventId>(s.event));\n"
        "      s.args = l.args;\n"
        "      steps.push_back(s);\n"
        "    }\n"
        "    if (!known) continue;\n"
        "    g::$s$ m{};\n"
        "    Recorder host;\n"
        "    const Log& log = host;\n"
        "    std::vector<std::string> got{line(m, \"init\", 0u, g::kNoTransition, log.outs)};\n"
        "    for (size_t n = 0; n < steps.size(); ++n) {\n"
        "      host = Recorder{};\n"
        "      if (steps[n].reset) {\n"
        "        g::init(m);\n"
        "        got.push_back(line(m, \"init\", 0u, g::kNoTransition, log.outs));\n"
        "      } else {\n"
        "        const fsm::rt::Result r = g::dispatch(m, host, event(steps[n]));\n"
        "        got.push_back(line(m, fsm::rt::outcome_name(r.outcome), r.code, r.transition, log.outs));\n"
        "      }\n"
        "      for (uint32_t i = 0; i < g::invariant_count; ++i) {\n"
        "        EXPECT_TRUE(g::invariant_holds(m, i)) << t.path << \": invariant \" << g::invariant_name(i)\n"
        "                                              << \" fails after step \" << n + 1 << \": \" << got.back();\n"
        "      }\n"
        "    }\n"
        "    std::string error;\n"
        "    const std::vector<std::string> want = fsm_rc::run_fsmc($qname$, steps, error);\n"
        "    EXPECT_EQ(error, \"\") << t.path;\n"
        "    EXPECT_EQ(got.size(), want.size()) << t.path << \": the generated C++ and fsmc run printed different numbers of lines\";\n"
        "    for (size_t i = 0; i < got.size() && i < want.size(); ++i) {\n"
        "      if (got[i] != want[i]) {\n"
        "        ADD_FAILURE() << t.path << \": step line \" << i << \" differs\\n  generated C++: \" << got[i]\n"
        "                      << \"\\n  fsmc run:      \" << want[i];\n"
        "        break;\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "  std::printf(\"replayed %zu regression traces of %s\\n\", replayed, $qname$);\n"
        "  EXPECT_GT(replayed, 0u) << \"no regression trace in \" << FSM_TRACE_DIR << \" names machine \" << $qname$\n"
        "                          << \" of \" << FSM_SPEC_PATH;\n"
        "}\n"
        "#endif  // FSM_TRACE_DIR\n\n",
        v);
  }

  const ir::Machine& m_;
  Printer& p_;
};

}  // namespace

std::vector<OutFile> emit_rc(const ir::Module& mod) {
  std::vector<OutFile> out;
  for (const SpecGroup& g : group_by_spec(mod)) {
    Printer p;
    p.print(
        "// Generated by $gen$ from $spec$ — DO NOT EDIT.\n"
        "//\n"
        "// RapidCheck properties, one per machine: random event sequences through the generated C++\n"
        "// ($base$.h) and through `fsmc run` print the same step lines, and every invariant holds\n"
        "// after every step. Built with exceptions (RapidCheck assertions throw); FSMC_PATH and\n"
        "// FSM_SPEC_PATH come from fsm_generate().\n"
        "#include <gtest/gtest.h>\n"
        "#include <rapidcheck.h>\n"
        "#include <rapidcheck/gtest.h>\n"
        "#include <unistd.h>\n\n"
        "#include <algorithm>\n"
        "#include <cstdint>\n"
        "#include <cstdio>\n"
        "#include <cstdlib>\n"
        "#include <filesystem>\n"
        "#include <fstream>\n"
        "#include <ostream>\n"
        "#include <sstream>\n"
        "#include <string>\n"
        "#include <vector>\n\n"
        "#include \"$base$.h\"\n\n"
        "#ifndef FSMC_PATH\n"
        "#error \"FSMC_PATH (the fsmc binary) must be defined\"\n"
        "#endif\n"
        "#ifndef FSM_SPEC_PATH\n"
        "#error \"FSM_SPEC_PATH (the spec file) must be defined\"\n"
        "#endif\n\n",
        {{"gen", ir::kGeneratorVersionString}, {"spec", g.spec_path}, {"base", g.base}});
    p.print(kCommon);
    for (const ir::Machine* m : g.machines) RcEmitter(*m, p).emit();
    out.push_back(OutFile{g.base + "_rc_test.cpp", p.str()});
  }
  return out;
}

}  // namespace fsm::gen
