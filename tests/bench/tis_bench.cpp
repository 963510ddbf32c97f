// tis_bench: does fsmc's generated TisLocality dispatch cost more than a hand-written one?
// It runs the generated machine (tis_locality.h) and the hand-written baseline
// (tis_handwritten.h) over one deterministic pseudo-random event stream, first checking after
// every event that both agree (outcome, reject code, transition id, outputs, every variable) —
// which makes it a test too — then times both and counts their instructions. It asserts no
// wall-clock time; the figures are printed for tests/bench/run.sh and people.
//
//   tis_bench [--events N] [--reps R] [--seed S]   check, then time N events (default 20M)
//   tis_bench --check-only [--events N]             equivalence over N events only
//   tis_bench --only generated|handwritten|none [--events N]
//                                                   build the stream, run one version once
//                                                   (for callgrind; `none` is the baseline)
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tis_handwritten.h"
#include "tis_locality.h"

namespace gen = fsm::machines::tis_locality;
namespace hand = tis_hand;

namespace {

// ---- the event stream -------------------------------------------------------------------

// hand::Ev (declaration order) -> gen::EventId (fsmc orders them alphabetically).
constexpr gen::EventId kGenId[] = {
    gen::EventId::requestUse,   gen::EventId::relinquish,    gen::EventId::seize,
    gen::EventId::clearBeenSeized, gen::EventId::commandReady, gen::EventId::tpmGo,
    gen::EventId::fifoWrite,    gen::EventId::fifoRead,      gen::EventId::responseRetry,
    gen::EventId::commandCancel, gen::EventId::backendDone,  gen::EventId::hashStart,
    gen::EventId::hashEnd,      gen::EventId::resetEstablishment,
};
constexpr uint32_t kEvents = sizeof kGenId / sizeof kGenId[0];
static_assert(kEvents == gen::kEventCount, "the spec's events changed: update kGenId and tis_handwritten.h");

const char* const kEvName[] = {"requestUse",    "relinquish",  "seize",     "clearBeenSeized", "commandReady",
                               "tpmGo",         "fifoWrite",   "fifoRead",  "responseRetry",   "commandCancel",
                               "backendDone",   "hashStart",   "hashEnd",   "resetEstablishment"};

gen::Event to_gen(const hand::Event& e) {
  const auto raw = static_cast<uint32_t>(e.id);
  gen::Event g;
  g.id = raw < kEvents ? kGenId[raw] : static_cast<gen::EventId>(raw);  // unknown ids stay unknown
  g.args[0] = e.a;
  g.args[1] = e.b;
  return g;
}

struct Rng {  // splitmix64
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(((next() >> 32) * n) >> 32); }
  bool chance(uint32_t percent) { return below(100) < percent; }
};

// Draws events with an eye on a model of the machine, so that the stream mostly moves commands
// through their life (request, write, go, complete, read, release) and still reaches every
// transition: a third of the events are any event from any locality, and about 2% carry a
// payload outside its domain.
class StreamGen {
 public:
  explicit StreamGen(uint64_t seed) : rng_{seed} {}

  hand::Event next() {
    hand::Event e = rng_.chance(35) ? any() : useful();
    if (rng_.below(1000) < 20) corrupt(e);
    hand::dispatch(model_, host_, e);
    return e;
  }

 private:
  using Ev = hand::Ev;

  uint32_t owner_or_any() {
    return model_.active != hand::NONE && rng_.chance(70) ? model_.active : rng_.below(5);
  }

  hand::Event any() {
    const auto id = static_cast<Ev>(rng_.below(kEvents));
    const uint32_t a = id == Ev::backendDone ? 1 + rng_.below(hand::RSP_MAX) : owner_or_any();
    return {id, a, rng_.below(2)};
  }

