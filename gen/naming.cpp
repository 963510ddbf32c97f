// Shared naming and layout for the C++, RapidCheck and fuzz back ends (see naming.h).
// Every identifier derives from spec names only, so output is stable under reordering of
// hosts and runs; collisions with C++ keywords or generated names are escaped with '_'.
#include "naming.h"

#include <algorithm>
#include <cctype>

#include "emit.h"

namespace fsm::gen {
namespace {

// C++20 keywords and alternative tokens, plus names the generated code relies on (fixed-width
// types, std, fsm) that a member or namespace must not hide.
const char* const kCppWords[] = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
    "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "co_await",
    "co_return", "co_yield", "decltype", "default", "delete", "do", "double", "dynamic_cast",
    "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto",
    "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register",
    "reinterpret_cast", "requires", "return", "short", "signed", "sizeof", "static",
    "static_assert", "static_cast", "struct", "switch", "template", "this", "thread_local",
    "throw", "true", "try", "typedef", "typeid", "typename", "union", "unsigned", "using",
    "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq", "final", "override",
    "import", "module", "NULL", "assert", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "int8_t", "int16_t", "int32_t", "int64_t", "size_t", "std", "fsm", "rt", "main",
};

// Names the generated machine namespace declares itself (see emit_cpp.cpp).
const std::vector<std::string> kNamespaceWords = {
    "State", "EventId", "Event", "Machine", "NullHost", "Host", "Result", "detail",
    "kStateCount", "kEventCount", "kTransitionCount", "kMaxParams", "kNoTransition",
    "invariant_count", "state_name", "event_name", "payload_valid", "dispatch", "init",
    "invariant_name", "invariant_holds",
};

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

std::string snake_case(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (is_upper(c)) {
      bool after_lower = i > 0 && is_lower_or_digit(name[i - 1]);
      bool acronym_end = i > 0 && is_upper(name[i - 1]) && i + 1 < name.size() &&
                         is_lower_or_digit(name[i + 1]) && !(name[i + 1] >= '0' && name[i + 1] <= '9');
      if ((after_lower || acronym_end) && !out.empty() && out.back() != '_') out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

std::string spec_base_name(const std::string& spec_path) {
  size_t slash = spec_path.find_last_of("/\\");
  std::string base = slash == std::string::npos ? spec_path : spec_path.substr(slash + 1);
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".fsm") == 0) base.resize(base.size() - 4);
  return base;
}

std::vector<SpecGroup> group_by_spec(const ir::Module& m) {
  std::vector<SpecGroup> groups;
  for (const ir::Machine& mach : m.machines) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const SpecGroup& g) { return g.spec_path == mach.spec_path; });
    if (it == groups.end()) {
      groups.push_back(SpecGroup{mach.spec_path, spec_base_name(mach.spec_path), {}});
      it = groups.end() - 1;
    }
    it->machines.push_back(&mach);
  }
  return groups;
}

std::string cpp_ident(const std::string& name, const std::vector<std::string>& reserved) {
  std::string out = name;
  // Identifiers beginning with "__" or "_X" are reserved to the implementation.
  if (out.size() >= 2 && out[0] == '_' && (out[1] == '_' || is_upper(out[1]))) out = "x" + out;
  bool clash = std::find(reserved.begin(), reserved.end(), out) != reserved.end();
  for (const char* w : kCppWords) clash = clash || out == w;
  return clash ? out + "_" : out;
}

std::string machine_ns_leaf(const ir::Machine& m) { return cpp_ident(snake_case(m.name)); }

std::string machine_namespace(const ir::Machine& m) {
  return "fsm::machines::" + machine_ns_leaf(m);
}

std::string enum_type(const ir::Machine& m, uint32_t enum_id) {
  return cpp_ident(m.enums[enum_id].name, kNamespaceWords);
}

