// vtpmd_bench: vtpmd against swtpm 0.7.1 in the same run, as ratios vtpmd/swtpm. Daemons are
// pinned to one CPU (--daemon-cpu, default 1: what `taskset -c 1` does) and the client to another
// (--client-cpu, default 0); both daemons of a comparison run side by side and the timed
// repetitions alternate between them. It asserts no wall-clock time: it prints figures and a
// table, and fails only if a daemon does not answer correctly.
//
//   (a) GetRandom(32), PCR_Extend(16, SHA-256), PCR_Read(SHA-256 PCR 16): commands/s over N on
//       one persistent connection, TCP loopback and unix socket, after a warm-up
//   (b) NV_Write of 32..64 changing bytes to a 64-byte index: commands/s (vtpmd makes each write
//       durable; swtpm 0.7.1 writes the state file without fsync)
//   (c) spawn → first answer: exec with --flags not-need-init,startup-clear on a fresh copy of a
//       manufactured state dir, connect (bounded back-off), GetRandom; median of R
//   (d) memory of an idle instance after startup + one command (/proc/PID/smaps_rollup)
//   (e) I instances started at once (unix sockets, one state dir each), each answering GetRandom
//
//   vtpmd_bench --vtpmd PATH --swtpm PATH [--n 5000] [--warmup 200] [--reps 5] [--nv-n 1000]
//               [--spawn-reps 20] [--mem-samples 3] [--instances 1000] [--fleet-reps 2] [--only a,b,c,d,e]
//               [--daemon-cpu 1] [--client-cpu 0] [--workdir DIR] [--smoke]
// --smoke: N=50, warm-up 10, 1 rep, NV 20, spawn 3, memory 1, 5 instances once (the ctest).
#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <poll.h>
#include <signal.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/statfs.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "connection.h"
#include "daemon.h"
#include "swtpm_ctrl.h"
#include "tpm2_commands.h"

using namespace vtpm::testtools;
namespace t2 = vtpm::testtools::tpm2;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kNvIndex = 0x01500020;
constexpr int kIoMs = 30000;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Options {
  std::string vtpmd, swtpm, workdir;
  int n = 5000, warmup = 200, reps = 5, nv_n = 1000, spawn_reps = 20, mem_samples = 3, instances = 1000, fleet_reps = 2;
  int daemon_cpu = 1, client_cpu = 0;
  std::set<char> only{'a', 'b', 'c', 'd', 'e'};
};

struct Subject {
  std::string label, exe, template_dir;
};

// One line of the final table; ratio = vtpmd / swtpm.
struct Row {
  std::string metric, transport, unit;
  double vtpmd, swtpm;
  bool higher_is_better;
  std::string note;
};

void check_ok(const Bytes& r, const char* what) {
  if (t2::parse_header(r).rc != 0) throw IoError(std::string(what) + " failed: " + hex(r, 16));
}

std::map<std::string, long> smaps_rollup(pid_t pid) {
  std::map<std::string, long> kb;
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string key;
    long v;
    if (ls >> key >> v && !key.empty() && key.back() == ':') kb[key.substr(0, key.size() - 1)] = v;
  }
  return kb;
}