  hand::Event useful() {
    const hand::Tis& m = model_;
    const uint32_t act = m.active;
    if (m.hashing) {
      const uint32_t r = rng_.below(10);
      if (r < 3) return {Ev::hashEnd, 0, 0};
      if (r < 7) return {Ev::fifoWrite, 4, rng_.below(2)};
      return {Ev::requestUse, rng_.below(5), 0};
    }
    if (act == hand::NONE) {
      const uint32_t r = rng_.below(20);
      if (r < 14) return {Ev::requestUse, rng_.below(5), 0};
      if (r < 17) return {Ev::hashStart, 0, 0};
      return {Ev::seize, rng_.below(5), 0};
    }
    if (m.state == hand::State::AwaitingResponse && m.execBy == hand::NONE && rng_.chance(50))
      return {Ev::backendDone, 1 + rng_.below(hand::RSP_MAX), 0};  // an aborted command drains
    if (rng_.chance(8)) return {Ev::requestUse, rng_.below(5), 0};  // waiters for handovers
    switch (m.cmdState[act]) {
      case hand::Idle:
        if (rng_.chance(80)) return {Ev::commandReady, act, 0};
        return {rng_.chance(50) ? Ev::hashStart : Ev::relinquish, act, 0};
      case hand::Ready: return {Ev::fifoWrite, act, rng_.chance(25) ? 1u : 0u};
      case hand::Reception:
        if (m.stsExpect[act]) return {Ev::fifoWrite, act, rng_.chance(40) ? 1u : 0u};
        return {Ev::tpmGo, act, 0};
      case hand::Execution: {
        const uint32_t r = rng_.below(100);
        if (r < 75) return {Ev::backendDone, 1 + rng_.below(hand::RSP_MAX), 0};
        if (r < 83) return {Ev::commandCancel, act, 0};
        if (r < 89) return {Ev::seize, rng_.below(5), 0};
        if (r < 95) return {Ev::relinquish, act, 0};
        return {Ev::commandReady, act, 0};
      }
      case hand::Completion:
        if (m.stsDataAvail[act]) return {rng_.chance(85) ? Ev::fifoRead : Ev::responseRetry, act, 0};
        switch (rng_.below(5)) {
          case 0:
          case 1: return {Ev::commandReady, act, 0};
          case 2: return {Ev::responseRetry, act, 0};
          case 3: return {Ev::relinquish, act, 0};
          default: return {Ev::resetEstablishment, act, 0};
        }
    }
    return any();
  }

  void corrupt(hand::Event& e) {
    switch (rng_.below(20)) {
      case 0: e.id = static_cast<Ev>(kEvents + rng_.below(200)); break;  // not an event
      case 1:
      case 2:
      case 3: e.b = 2 + rng_.below(1000); break;  // only fifoWrite checks it
      default: e.a = e.id == Ev::backendDone && rng_.chance(50) ? 0 : 5 + rng_.below(0xFFFF); break;
    }
  }

  // Not hand::NullHost: the timed loop must hold the only instantiation of
  // hand::dispatch<hand::NullHost>, as it does for gen::dispatch<gen::NullHost>, so the
  // compiler weighs inlining the two the same way.
  struct ModelHost {
    void cancelCommand() {}
    void localityChanged(uint32_t) {}
    void responseReady(uint32_t) {}
    void startCommand(uint32_t) {}
  };

  Rng rng_;
  hand::Tis model_{};
  ModelHost host_{};
};

// ---- equivalence ------------------------------------------------------------------------

// Every variable of the spec, scalars and arrays of five.
#define TIS_SCALARS(X)                                                                                   \
  X(active) X(tpmEstablishment) X(hashing) X(off) X(rspLen) X(execBy) X(inBackend) X(lastAccess)         \
  X(lastAccessBy) X(prevActive) X(cmdWriter) X(cmdWriterOwner) X(estResetBy) X(lastDoneAborted)          \
  X(lastDoneRaised)
#define TIS_ARRAYS(X) X(accessActive) X(accessRequestUse) X(accessBeenSeized) X(cmdState) X(stsExpect) X(stsDataAvail)

