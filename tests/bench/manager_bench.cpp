// manager_bench: what vtpm-manager costs (issue 8, "Benchmark"), in one run, as ratios. It asserts
// no wall-clock time: it prints figures and a table, and fails only if a daemon does not answer.
//
//   (n) NV_Write of 32..64 changing bytes to a 64-byte index, ops/s on one connection, three
//       daemons side by side: vtpmd keyed by a vtpm-manager (durable, with a Prepare/Commit
//       freshness report per write), plain vtpmd (durable) and swtpm 0.7.1 (not durable);
//       repetitions rotate which goes first; median (and best) of R. Then, on the same manager,
//       the Prepare and Commit round trips alone (one bound connection, no instance).
//   (k) key releases on the instance start path: N Open(create) for N new UUIDs, then N Open of
//       the existing records, each over a fresh unix connection (what vtpmd does), on a fresh
//       manager per repetition; and the manager's VmRSS before/after the N creates (kB per 1,000).
//   (s) vtpmd spawn -> first GetRandom answer with --key manager= and without: a restart on the
//       state it left (the usual start), and a first start on an empty directory (record create).
//
//   manager_bench --vtpmd PATH --manager PATH --swtpm PATH [--nv-n 1000] [--reps 5] [--opens 1000]
//                 [--open-reps 3] [--spawn-reps 11] [--only n,k,s] [--daemon-cpu 1] [--client-cpu 0]
//                 [--workdir DIR] [--smoke]
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "connection.h"
#include "daemon.h"
#include "manager/client_link.h"
#include "manager/protocol.h"
#include "swtpm_ctrl.h"
#include "tpm2_commands.h"

using namespace vtpm::testtools;
namespace t2 = vtpm::testtools::tpm2;
namespace mp = vtpm::manager;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kNvIndex = 0x01500020;
constexpr int kIoMs = 30000;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

long vm_rss_kb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  throw IoError("no VmRSS for pid " + std::to_string(pid));
}

struct Options {
  std::string vtpmd, manager, swtpm, workdir;
  int nv_n = 1000, warmup = 50, reps = 5, opens = 1000, open_reps = 3, spawn_reps = 11;
  int daemon_cpu = 1, client_cpu = 0;
  std::set<char> only{'n', 'k', 's'};
};

struct Row {
  std::string metric, unit, a_name, b_name;
  double a, b;
  std::string note;
};

std::string random_uuid(std::mt19937_64& rng) {
  mp::Uuid u;
  for (auto& b : u) b = uint8_t(rng());
  u[6] = uint8_t((u[6] & 0x0f) | 0x40);
  u[8] = uint8_t((u[8] & 0x3f) | 0x80);
  return mp::uuid_text(u);
}

// One request over a fresh unix connection, through the codec; IoError on any failure to talk.
void manager_call(const std::string& sock, const mp::Request& req, mp::Response& rsp) {
  vtpm::transports::manager::UnixLink link(sock, kIoMs);
  std::string err;
  std::vector<uint8_t> msg, in;
  if (!mp::encode_request(req, msg)) throw IoError("cannot encode a manager request");
  if (!link.connect(err) || !link.send(msg, err) || !link.receive(in, err)) throw IoError(err);
  const mp::ParseResult r = mp::parse_response(req.ordinal, in.data(), in.size(), rsp);
  vtpm::store::wipe(in.data(), in.size());  // it carried a key
  if (!r.ok) throw IoError("manager answer: " + r.text);
}

// A vtpm-manager on its simulated TPM, serving once its socket answers Status.
struct Manager {
  Daemon daemon;
  std::string dir, sock;
};

