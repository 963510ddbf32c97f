// sandbox: the seccomp allow-list and the --runas drop (sandbox.h). The list is what strace -ff
// counted over the whole integration tier (tests/integration/*.sh, swtpm_setup through vtpmd, the
// bad-input tables) after the filter's install point, grouped by who makes the call;
// measure_syscalls.sh in this folder measures it again.
#include "transports/vtpmd/sandbox.h"

#include <grp.h>
#include <pwd.h>
#include <malloc.h>
#include <seccomp.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

// A sanitizer runtime is linked in (GCC defines __SANITIZE_ADDRESS__, clang has the feature):
// its calls are added to the list, and only then (the sanitize preset builds with ASan+UBSan).
#if defined(__SANITIZE_ADDRESS__)
#define VTPM_SANDBOX_SANITIZER_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VTPM_SANDBOX_SANITIZER_RUNTIME 1
#endif
#endif
#ifndef VTPM_SANDBOX_SANITIZER_RUNTIME
#define VTPM_SANDBOX_SANITIZER_RUNTIME 0
#endif

namespace vtpm::sandbox {

namespace {

// How a call's arguments are limited, on top of allowing it.
enum class Limit : uint8_t {
  None,
  NoExec,      // mmap: PROT_EXEC refused, so no new code can be mapped once serving
  WaitWake,    // futex: only FUTEX_WAIT/WAKE(_BITSET), private or shared
  OwnProcess,  // tgkill: only to this process (abort() raising SIGABRT on itself)
  UnixOnly,    // socket: only AF_UNIX (the manager link's reconnect)
};

struct Rule {
  AllowedCall call;
  int nr;
  Limit limit;
};

#define VTPM_ALLOW(name) Rule{{#name, false}, SCMP_SYS(name), Limit::None}
#define VTPM_ALLOW_LIMITED(name, limit) Rule{{#name, true}, SCMP_SYS(name), limit}

// Measured with measure_syscalls.sh over the integration tier (all five scripts, swtpm_setup
// included): the calls made after the install point, by every vtpmd process. The few not seen
// there say why they are listed.
constexpr Rule kRules[] = {
    // The poll loop (transports/swtpm/server.cpp) and net.cpp: accept a client, read control
    // and TPM frames (recvmsg: a data fd may come along, SCM_RIGHTS), answer (send = sendto), and
    // read/write for a --fd that is not a socket (swtpm's tests pass a pty).
    VTPM_ALLOW(poll),
    VTPM_ALLOW(ppoll),  // the server's wait: SIGTERM is deliverable only inside it
    // A poll with a timeout that a stop/continue (SIGSTOP, a cgroup freezer, a debugger)
    // interrupted is resumed by the kernel through restart_syscall.
    VTPM_ALLOW(restart_syscall),
    VTPM_ALLOW(accept4),
    VTPM_ALLOW(recvmsg),
    VTPM_ALLOW(sendto),
    VTPM_ALLOW(read),
    VTPM_ALLOW(write),
    VTPM_ALLOW(close),
    // stdio's first write to a stream asks where it stands (libtpms prints its failure-mode
    // lines on stderr: "libtpms/tpm2: Entering failure mode", bad-input's corrupted permall).
    VTPM_ALLOW(lseek),
    // The state store (runtime/store) relative to the locked state directory: new files written,
    // fsync'ed and renamed, the journal appended (pwrite64) and fdatasync'ed, the directory
    // fsync'ed, blobs removed; at exit the pid file and unix socket files are unlinked.
    VTPM_ALLOW(openat),
    VTPM_ALLOW(newfstatat),
    VTPM_ALLOW(fchmod),
    VTPM_ALLOW(pwrite64),
    VTPM_ALLOW(fsync),
    VTPM_ALLOW(fdatasync),
    VTPM_ALLOW(renameat),
    VTPM_ALLOW(unlinkat),
    VTPM_ALLOW(unlink),
    // libtpms and OpenSSL: random bytes (main.cpp routes RAND_bytes to getrandom) and clocks
    // (CLOCK_PROCESS_CPUTIME_ID is a real call; gettimeofday and time are answered by the vDSO
    // here, but are system calls where the clock source has no vDSO support).
    VTPM_ALLOW(getrandom),
    VTPM_ALLOW(clock_gettime),
    VTPM_ALLOW(gettimeofday),
    VTPM_ALLOW(time),
    // malloc and free (glibc's main arena: brk, mmap for large blocks); mremap and madvise are
    // realloc of and trimming around large blocks, not seen in the tier but part of the allocator.
    VTPM_ALLOW(brk),
    VTPM_ALLOW_LIMITED(mmap, Limit::NoExec),
    VTPM_ALLOW(munmap),
    VTPM_ALLOW(mremap),
    VTPM_ALLOW(madvise),
    // pthread_once/call_once in OpenSSL and libstdc++ wake waiters even in one thread.
    VTPM_ALLOW_LIMITED(futex, Limit::WaitWake),
    // Signals and the end: SIGTERM's handler returns (rt_sigreturn), abort() blocks signals and
    // raises SIGABRT on itself (getpid, gettid, tgkill), exit.
    VTPM_ALLOW(rt_sigreturn),
    VTPM_ALLOW(rt_sigprocmask),
    VTPM_ALLOW(getpid),
    VTPM_ALLOW(gettid),
    VTPM_ALLOW_LIMITED(tgkill, Limit::OwnProcess),
    VTPM_ALLOW(exit_group),
#if VTPM_SANDBOX_SANITIZER_RUNTIME
    // Sanitizer builds only (the sanitize preset): the AddressSanitizer/LeakSanitizer runtime's
    // own calls, measured in kill mode from the kernel's SIGSYS records (measure_syscalls.sh).
    // At exit LeakSanitizer stops the world: it clones a tracer task (clone, prctl, sigaltstack,
    // rt_sigaction, getppid) that ptrace-attaches to vtpmd's thread and reads /proc/self/task
    // with raw open and getdents, while vtpmd waits for it (wait4, sched_yield); the tracer
    // ends with exit. ASan's allocator protects its own pages (mprotect, no PROT_EXEC either).
    VTPM_ALLOW(clone),
    VTPM_ALLOW(prctl),
    VTPM_ALLOW(sigaltstack),
    VTPM_ALLOW(rt_sigaction),
    VTPM_ALLOW(getppid),
    VTPM_ALLOW(ptrace),
    VTPM_ALLOW(wait4),
    VTPM_ALLOW(sched_yield),
    VTPM_ALLOW(getdents),
    VTPM_ALLOW(open),
    VTPM_ALLOW(exit),
    VTPM_ALLOW_LIMITED(mprotect, Limit::NoExec),
#endif
};

// --key manager=…: the link to vtpm-manager reconnects when the manager comes back (the instance
// keeps serving meanwhile and then catches its reports up, runtime/instance/manager_client.h).
constexpr Rule kManagerLinkRules[] = {
    VTPM_ALLOW_LIMITED(socket, Limit::UnixOnly),
    VTPM_ALLOW(connect),
};

#undef VTPM_ALLOW
#undef VTPM_ALLOW_LIMITED

std::vector<AllowedCall> collect_calls() {
  std::vector<AllowedCall> out;
  for (const Rule& r : kRules) out.push_back(r.call);
  return out;
}

// One argument comparison, every field set (libseccomp's SCMP_An macros leave datum_b to the
// compiler, which -Wmissing-field-initializers refuses in clang).
scmp_arg_cmp arg_cmp(unsigned arg, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
  scmp_arg_cmp c{};
  c.arg = arg;
  c.op = op;
  c.datum_a = a;
  c.datum_b = b;
  return c;
}

int add_rule(scmp_filter_ctx ctx, const Rule& r, pid_t self) {
  switch (r.limit) {
    case Limit::None: return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r.nr, 0);
    case Limit::NoExec:
      // mmap(addr, len, prot, flags, fd, off) and mprotect(addr, len, prot): prot is argument 2.
      return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r.nr, 1,
                              arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    case Limit::WaitWake: {
      // futex(uaddr, op, …): op is argument 1; the command without the private and clock flags.
      constexpr scmp_datum_t kCmd = 0xffffffffu & ~static_cast<scmp_datum_t>(FUTEX_PRIVATE_FLAG |
                                                                           FUTEX_CLOCK_REALTIME);
      for (scmp_datum_t op : {FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET}) {
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r.nr, 1,
                                  arg_cmp(1, SCMP_CMP_MASKED_EQ, kCmd, op));
        if (rc < 0) return rc;
      }
      return 0;
    }
    case Limit::UnixOnly:
      // socket(domain, type, protocol): domain is argument 0.
      return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r.nr, 1, arg_cmp(0, SCMP_CMP_EQ, AF_UNIX));
    case Limit::OwnProcess:
      // tgkill(tgid, tid, sig): tgid is argument 0.
      return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r.nr, 1,
                              arg_cmp(0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(self)));
  }
  return -EINVAL;
}

}  // namespace