template <class M>
std::string dump(const M& m) {
  std::string s = static_cast<uint32_t>(m.state) == 0 ? "AwaitingCommand" : "AwaitingResponse";
  char buf[64];
#define DUMP_SCALAR(v)                                                          \
  std::snprintf(buf, sizeof buf, " %s=%u", #v, static_cast<unsigned>(m.v)); \
  s += buf;
#define DUMP_ARRAY(v)                                                                                  \
  std::snprintf(buf, sizeof buf, " %s=%u,%u,%u,%u,%u", #v, static_cast<unsigned>(m.v[0]),          \
                static_cast<unsigned>(m.v[1]), static_cast<unsigned>(m.v[2]), static_cast<unsigned>(m.v[3]), \
                static_cast<unsigned>(m.v[4]));                                                        \
  s += buf;
  TIS_SCALARS(DUMP_SCALAR)
  TIS_ARRAYS(DUMP_ARRAY)
#undef DUMP_SCALAR
#undef DUMP_ARRAY
  return s;
}

// The first variable that differs, or "" when the two machines are in the same state.
std::string first_difference(const gen::TisLocality& g, const hand::Tis& h) {
  if (static_cast<uint32_t>(g.state) != static_cast<uint32_t>(h.state)) return "state";
#define CMP_SCALAR(v) \
  if (static_cast<uint32_t>(g.v) != static_cast<uint32_t>(h.v)) return #v;
#define CMP_ARRAY(v)                                                          \
  for (int i = 0; i < 5; ++i)                                                 \
    if (static_cast<uint32_t>(g.v[i]) != static_cast<uint32_t>(h.v[i])) return std::string(#v) + "[" + std::to_string(i) + "]";
  TIS_SCALARS(CMP_SCALAR)
  TIS_ARRAYS(CMP_ARRAY)
#undef CMP_SCALAR
#undef CMP_ARRAY
  return "";
}

// Records the outputs of one dispatch.
struct Outputs {
  uint32_t n = 0;
  uint32_t v[8] = {};
  void add(uint32_t kind, uint32_t arg = 0) {
    if (n < 8) v[n] = kind << 8 | arg;
    ++n;
  }
  bool operator==(const Outputs& o) const { return n == o.n && std::equal(v, v + std::min(n, 8u), o.v); }
  std::string str() const {
    static const char* const names[] = {"?", "cancelCommand", "localityChanged", "responseReady", "startCommand"};
    std::string s;
    for (uint32_t i = 0; i < std::min(n, 8u); ++i) s += std::string(" ") + names[v[i] >> 8] + "(" + std::to_string(v[i] & 0xFF) + ")";
    return s.empty() ? " -" : s;
  }
};
struct RecordingHost {
  Outputs out;
  void cancelCommand() { out.add(1); }
  void localityChanged(uint32_t l) { out.add(2, l); }
  void responseReady(uint32_t l) { out.add(3, l); }
  void startCommand(uint32_t l) { out.add(4, l); }
  void trace(gen::State, gen::EventId, gen::State, uint32_t) {}
};

std::string event_str(const hand::Event& e) {
  const auto id = static_cast<uint32_t>(e.id);
  return (id < kEvents ? std::string(kEvName[id]) : "event#" + std::to_string(id)) + "(" + std::to_string(e.a) +
         ", " + std::to_string(e.b) + ")";
}

// Transitions no stream can take (none: `fsmc prove` shows that every transition fires).
bool unreachable(uint32_t) { return false; }

// Runs both versions over `events` events of the stream from `seed`; returns false (after
// printing the first difference) unless they agree after every event and the stream reached
// every transition.
bool check(uint64_t seed, uint64_t events) {
  StreamGen stream(seed);
  gen::TisLocality g{};
  hand::Tis h{};
  std::vector<uint64_t> per_transition(gen::kTransitionCount, 0);
  uint64_t per_outcome[6] = {};
  for (uint64_t i = 0; i < events; ++i) {
    const hand::Event e = stream.next();
    const std::string before = dump(g);
    RecordingHost gh, hh;
    const fsm::rt::Result rg = gen::dispatch(g, gh, to_gen(e));
    const hand::Result rh = hand::dispatch(h, hh, e);
    std::string why;
    if (static_cast<uint32_t>(rg.outcome) != static_cast<uint32_t>(rh.outcome)) why = "outcome";
    else if (rg.code != rh.code) why = "reject code";
    else if (rg.transition != rh.transition) why = "transition id";
    else if (!(gh.out == hh.out)) why = "outputs";
    else why = first_difference(g, h);
    if (!why.empty()) {
      std::printf("DIFFERENCE at event %" PRIu64 " %s: %s\n", i, event_str(e).c_str(), why.c_str());
      std::printf("  before:      %s\n", before.c_str());
      std::printf("  generated:   %s %u %d |%s | %s\n", fsm::rt::outcome_name(rg.outcome), rg.code,
                  static_cast<int>(rg.transition), gh.out.str().c_str(), dump(g).c_str());
      std::printf("  handwritten: %s %u %d |%s | %s\n",
                  fsm::rt::outcome_name(static_cast<fsm::rt::Outcome>(rh.outcome)), rh.code,
                  static_cast<int>(rh.transition), hh.out.str().c_str(), dump(h).c_str());
      return false;
    }
    for (uint32_t k = 0; k < gen::invariant_count; ++k) {
      if (!gen::invariant_holds(g, k)) {
        std::printf("INVARIANT %s fails after event %" PRIu64 " %s: %s\n", gen::invariant_name(k), i,
                    event_str(e).c_str(), dump(g).c_str());
        return false;
      }
    }
    ++per_outcome[static_cast<uint32_t>(rg.outcome)];
    if (rg.transition < gen::kTransitionCount) ++per_transition[rg.transition];
  }
  std::string missing;
  for (uint32_t t = 0; t < gen::kTransitionCount; ++t)
    if (per_transition[t] == 0 && !unreachable(t)) missing += " t" + std::to_string(t);
  const auto seen = gen::kTransitionCount - std::count(per_transition.begin(), per_transition.end(), 0u);
  std::printf("equivalence: %" PRIu64 " events (seed %" PRIu64 "): generated == handwritten after every event "
              "(outcome, code, transition, outputs, all variables); invariants hold\n",
              events, seed);
  std::printf("coverage: %ld/%u transitions; outcomes:", static_cast<long>(seen),
              gen::kTransitionCount);
  for (uint32_t o = 0; o < 6; ++o)
    std::printf(" %s %" PRIu64, fsm::rt::outcome_name(static_cast<fsm::rt::Outcome>(o)), per_outcome[o]);
  std::printf("\nper transition:");
  for (uint32_t t = 0; t < gen::kTransitionCount; ++t) std::printf(" t%u:%" PRIu64, t, per_transition[t]);
  std::printf("\n");
  if (!missing.empty()) {
    std::printf("FAIL: the stream never took transitions%s: equivalence there is unchecked (adjust StreamGen)\n",
                missing.c_str());
    return false;
  }
  return true;
}

// ---- timing -----------------------------------------------------------------------------

struct GenImpl {
  using Machine = gen::TisLocality;
  using Event = gen::Event;
  using Host = gen::NullHost;
  static fsm::rt::Result dispatch(Machine& m, Host& h, const Event& e) { return gen::dispatch(m, h, e); }
};
struct HandImpl {
  using Machine = hand::Tis;
  using Event = hand::Event;
  using Host = hand::NullHost;
  static hand::Result dispatch(Machine& m, Host& h, const Event& e) { return hand::dispatch(m, h, e); }
};

// Byte sum of the machine: the same for both layouts when the variables agree.
template <class M>
uint64_t digest(const M& m) {
  unsigned char b[sizeof(M)];
  std::memcpy(b, &m, sizeof b);
  uint64_t s = 0;
  for (unsigned char c : b) s += c;
  return s;
}

// `total` dispatches: the stream over and over, each pass from the initial state. Every result
// and the final machine of each pass feed the returned checksum, so no work can be dropped.
template <class Impl>
__attribute__((noinline)) uint64_t run(const typename Impl::Event* ev, uint64_t n, uint64_t total) {
  typename Impl::Host host;
  uint64_t acc = 0;
  for (uint64_t done = 0; done < total;) {
    typename Impl::Machine m{};
    const uint64_t k = std::min(n, total - done);
    for (uint64_t i = 0; i < k; ++i) {
      const auto r = Impl::dispatch(m, host, ev[i]);
      acc += static_cast<uint32_t>(r.outcome) + r.code + r.transition;
    }
    acc += digest(m);
    done += k;
  }
  return acc;
}

volatile uint64_t g_sink;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Hardware instruction counter of this thread (user space), or -1 with errno.
int open_instruction_counter() {
  perf_event_attr pe;
  std::memset(&pe, 0, sizeof pe);
  pe.type = PERF_TYPE_HARDWARE;
  pe.size = sizeof pe;
  pe.config = PERF_COUNT_HW_INSTRUCTIONS;
  pe.disabled = 1;
  pe.exclude_kernel = 1;
  pe.exclude_hv = 1;
  return static_cast<int>(syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
}

template <class Impl>
uint64_t count_instructions(int fd, const typename Impl::Event* ev, uint64_t n, uint64_t total) {
  ioctl(fd, PERF_EVENT_IOC_RESET, 0);
  ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  g_sink = run<Impl>(ev, n, total);
  ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  uint64_t count = 0;
  if (read(fd, &count, sizeof count) != static_cast<ssize_t>(sizeof count)) return 0;
  return count;
}

int usage() {
  std::fprintf(stderr,
               "usage: tis_bench [--events N] [--reps R] [--seed S] [--check-only | --only generated|handwritten|none]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 20'000'000;
  uint64_t seed = 0x7115'10CA'1177ull;
  int reps = 5;
  bool check_only = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--events" && has_value) events = std::strtoull(argv[++i], nullptr, 0);
    else if (a == "--reps" && has_value) reps = std::atoi(argv[++i]);
    else if (a == "--seed" && has_value) seed = std::strtoull(argv[++i], nullptr, 0);
    else if (a == "--only" && has_value) only = argv[++i];
    else if (a == "--check-only") check_only = true;
    else return usage();
  }
  if (events == 0 || reps < 1) return usage();
  if (!only.empty() && only != "generated" && only != "handwritten" && only != "none") return usage();

  if (check_only) return check(seed, events) ? 0 : 1;

  // The timed stream: at most 2^18 events (3 MiB per version), replayed from the initial state.
  const uint64_t n = std::min<uint64_t>(events, 1u << 18);
  std::vector<hand::Event> hs;
  std::vector<gen::Event> gs;
  hs.reserve(n);
  gs.reserve(n);
  StreamGen stream(seed);
  for (uint64_t i = 0; i < n; ++i) {
    hs.push_back(stream.next());
    gs.push_back(to_gen(hs.back()));
  }

  if (!only.empty()) {  // one run for callgrind; `none` measures building the stream
    if (only == "generated") g_sink = run<GenImpl>(gs.data(), n, events);
    if (only == "handwritten") g_sink = run<HandImpl>(hs.data(), n, events);
    std::printf("%s: %" PRIu64 " events, checksum %" PRIu64 "\n", only.c_str(), only == "none" ? 0 : events,
                only == "none" ? 0 : static_cast<uint64_t>(g_sink));
    return 0;
  }

  if (!check(seed, n)) return 1;

  // Interleaved repetitions, alternating which goes first; best time of each.
  double best_gen = 1e300, best_hand = 1e300;
  uint64_t sum_gen = 0, sum_hand = 0;
  for (int r = 0; r < reps; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool do_gen = (r + k) % 2 == 0;
      const auto t0 = std::chrono::steady_clock::now();
      if (do_gen) {
        sum_gen = run<GenImpl>(gs.data(), n, events);
        best_gen = std::min(best_gen, seconds_since(t0));
      } else {
        sum_hand = run<HandImpl>(hs.data(), n, events);
        best_hand = std::min(best_hand, seconds_since(t0));
      }
    }
  }
  g_sink = sum_gen + sum_hand;
  if (sum_gen != sum_hand) {
    std::printf("FAIL: checksums differ: generated %" PRIu64 " handwritten %" PRIu64 "\n", sum_gen, sum_hand);
    return 1;
  }
  std::printf("timing: %" PRIu64 " events per run (stream of %" PRIu64 " replayed), best of %d interleaved runs\n",
              events, n, reps);
  std::printf("generated:   %8.2f M events/s  %6.2f ns/event\n", events / best_gen / 1e6, best_gen / events * 1e9);
  std::printf("handwritten: %8.2f M events/s  %6.2f ns/event\n", events / best_hand / 1e6, best_hand / events * 1e9);
  std::printf("ratio generated/handwritten: %.3f\n", best_gen / best_hand);

  const int fd = open_instruction_counter();
  if (fd < 0) {
    std::printf("instructions/event: perf_event_open unavailable here (%s); run.sh counts them with callgrind\n",
                std::strerror(errno));
  } else {
    const uint64_t ig = count_instructions<GenImpl>(fd, gs.data(), n, events);
    const uint64_t ih = count_instructions<HandImpl>(fd, hs.data(), n, events);
    close(fd);
    if (ig == 0 || ih == 0) {
      std::printf("instructions/event: perf_event_open counted nothing here; run.sh counts them with callgrind\n");
    } else {
      std::printf("instructions/event generated: %.2f handwritten: %.2f ratio: %.3f\n",
                  static_cast<double>(ig) / events, static_cast<double>(ih) / events,
                  static_cast<double>(ig) / static_cast<double>(ih));
    }
  }
  return 0;
}
