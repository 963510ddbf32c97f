// The one support header every generated machine includes.
//
// It fixes the value semantics of the spec language (spec/README.md, "Values") so the
// generated C++, the reference interpreter (`fsmc run`) and the SMT encoding agree bit for
// bit, and the dispatch outcome type. Freestanding: no heap, no exceptions, no RTTI, no libc.
#pragma once

#include <cstdint>

// Generated files static_assert that this equals the generator version they were made by.
#define FSM_RUNTIME_VERSION 1

namespace fsm::rt {

// What dispatching one event did. Rejected carries the spec's reject code.
enum class Outcome : uint8_t {
  Transitioned = 0,  // a `handle` transition ran (possibly a self-loop)
  Ignored = 1,       // the state declares `ignore` for the event
  Deferred = 2,      // the state declares `defer`: nothing changed, the host re-delivers later
  Rejected = 3,      // the state declares `reject(code)`
  NoGuard = 4,       // `handle`, but no guard held: nothing changed
  BadPayload = 5,    // a payload field outside its declared domain: nothing changed
};

struct Result {
  Outcome outcome;
  uint32_t code;        // reject code (Rejected), else 0
  uint32_t transition;  // transition id (Transitioned), else 0xFFFFFFFF
};

constexpr const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Transitioned: return "transitioned";
    case Outcome::Ignored: return "ignored";
    case Outcome::Deferred: return "deferred";
    case Outcome::Rejected: return "rejected";
    case Outcome::NoGuard: return "noguard";
    case Outcome::BadPayload: return "badpayload";
  }
  return "?";
}

// Integer operators of the language: uint32_t, wrap-around, total.
constexpr uint32_t udiv(uint32_t a, uint32_t b) { return b == 0 ? 0xFFFFFFFFu : a / b; }
constexpr uint32_t urem(uint32_t a, uint32_t b) { return b == 0 ? a : a % b; }
constexpr uint32_t shl(uint32_t a, uint32_t b) { return b >= 32 ? 0u : a << b; }
constexpr uint32_t shr(uint32_t a, uint32_t b) { return b >= 32 ? 0u : a >> b; }
constexpr bool bit(uint32_t a, uint32_t b) { return b < 32 && ((a >> b) & 1u) != 0; }
constexpr uint32_t neg(uint32_t a) { return 0u - a; }
// Storing into a variable of `width` bits keeps the low bits.
constexpr uint32_t trunc(uint32_t v, uint32_t width) {
  return width >= 32 ? v : (v & ((1u << width) - 1u));
}

}  // namespace fsm::rt
