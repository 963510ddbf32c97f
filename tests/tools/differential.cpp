// differential: send one deterministic trace (differential_trace.cpp) to a reference daemon
// (Debian's swtpm 0.7.1) and to a target (vtpmd) that start from the same permanent state, and
// compare every answer byte for byte outside the documented masks (differential_masks.cpp).
// Exit 0 when all answers match, 1 on any unmasked difference, 2 on a setup or usage error,
// 3 when the reference itself does not answer as the trace expects (the trace is wrong).
//
//   differential --reference /usr/bin/swtpm --target build/.../vtpmd [--transport unix|tcp]
//                [--state copy|setblob|unshared] [--seed N] [--random N1,N2] [--no-framing] [--keep]
//                [-v] [--dump] [--list]
//
// --state copy (default): one run of the reference manufactures a TPM (startup-clear, then
//   CMD_SHUTDOWN); its state dir is copied for both daemons, which start with not-need-init.
// --state setblob: the target starts on an empty dir and gets the reference's permanent blob
//   through CMD_STOP, CMD_SET_STATEBLOB, CMD_INIT (for a target whose files differ from swtpm's).
// --state unshared: the target manufactures its own TPM, so primary keys differ; a self-check
//   that the comparison can fail, not a test.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <sys/wait.h>

#include "connection.h"
#include "daemon.h"
#include "differential_trace.h"
#include "swtpm_ctrl.h"

using namespace vtpm::testtools;
using namespace vtpm::testtools::diff;

namespace {

constexpr int kConnectMs = 10000;
constexpr int kCtrlTailMs = 10;     // trailing bytes after a control reply
constexpr int kFramingQuietMs = 200;

struct Outcome {
  Bytes bytes;
  std::string note;  // "" or what happened instead of a complete answer
  bool operator==(const Outcome& o) const { return bytes == o.bytes && note == o.note; }
};

class Peer {
 public:
  Peer(std::string label, std::string exe, std::string dir, Endpoint data, Endpoint ctl)
      : label_(std::move(label)), exe_(std::move(exe)), dir_(std::move(dir)), data_(std::move(data)), ctl_(std::move(ctl)) {}

  const std::string& label() const { return label_; }
  const std::string& log() const { return log_; }

  void start(const std::string& state_dir) {
    log_ = dir_ + "/" + label_ + ".log";
    daemon_ = Daemon::spawn({exe_, socket_args(state_dir, data_, ctl_, "not-need-init"), log_, -1});
    cc_ = Connection::connect(ctl_, kConnectMs);
    dc_ = Connection::connect(data_, kConnectMs);
  }

  Outcome run(const Step& s) {
    Outcome out;
    Bytes req;
    try {
      req = s.build ? s.build(saved_) : s.request;
    } catch (const std::exception& e) {
      out.note = std::string("cannot build the request: ") + e.what();
      return out;
    }
    if (s.new_connection) (s.channel == Channel::Ctrl ? cc_ : dc_).close();
    try {
      if (s.channel == Channel::Ctrl) {
        if (!cc_.valid()) cc_ = Connection::connect(ctl_, kConnectMs);
        out.bytes = ctrl::transact(cc_, req, s.timeout_ms);
        Bytes extra = cc_.recv_until_quiet(kCtrlTailMs);
        out.bytes.insert(out.bytes.end(), extra.begin(), extra.end());
      } else {
        if (!dc_.valid()) dc_ = Connection::connect(data_, kConnectMs);
        if (s.framing) {
          dc_.send_all(req, s.timeout_ms);
          if (dc_.readable(s.timeout_ms)) out.bytes = dc_.recv_until_quiet(kFramingQuietMs);
          else out.note = "no answer within " + std::to_string(s.timeout_ms) + " ms";
          dc_.close();  // resynchronise: the next step opens a new data connection
        } else {
          out.bytes = dc_.transact_tpm(req, s.timeout_ms);
        }
      }
    } catch (const Timeout& e) {
      out.note = std::string("timeout: ") + e.what();
      (s.channel == Channel::Ctrl ? cc_ : dc_).close();
    } catch (const IoError& e) {
      out.note = std::string("i/o: ") + e.what();
      (s.channel == Channel::Ctrl ? cc_ : dc_).close();
    }
    if (!s.save_as.empty()) saved_[s.save_as] = out.bytes;
    return out;
  }

