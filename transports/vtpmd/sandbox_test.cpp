// sandbox_test: the production filter (install_seccomp, the function vtpmd's main() calls) in a
// forked child: a call outside the allow-list ends the child with SIGSYS, allowed calls work, and
// action=log / action=none let the same call through. Also the --runas lookups.
#include "transports/vtpmd/sandbox.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

namespace vtpm::sandbox {
namespace {

// Child exit codes that say which step failed (the child cannot use gtest).
constexpr int kInstallFailed = 90;
constexpr int kCallFailed = 91;
constexpr int kSurvived = 92;

struct ChildEnd {
  bool exited = false;
  int code = -1;
  int signal = 0;
};

// Forks; the child installs the filter with `action`, runs `body` (which returns the exit code)
// and _exits. Waits for it (bounded: the body makes a handful of calls).
ChildEnd run_sandboxed(SeccompAction action, const std::function<int()>& body, bool manager_link = false) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string err;
    if (!install_seccomp(action, manager_link, err)) _exit(kInstallFailed);
    _exit(body());
  }
  ChildEnd end;
  if (pid < 0) return end;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  end.exited = WIFEXITED(status);
  if (end.exited) end.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) end.signal = WTERMSIG(status);
  return end;
}

// Raw system calls, so that no libc wrapper substitutes another call.
int call_socket() {
  long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  return fd >= 0 ? kSurvived : kCallFailed;
}
int call_execve() {
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  char* envp[] = {nullptr};
  syscall(SYS_execve, "/bin/true", argv, envp);
  return kSurvived;  // only reached if execve was let through and failed
}
int call_personality() {
  syscall(SYS_personality, 0xffffffffUL);  // query only
  return kSurvived;
}
int call_setuid() {
  syscall(SYS_setuid, static_cast<long>(getuid()));
  return kSurvived;
}

TEST(Seccomp, SocketIsKilledBySigsys) {
  ChildEnd end = run_sandboxed(SeccompAction::Kill, call_socket);
  EXPECT_FALSE(end.exited) << "child exited with " << end.code;
  EXPECT_EQ(SIGSYS, end.signal);
}

int call_unix_socket() {
  long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  return fd >= 0 ? kSurvived : kCallFailed;
}

// --key manager=…: a unix socket (the manager link's reconnect) is allowed, any other still kills.
TEST(Seccomp, ManagerLinkAllowsUnixSocketsOnly) {
  ChildEnd unix_end = run_sandboxed(SeccompAction::Kill, call_unix_socket, true);
  EXPECT_TRUE(unix_end.exited) << "killed by signal " << unix_end.signal;
  EXPECT_EQ(kSurvived, unix_end.code);
  ChildEnd inet_end = run_sandboxed(SeccompAction::Kill, call_socket, true);
  EXPECT_FALSE(inet_end.exited) << "child exited with " << inet_end.code;
  EXPECT_EQ(SIGSYS, inet_end.signal);
  ChildEnd plain = run_sandboxed(SeccompAction::Kill, call_unix_socket);
  EXPECT_EQ(SIGSYS, plain.signal);
}

TEST(Seccomp, ExecveIsKilledBySigsys) {
  ChildEnd end = run_sandboxed(SeccompAction::Kill, call_execve);
  EXPECT_FALSE(end.exited) << "child exited with " << end.code;
  EXPECT_EQ(SIGSYS, end.signal);
}

TEST(Seccomp, PersonalityAndSetuidAreKilledBySigsys) {
  EXPECT_EQ(SIGSYS, run_sandboxed(SeccompAction::Kill, call_personality).signal);
  EXPECT_EQ(SIGSYS, run_sandboxed(SeccompAction::Kill, call_setuid).signal);
}

TEST(Seccomp, ExecutableMappingIsKilledBySigsys) {
  ChildEnd end = run_sandboxed(SeccompAction::Kill, [] {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? kCallFailed : kSurvived;
  });
  EXPECT_EQ(SIGSYS, end.signal);
}

// What vtpmd does while serving: memory, random bytes, a pipe's read and write, time, close.
TEST(Seccomp, AllowedCallsWork) {
  int fds[2];
  ASSERT_EQ(0, pipe(fds));
  ChildEnd end = run_sandboxed(SeccompAction::Kill, [&] {
    void* p = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return kCallFailed;
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd)) return kCallFailed;
    std::memcpy(p, rnd, sizeof rnd);
    if (munmap(p, 1 << 20) != 0) return kCallFailed;
    timespec ts{};
    if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0) return kCallFailed;
    if (write(fds[1], "ok", 2) != 2) return kCallFailed;
    char buf[2];
    if (read(fds[0], buf, 2) != 2 || std::memcmp(buf, "ok", 2) != 0) return kCallFailed;
    if (close(fds[0]) != 0 || close(fds[1]) != 0) return kCallFailed;
    return 0;
  });
  close(fds[0]);
  close(fds[1]);
  EXPECT_TRUE(end.exited) << "killed by signal " << end.signal;
  EXPECT_EQ(0, end.code);
}