std::string fs_type(const std::string& path) {
  struct statfs s;
  if (::statfs(path.c_str(), &s) != 0) return "?";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53: return "ext2/3/4";
    case 0x01021994: return "tmpfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794c7630: return "overlayfs";
    default: {
      char b[32];
      std::snprintf(b, sizeof b, "0x%lx", static_cast<unsigned long>(s.f_type));
      return b;
    }
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// A connect loop with a fine back-off (50 µs doubling to 1 ms), bounded by timeout_ms.
Connection connect_fast(const Endpoint& ep, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int us = 50;
  for (;;) {
    Connection c = Connection::try_connect(ep);
    if (c.valid()) return c;
    if (Clock::now() > deadline) throw Timeout("no listener at " + ep.describe());
    std::this_thread::sleep_for(std::chrono::microseconds(us));
    us = std::min(us * 2, 1000);
  }
}

class Bench {
 public:
  Bench(const Options& o, std::string tmp) : o_(o), tmp_(std::move(tmp)) {
    subjects_[0] = {"vtpmd", o.vtpmd, tmp_ + "/template-vtpmd"};
    subjects_[1] = {"swtpm", o.swtpm, tmp_ + "/template-swtpm"};
    for (auto& s : subjects_) make_template_state(s.exe, s.template_dir, tmp_);
  }

  void throughput(bool with_nv, bool with_ops);
  void spawn_latency();
  void memory();
  void fleet();
  std::array<double, 4> fleet_once(int who);
  void print_table() const;
  bool fleet_ok() const { return fleet_ok_; }

 private:
  struct Running {
    Daemon daemon;
    Connection data;
    Endpoint ctl;
    std::string state;
  };

  std::string fresh_state(const Subject& s) {
    std::string d = tmp_ + "/state-" + std::to_string(++counter_);
    copy_state_dir(s.template_dir, d);
    return d;
  }
  Endpoint endpoint(bool tcp, const std::string& tag) {
    return tcp ? Endpoint::tcp(pick_free_tcp_port()) : Endpoint::unix_path(tmp_ + "/" + tag + std::to_string(++counter_));
  }
  Running start(const Subject& s, bool tcp) {
    Running r;
    r.state = fresh_state(s);
    Endpoint data = endpoint(tcp, "d"), ctl = endpoint(tcp, "c");
    r.daemon = Daemon::spawn({s.exe, socket_args(r.state, data, ctl, "not-need-init,startup-clear"),
                              tmp_ + "/" + s.label + ".log", o_.daemon_cpu});
    r.ctl = ctl;
    r.data = Connection::connect(data, 10000);
    return r;
  }
  void stop(Running& r) {
    r.data.close();
    try {
      Connection c = Connection::connect(r.ctl, 2000);
      ctrl::transact(c, ctrl::request(ctrl::SHUTDOWN), 5000);
    } catch (const IoError&) {
    }
    if (!r.daemon.wait_exit(5000)) r.daemon.terminate(2000);
    remove_tree(r.state);
  }

  const Options& o_;
  std::string tmp_;
  Subject subjects_[2];
  int counter_ = 0;
  std::vector<Row> rows_;
  std::array<double, 4> fleet_[2] = {};  // seconds until all answered, answered, Pss MB, Anonymous MB
  bool fleet_ok_ = true;
};

// Times `cmds` on one connection; every answer must be success.
double run_commands(Connection& c, const std::vector<Bytes>& cmds, const char* what) {
  auto t0 = Clock::now();
  for (const auto& cmd : cmds) {
    Bytes r = c.transact_tpm(cmd, kIoMs);
    if (r.size() < 10 || r[6] | r[7] | r[8] | r[9]) check_ok(r, what);
  }
  return seconds_since(t0);
}

void Bench::throughput(bool with_ops, bool with_nv) {
  struct Op {
    const char* name;
    std::vector<Bytes> cmds;
  };
  std::vector<Op> ops;
  if (with_ops) {
    ops.push_back({"GetRandom(32)", std::vector<Bytes>(size_t(o_.n), t2::get_random(32))});
    ops.push_back({"PCR_Extend(16, sha256)", std::vector<Bytes>(size_t(o_.n), t2::pcr_extend(16, {{t2::ALG_SHA256, Bytes(32, 0xab)}}))});
    ops.push_back({"PCR_Read(sha256 16)", std::vector<Bytes>(size_t(o_.n), t2::pcr_read({{t2::ALG_SHA256, 1u << 16}}))});
  }
  if (with_nv) {
    Op nv{"NV_Write(32..64 B)", {}};
    for (int i = 0; i < o_.nv_n; ++i) {
      Bytes data(size_t(32 + i % 33));
      for (size_t k = 0; k < data.size(); ++k) data[k] = uint8_t(i * 7 + k);
      nv.cmds.push_back(t2::nv_write(kNvIndex, data, 0));
    }
    ops.push_back(std::move(nv));
  }
  for (bool tcp : {true, false}) {
    const char* tname = tcp ? "tcp" : "unix";
    Running r[2] = {start(subjects_[0], tcp), start(subjects_[1], tcp)};
    for (auto& x : r) {
      check_ok(x.data.transact_tpm(t2::nv_define_space(kNvIndex, t2::NV_OWNERWRITE | t2::NV_OWNERREAD | t2::NV_NO_DA, 64), kIoMs),
               "NV_DefineSpace");
      for (const auto& op : ops) {  // warm-up
        std::vector<Bytes> w(op.cmds.begin(), op.cmds.begin() + std::min<long>(long(op.cmds.size()), o_.warmup));
        run_commands(x.data, w, op.name);
      }
    }
    std::vector<std::array<double, 2>> best(ops.size(), {1e30, 1e30});
    for (int rep = 0; rep < o_.reps; ++rep)
      for (int k = 0; k < 2; ++k) {
        int who = (rep + k) % 2;  // alternate which daemon goes first
        for (size_t i = 0; i < ops.size(); ++i)
          best[i][size_t(who)] = std::min(best[i][size_t(who)], run_commands(r[who].data, ops[i].cmds, ops[i].name));
      }
    for (size_t i = 0; i < ops.size(); ++i) {
      double n = double(ops[i].cmds.size());
      rows_.push_back({ops[i].name, tname, "cmd/s", n / best[i][0], n / best[i][1], true,
                       "N=" + std::to_string(ops[i].cmds.size()) + ", best of " + std::to_string(o_.reps)});
      std::printf("  %-24s %-4s vtpmd %9.0f cmd/s   swtpm %9.0f cmd/s\n", ops[i].name, tname, n / best[i][0], n / best[i][1]);
    }
    for (auto& x : r) stop(x);
  }
}

void Bench::spawn_latency() {
  std::vector<double> ms[2];
  for (int rep = 0; rep < o_.spawn_reps; ++rep)
    for (int k = 0; k < 2; ++k) {
      int who = (rep + k) % 2;
      const Subject& s = subjects_[who];
      std::string state = fresh_state(s);
      Endpoint data = endpoint(false, "sd"), ctl = endpoint(false, "sc");
      auto args = socket_args(state, data, ctl, "not-need-init,startup-clear");
      Bytes cmd = t2::get_random(32);
      auto t0 = Clock::now();
      Daemon d = Daemon::spawn({s.exe, args, tmp_ + "/" + s.label + ".log", o_.daemon_cpu});
      Connection c = connect_fast(data, 10000);
      Bytes r = c.transact_tpm(cmd, kIoMs);
      double t = seconds_since(t0) * 1e3;
      check_ok(r, "GetRandom after spawn");
      ms[who].push_back(t);
      c.close();
      Running run{std::move(d), Connection(), ctl, state};
      stop(run);
    }
  double a = median(ms[0]), b = median(ms[1]);
  std::printf("  spawn -> first answer (median of %d): vtpmd %.2f ms, swtpm %.2f ms\n", o_.spawn_reps, a, b);
  rows_.push_back({"spawn -> first GetRandom answer", "unix", "ms", a, b, false,
                   "median of " + std::to_string(o_.spawn_reps) + "; target ratio <= 0.7"});
}

void Bench::memory() {
  const char* fields[] = {"Anonymous", "Private_Dirty", "Pss", "Rss"};
  std::map<std::string, std::vector<double>> v[2];
  for (int rep = 0; rep < o_.mem_samples; ++rep)
    for (int who = 0; who < 2; ++who) {
      Running r = start(subjects_[who], false);
      check_ok(r.data.transact_tpm(t2::get_random(32), kIoMs), "GetRandom");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto kb = smaps_rollup(r.daemon.pid());
      for (const char* f : fields) v[who][f].push_back(double(kb[f]));
      stop(r);
    }
  for (const char* f : fields) {
    double a = median(v[0][f]), b = median(v[1][f]);
    std::printf("  idle %-13s vtpmd %6.0f kB   swtpm %6.0f kB\n", f, a, b);
    rows_.push_back({std::string("idle instance ") + f + " (smaps_rollup)", "unix", "kB", a, b, false,
                     "median of " + std::to_string(o_.mem_samples)});
  }
}

// One fleet of one daemon program: seconds until all answered, answered count, Pss MB, Anonymous MB.
std::array<double, 4> Bench::fleet_once(int who) {
  const Subject& s = subjects_[who];
  int n = o_.instances;
  std::vector<std::string> states;
  std::vector<Endpoint> data(static_cast<size_t>(n)), ctl(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {  // fresh socket names every run: no stale files
    states.push_back(fresh_state(s));
    std::string tag = tmp_ + "/f" + std::to_string(++counter_);
    data[size_t(i)] = Endpoint::unix_path(tag + ".d");
    ctl[size_t(i)] = Endpoint::unix_path(tag + ".c");
  }
  std::vector<Daemon> daemons;
  std::vector<Connection> conns(static_cast<size_t>(n));
  std::vector<int> state(static_cast<size_t>(n), 0);  // 0 not connected, 1 asked, 2 answered
  Bytes cmd = t2::get_random(32);
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i)
    daemons.push_back(Daemon::spawn({s.exe, socket_args(states[size_t(i)], data[size_t(i)], ctl[size_t(i)], "not-need-init,startup-clear"),
                                     "", o_.daemon_cpu}));
  double spawned = seconds_since(t0);
  int answered = 0, failed = 0;
  auto deadline = t0 + std::chrono::seconds(120 + n / 5);
  while (answered + failed < n && Clock::now() < deadline) {
    for (int i = 0; i < n; ++i) {
      if (state[size_t(i)] != 0) continue;
      conns[size_t(i)] = Connection::try_connect(data[size_t(i)]);
      if (!conns[size_t(i)].valid()) continue;
      conns[size_t(i)].send_all(cmd, kIoMs);
      state[size_t(i)] = 1;
    }
    std::vector<pollfd> pfds;
    std::vector<int> idx;
    for (int i = 0; i < n; ++i)
      if (state[size_t(i)] == 1) pfds.push_back({conns[size_t(i)].fd(), POLLIN, 0}), idx.push_back(i);
    if (pfds.empty()) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      continue;
    }
    if (::poll(pfds.data(), pfds.size(), 1) <= 0) continue;
    for (size_t k = 0; k < pfds.size(); ++k) {
      if (!pfds[k].revents) continue;
      size_t i = size_t(idx[k]);
      try {
        Bytes h = conns[i].recv_exact(10, kIoMs);
        Bytes rest = conns[i].recv_exact(be32_at(h, 2) - 10, kIoMs);
        if (t2::parse_header(h).rc == 0) ++answered;
        else ++failed;
      } catch (const IoError&) {
        ++failed;
      }
      state[i] = 2;
      conns[i].close();
    }
  }
  double all = seconds_since(t0);
  double pss = 0, anon = 0;
  for (auto& d : daemons) {
    auto kb = smaps_rollup(d.pid());
    pss += double(kb["Pss"]);
    anon += double(kb["Anonymous"]);
  }
  std::printf("  %s: %d instances spawned in %.2f s; %d/%d answered GetRandom after %.2f s; total Pss %.0f MB, Anonymous %.0f MB\n",
              s.label.c_str(), n, spawned, answered, n, all, pss / 1024, anon / 1024);
  std::array<double, 4> result{all, double(answered), pss / 1024, anon / 1024};
  // Stop every instance we started: SIGTERM to all, then reap each (bounded), SIGKILL stragglers.
  for (auto& d : daemons) d.signal(SIGTERM);
  auto stop_deadline = Clock::now() + std::chrono::seconds(30);
  for (auto& d : daemons) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(stop_deadline - Clock::now()).count());
    if (!d.wait_exit(std::max(left, 1))) d.kill_now();
  }
  for (auto& st : states) remove_tree(st);
  return result;
}