  // Untimed setup helpers.
  Bytes ctrl_request(const Bytes& req) { return ctrl::transact(cc_, req, 30000); }
  void reconnect_data() { dc_ = Connection::connect(data_, kConnectMs); }

  // CMD_SHUTDOWN, then the process must exit; returns its wait status (-1: did not exit).
  int shutdown(Outcome& reply) {
    Step s;
    s.channel = Channel::Ctrl;
    s.request = ctrl::request(ctrl::SHUTDOWN);
    s.timeout_ms = 10000;
    reply = run(s);
    dc_.close();
    cc_.close();
    int status = 0;
    if (!daemon_.wait_exit(10000, &status)) {
      daemon_.kill_now();
      return -1;
    }
    return status;
  }

 private:
  std::string label_, exe_, dir_, log_;
  Endpoint data_, ctl_;
  Daemon daemon_;
  Connection dc_, cc_;
  Saved saved_;
};

enum class Verdict { Identical, MaskedEqual, Different };

Verdict compare(const Step& s, const Outcome& a, const Outcome& b, std::vector<Range>& ranges) {
  ranges.clear();
  if (a == b) return Verdict::Identical;
  if (a.note != b.note || a.bytes.size() != b.bytes.size()) return Verdict::Different;
  auto ra = mask_ranges(s.mask, s.channel, a.bytes);
  auto rb = mask_ranges(s.mask, s.channel, b.bytes);
  if (ra.empty() || ra.size() != rb.size()) return Verdict::Different;
  for (size_t i = 0; i < ra.size(); ++i)
    if (ra[i].offset != rb[i].offset || ra[i].length != rb[i].length) return Verdict::Different;
  std::vector<bool> masked(a.bytes.size(), false);
  for (const auto& g : ra)
    for (size_t i = g.offset; i < g.offset + g.length; ++i) masked[i] = true;
  for (size_t i = 0; i < a.bytes.size(); ++i)
    if (!masked[i] && a.bytes[i] != b.bytes[i]) return Verdict::Different;
  ranges = ra;
  return Verdict::MaskedEqual;
}

std::optional<uint32_t> code_of(const Step& s, const Outcome& o) {
  if (!o.note.empty()) return std::nullopt;
  if (s.channel == Channel::Ctrl) return o.bytes.size() >= 4 ? std::optional<uint32_t>(be32_at(o.bytes, 0)) : std::nullopt;
  return o.bytes.size() >= 10 ? std::optional<uint32_t>(be32_at(o.bytes, 6)) : std::nullopt;
}

// Hex dump of one side: '*' before a masked byte, '!' before an unmasked byte that differs from
// the other side (or has no counterpart).
void print_outcome(const char* who, const Outcome& o, const Outcome& other, const std::vector<Range>& ranges) {
  std::string marks(o.bytes.size(), ' ');
  for (size_t i = 0; i < o.bytes.size(); ++i)
    if (i >= other.bytes.size() || other.bytes[i] != o.bytes[i]) marks[i] = '!';
  for (const auto& g : ranges)
    for (size_t i = g.offset; i < g.offset + g.length && i < marks.size(); ++i) marks[i] = '*';
  std::printf("    %s: %zu bytes%s%s\n%s", who, o.bytes.size(), o.note.empty() ? "" : ", ", o.note.c_str(),
              hexdump(o.bytes, &marks).c_str());
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: differential --reference EXE --target EXE [--transport unix|tcp]\n"
               "                    [--state copy|setblob|unshared] [--seed N] [--random N1,N2]\n"
               "                    [--no-framing] [--keep] [-v|--verbose] [--dump] [--list]\n");
  std::exit(2);
}

