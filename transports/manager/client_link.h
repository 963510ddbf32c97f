// The unix-socket ManagerLink (runtime/instance/manager_client.h): how vtpmd and vtpmctl reach
// vtpm-manager. Whole messages, cut by the vtpmmgr header's paramSize (protocol.h frame_length);
// every wait is bounded by the link's timeout, so a stuck manager cannot hang an instance.
#pragma once

#include <string>
#include <vector>

#include "instance/manager_client.h"

namespace vtpm::transports::manager {

class UnixLink final : public instance::ManagerLink {
 public:
  explicit UnixLink(std::string path, int timeout_ms = 5000) : path_(std::move(path)), timeout_ms_(timeout_ms) {}
  ~UnixLink() { disconnect(); }
  UnixLink(const UnixLink&) = delete;
  UnixLink& operator=(const UnixLink&) = delete;

  bool connect(std::string& err) override;
  bool connected() const override { return fd_ >= 0; }
  bool send(const std::vector<uint8_t>& msg, std::string& err) override;
  bool receive(std::vector<uint8_t>& msg, std::string& err) override;
  void disconnect() override;

 private:
  std::string path_;
  int timeout_ms_;
  int fd_ = -1;
};

}  // namespace vtpm::transports::manager