Manager start_manager(const Options& o, const std::string& dir, const std::string& log) {
  Manager m;
  m.dir = dir;
  m.sock = dir + ".sock";
  ::mkdir(dir.c_str(), 0700);
  m.daemon = Daemon::spawn({o.manager, {"--state", dir, "--socket", m.sock}, log, o.daemon_cpu});
  auto deadline = Clock::now() + std::chrono::seconds(60);
  mp::Request st;
  st.ordinal = mp::Ordinal::Status;
  for (int us = 200;; us = std::min(us * 2, 20000)) {
    try {
      mp::Response rsp;
      manager_call(m.sock, st, rsp);
      if (rsp.status == mp::Status::Success) return m;
    } catch (const IoError&) {
    }
    int status = 0;
    if (m.daemon.wait_exit(0, &status))
      throw IoError("vtpm-manager exited (" + describe_status(status) + "): " + read_text_file(log));
    if (Clock::now() > deadline) throw IoError("vtpm-manager does not serve: " + read_text_file(log));
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
}

void stop_manager(Manager& m) {
  m.daemon.terminate(20000);
  remove_tree(m.dir);
  ::unlink(m.sock.c_str());
}

Connection connect_fast(const Endpoint& ep, Daemon& d, const std::string& log, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int us = 50;
  for (;;) {
    Connection c = Connection::try_connect(ep);
    if (c.valid()) return c;
    int status = 0;
    if (d.wait_exit(0, &status)) throw IoError("the daemon exited (" + describe_status(status) + "): " + read_text_file(log));
    if (Clock::now() > deadline) throw Timeout("no listener at " + ep.describe());
    std::this_thread::sleep_for(std::chrono::microseconds(us));
    us = std::min(us * 2, 1000);
  }
}

void check_ok(const Bytes& r, const char* what) {
  if (t2::parse_header(r).rc != 0) throw IoError(std::string(what) + " failed: " + hex(r, 16));
}

class Bench {
 public:
  Bench(const Options& o, std::string tmp) : o_(o), tmp_(std::move(tmp)), rng_(0x5eed) {
    make_template_state(o.vtpmd, tmp_ + "/template-vtpmd", tmp_);
    make_template_state(o.swtpm, tmp_ + "/template-swtpm", tmp_);
  }
  void nv_write();
  void key_releases();
  void spawn();
  void report_round_trips(const Manager& m);
  void print_table() const;

 private:
  struct Running {
    Daemon daemon;
    Connection data;
    Endpoint ctl;
    std::string state, log;
  };
  std::string name(const std::string& tag) { return tmp_ + "/" + tag + std::to_string(++counter_); }
  // `key` empty: a copy of the template state of `exe`; else --key manager=… on `state` as given.
  Running start(const std::string& exe, const std::string& state, const std::string& key) {
    Running r;
    r.state = state;
    r.log = name("log");
    Endpoint data = Endpoint::unix_path(name("d")), ctl = Endpoint::unix_path(name("c"));
    auto args = socket_args(state, data, ctl, "not-need-init,startup-clear");
    if (!key.empty()) args.insert(args.end(), {"--key", key});
    r.daemon = Daemon::spawn({exe, args, r.log, o_.daemon_cpu});
    r.ctl = ctl;
    r.data = connect_fast(data, r.daemon, r.log, 20000);
    return r;
  }
  void stop(Running& r) {
    r.data.close();
    try {
      Connection c = Connection::connect(r.ctl, 2000);
      ctrl::transact(c, ctrl::request(ctrl::SHUTDOWN), 5000);
    } catch (const IoError&) {
    }
    if (!r.daemon.wait_exit(10000)) r.daemon.terminate(2000);
  }
  std::string fresh_copy(const std::string& tmpl) {
    std::string d = name("state");
    copy_state_dir(tmpl, d);
    return d;
  }

  const Options& o_;
  std::string tmp_;
  std::mt19937_64 rng_;
  int counter_ = 0;
  std::vector<Row> rows_;
};

void Bench::nv_write() {
  Manager m = start_manager(o_, name("mgr"), name("mgr.log"));
  std::string empty = name("state");
  ::mkdir(empty.c_str(), 0700);
  const char* names[3] = {"vtpmd+manager", "vtpmd", "swtpm"};
  Running r[3] = {start(o_.vtpmd, empty, "manager=" + m.sock + ",uuid=" + random_uuid(rng_)),
                  start(o_.vtpmd, fresh_copy(tmp_ + "/template-vtpmd"), ""),
                  start(o_.swtpm, fresh_copy(tmp_ + "/template-swtpm"), "")};
  std::vector<Bytes> cmds;
  for (int i = 0; i < o_.nv_n; ++i) {
    Bytes data(size_t(32 + i % 33));
    for (size_t k = 0; k < data.size(); ++k) data[k] = uint8_t(i * 7 + k);
    cmds.push_back(t2::nv_write(kNvIndex, data, 0));
  }
  auto run = [&](Connection& c, size_t n) {
    auto t0 = Clock::now();
    for (size_t i = 0; i < n; ++i) check_ok(c.transact_tpm(cmds[i], kIoMs), "NV_Write");
    return seconds_since(t0);
  };
  for (auto& x : r) {
    check_ok(x.data.transact_tpm(t2::nv_define_space(kNvIndex, t2::NV_OWNERWRITE | t2::NV_OWNERREAD | t2::NV_NO_DA, 64), kIoMs),
             "NV_DefineSpace");
    run(x.data, size_t(std::min(o_.warmup, o_.nv_n)));
  }
  std::vector<double> ops[3];
  for (int rep = 0; rep < o_.reps; ++rep)
    for (int k = 0; k < 3; ++k) {
      int who = (rep + k) % 3;  // rotate which daemon goes first
      ops[who].push_back(double(cmds.size()) / run(r[who].data, cmds.size()));
    }
  double med[3], best[3];
  for (int i = 0; i < 3; ++i) {
    med[i] = median(ops[i]);
    best[i] = *std::max_element(ops[i].begin(), ops[i].end());
    std::printf("  NV_Write %-14s median %7.0f ops/s  best %7.0f ops/s  (", names[i], med[i], best[i]);
    for (double v : ops[i]) std::printf(" %.0f", v);
    std::printf(" )\n");
  }
  std::string note = "N=" + std::to_string(o_.nv_n) + ", median of " + std::to_string(o_.reps);
  rows_.push_back({"NV_Write ops/s (median)", "ops/s", "manager", "swtpm", med[0], med[2], note + "; goal >= 0.9"});
  rows_.push_back({"NV_Write ops/s (median)", "ops/s", "manager", "vtpmd", med[0], med[1], note});
  rows_.push_back({"NV_Write ops/s (median)", "ops/s", "vtpmd", "swtpm", med[1], med[2], note + "; price of durability alone"});
  for (auto& x : r) stop(x);
  report_round_trips(m);
  stop_manager(m);
}

// Where a manager-keyed write's time goes: the Prepare and Commit round trips alone, on one bound
// connection as vtpmd holds it (Open, then Prepare g / Commit g for g = 1..N), no instance.
void Bench::report_round_trips(const Manager& m) {
  vtpm::transports::manager::UnixLink link(m.sock, kIoMs);
  std::string err;
  if (!link.connect(err)) throw IoError(err);
  auto call = [&](const mp::Request& req) {
    std::vector<uint8_t> msg, in;
    if (!mp::encode_request(req, msg) || !link.send(msg, err) || !link.receive(in, err)) throw IoError("manager: " + err);
    mp::Response rsp;
    const mp::ParseResult pr = mp::parse_response(req.ordinal, in.data(), in.size(), rsp);
    vtpm::store::wipe(in.data(), in.size());
    if (!pr.ok || rsp.status != mp::Status::Success)
      throw IoError(std::string("manager refused ") + mp::ordinal_name(uint32_t(req.ordinal)) + ": " +
                    (pr.ok ? mp::status_text(uint32_t(rsp.status)) : pr.text));
  };
  mp::Request open;
  open.ordinal = mp::Ordinal::Open;
  for (auto& b : open.uuid) b = uint8_t(rng_());
  open.flags = mp::kOpenCreate;
  call(open);
  std::vector<double> prep_us, commit_us;
  for (int g = 1; g <= o_.nv_n; ++g) {
    mp::Request req;
    req.ordinal = mp::Ordinal::Prepare;
    req.generation = uint64_t(g);
    req.digest[0] = uint8_t(g);
    auto t0 = Clock::now();
    call(req);
    prep_us.push_back(seconds_since(t0) * 1e6);
    req.ordinal = mp::Ordinal::Commit;
    t0 = Clock::now();
    call(req);
    commit_us.push_back(seconds_since(t0) * 1e6);
  }
  const double p = median(prep_us), c = median(commit_us);
  std::printf("  manager alone, one bound connection: Prepare round trip median %.0f us, Commit %.0f us (N=%d)\n", p, c, o_.nv_n);
  rows_.push_back({"manager Prepare round trip (no instance)", "us", "manager", "-", p, 0, "median of N; each a slot write"});
  rows_.push_back({"manager Commit round trip (no instance)", "us", "manager", "-", c, 0, "median of N; each a slot write"});
}

void Bench::key_releases() {
  std::vector<double> create_s, open_s, kb_per_1000, rss0s, rss1s;
  const int n = o_.opens;
  for (int rep = 0; rep < o_.open_reps; ++rep) {
    Manager m = start_manager(o_, name("mgr"), name("mgr.log"));
    std::vector<mp::Uuid> uuids(static_cast<size_t>(n));
    for (auto& u : uuids)
      for (auto& b : u) b = uint8_t(rng_());
    const long rss0 = vm_rss_kb(m.daemon.pid());
    auto open_all = [&](uint32_t flags) {
      auto t0 = Clock::now();
      for (const auto& u : uuids) {
        mp::Request req;
        req.ordinal = mp::Ordinal::Open;
        req.uuid = u;
        req.flags = flags;
        mp::Response rsp;
        manager_call(m.sock, req, rsp);
        if (rsp.status != mp::Status::Success || rsp.key.size() != mp::kKeyBytes)
          throw IoError(std::string("Open refused: ") + mp::status_text(uint32_t(rsp.status)));
      }
      return double(n) / seconds_since(t0);
    };
    create_s.push_back(open_all(mp::kOpenCreate));
    const long rss1 = vm_rss_kb(m.daemon.pid());
    open_s.push_back(open_all(0));
    const long rss2 = vm_rss_kb(m.daemon.pid());
    kb_per_1000.push_back(double(rss1 - rss0) * 1000.0 / n);
    rss0s.push_back(double(rss0));
    rss1s.push_back(double(rss1));
    std::printf("  rep %d: %d creates %.0f/s, %d opens %.0f/s; VmRSS %ld kB -> %ld kB after creates -> %ld kB after opens\n", rep,
                n, create_s.back(), n, open_s.back(), rss0, rss1, rss2);
    stop_manager(m);
  }
  std::string note = "N=" + std::to_string(n) + ", fresh connection each, median of " + std::to_string(o_.open_reps);
  rows_.push_back({"Open (create) key releases/s", "1/s", "manager", "-", median(create_s), 0, note + "; each a durable commit"});
  rows_.push_back({"Open (existing) key releases/s", "1/s", "manager", "-", median(open_s), 0, note});
  rows_.push_back({"manager VmRSS per 1,000 records", "kB", "manager", "-", median(kb_per_1000), 0,
                   "(after - before) x 1000/N; before " + std::to_string(long(median(rss0s))) + " kB, after " +
                       std::to_string(long(median(rss1s))) + " kB"});
}

void Bench::spawn() {
  Manager m = start_manager(o_, name("mgr"), name("mgr.log"));
  // Restart: one state dir each, stopped cleanly and started again every repetition.
  const std::string key = "manager=" + m.sock + ",uuid=" + random_uuid(rng_);
  const std::string mstate = name("state"), pstate = fresh_copy(tmp_ + "/template-vtpmd");
  ::mkdir(mstate.c_str(), 0700);
  {
    Running first = start(o_.vtpmd, mstate, key);  // creates the record
    stop(first);
  }
  std::vector<double> restart[2], first[2];
  auto once = [&](const std::string& state, const std::string& k) {
    auto t0 = Clock::now();
    Running r = start(o_.vtpmd, state, k);
    Bytes a = r.data.transact_tpm(t2::get_random(32), kIoMs);
    double ms = seconds_since(t0) * 1e3;
    check_ok(a, "GetRandom after spawn");
    stop(r);
    return ms;
  };
  for (int rep = 0; rep < o_.spawn_reps; ++rep)
    for (int j = 0; j < 2; ++j) {
      int who = (rep + j) % 2;  // 0 with the manager, 1 without
      restart[who].push_back(who == 0 ? once(mstate, key) : once(pstate, ""));
      std::string empty = name("state");
      ::mkdir(empty.c_str(), 0700);
      first[who].push_back(once(empty, who == 0 ? "manager=" + m.sock + ",uuid=" + random_uuid(rng_) : ""));
    }
  double a = median(restart[0]), b = median(restart[1]), c = median(first[0]), d = median(first[1]);
  std::printf("  restart on its state: with manager %.2f ms, without %.2f ms; first start (empty dir): with %.2f ms, without %.2f ms\n",
              a, b, c, d);
  std::string note = "median of " + std::to_string(o_.spawn_reps) + ", --flags not-need-init,startup-clear";
  rows_.push_back({"vtpmd restart -> first answer", "ms", "manager", "vtpmd", a, b, note});
  rows_.push_back({"vtpmd first start -> first answer", "ms", "manager", "vtpmd", c, d, note + "; manager side creates the record"});
  stop_manager(m);
}

void Bench::print_table() const {
  std::printf("\n| metric | A | B | A value | B value | ratio A/B | note |\n|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows_) {
    auto fmt = [&](double v) {
      char b[48];
      std::snprintf(b, sizeof b, v >= 100 ? "%.0f %s" : "%.2f %s", v, r.unit.c_str());
      return std::string(b);
    };
    char ratio[16] = "-";
    if (r.b > 0) std::snprintf(ratio, sizeof ratio, "%.2f", r.a / r.b);
    std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.metric.c_str(), r.a_name.c_str(), r.b_name.c_str(), fmt(r.a).c_str(),
                r.b > 0 ? fmt(r.b).c_str() : "-", ratio, r.note.c_str());
  }
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: manager_bench --vtpmd PATH --manager PATH --swtpm PATH [--nv-n N] [--warmup N] [--reps R]\n"
               "                     [--opens N] [--open-reps R] [--spawn-reps R] [--only n,k,s]\n"
               "                     [--daemon-cpu C] [--client-cpu C] [--workdir DIR] [--smoke]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    auto num = [&] { return std::atoi(val().c_str()); };
    if (a == "--vtpmd") o.vtpmd = val();
    else if (a == "--manager") o.manager = val();
    else if (a == "--swtpm") o.swtpm = val();
    else if (a == "--workdir") o.workdir = val();
    else if (a == "--nv-n") o.nv_n = num();
    else if (a == "--warmup") o.warmup = num();
    else if (a == "--reps") o.reps = num();
    else if (a == "--opens") o.opens = num();
    else if (a == "--open-reps") o.open_reps = num();
    else if (a == "--spawn-reps") o.spawn_reps = num();
    else if (a == "--daemon-cpu") o.daemon_cpu = num();
    else if (a == "--client-cpu") o.client_cpu = num();
    else if (a == "--only") {
      o.only.clear();
      for (char c : val())
        if (c != ',') o.only.insert(c);
    } else if (a == "--smoke") {
      o.nv_n = 20, o.warmup = 5, o.reps = 1, o.opens = 5, o.open_reps = 1, o.spawn_reps = 1;
    } else usage();
  }
  if (o.vtpmd.empty() || o.manager.empty() || o.swtpm.empty() || o.nv_n < 1 || o.reps < 1 || o.opens < 1 ||
      o.open_reps < 1 || o.spawn_reps < 1 || o.warmup < 0)
    usage();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);
  if (online_cpus() < 2) {
    std::printf("note: fewer than 2 online CPUs: no pinning\n");
    o.daemon_cpu = o.client_cpu = -1;
  }
  pin_self_to_cpu(o.client_cpu);
  if (!o.workdir.empty()) setenv("TMPDIR", o.workdir.c_str(), 1);
  std::string tmp;
  int rc = 0;
  try {
    tmp = make_temp_dir("mgr-bench-");
    std::printf("manager_bench: vtpmd = %s, vtpm-manager = %s (simulated TPM), swtpm = %s\n", o.vtpmd.c_str(), o.manager.c_str(),
                o.swtpm.c_str());
    std::printf("  daemons and manager on cpu %d, client on cpu %d; state dirs in %s\n", o.daemon_cpu, o.client_cpu, tmp.c_str());
    Bench b(o, tmp);
    if (o.only.count('n')) {
      std::printf("== (n) NV_Write, one connection each (N=%d, warm-up %d, %d reps)\n", o.nv_n, o.warmup, o.reps);
      b.nv_write();
    }
    if (o.only.count('k')) {
      std::printf("== (k) key releases (Open) and manager memory (N=%d, %d reps)\n", o.opens, o.open_reps);
      b.key_releases();
    }
    if (o.only.count('s')) {
      std::printf("== (s) vtpmd spawn -> first answer, with --key manager= and without (%d reps)\n", o.spawn_reps);
      b.spawn();
    }
    b.print_table();
  } catch (const std::exception& e) {
    std::printf("manager_bench: %s\n", e.what());
    rc = 1;
  }
  if (!tmp.empty()) remove_tree(tmp);
  return rc;
}
