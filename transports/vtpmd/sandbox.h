// sandbox: what vtpmd gives up before it serves — the user it runs as (--runas) and the system
// calls it may make (--seccomp). swtpm 0.7.1 installs a deny-list of about 150 calls on top of
// default-allow (seccomp_profile.c); vtpmd installs an allow-list of what it was measured to call
// while serving (security-reliability.md goal 24), so anything else kills the process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "instance/config.h"

namespace vtpm::sandbox {

// --seccomp action= (parsed into instance::Config): what a system call outside the allow-list
// does. Kill (the default, as swtpm) ends the process with SIGSYS; Log allows it and has the
// kernel log it (SECCOMP_RET_LOG, to the audit log); None installs no filter at all.
using SeccompAction = instance::SeccompAction;

// One allowed system call: its name (as strace prints it) and whether only some arguments are
// allowed (see sandbox.cpp for each restriction).
struct AllowedCall {
  const char* name;
  bool restricted;
};

// The allow-list install_seccomp() loads, in its documented order. Builds with AddressSanitizer
// (the sanitize preset) append the calls of the sanitizer runtime itself (sandbox.cpp).
std::span<const AllowedCall> allowed_calls();

// Loads the filter into the calling thread (vtpmd has one) with no_new_privs set; from then on it
// cannot be removed, by this process or its children. None does nothing and returns true.
// Returns false with `err` set when libseccomp refuses a rule or the kernel refuses the filter.
// `manager_link`: also socket(AF_UNIX) and connect, for --key manager=… (the link reconnects).
bool install_seccomp(SeccompAction action, bool manager_link, std::string& err);

// The user of --runas, resolved before anything is opened so that a bad name fails early.
struct User {
  std::string spec;          // as given: a name or a decimal uid
  uid_t uid = 0;
  gid_t gid = 0;             // the user's primary group (a uid not in passwd: gid = uid, as swtpm)
  std::vector<gid_t> groups; // supplementary groups from the group database (initgroups' list)
};

// Looks `spec` up in the user database (getpwnam_r, or getpwuid_r for a decimal uid). An unknown
// name fails: "--runas: user 'x' does not exist". Becoming another user needs root: unless the
// effective uid is 0, only the current user (uid and gid unchanged) is accepted.
bool resolve_user(const std::string& spec, User& out, std::string& err);

// setgroups(user.groups), setgid, setuid — in that order, so that no root group survives — then
// checks that root cannot be regained (setuid(0) must fail). Nothing to do when `user` is the
// current user and we are not root.
bool drop_to_user(const User& user, std::string& err);

}  // namespace vtpm::sandbox
