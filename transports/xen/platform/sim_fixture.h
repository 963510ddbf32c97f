// transports/xen/platform/sim_fixture.h: starts simxenstored for one test (domains 0,1,2) and
// awaits its --ready-fd line (bounded, no sleeps); stops it by PID with SIGTERM afterwards.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "transports/xen/platform/libxen/libxen.h"
#include "transports/xen/platform/platform.h"

namespace vtpm::xen {

struct SimStore : ::testing::Test {
  void start(std::vector<std::string> extra = {}) {
    char tmpl[] = "/tmp/simxen-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(p[0]);
      std::vector<std::string> args = {SIMXENSTORED, "--dir", dir, "--domains", "0,1,2",
                                       "--ready-fd", std::to_string(p[1])};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(p[1]);
    pollfd pfd{p[0], POLLIN, 0};
    ASSERT_EQ(poll(&pfd, 1, 10000), 1) << "simxenstored not ready within 10 s";
    char buf[8] = {};
    ASSERT_EQ(read(p[0], buf, 6), 6);
    EXPECT_EQ(std::string(buf), "ready\n");
    close(p[0]);
  }
  void TearDown() override {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status = 0;
      waitpid(pid, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "simxenstored exit " << status;
    }
    if (!dir.empty()) {
      std::string cmd = "rm -rf '" + dir + "'";
      EXPECT_EQ(system(cmd.c_str()), 0);
    }
  }
  std::unique_ptr<Store> open(DomId dom) {
    std::string path = dir + "/xenstored.dom" + std::to_string(dom) + ".sock";
    setenv("XENSTORED_PATH", path.c_str(), 1);
    auto s = libxen::open_store();
    EXPECT_TRUE(s.ok()) << s.error().code;
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  // Waits (bounded) for the store fd, then drains.
  static std::vector<WatchEvent> wait_events(Store& s) {
    pollfd pfd{s.fd(), POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) return {};
    return s.drain();
  }
  std::string dir;
  pid_t pid = -1;
};

}  // namespace vtpm::xen
