// Naming and layout helpers shared by the C++, RapidCheck and fuzz back ends, so the three agree
// on every generated identifier (namespaces, struct and member names, escaped keywords) and on
// the storage type of each variable. snake_case() itself is declared in emit.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ir.h"

namespace fsm::gen {

// "spec/tis_locality.fsm" -> "tis_locality": the base name every per-file output is named after.
std::string spec_base_name(const std::string& spec_path);

// The machines of a module grouped by Machine::spec_path, groups in order of first appearance.
struct SpecGroup {
  std::string spec_path;
  std::string base;
  std::vector<const ir::Machine*> machines;
};
std::vector<SpecGroup> group_by_spec(const ir::Module& m);

// A spec identifier made safe as a C++ identifier: C++ keywords (and names the generated code
// reserves for itself, given in `reserved`) get a trailing '_'.
std::string cpp_ident(const std::string& name, const std::vector<std::string>& reserved = {});

// Identifiers the generated header uses for one machine.
std::string machine_ns_leaf(const ir::Machine& m);    // "tis_locality"
std::string machine_namespace(const ir::Machine& m);  // "fsm::machines::tis_locality"
std::string machine_struct(const ir::Machine& m);     // "TisLocality" (the instance struct)
std::string enum_type(const ir::Machine& m, uint32_t enum_id);
std::string state_enumerator(const ir::Machine& m, uint32_t state);  // spelling inside State::
std::string event_enumerator(const ir::Machine& m, uint32_t event);  // spelling inside EventId::
std::string member_name(const ir::Machine& m, uint32_t var);
std::string output_method(const ir::Machine& m, uint32_t output);    // host.<this>(…)
std::string event_factory(const ir::Machine& m, uint32_t event);     // make_<event>
std::string param_name(const ir::Machine& m, uint32_t event, uint32_t field);  // its parameters

// The C++ storage of a variable element or enum: bool, uint8_t, uint16_t or uint32_t.
std::string storage_type(const ir::Type& t);
uint32_t storage_bytes(const ir::Type& t);
// Underlying type of an enum class with `n` enumerators.
std::string enum_underlying(size_t n);

// The struct layout the C++ back end emits: members ordered by alignment (largest first, IR
// order within one alignment; `state` first among its alignment), and the resulting sizeof.
struct Member {
  std::string decl_type;  // "State", "uint8_t", …
  std::string name;       // member name
  uint32_t var;           // ir::kNone for the state member
  uint32_t align;
  uint32_t bytes;         // total bytes (element bytes * array length)
};
struct Layout {
  std::vector<Member> members;
  uint32_t size = 0;
};
Layout machine_layout(const ir::Machine& m);

// Requirement text as a C++ string literal body ("…" with \" and \\ escaped, control characters
// as \xNN) — safe inside `// req "…"` comments and string literals alike.
std::string quoted(const std::string& text);

// Invariants checked by generated code: the spec's own, then one implicit `range_<var>` for
// each ranged UInt variable (in IR order).
struct InvariantRef {
  std::string name;
  ir::ExprId expr = ir::kNone;  // kNone: implicit range invariant of `var`
  uint32_t var = ir::kNone;
  std::vector<std::string> reqs;
};
std::vector<InvariantRef> checked_invariants(const ir::Machine& m);

// Smallest and largest in-domain value of an event field / output argument.
std::pair<uint32_t, uint32_t> field_domain(const ir::Type& t);

}  // namespace fsm::gen