// abort() raises SIGABRT on its own process through tgkill: an assertion stays an assertion.
TEST(Seccomp, AbortStillRaisesSigabrt) {
  ChildEnd end = run_sandboxed(SeccompAction::Kill, [] {
    abort();
    return kSurvived;
  });
  EXPECT_EQ(SIGABRT, end.signal);
}

TEST(Seccomp, TgkillOfAnotherProcessIsKilled) {
  ChildEnd end = run_sandboxed(SeccompAction::Kill, [] {
    syscall(SYS_tgkill, static_cast<long>(getppid()), static_cast<long>(getppid()), 0L);
    return kSurvived;
  });
  EXPECT_EQ(SIGSYS, end.signal);
}

TEST(Seccomp, LogLetsTheCallThrough) {
  ChildEnd end = run_sandboxed(SeccompAction::Log, call_socket);
  EXPECT_TRUE(end.exited) << "killed by signal " << end.signal;
  EXPECT_EQ(kSurvived, end.code);
}

TEST(Seccomp, NoneInstallsNothing) {
  ChildEnd end = run_sandboxed(SeccompAction::None, call_socket);
  EXPECT_TRUE(end.exited) << "killed by signal " << end.signal;
  EXPECT_EQ(kSurvived, end.code);
}

TEST(Seccomp, ListHasNoForbiddenNames) {
  bool has_read = false;
  for (const AllowedCall& c : allowed_calls()) {
    std::string n = c.name;
    has_read |= n == "read";
    for (const char* bad : {"execve", "execveat", "socket", "connect", "bind", "setuid", "fork",
                            "vfork", "mount", "personality", "seccomp"})
      EXPECT_NE(n, bad);
  }
  EXPECT_TRUE(has_read);
}

// ---- --runas ------------------------------------------------------------------------------------

TEST(RunAs, UnknownUserIsRefusedByName) {
  User u;
  std::string err;
  EXPECT_FALSE(resolve_user("no-such-user-vtpmd", u, err));
  EXPECT_EQ("--runas: user 'no-such-user-vtpmd' does not exist", err);
}

TEST(RunAs, BadNumberAndEmptyAreRefused) {
  User u;
  std::string err;
  EXPECT_FALSE(resolve_user("12x", u, err));
  EXPECT_EQ("--runas: '12x' is not a valid uid", err);
  EXPECT_FALSE(resolve_user("", u, err));
  EXPECT_EQ("--runas: needs a user name or a uid", err);
  EXPECT_FALSE(resolve_user("99999999999", u, err));
}

TEST(RunAs, CurrentUserResolves) {
  User u;
  std::string err;
  ASSERT_TRUE(resolve_user(std::to_string(getuid()), u, err)) << err;
  EXPECT_EQ(getuid(), u.uid);
}

TEST(RunAs, RootResolvesWithItsGroupAndNobodyOnlyAsRoot) {
  User root;
  std::string err;
  if (geteuid() == 0) {
    ASSERT_TRUE(resolve_user("root", root, err)) << err;
    EXPECT_EQ(0u, root.uid);
    EXPECT_EQ(0u, root.gid);
    User nobody;
    ASSERT_TRUE(resolve_user("nobody", nobody, err)) << err;
    EXPECT_NE(0u, nobody.uid);
    for (gid_t g : nobody.groups) EXPECT_NE(0u, g);
  } else {
    EXPECT_FALSE(resolve_user("root", root, err));
    EXPECT_NE(std::string::npos, err.find("needs root")) << err;
  }
}

// The drop in a child: as root it takes uid, gid and groups of nobody and root cannot come back;
// as another user only the current user is accepted, and dropping to it changes nothing.
TEST(RunAs, DropInChild) {
  User target;
  std::string err;
  const bool root = geteuid() == 0;
  ASSERT_TRUE(resolve_user(root ? "nobody" : std::to_string(getuid()), target, err)) << err;
  pid_t pid = fork();
  if (pid == 0) {
    std::string e;
    if (!drop_to_user(target, e)) _exit(1);
    gid_t groups[64];
    int n = getgroups(64, groups);
    for (int i = 0; root && i < n; ++i)
      if (groups[i] == 0) _exit(2);
    if (getuid() != target.uid || geteuid() != target.uid || getgid() != target.gid) _exit(3);
    if (target.uid != 0 && setuid(0) == 0) _exit(4);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(0, WEXITSTATUS(status));
}

}  // namespace
}  // namespace vtpm::sandbox