std::span<const AllowedCall> allowed_calls() {
  static const std::vector<AllowedCall> calls = collect_calls();
  return calls;
}

bool install_seccomp(SeccompAction action, bool manager_link, std::string& err) {
  if (action == SeccompAction::None) return true;
  // KILL_PROCESS, not swtpm's KILL (= kill the thread): the whole process goes, with SIGSYS.
  const uint32_t deny = action == SeccompAction::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_LOG;
  scmp_filter_ctx ctx = seccomp_init(deny);
  if (ctx == nullptr) {
    err = "--seccomp: seccomp_init failed";
    return false;
  }
  const pid_t self = getpid();
  std::vector<Rule> rules(std::begin(kRules), std::end(kRules));
  if (manager_link) rules.insert(rules.end(), std::begin(kManagerLinkRules), std::end(kManagerLinkRules));
  for (const Rule& r : rules) {
    int rc = add_rule(ctx, r, self);
    if (rc < 0) {
      err = std::string("--seccomp: cannot allow ") + r.call.name + ": " + std::strerror(-rc);
      seccomp_release(ctx);
      return false;
    }
  }
  int rc = seccomp_load(ctx);  // sets no_new_privs first (SCMP_FLTATR_CTL_NNP defaults to on)
  seccomp_release(ctx);
  if (rc < 0) {
    err = std::string("--seccomp: the kernel refused the filter: ") + std::strerror(-rc);
    return false;
  }
  // libseccomp built its rule database on the heap; hand those pages back (brk and madvise are
  // allowed), so that an idle instance keeps only what it uses (memory per instance is a figure).
  malloc_trim(0);
  return true;
}