void Bench::fleet() {
  // Repetitions alternate which program goes first; the fastest complete run of each counts.
  for (int who = 0; who < 2; ++who) fleet_[who] = {1e30, 0, 0, 0};
  for (int rep = 0; rep < o_.fleet_reps; ++rep)
    for (int k = 0; k < 2; ++k) {
      int who = (rep + k) % 2;
      auto r = fleet_once(who);
      bool complete = int(r[1]) == o_.instances;
      if (!complete) fleet_ok_ = false;
      if ((complete || fleet_[who][1] < r[1]) && r[0] < fleet_[who][0]) fleet_[who] = r;
    }
  std::string n = std::to_string(o_.instances);
  rows_.push_back({n + " instances: all answered", "unix", "s", fleet_[0][0], fleet_[1][0], false,
                   "answered: vtpmd " + std::to_string(int(fleet_[0][1])) + "/" + n + ", swtpm " + std::to_string(int(fleet_[1][1])) + "/" + n});
  rows_.push_back({n + " instances: total Pss", "unix", "MB", fleet_[0][2], fleet_[1][2], false, "sum of smaps_rollup Pss"});
  rows_.push_back({n + " instances: total Anonymous", "unix", "MB", fleet_[0][3], fleet_[1][3], false, "sum of smaps_rollup Anonymous"});
}