struct Options {
  std::string reference, target, transport = "unix", state = "copy";
  TraceOptions trace;
  bool keep = false, verbose = false, list = false, dump = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--reference") o.reference = val();
    else if (a == "--target") o.target = val();
    else if (a == "--transport") o.transport = val();
    else if (a == "--state") o.state = val();
    else if (a == "--seed") o.trace.seed = std::strtoull(val().c_str(), nullptr, 0);
    else if (a == "--random") {
      std::string v = val();
      if (std::sscanf(v.c_str(), "%d,%d", &o.trace.random_ops_1, &o.trace.random_ops_2) != 2) usage();
    } else if (a == "--no-framing") o.trace.framing = false;
    else if (a == "--keep") o.keep = true;
    else if (a == "-v" || a == "--verbose") o.verbose = true;
    else if (a == "--list") o.list = true;
    else if (a == "--dump") o.dump = o.verbose = true;
    else usage();
  }
  if (!o.list && (o.reference.empty() || o.target.empty())) usage();
  if (o.transport != "unix" && o.transport != "tcp") usage();
  if (o.state != "copy" && o.state != "setblob" && o.state != "unshared") usage();
  return o;
}

Endpoint endpoint(const Options& o, const std::string& dir, const std::string& name) {
  if (o.transport == "tcp") return Endpoint::tcp(pick_free_tcp_port());
  return Endpoint::unix_path(dir + "/" + name);
}

