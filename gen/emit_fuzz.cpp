// libFuzzer back end: ir::Module => `<base>_fuzz.cpp` plus seed inputs `<base>_seeds/seed_NNN`
// (reference/dsl-formal.md §6.1). The harness decodes the input with FuzzedDataProvider as a
// sequence of events, dispatches them, and traps when an invariant fails, when an outcome other
// than `transitioned` changed the instance, or when payload checking disagrees with the domains;
// transition ids and reached states feed libFuzzer through __libfuzzer_extra_counters.
#include <algorithm>
#include <set>
#include <string>

#include "emit.h"
#include "naming.h"
#include "printer.h"

namespace fsm::gen {
namespace {

std::string u32(uint32_t v) { return std::to_string(v) + "u"; }

// Input encoding, shared by the harness and the seed encoder below. FuzzedDataProvider takes
// integers from the END of the input, most significant byte first, one byte per 8 bits of the
// range, and reduces modulo the range size.
//   [machine: 1 byte, only when the file has several machines]
//   per step: event (1 byte, % kEventCount; 2 bytes when there are more than 256 events),
//             per field: selector (1 byte: < 224 in domain, else any uint32),
//             value (in domain: ConsumeIntegralInRange(lo, hi); else ConsumeIntegral<uint32_t>).
constexpr uint32_t kInsideBelow = 224;
constexpr uint32_t kMaxSteps = 256;

class SeedEncoder {
 public:
  void byte(uint32_t b) { consumed_.push_back(static_cast<char>(b & 0xFF)); }
  // Mirrors ConsumeIntegralInRange<uint32_t>(lo, hi) returning `v` (lo <= v <= hi).
  void in_range(uint32_t lo, uint32_t hi, uint32_t v) {
    uint32_t range = hi - lo;
    uint32_t off = v - lo;
    int n = 0;
    while (n < 4 && (static_cast<uint64_t>(range) >> (8 * n)) > 0) ++n;
    for (int k = n - 1; k >= 0; --k) byte(off >> (8 * k));
  }
  void any(uint32_t v) { in_range(0, 0xFFFFFFFFu, v); }
  std::string data() const { return std::string(consumed_.rbegin(), consumed_.rend()); }

 private:
  std::string consumed_;
};

class FuzzEmitter {
 public:
  FuzzEmitter(const ir::Machine& m, uint32_t counter_base, Printer& p)
      : m_(m), base_(counter_base), p_(p) {}

  // Counters used: one per transition, then one per state.
  uint32_t counters() const { return static_cast<uint32_t>(m_.transitions.size() + m_.states.size()); }

  void emit() {
    Vars v = {{"leaf", machine_ns_leaf(m_)}, {"ns", machine_namespace(m_)}, {"s", machine_struct(m_)},
              {"name", m_.name}, {"base", u32(base_)}, {"nt", u32(static_cast<uint32_t>(m_.transitions.size()))}};
    p_.print(
        "// ---- machine $name$ ----\n"
        "namespace fz_$leaf$ {\n\n"
        "namespace g = $ns$;\n\n"
        "struct Host {\n",
        v);
    for (uint32_t o = 0; o < m_.outputs.size(); ++o) {
      std::string params;
      for (size_t k = 0; k < m_.outputs[o].params.size(); ++k) {
        params += (k ? ", " : "") + std::string(m_.outputs[o].params[k].type.kind == ir::TypeKind::Bool ? "bool" : "uint32_t");
      }
      p_.print("  void $n$($p$) {}\n", {{"n", output_method(m_, o)}, {"p", params}});
    }
    p_.print(
        "  void trace(g::State, g::EventId, g::State to, uint32_t id) {\n"
        "    if (id >= g::kTransitionCount) __builtin_trap();\n"
        "    ++fsm_extra_counters[$base$ + id];\n"
        "    ++fsm_extra_counters[$base$ + $nt$ + static_cast<uint32_t>(to)];\n"
        "  }\n"
        "};\n\n",
        v);
    unchanged(v);
    run(v);
    p_.print("}  // namespace fz_$leaf$\n\n", v);
  }