void Bench::print_table() const {
  std::printf("\n| metric | transport | vtpmd | swtpm | ratio vtpmd/swtpm | better | note |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows_) {
    double ratio = r.swtpm > 0 ? r.vtpmd / r.swtpm : 0;
    const char* better = r.higher_is_better ? "higher (>= 1.0: vtpmd at least as fast)" : "lower (<= 1.0: vtpmd no worse)";
    auto fmt = [&](double v) {
      char b[48];
      std::snprintf(b, sizeof b, v >= 100 ? "%.0f %s" : "%.2f %s", v, r.unit.c_str());
      return std::string(b);
    };
    std::printf("| %s | %s | %s | %s | %.2f | %s | %s |\n", r.metric.c_str(), r.transport.c_str(), fmt(r.vtpmd).c_str(),
                fmt(r.swtpm).c_str(), ratio, better, r.note.c_str());
  }
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: vtpmd_bench --vtpmd PATH --swtpm PATH [--n N] [--warmup N] [--reps R] [--nv-n N]\n"
               "                   [--spawn-reps R] [--mem-samples N] [--instances I] [--fleet-reps R] [--only a,b,c,d,e]\n"
               "                   [--daemon-cpu C] [--client-cpu C] [--workdir DIR] [--smoke]\n");
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
    else if (a == "--swtpm") o.swtpm = val();
    else if (a == "--workdir") o.workdir = val();
    else if (a == "--n") o.n = num();
    else if (a == "--warmup") o.warmup = num();
    else if (a == "--reps") o.reps = num();
    else if (a == "--nv-n") o.nv_n = num();
    else if (a == "--spawn-reps") o.spawn_reps = num();
    else if (a == "--mem-samples") o.mem_samples = num();
    else if (a == "--instances") o.instances = num();
    else if (a == "--fleet-reps") o.fleet_reps = num();
    else if (a == "--daemon-cpu") o.daemon_cpu = num();
    else if (a == "--client-cpu") o.client_cpu = num();
    else if (a == "--only") {
      o.only.clear();
      for (char c : val())
        if (c != ',') o.only.insert(c);
    } else if (a == "--smoke") {
      o.n = 50, o.warmup = 10, o.reps = 1, o.nv_n = 20, o.spawn_reps = 3, o.mem_samples = 1, o.instances = 5, o.fleet_reps = 1;
    } else usage();
  }
  if (o.vtpmd.empty() || o.swtpm.empty() || o.n < 1 || o.reps < 1 || o.nv_n < 1 || o.spawn_reps < 1 ||
      o.mem_samples < 1 || o.instances < 1 || o.fleet_reps < 1)
    usage();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout (| head) must not skip the clean-up
  if (online_cpus() < 2) {
    std::printf("note: fewer than 2 online CPUs: no pinning\n");
    o.daemon_cpu = o.client_cpu = -1;
  }
  pin_self_to_cpu(o.client_cpu);
  if (!o.workdir.empty()) setenv("TMPDIR", o.workdir.c_str(), 1);
  std::string tmp;
  int rc = 0;
  try {
    tmp = make_temp_dir("vtpmd-bench-");
    std::printf("vtpmd_bench: vtpmd = %s, swtpm = %s%s\n", o.vtpmd.c_str(), o.swtpm.c_str(),
                o.vtpmd == o.swtpm ? " (same program on both sides: a sanity run, ratios should be ~1.0)" : "");
    std::printf("  daemons on cpu %d, client on cpu %d; state dirs in %s (%s)\n", o.daemon_cpu, o.client_cpu, tmp.c_str(),
                fs_type(tmp).c_str());
    Bench b(o, tmp);
    if (o.only.count('a') || o.only.count('b')) {
      std::printf("== (a)/(b) throughput on one persistent connection (N=%d, NV N=%d, warm-up %d, best of %d)\n", o.n, o.nv_n,
                  o.warmup, o.reps);
      b.throughput(o.only.count('a') > 0, o.only.count('b') > 0);
    }
    if (o.only.count('c')) {
      std::printf("== (c) spawn -> first answered GetRandom\n");
      b.spawn_latency();
    }
    if (o.only.count('d')) {
      std::printf("== (d) memory of an idle instance after startup + one command\n");
      b.memory();
    }
    if (o.only.count('e')) {
      std::printf("== (e) %d instances started at once, each answering GetRandom\n", o.instances);
      b.fleet();
      if (!b.fleet_ok()) {
        std::printf("FAIL: not every instance answered\n");
        rc = 1;
      }
    }
    b.print_table();
  } catch (const std::exception& e) {
    std::printf("vtpmd_bench: %s\n", e.what());
    rc = 1;
  }
  if (!tmp.empty()) remove_tree(tmp);
  return rc;
}
