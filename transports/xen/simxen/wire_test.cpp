// transports/xen/simxen/wire_test.cpp: the xs_wire codec: framing with every length, field
// splitting, errno names, permission strings.
#include "wire.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace vtpm::simxen {
namespace {

TEST(Wire, FrameNeedsWholeHeaderAndPayload) {
  std::string msg = encode(MsgType::Read, 7, 3, std::string("/a\0", 3));
  for (size_t n = 0; n < msg.size(); ++n)
    EXPECT_EQ(parse_frame(std::string_view(msg).substr(0, n)).status, Framing::NeedMore) << n;
  std::string two = msg + "extra";
  FrameResult f = parse_frame(two);
  ASSERT_EQ(f.status, Framing::Complete);
  EXPECT_EQ(f.header.type, 2u);
  EXPECT_EQ(f.header.req_id, 7u);
  EXPECT_EQ(f.header.tx_id, 3u);
  EXPECT_EQ(f.payload, std::string_view("/a\0", 3));
  EXPECT_EQ(f.consumed, msg.size());
}

TEST(Wire, PayloadOver4096IsOversizedAt4096IsNot) {
  std::string big(4096, 'x');
  EXPECT_EQ(parse_frame(encode(MsgType::Write, 1, 0, big)).status, Framing::Complete);
  std::string header = encode(MsgType::Write, 1, 0, "");
  uint32_t len = 4097;
  std::memcpy(header.data() + 12, &len, 4);
  EXPECT_EQ(parse_frame(header).status, Framing::Oversized);
}

TEST(Wire, SplitFieldsKeepsEmptyAndUnterminated) {
  auto f = split_fields(std::string_view("a\0\0b", 4));
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0], "a");
  EXPECT_EQ(f[1], "");
  EXPECT_EQ(f[2], "b");
  EXPECT_TRUE(split_fields("").empty());
}

TEST(Wire, ErrnoNames) {
  EXPECT_STREQ(errno_name(ENOENT), "ENOENT");
  EXPECT_STREQ(errno_name(EAGAIN), "EAGAIN");
  EXPECT_STREQ(errno_name(12345), "EIO");
  EXPECT_EQ(errno_from_name("EACCES"), EACCES);
  EXPECT_EQ(errno_from_name("nonsense"), EIO);
  std::string e = encode_error(9, 0, EEXIST);
  FrameResult f = parse_frame(e);
  EXPECT_EQ(f.header.type, 16u);
  EXPECT_EQ(f.payload, std::string_view("EEXIST\0", 7));
}

TEST(Wire, Perms) {
  WirePerm p;
  ASSERT_TRUE(parse_perm("b0", &p));
  EXPECT_EQ(p.bits, 3);
  ASSERT_TRUE(parse_perm("r12", &p));
  EXPECT_EQ(p.dom, 12u);
  EXPECT_EQ(p.bits, 1);
  EXPECT_FALSE(parse_perm("x1", &p));
  EXPECT_FALSE(parse_perm("r", &p));
  EXPECT_FALSE(parse_perm("r1a", &p));
  EXPECT_FALSE(parse_perm("r99999999999", &p));
  EXPECT_EQ(format_perm({5, 2}), "w5");
}

}  // namespace
}  // namespace vtpm::simxen