  // Seed inputs for this machine (led by its index byte in a multi-machine file).
  void seeds(bool multi, uint32_t index, std::vector<std::string>& out) const {
    if (m_.events.empty()) return;
    std::vector<uint32_t> consts;
    {
      std::set<uint32_t> c;
      for (const ir::Expr& e : m_.exprs) {
        if (e.op == ir::Op::Const && e.type.kind != ir::TypeKind::Bool) c.insert(e.value);
      }
      consts.assign(c.begin(), c.end());
    }
    uint32_t rng = 0x2545F491u;
    auto next = [&] {
      rng = rng * 1664525u + 1013904223u;
      return rng >> 8;
    };
    // kind 0: every event once with lowest values; 1: highest; 2: a pseudo-random walk using the
    // spec's constants; 3: the first out-of-domain payload there is.
    for (int kind = 0; kind < 4; ++kind) {
      SeedEncoder enc;
      if (multi) enc.byte(index);
      bool wrote_bad = false;
      uint32_t steps = kind == 2 ? 32 : static_cast<uint32_t>(m_.events.size());
      for (uint32_t s = 0; s < steps; ++s) {
        uint32_t e = kind == 2 ? next() % static_cast<uint32_t>(m_.events.size()) : s;
        event_id(enc, e);
        for (const ir::Field& f : m_.events[e].params) {
          auto [lo, hi] = field_domain(f.type);
          if (kind == 3 && !wrote_bad && hi < 0xFFFFFFFFu) {
            enc.byte(kInsideBelow);
            enc.any(hi + 1);
            wrote_bad = true;
            continue;
          }
          enc.byte(0);
          uint32_t v = kind == 1 ? hi : lo;
          if (kind == 2) {
            uint32_t c = consts.empty() ? lo : consts[next() % consts.size()];
            v = c >= lo && c <= hi && next() % 2 ? c : lo + next() % (hi - lo == 0xFFFFFFFFu ? hi : hi - lo + 1);
          }
          enc.in_range(lo, hi, v);
        }
      }
      if (kind == 3 && !wrote_bad) continue;
      out.push_back(enc.data());
    }
  }

 private:
  void event_id(SeedEncoder& enc, uint32_t e) const {
    if (m_.events.size() <= 256) {
      enc.byte(e);
    } else {
      enc.in_range(0, static_cast<uint32_t>(m_.events.size() - 1), e);
    }
  }

  // True when every member of the two instances is equal ("nothing changes").
  void unchanged(const Vars& v) {
    p_.print("bool unchanged(const g::$s$& a, const g::$s$& b) {\n  if (a.state != b.state) return false;\n", v);
    for (uint32_t i = 0; i < m_.vars.size(); ++i) {
      const ir::Var& var = m_.vars[i];
      Vars w = {{"m", member_name(m_, i)}, {"n", u32(var.array_len)}};
      if (var.array_len == 0) {
        p_.print("  if (a.$m$ != b.$m$) return false;\n", w);
      } else {
        p_.print("  for (uint32_t k = 0; k < $n$; ++k) {\n    if (a.$m$[k] != b.$m$[k]) return false;\n  }\n", w);
      }
    }
    p_.print("  return true;\n}\n\n");
  }

  void run(const Vars& v) {
    p_.print(
        "void run(FuzzedDataProvider& fdp) {\n"
        "  g::$s$ m{};\n"
        "  Host host;\n"
        "  ++fsm_extra_counters[$base$ + $nt$ + static_cast<uint32_t>(m.state)];\n",
        v);
    if (m_.events.empty()) {
      p_.print("  (void)fdp;\n  (void)host;\n}\n\n");
      return;
    }
    p_.print(
        "  for (uint32_t n = 0; n < $max$ && fdp.remaining_bytes() > 0; ++n) {\n"
        "    g::Event ev{};\n",
        {{"max", u32(kMaxSteps)}});
    if (m_.events.size() <= 256) {
      p_.print("    const uint32_t e = fdp.ConsumeIntegral<uint8_t>() % g::kEventCount;\n");
    } else {
      p_.print("    const uint32_t e = fdp.ConsumeIntegralInRange<uint32_t>(0u, g::kEventCount - 1u);\n");
    }
    p_.print("    ev.id = static_cast<g::EventId>(e);\n    bool inside = true;\n");
    bool any = false;
    for (const ir::Event& e : m_.events) any = any || !e.params.empty();
    if (any) {
      p_.print("    switch (e) {\n");
      for (uint32_t e = 0; e < m_.events.size(); ++e) {
        const ir::Event& ev = m_.events[e];
        if (ev.params.empty()) continue;
        p_.print("      case $e$:  // $n$\n", {{"e", u32(e)}, {"n", ev.name}});
        for (size_t k = 0; k < ev.params.size(); ++k) {
          auto [lo, hi] = field_domain(ev.params[k].type);
          p_.print("        ev.args[$k$] = field(fdp, $lo$, $hi$, inside);\n",
                   {{"k", std::to_string(k)}, {"lo", u32(lo)}, {"hi", u32(hi)}});
        }
        p_.print("        break;\n");
      }
      p_.print("    }\n");
    }
    p_.print(
        "    const g::$s$ before = m;\n"
        "    const fsm::rt::Result r = g::dispatch(m, host, ev);\n"
        "    if (inside != (r.outcome != fsm::rt::Outcome::BadPayload)) __builtin_trap();\n"
        "    if (r.outcome != fsm::rt::Outcome::Transitioned && !unchanged(before, m)) __builtin_trap();\n"
        "    if (r.outcome != fsm::rt::Outcome::Rejected && r.code != 0u) __builtin_trap();\n"
        "    for (uint32_t i = 0; i < g::invariant_count; ++i) {\n"
        "      if (!g::invariant_holds(m, i)) __builtin_trap();\n"
        "    }\n"
        "  }\n"
        "}\n\n",
        v);
  }

