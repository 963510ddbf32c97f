// transports/xen/platform/store_sim_test.cpp: the production libxen Store adapter (libxen/store.cpp)
// against simxenstored through XENSTORED_PATH, and the factory's simulated mode. The daemon is
// started per test; readiness is awaited on its --ready-fd pipe, never by sleeping.
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
namespace {

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
      std::vector<std::string> args = {SIMXENSTORED, "--dir", dir, "--domains", "0,1",
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

TEST_F(SimStore, ReadWriteDirectoryPerms) {
  start();
  auto s = open(0);
  ASSERT_TRUE(s);
  ASSERT_FALSE(s->write(kNoTx, "/backend/vtpm/1/0/state", "1"));
  auto v = s->read(kNoTx, "/backend/vtpm/1/0/state");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), "1");
  auto d = s->directory(kNoTx, "/backend/vtpm/1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value(), std::vector<std::string>{"0"});
  EXPECT_EQ(s->read(kNoTx, "/nothing").error(), Error{ENOENT});
  EXPECT_EQ(s->read(kNoTx, "relative").error(), Error{EINVAL});
  ASSERT_FALSE(s->set_perms(kNoTx, "/backend/vtpm/1/0", {{0, Perm::None}, {1, Perm::Read}}));
  auto p = s->get_perms(kNoTx, "/backend/vtpm/1/0");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value(), (PermList{{0, Perm::None}, {1, Perm::Read}}));
  auto home = s->get_domain_path(1);
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(home.value(), "/local/domain/1");
  ASSERT_FALSE(s->mkdir(kNoTx, "/m/n"));
  ASSERT_FALSE(s->rm(kNoTx, "/m"));
  EXPECT_EQ(s->read(kNoTx, "/m/n").error(), Error{ENOENT});

  auto guest = open(1);
  ASSERT_TRUE(guest);
  EXPECT_EQ(guest->read(kNoTx, "/backend/vtpm/1/0").error(), kOk);   // r1
  EXPECT_EQ(guest->write(kNoTx, "/backend/vtpm/1/0", "x"), Error{EACCES});
  // Perms are not pushed down to existing children; new children inherit them.
  EXPECT_EQ(guest->read(kNoTx, "/backend/vtpm/1/0/state").error(), Error{EACCES});
  ASSERT_FALSE(s->write(kNoTx, "/backend/vtpm/1/0/feature-protocol-v2", "1"));
  EXPECT_EQ(guest->read(kNoTx, "/backend/vtpm/1/0/feature-protocol-v2").value(), "1");
  ASSERT_FALSE(s->write(kNoTx, "/secret", "s"));
  EXPECT_EQ(guest->read(kNoTx, "/secret").error(), Error{EACCES});
}

TEST_F(SimStore, WatchFiresOnceAtRegistrationThenOnChange) {
  start();
  auto s = open(0);
  ASSERT_TRUE(s);
  auto w = s->watch("/local/domain/1/device", "tok");
  ASSERT_TRUE(w.ok());
  auto ev = wait_events(*s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].path, "/local/domain/1/device");
  EXPECT_EQ(ev[0].token, "tok");
  EXPECT_EQ(s->watch("/local/domain/1/device", "tok").error(), Error{EEXIST});
  auto other = open(0);
  ASSERT_FALSE(other->write(kNoTx, "/local/domain/1/device/vtpm/0/state", "3"));
  ev = wait_events(*s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].path, "/local/domain/1/device/vtpm/0/state");
  EXPECT_FALSE(s->unwatch(w.value()));
  EXPECT_EQ(s->unwatch(w.value()), Error{ENOENT});
}

TEST_F(SimStore, TransactionRetriedOnEagainFirstCommit) {
  start({"--eagain-first-commit"});
  auto s = open(0);
  ASSERT_TRUE(s);
  int attempts = 0;
  TxOutcome out;
  do {
    ++attempts;
    auto tx = s->tx_start();
    ASSERT_TRUE(tx.ok());
    ASSERT_FALSE(s->write(tx.value(), "/t/online", "0"));
    ASSERT_FALSE(s->write(tx.value(), "/t/state", "5"));
    out = s->tx_end(tx.value(), true);
  } while (out.end == TxEnd::Again && attempts < 5);
  EXPECT_EQ(out.end, TxEnd::Ok);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(s->read(kNoTx, "/t/state").value(), "5");
}

TEST_F(SimStore, ConflictingTransactionGetsAgain) {
  start();
  auto s = open(0);
  ASSERT_FALSE(s->write(kNoTx, "/c", "0"));
  auto tx = s->tx_start();
  ASSERT_TRUE(tx.ok());
  ASSERT_EQ(s->read(tx.value(), "/c").value(), "0");
  auto other = open(0);
  ASSERT_FALSE(other->write(kNoTx, "/c", "1"));
  ASSERT_FALSE(s->write(tx.value(), "/c", "2"));
  EXPECT_EQ(s->tx_end(tx.value(), true).end, TxEnd::Again);
  EXPECT_EQ(s->read(kNoTx, "/c").value(), "1");
}

TEST_F(SimStore, FactoryPicksTheSimulation) {
  start();
  auto f = open_platform({dir, 1});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f.value()->simulated());
  EXPECT_EQ(f.value()->self(), 1u);
  auto s = f.value()->open_store();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s.value()->write(kNoTx, "/local/domain/1/x", "y"));
  EXPECT_EQ(s.value()->write(kNoTx, "/x", "y"), Error{EACCES});   // dom1 is unprivileged
}

}  // namespace
}  // namespace vtpm::xen
