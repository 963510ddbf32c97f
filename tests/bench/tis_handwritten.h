// TisLocality written by hand: the baseline that the fsmc-generated tis_locality.h is measured
// against (tests/bench/tis_bench.cpp). It is the plain switch over state and event an engineer
// would write from spec/tis_locality.fsm without a generator — same variables, guards,
// assignments, outputs, outcomes (reject codes, ignore, defer, badpayload) and transition ids.
//
// It must track spec/tis_locality.fsm: when the spec changes, change this file to match.
// `tis_bench --check-only` (ctest unit.bench-equivalence) runs both versions side by side and
// names the first event where they differ.
//
// Transition ids are fsmc's numbering (`fsmc emit --table`): states in source order, within a
// state the events in alphabetical order, within an event the transitions in source order.
// Payload fields are checked once at the top, so the arrays are indexed directly with `l`; the
// other indices (active, execBy, the highest waiter) are in 0..4 wherever they are used, which
// the guards and the proven invariants guarantee.
#pragma once

#include <cstdint>

namespace tis_hand {

constexpr uint8_t NONE = 5;     // no locality
constexpr uint8_t OFF_MAX = 3;  // the FIFO offset saturates here while a command is written
constexpr uint32_t RSP_MAX = 3; // longest response

enum class State : uint8_t { AwaitingCommand, AwaitingResponse };

// In the order the spec declares them.
enum class Ev : uint8_t {
  requestUse,
  relinquish,
  seize,
  clearBeenSeized,
  commandReady,
  tpmGo,
  fifoWrite,
  fifoRead,
  responseRetry,
  commandCancel,
  backendDone,
  hashStart,
  hashEnd,
  resetEstablishment,
};

enum CmdState : uint8_t { Idle, Ready, Completion, Execution, Reception };
enum AccessWrite : uint8_t { NoWrite, RequestUse, Withdraw, Relinquish, Handover, Seize, SeizeIgnored, ClearBeenSeized, HashStart };

// a: the locality (backendDone: the response length); b: fifoWrite's `last` (0/1).
struct Event {
  Ev id;
  uint32_t a;
  uint32_t b;
};

enum class Outcome : uint8_t { Transitioned, Ignored, Deferred, Rejected, NoGuard, BadPayload };
constexpr uint32_t kNoTransition = 0xFFFFFFFFu;

struct Result {
  Outcome outcome;
  uint32_t code;        // reject code
  uint32_t transition;  // transition id, kNoTransition unless Transitioned
};

struct Tis {
  State state = State::AwaitingCommand;
  // arbitration
  uint8_t active = NONE;
  bool accessActive[5] = {};
  bool accessRequestUse[5] = {};
  bool accessBeenSeized[5] = {};
  bool tpmEstablishment = true;
  bool hashing = false;
  // command states
  uint8_t cmdState[5] = {};  // CmdState
  bool stsExpect[5] = {};
  bool stsDataAvail[5] = {};
  uint8_t off = 0;
  uint8_t rspLen = 0;
  uint8_t execBy = NONE;
  // ghosts
  uint8_t inBackend = 0;
  uint8_t lastAccess = NoWrite;  // AccessWrite
  uint8_t lastAccessBy = NONE;
  uint8_t prevActive = NONE;
  uint8_t cmdWriter = NONE;
  uint8_t cmdWriterOwner = NONE;
  uint8_t estResetBy = NONE;
  bool lastDoneAborted = false;
  uint8_t lastDoneRaised = NONE;
};

namespace impl {

inline bool any(const bool (&a)[5]) { return a[0] || a[1] || a[2] || a[3] || a[4]; }

inline uint8_t highest(const bool (&a)[5]) {
  for (int i = 4; i >= 0; --i)
    if (a[i]) return static_cast<uint8_t>(i);
  return NONE;
}

inline Result moved(uint32_t id) { return {Outcome::Transitioned, 0, id}; }

inline void note_access(Tis& m, AccessWrite what, uint32_t by) {
  m.lastAccess = what;
  m.lastAccessBy = static_cast<uint8_t>(by);
  m.prevActive = m.active;
}

// The owner loses the locality: its command goes back to Ready, Expect and dataAvail clear.
// `busy`: the backend may be running this locality's command, which is then aborted.
template <class Host>
inline void release_cmd(Tis& m, Host& host, uint32_t l, bool busy) {
  if (busy && m.cmdState[l] == Execution) {
    m.execBy = NONE;
    host.cancelCommand();
  }
  if (m.cmdState[l] != Idle) m.cmdState[l] = Ready;
  m.stsExpect[l] = false;
  m.stsDataAvail[l] = false;
}

// Grants the locality to the highest waiter (one exists).
template <class Host>
inline void grant_highest_waiter(Tis& m, Host& host) {
  m.active = highest(m.accessRequestUse);
  m.accessActive[m.active] = true;
  m.accessRequestUse[m.active] = false;
  host.localityChanged(m.active);
}

// Most events act the same in both states apart from aborting the executing command (`busy`,
// AwaitingResponse only) and their transition ids: `t` is the id of the event's first
// transition in that state, the others follow it in source order.
template <class Host>
inline Result request_use(Tis& m, Host& host, uint32_t l, uint32_t t) {
  if (m.active == NONE) {
    note_access(m, RequestUse, l);
    m.active = static_cast<uint8_t>(l);
    m.accessActive[l] = true;
    m.accessRequestUse[l] = false;
    m.off = 0;
    host.localityChanged(l);
    return moved(t);
  }
  if (l != m.active) {
    note_access(m, RequestUse, l);
    m.accessRequestUse[l] = true;
    return moved(t + 1);
  }
  return moved(t + 2);  // the owner asking again
}

template <class Host>
inline Result relinquish(Tis& m, Host& host, uint32_t l, bool busy, uint32_t t) {
  if (l == m.active) {
    const bool waiters = any(m.accessRequestUse);
    note_access(m, waiters ? Handover : Relinquish, l);
    release_cmd(m, host, l, busy);
    m.off = 0;
    m.accessActive[l] = false;
    m.hashing = false;
    if (waiters) {
      grant_highest_waiter(m, host);
      return moved(t);
    }
    m.active = NONE;
    return moved(t + 1);
  }
  note_access(m, Withdraw, l);  // a non-owner withdraws its request
  m.accessRequestUse[l] = false;
  return moved(t + 2);
}

template <class Host>
inline Result seize(Tis& m, Host& host, uint32_t l, bool busy, uint32_t t) {
  if (m.active == NONE || l > m.active) {
    note_access(m, Seize, l);
    if (m.active != NONE) {
      const uint8_t old = m.active;
      release_cmd(m, host, old, busy);
      m.accessActive[old] = false;
      m.accessBeenSeized[old] = true;
    }
    m.off = 0;
    m.active = static_cast<uint8_t>(l);
    m.accessActive[l] = true;
    m.accessRequestUse[l] = false;
    host.localityChanged(l);
    return moved(t);
  }
  note_access(m, SeizeIgnored, l);
  return moved(t + 1);
}

inline Result clear_been_seized(Tis& m, uint32_t l, uint32_t t) {
  note_access(m, ClearBeenSeized, l);
  m.accessBeenSeized[l] = false;
  return moved(t);
}

template <class Host>
inline Result command_ready(Tis& m, Host& host, uint32_t l, bool busy, uint32_t t) {
  if (l == m.active && !m.hashing) {
    m.cmdWriter = static_cast<uint8_t>(l);
    m.cmdWriterOwner = m.active;
    if (busy && m.cmdState[l] == Execution) {
      m.execBy = NONE;
      host.cancelCommand();
    }
    m.cmdState[l] = Ready;
    m.stsExpect[l] = false;
    m.stsDataAvail[l] = false;
    m.off = 0;
    return moved(t);
  }
  return moved(t + 1);
}

inline Result fifo_read(Tis& m, uint32_t l, uint32_t t) {
  if (l == m.active && !m.hashing && m.cmdState[l] == Completion && m.stsDataAvail[l]) {
    m.cmdWriter = static_cast<uint8_t>(l);
    m.cmdWriterOwner = m.active;
    m.off = static_cast<uint8_t>(m.off + 1);
    m.stsDataAvail[l] = m.off < m.rspLen;
    return moved(t);
  }
  return moved(t + 1);
}

inline Result fifo_write(Tis& m, uint32_t l, bool last, uint32_t t) {
  if (l == m.active) {
    if (m.hashing) return moved(t + 1);  // TPM_HASH_DATA
    const uint8_t cs = m.cmdState[l];
    if (cs == Ready || (cs == Reception && m.stsExpect[l])) {
      m.cmdWriter = static_cast<uint8_t>(l);
      m.cmdWriterOwner = m.active;
      m.cmdState[l] = Reception;
      m.stsExpect[l] = !last;
      m.off = m.off < OFF_MAX ? static_cast<uint8_t>(m.off + 1) : OFF_MAX;
      return moved(t);
    }
  }
  return moved(t + 2);  // dropped
}

template <class Host>
inline Result hash_start(Tis& m, Host& host, bool busy, uint32_t t) {
  if ((m.active == NONE || m.active == 4) && !m.hashing) {
    note_access(m, HashStart, 4);
    release_cmd(m, host, 4, busy);
    m.off = 0;
    if (m.active == NONE) host.localityChanged(4);
    m.active = 4;
    m.accessActive[4] = true;
    m.accessRequestUse[4] = false;
    m.hashing = true;
    m.tpmEstablishment = false;
    return moved(t);
  }
  return moved(t + 1);
}

template <class Host>
inline Result hash_end(Tis& m, Host& host, uint32_t t) {
  if (!m.hashing) return moved(t + 2);
  const bool waiters = any(m.accessRequestUse);
  note_access(m, waiters ? Handover : Relinquish, 4);
  m.hashing = false;
  m.off = 0;
  m.accessActive[4] = false;
  if (waiters) {
    grant_highest_waiter(m, host);
    return moved(t);
  }
  m.active = NONE;
  return moved(t + 1);
}

inline Result reset_establishment(Tis& m, uint32_t l, uint32_t t) {
  if (l == m.active && !m.hashing && l >= 3) {
    m.estResetBy = static_cast<uint8_t>(l);
    m.tpmEstablishment = true;
    return moved(t);
  }
  return moved(t + 1);
}

inline Result response_retry(Tis& m, uint32_t l, uint32_t t) {
  if (l == m.active && !m.hashing && m.cmdState[l] == Completion) {
    m.cmdWriter = static_cast<uint8_t>(l);
    m.cmdWriterOwner = m.active;
    m.off = 0;
    m.stsDataAvail[l] = true;
    return moved(t);
  }
  return moved(t + 1);
}

inline bool payload_ok(const Event& ev) {
  switch (ev.id) {
    case Ev::hashStart:
    case Ev::hashEnd: return true;
    case Ev::backendDone: return ev.a >= 1 && ev.a <= RSP_MAX;
    case Ev::fifoWrite: return ev.a <= 4 && ev.b <= 1;
    case Ev::requestUse:
    case Ev::relinquish:
    case Ev::seize:
    case Ev::clearBeenSeized:
    case Ev::commandReady:
    case Ev::tpmGo:
    case Ev::fifoRead:
    case Ev::responseRetry:
    case Ev::commandCancel:
    case Ev::resetEstablishment: return ev.a <= 4;
  }
  return false;  // not an event of this machine
}

}  // namespace impl

// Host: cancelCommand(), localityChanged(l), responseReady(l), startCommand(l).
template <class Host>
inline Result dispatch(Tis& m, Host& host, const Event& ev) {
  using namespace impl;
  if (!payload_ok(ev)) return {Outcome::BadPayload, 0, kNoTransition};
  const uint32_t l = ev.a;
  switch (m.state) {
    case State::AwaitingCommand:
      switch (ev.id) {
        case Ev::backendDone: return {Outcome::Rejected, 1, kNoTransition};
        case Ev::clearBeenSeized: return clear_been_seized(m, l, 0);
        case Ev::commandCancel: return {Outcome::Ignored, 0, kNoTransition};
        case Ev::commandReady: return command_ready(m, host, l, false, 1);
        case Ev::fifoRead: return fifo_read(m, l, 3);
        case Ev::fifoWrite: return fifo_write(m, l, ev.b != 0, 5);
        case Ev::hashEnd: return hash_end(m, host, 8);
        case Ev::hashStart: return hash_start(m, host, false, 11);
        case Ev::relinquish: return relinquish(m, host, l, false, 13);
        case Ev::requestUse: return request_use(m, host, l, 16);
        case Ev::resetEstablishment: return reset_establishment(m, l, 19);
        case Ev::responseRetry: return response_retry(m, l, 21);
        case Ev::seize: return seize(m, host, l, false, 23);
        case Ev::tpmGo:
          if (l == m.active && !m.hashing && m.cmdState[l] == Reception && !m.stsExpect[l]) {
            m.cmdWriter = static_cast<uint8_t>(l);
            m.cmdWriterOwner = m.active;
            m.cmdState[l] = Execution;
            m.execBy = static_cast<uint8_t>(l);
            m.inBackend = static_cast<uint8_t>(m.inBackend + 1);
            host.startCommand(l);
            m.state = State::AwaitingResponse;
            return moved(25);
          }
          return moved(26);
      }
      break;

    case State::AwaitingResponse:
      switch (ev.id) {
        case Ev::backendDone:
          m.state = State::AwaitingCommand;
          if (m.execBy != NONE) {
            const uint8_t e = m.execBy;
            m.cmdState[e] = Completion;
            m.stsDataAvail[e] = true;
            m.rspLen = static_cast<uint8_t>(l);
            m.off = 0;
            host.responseReady(e);
            m.execBy = NONE;
            m.inBackend = static_cast<uint8_t>(m.inBackend - 1);
            m.lastDoneAborted = false;
            m.lastDoneRaised = highest(m.stsDataAvail);
            return moved(27);
          }
          // an aborted command finished: its response is discarded
          m.inBackend = static_cast<uint8_t>(m.inBackend - 1);
          m.lastDoneAborted = true;
          m.lastDoneRaised = highest(m.stsDataAvail);
          return moved(28);
        case Ev::clearBeenSeized: return clear_been_seized(m, l, 29);
        case Ev::commandCancel:
          if (l == m.active && m.cmdState[l] == Execution) {
            host.cancelCommand();
            return moved(30);
          }
          return moved(31);
        case Ev::commandReady: return command_ready(m, host, l, true, 32);
        // No locality is in Completion while a command executes (H3): no response to read or retry.
        case Ev::fifoRead: return moved(34);
        case Ev::fifoWrite: return fifo_write(m, l, ev.b != 0, 35);
        case Ev::hashEnd: return hash_end(m, host, 38);
        case Ev::hashStart: return hash_start(m, host, true, 41);
        case Ev::relinquish: return relinquish(m, host, l, true, 43);
        case Ev::requestUse: return request_use(m, host, l, 46);
        case Ev::resetEstablishment: return reset_establishment(m, l, 49);
        case Ev::responseRetry: return moved(51);
        case Ev::seize: return seize(m, host, l, true, 52);
        case Ev::tpmGo: return {Outcome::Deferred, 0, kNoTransition};
      }
      break;
  }
  return {Outcome::BadPayload, 0, kNoTransition};
}

// A host that does nothing with the outputs.
struct NullHost {
  void cancelCommand() {}
  void localityChanged(uint32_t) {}
  void responseReady(uint32_t) {}
  void startCommand(uint32_t) {}
};

}  // namespace tis_hand