  const ir::Machine& m_;
  uint32_t base_;
  Printer& p_;
};

}  // namespace

std::vector<OutFile> emit_fuzz(const ir::Module& mod) {
  std::vector<OutFile> out;
  for (const SpecGroup& g : group_by_spec(mod)) {
    Printer p;
    Printer body;
    std::vector<std::string> seeds;
    uint32_t total = 0;
    bool multi = g.machines.size() > 1;
    for (uint32_t i = 0; i < g.machines.size(); ++i) {
      FuzzEmitter f(*g.machines[i], total, body);
      f.emit();
      f.seeds(multi, i, seeds);
      total += f.counters();
    }
    p.print(
        "// Generated by $gen$ from $spec$ — DO NOT EDIT.\n"
        "//\n"
        "// libFuzzer harness for the machines of $base$.h: the input is a sequence of events\n"
        "// (FuzzedDataProvider); after every step each invariant must hold, an outcome other than\n"
        "// `transitioned` must leave the instance unchanged and `badpayload` must come exactly from\n"
        "// out-of-domain fields. Transitions and states reached are extra coverage counters.\n"
        "#include <fuzzer/FuzzedDataProvider.h>\n\n"
        "#include <cstddef>\n"
        "#include <cstdint>\n\n"
        "#include \"$base$.h\"\n\n"
        "namespace {\n\n"
        "// libFuzzer treats every byte of this section as a coverage counter.\n"
        "__attribute__((used, section(\"__libfuzzer_extra_counters\"))) uint8_t fsm_extra_counters[$n$];\n\n"
        "// A payload field: mostly inside [lo, hi], else any value (then `inside` becomes false\n"
        "// when it falls outside).\n"
        "uint32_t field(FuzzedDataProvider& fdp, uint32_t lo, uint32_t hi, bool& inside) {\n"
        "  if (fdp.ConsumeIntegral<uint8_t>() < $below$) return fdp.ConsumeIntegralInRange<uint32_t>(lo, hi);\n"
        "  const uint32_t v = fdp.ConsumeIntegral<uint32_t>();\n"
        "  if (v < lo || v > hi) inside = false;\n"
        "  return v;\n"
        "}\n\n",
        {{"gen", ir::kGeneratorVersionString}, {"spec", g.spec_path}, {"base", g.base},
         {"n", std::to_string(std::max<uint32_t>(1, total))}, {"below", u32(kInsideBelow)}});
    p.print("$body$", {{"body", body.str()}});
    p.print("}  // namespace\n\nextern \"C\" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {\n"
            "  FuzzedDataProvider fdp(data, size);\n");
    if (multi) {
      p.print("  switch (fdp.ConsumeIntegral<uint8_t>() % $k$) {\n", {{"k", u32(static_cast<uint32_t>(g.machines.size()))}});
      for (uint32_t i = 0; i < g.machines.size(); ++i) {
        p.print("    case $i$: fz_$leaf$::run(fdp); break;\n",
                {{"i", u32(i)}, {"leaf", machine_ns_leaf(*g.machines[i])}});
      }
      p.print("  }\n");
    } else {
      p.print("  fz_$leaf$::run(fdp);\n", {{"leaf", machine_ns_leaf(*g.machines[0])}});
    }
    p.print("  return 0;\n}\n");
    out.push_back(OutFile{g.base + "_fuzz.cpp", p.str()});
    for (size_t k = 0; k < seeds.size(); ++k) {
      std::string n = std::to_string(k);
      out.push_back(OutFile{g.base + "_seeds/seed_" + std::string(3 - std::min<size_t>(3, n.size()), '0') + n, seeds[k]});
    }
  }
  return out;
}

}  // namespace fsm::gen