int run(const Options& opt, const std::string& tmp) {
  std::vector<Step> trace = build_trace(opt.trace);
  std::printf("differential: reference %s, target %s\n", opt.reference.c_str(), opt.target.c_str());
  std::printf("  transport %s, state %s, seed 0x%llx, %zu steps, work dir %s\n", opt.transport.c_str(), opt.state.c_str(),
              (unsigned long long)opt.trace.seed, trace.size(), tmp.c_str());

  std::string tmpl = tmp + "/template-state", ref_state = tmp + "/ref-state", tgt_state = tmp + "/target-state";
  make_template_state(opt.reference, tmpl, tmp);
  copy_state_dir(tmpl, ref_state);
  if (opt.state == "copy") copy_state_dir(tmpl, tgt_state);
  else std::filesystem::create_directories(tgt_state);  // setblob, unshared: start empty

  Peer ref("reference", opt.reference, tmp, endpoint(opt, tmp, "ref.data"), endpoint(opt, tmp, "ref.ctrl"));
  Peer tgt("target", opt.target, tmp, endpoint(opt, tmp, "tgt.data"), endpoint(opt, tmp, "tgt.ctrl"));
  ref.start(ref_state);
  tgt.start(tgt_state);
  if (opt.state == "setblob") {
    Bytes blob = ref.ctrl_request(ctrl::get_stateblob(ctrl::BLOB_PERMANENT));
    if (ctrl::result_of(blob) != 0 || blob.size() < 16) throw IoError("reference GET_STATEBLOB: " + hex(blob, 32));
    Bytes payload(blob.begin() + 16, blob.end());
    for (const Bytes& req : {ctrl::request(ctrl::STOP), ctrl::set_stateblob(ctrl::BLOB_PERMANENT, payload), ctrl::init(0)}) {
      Bytes r = tgt.ctrl_request(req);
      if (ctrl::result_of(r) != 0) throw IoError(std::string("target setup ") + ctrl::name(be32_at(req, 0)) + ": " + hex(r));
    }
    tgt.reconnect_data();
  }

  size_t identical = 0, masked = 0, different = 0, framing = 0, ctrl_steps = 0;
  std::map<std::string, int> by_mask;
  std::vector<std::string> trace_errors;
  std::string diffs;
  for (size_t i = 0; i < trace.size(); ++i) {
    const Step& s = trace[i];
    Outcome a = ref.run(s), b = tgt.run(s);
    framing += s.framing;
    ctrl_steps += s.channel == Channel::Ctrl;
    std::vector<Range> ranges;
    Verdict v = compare(s, a, b, ranges);
    const char* word = v == Verdict::Identical ? "identical" : v == Verdict::MaskedEqual ? "masked-equal" : "DIFFERENT";
    if (opt.verbose) {
      std::string extra;
      if (v == Verdict::MaskedEqual) {  // how many masked bytes really differed: a mask should earn its keep
        size_t n = 0, total = 0;
        for (const auto& g : ranges)
          for (size_t k = g.offset; k < g.offset + g.length; ++k) n += a.bytes[k] != b.bytes[k], ++total;
        extra = " (" + std::to_string(n) + " of " + std::to_string(total) + " masked bytes differ)";
      }
      std::printf("  #%03zu %-9s %-58s %s%s\n", i, s.group.c_str(), s.name.c_str(), word, extra.c_str());
      if (opt.dump)
        std::printf("        ref %s%s\n", hex(a.bytes, 40).c_str(), a.note.empty() ? "" : (" [" + a.note + "]").c_str());
    }
    if (v == Verdict::Identical) ++identical;
    if (v == Verdict::MaskedEqual) ++masked, ++by_mask[mask_name(s.mask)];
    if (v == Verdict::Different) {
      ++different;
      std::printf("DIFFERENCE at step #%zu [%s] %s (mask: %s)\n", i, s.group.c_str(), s.name.c_str(), mask_name(s.mask));
      if (!s.build) std::printf("    request: %s\n", hex(s.request, 64).c_str());
      print_outcome("reference", a, b, mask_ranges(s.mask, s.channel, a.bytes));
      print_outcome("target   ", b, a, mask_ranges(s.mask, s.channel, b.bytes));
    }
    auto code = code_of(s, a);
    if (s.expect && code != s.expect) {
      char buf[200];
      if (code) std::snprintf(buf, sizeof buf, "#%zu %s: expected 0x%x, reference gave 0x%x", i, s.name.c_str(), *s.expect, *code);
      else std::snprintf(buf, sizeof buf, "#%zu %s: expected 0x%x, reference gave %s", i, s.name.c_str(), *s.expect, a.note.c_str());
      trace_errors.push_back(buf);
    }
  }

  Outcome ra, rb;
  int sa = ref.shutdown(ra), sb = tgt.shutdown(rb);
  size_t n = trace.size() + 1;
  if (ra == rb) ++identical;
  else {
    ++different;
    std::printf("DIFFERENCE at CMD_SHUTDOWN\n");
    print_outcome("reference", ra, rb, {});
    print_outcome("target   ", rb, ra, {});
  }
  bool exit_differs = (sa < 0) != (sb < 0) || (sa >= 0 && sb >= 0 && sa != sb);
  if (exit_differs) {
    ++different;
    std::printf("DIFFERENCE after CMD_SHUTDOWN: reference %s, target %s\n",
                sa < 0 ? "did not exit" : describe_status(sa).c_str(), sb < 0 ? "did not exit" : describe_status(sb).c_str());
  }

  std::printf("\nsummary: %zu commands (%zu data, %zu control incl. CMD_SHUTDOWN, %zu framing probes)\n", n,
              n - ctrl_steps - 1, ctrl_steps + 1, framing);
  std::printf("  identical:     %zu\n  masked-equal:  %zu", identical, masked);
  const char* sep = " (";
  for (const auto& [name, count] : by_mask) std::printf("%s%s %d", sep, name.c_str(), count), sep = ", ";
  std::printf("%s\n  different:     %zu\n", by_mask.empty() ? "" : ")", different);
  std::printf("  exit after CMD_SHUTDOWN: reference %s, target %s\n", sa < 0 ? "none" : describe_status(sa).c_str(),
              sb < 0 ? "none" : describe_status(sb).c_str());
  for (const auto& e : trace_errors) std::printf("TRACE ERROR (the reference does not answer as the trace says): %s\n", e.c_str());
  if (different) std::printf("FAIL: %zu unmasked differences; daemon logs: %s, %s\n", different, ref.log().c_str(), tgt.log().c_str());
  else std::printf("PASS\n");
  if (!trace_errors.empty()) return 3;
  return different ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  if (opt.list) {
    auto trace = build_trace(opt.trace);
    for (size_t i = 0; i < trace.size(); ++i)
      std::printf("#%03zu %-9s %-5s %-60s mask: %s\n", i, trace[i].group.c_str(), trace[i].channel == Channel::Ctrl ? "ctrl" : "data",
                  trace[i].name.c_str(), mask_name(trace[i].mask));
    return 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout (| head) must not skip the clean-up
  std::string tmp;
  int rc;
  try {
    tmp = make_temp_dir("vtpm-differential-");
    rc = run(opt, tmp);
  } catch (const std::exception& e) {
    std::printf("differential: setup failed: %s\n", e.what());
    rc = 2;
  }
  if (!tmp.empty()) {
    if (opt.keep || rc != 0) std::printf("work dir kept: %s\n", tmp.c_str());
    else remove_tree(tmp);
  }
  return rc;
}