std::string machine_struct(const ir::Machine& m) {
  std::vector<std::string> reserved = kNamespaceWords;
  // `Machine` is the alias of the struct, so a machine may be called that.
  reserved.erase(std::find(reserved.begin(), reserved.end(), std::string("Machine")));
  for (uint32_t i = 0; i < m.enums.size(); ++i) reserved.push_back(enum_type(m, i));
  return cpp_ident(m.name, reserved);
}

std::string state_enumerator(const ir::Machine& m, uint32_t state) {
  return cpp_ident(m.states[state].name);
}

std::string event_enumerator(const ir::Machine& m, uint32_t event) {
  return cpp_ident(m.events[event].name);
}

// Inside the struct `State` names the state type and the struct's own name its constructor.
std::string member_name(const ir::Machine& m, uint32_t var) {
  return cpp_ident(m.vars[var].name, {"state", "kSizeBytes", "State", machine_struct(m)});
}

// `trace` is the transition hook; State and EventId are named in NullHost after the outputs.
std::string output_method(const ir::Machine& m, uint32_t output) {
  return cpp_ident(m.outputs[output].name, {"trace", "State", "EventId"});
}

// A factory parameter must not hide a type named in the factory's signature or body.
std::string param_name(const ir::Machine& m, uint32_t event, uint32_t field) {
  std::vector<std::string> reserved = {"Event", "EventId"};
  for (uint32_t i = 0; i < m.enums.size(); ++i) reserved.push_back(enum_type(m, i));
  return cpp_ident(m.events[event].params[field].name, reserved);
}

std::string event_factory(const ir::Machine& m, uint32_t event) {
  return "make_" + m.events[event].name;
}

std::string storage_type(const ir::Type& t) {
  if (t.kind == ir::TypeKind::Bool) return "bool";
  if (t.width <= 8) return "uint8_t";
  if (t.width <= 16) return "uint16_t";
  return "uint32_t";
}

uint32_t storage_bytes(const ir::Type& t) {
  if (t.kind == ir::TypeKind::Bool || t.width <= 8) return 1;
  return t.width <= 16 ? 2 : 4;
}

std::string enum_underlying(size_t n) {
  if (n <= 0x100) return "uint8_t";
  return n <= 0x10000 ? "uint16_t" : "uint32_t";
}

Layout machine_layout(const ir::Machine& m) {
  Layout l;
  uint32_t state_bytes = m.states.size() <= 0x100 ? 1 : m.states.size() <= 0x10000 ? 2 : 4;
  l.members.push_back(Member{"State", "state", ir::kNone, state_bytes, state_bytes});
  for (uint32_t v = 0; v < m.vars.size(); ++v) {
    const ir::Var& var = m.vars[v];
    uint32_t b = storage_bytes(var.type);
    uint32_t n = var.array_len == 0 ? 1 : var.array_len;
    l.members.push_back(Member{storage_type(var.type), member_name(m, v), v, b, b * n});
  }
  std::stable_sort(l.members.begin(), l.members.end(),
                   [](const Member& a, const Member& b) { return a.align > b.align; });
  uint32_t max_align = 1;
  for (const Member& mem : l.members) {
    l.size = (l.size + mem.align - 1) / mem.align * mem.align + mem.bytes;
    max_align = std::max(max_align, mem.align);
  }
  l.size = (l.size + max_align - 1) / max_align * max_align;
  return l;
}

std::string quoted(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::vector<InvariantRef> checked_invariants(const ir::Machine& m) {
  std::vector<InvariantRef> out;
  for (const ir::Property& p : m.invariants) out.push_back(InvariantRef{p.name, p.expr, ir::kNone, p.reqs});
  for (uint32_t v = 0; v < m.vars.size(); ++v) {
    const ir::Var& var = m.vars[v];
    if (var.type.kind == ir::TypeKind::UInt && var.type.ranged) {
      out.push_back(InvariantRef{"range_" + var.name, ir::kNone, v, {}});
    }
  }
  return out;
}

std::pair<uint32_t, uint32_t> field_domain(const ir::Type& t) {
  if (t.kind == ir::TypeKind::Bool) return {0u, 1u};
  return {t.lo, t.hi};
}

}  // namespace fsm::gen