// ---- --runas ------------------------------------------------------------------------------------

namespace {

bool parse_uid(const std::string& s, uid_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v >= UINT32_MAX) return false;  // (uid_t)-1 means "unchanged" to setuid's relatives
  out = static_cast<uid_t>(v);
  return true;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// The supplementary groups initgroups(name, gid) would set, bounded (NGROUPS_MAX is 65536).
bool group_list(const char* name, gid_t gid, std::vector<gid_t>& out) {
  int n = 32;
  for (int attempt = 0; attempt < 8; ++attempt) {
    out.assign(static_cast<size_t>(n), 0);
    int got = n;
    if (getgrouplist(name, gid, out.data(), &got) >= 0) {
      out.resize(static_cast<size_t>(got));
      return true;
    }
    if (got <= n || got > 65536) return false;
    n = got;
  }
  return false;
}

}  // namespace

bool resolve_user(const std::string& spec, User& out, std::string& err) {
  out = User{};
  out.spec = spec;
  if (spec.empty()) {
    err = "--runas: needs a user name or a uid";
    return false;
  }
  std::vector<char> buf(1 << 16);
  passwd pw{};
  passwd* found = nullptr;
  uid_t uid = 0;
  const bool numeric = parse_uid(spec, uid);
  if (!numeric && spec[0] >= '0' && spec[0] <= '9') {
    err = "--runas: " + quoted(spec) + " is not a valid uid";
    return false;
  }
  int rc = numeric ? getpwuid_r(uid, &pw, buf.data(), buf.size(), &found)
                   : getpwnam_r(spec.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 && rc != ENOENT && rc != ESRCH) {
    err = "--runas: cannot read the user database: " + std::string(std::strerror(rc));
    return false;
  }
  if (found != nullptr) {
    out.uid = found->pw_uid;
    out.gid = found->pw_gid;
    if (!group_list(found->pw_name, found->pw_gid, out.groups)) {
      err = "--runas: cannot list the groups of user " + quoted(spec);
      return false;
    }
  } else if (numeric) {
    // A uid without a passwd entry (containers): swtpm takes gid = uid; no supplementary groups.
    out.uid = uid;
    out.gid = static_cast<gid_t>(uid);
  } else {
    err = "--runas: user " + quoted(spec) + " does not exist";
    return false;
  }
  if (geteuid() != 0 && !(out.uid == geteuid() && out.uid == getuid() && out.gid == getegid() &&
                          out.gid == getgid())) {
    err = "--runas: becoming user " + quoted(spec) + " (uid " + std::to_string(out.uid) +
          ") needs root; vtpmd runs as uid " + std::to_string(geteuid());
    return false;
  }
  return true;
}

bool drop_to_user(const User& user, std::string& err) {
  if (geteuid() != 0) return true;  // resolve_user accepted only the current user
  if (setgroups(user.groups.size(), user.groups.data()) != 0) {
    err = "--runas: setgroups failed: " + std::string(std::strerror(errno));
    return false;
  }
  if (setgid(user.gid) != 0) {
    err = "--runas: setgid(" + std::to_string(user.gid) + ") failed: " + std::strerror(errno);
    return false;
  }
  if (setuid(user.uid) != 0) {
    err = "--runas: setuid(" + std::to_string(user.uid) + ") failed: " + std::strerror(errno);
    return false;
  }
  if (user.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    err = "--runas: root could be regained after setuid(" + std::to_string(user.uid) + ")";
    return false;
  }
  return true;
}

}  // namespace vtpm::sandbox
