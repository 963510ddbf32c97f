// DataFramer against the data channel rules of reference/swtpm-qemu.md §1.5: table-driven bad
// sizes and tags, short and long writes, every split of a valid command, the TPM_SEND_COMMAND
// prefix, and the exact error responses. Expected bytes are written out by hand from the
// reference, not computed with the code under test.
#include "transports/swtpm/data_framer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace sw = vtpm::transports::swtpm;
using Bytes = std::vector<uint8_t>;
using sw::FrameError;
using sw::FrameStatus;
using sw::TpmKind;

namespace {

constexpr uint32_t kBuf = 4096;

// A command with `tag`, header size field `size`, and `body` bytes after the header (which may
// disagree with `size`).
Bytes command(uint16_t tag, uint32_t size, uint32_t code, size_t body) {
  Bytes b = {uint8_t(tag >> 8), uint8_t(tag),         uint8_t(size >> 24), uint8_t(size >> 16),
             uint8_t(size >> 8), uint8_t(size),       uint8_t(code >> 24), uint8_t(code >> 16),
             uint8_t(code >> 8), uint8_t(code)};
  for (size_t i = 0; i < body; ++i) b.push_back(uint8_t(i * 7 + 1));
  return b;
}

const Bytes kStartup = {0x80, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x01, 0x44, 0x00, 0x00};
const Bytes kQemuProbe = {0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x81};

// Error responses (tag, size 10, code), from the brief/reference: TPM2 TPM_RC_COMMAND_SIZE 0x142,
// TPM_RC_BAD_TAG 0x01E; TPM 1.2 TPM_BAD_PARAM_SIZE 0x19, TPM_BADTAG 0x1E.
const Bytes kTpm2SizeErr = {0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0x42};
const Bytes kTpm2TagErr = {0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x00, 0x1e};
const Bytes kTpm12SizeErr = {0x00, 0xc4, 0, 0, 0, 0x0a, 0, 0, 0x00, 0x19};
const Bytes kTpm12TagErr = {0x00, 0xc4, 0, 0, 0, 0x0a, 0, 0, 0x00, 0x1e};

Bytes frame_bytes(const sw::DataFramer& f) { return Bytes(f.frame(), f.frame() + f.frame_size()); }

Bytes error_response(const sw::DataFramer& f) {
  uint8_t out[64];
  const size_t n = f.error_response(out, sizeof out);
  return Bytes(out, out + n);
}

}  // namespace

// ---- header size field -------------------------------------------------------------------------

struct SizeCase {
  const char* name;
  TpmKind kind;
  uint32_t size;
  FrameStatus status;
  FrameError error;
};

class SizeField : public ::testing::TestWithParam<SizeCase> {};

TEST_P(SizeField, IsCheckedAgainstTenAndTheBufferSize) {
  const SizeCase& c = GetParam();
  sw::DataFramer f(c.kind, kBuf);
  const uint16_t tag = c.kind == TpmKind::Tpm2 ? 0x8001 : 0x00c1;
  // Send exactly `size` bytes when that is possible, else the header alone.
  const size_t body = c.size >= 10 && c.size <= kBuf ? c.size - 10 : 0;
  const Bytes b = command(tag, c.size, 0x144, body);
  const size_t used = f.feed(b.data(), b.size());
  EXPECT_EQ(f.status(), c.status);
  EXPECT_EQ(f.error(), c.error);
  if (c.status == FrameStatus::Frame) {
    EXPECT_EQ(used, b.size());
    EXPECT_EQ(f.frame_size(), c.size);
    EXPECT_EQ(frame_bytes(f), b);
  } else {
    EXPECT_EQ(used, 6u) << "the size error shows on the last size byte";
    const Bytes& want = c.kind == TpmKind::Tpm2 ? kTpm2SizeErr : kTpm12SizeErr;
    EXPECT_EQ(error_response(f), want);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SizeField,
    ::testing::Values(
        SizeCase{"tpm2_0", TpmKind::Tpm2, 0, FrameStatus::Error, FrameError::SizeTooSmall},
        SizeCase{"tpm2_9", TpmKind::Tpm2, 9, FrameStatus::Error, FrameError::SizeTooSmall},
        SizeCase{"tpm2_10", TpmKind::Tpm2, 10, FrameStatus::Frame, FrameError::None},
        SizeCase{"tpm2_buffer", TpmKind::Tpm2, kBuf, FrameStatus::Frame, FrameError::None},
        SizeCase{"tpm2_buffer_plus_1", TpmKind::Tpm2, kBuf + 1, FrameStatus::Error, FrameError::SizeTooLarge},
        SizeCase{"tpm2_2p31", TpmKind::Tpm2, 0x80000000u, FrameStatus::Error, FrameError::SizeTooLarge},
        SizeCase{"tpm2_2p32m1", TpmKind::Tpm2, 0xffffffffu, FrameStatus::Error, FrameError::SizeTooLarge},
        SizeCase{"tpm12_0", TpmKind::Tpm12, 0, FrameStatus::Error, FrameError::SizeTooSmall},
        SizeCase{"tpm12_9", TpmKind::Tpm12, 9, FrameStatus::Error, FrameError::SizeTooSmall},
        SizeCase{"tpm12_10", TpmKind::Tpm12, 10, FrameStatus::Frame, FrameError::None},
        SizeCase{"tpm12_buffer", TpmKind::Tpm12, kBuf, FrameStatus::Frame, FrameError::None},
        SizeCase{"tpm12_buffer_plus_1", TpmKind::Tpm12, kBuf + 1, FrameStatus::Error, FrameError::SizeTooLarge},
        SizeCase{"tpm12_2p31", TpmKind::Tpm12, 0x80000000u, FrameStatus::Error, FrameError::SizeTooLarge},
        SizeCase{"tpm12_2p32m1", TpmKind::Tpm12, 0xffffffffu, FrameStatus::Error, FrameError::SizeTooLarge}),
    [](const ::testing::TestParamInfo<SizeCase>& i) { return std::string(i.param.name); });

// ---- size field vs. bytes sent -----------------------------------------------------------------

TEST(DataFramer, FewerBytesThanTheSizeFieldWaitForTheRest) {
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  const Bytes b = command(0x8001, 20, 0x17b, 10);
  EXPECT_EQ(f.feed(b.data(), 15), 15u);
  EXPECT_EQ(f.status(), FrameStatus::NeedMore);
  EXPECT_TRUE(f.in_progress());
  EXPECT_EQ(f.frame_size(), 0u);
  EXPECT_EQ(f.feed(b.data() + 15, 5), 5u);
  EXPECT_EQ(f.status(), FrameStatus::Frame);
  EXPECT_FALSE(f.in_progress());
  EXPECT_EQ(frame_bytes(f), b);
}

TEST(DataFramer, HeaderAloneOfALongerCommandIsNotAFrame) {
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  const Bytes b = command(0x8001, 12, 0x144, 0);  // says 12, sends 10
  EXPECT_EQ(f.feed(b.data(), b.size()), 10u);
  EXPECT_EQ(f.status(), FrameStatus::NeedMore);
}

TEST(DataFramer, NothingFedIsNotInProgress) {
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  EXPECT_EQ(f.feed(nullptr, 5), 0u);
  EXPECT_EQ(f.feed(kStartup.data(), 0), 0u);
  EXPECT_FALSE(f.in_progress());
  EXPECT_EQ(f.status(), FrameStatus::NeedMore);
}

struct TrailingCase {
  const char* name;
  Bytes second;             // what follows a valid Startup in the same write
  FrameStatus status;       // what the second command turns into
  FrameError error;
};

class MoreBytesThanTheSizeField : public ::testing::TestWithParam<TrailingCase> {};

TEST_P(MoreBytesThanTheSizeField, StartTheNextFrameAndAreCheckedThemselves) {
  const TrailingCase& c = GetParam();
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  Bytes b = kStartup;
  b.insert(b.end(), c.second.begin(), c.second.end());
  const size_t used = f.feed(b.data(), b.size());
  ASSERT_EQ(f.status(), FrameStatus::Frame);
  EXPECT_EQ(used, kStartup.size());
  EXPECT_EQ(frame_bytes(f), kStartup);
  EXPECT_EQ(f.feed(b.data() + used, b.size() - used), 0u) << "nothing is taken until reset()";
  f.reset();
  f.feed(b.data() + used, b.size() - used);
  EXPECT_EQ(f.status(), c.status);
  EXPECT_EQ(f.error(), c.error);
  if (c.status == FrameStatus::Frame) {
    EXPECT_EQ(frame_bytes(f), c.second);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, MoreBytesThanTheSizeField,
    ::testing::Values(
        TrailingCase{"valid_probe", kQemuProbe, FrameStatus::Frame, FrameError::None},
        TrailingCase{"partial", Bytes{0x80, 0x01, 0x00}, FrameStatus::NeedMore, FrameError::None},
        TrailingCase{"bad_tag", Bytes{0x00, 0x00, 0, 0x0a, 0, 0, 0, 0, 0, 0}, FrameStatus::Error, FrameError::BadTag},
        TrailingCase{"too_small", command(0x8002, 9, 0, 0), FrameStatus::Error, FrameError::SizeTooSmall},
        TrailingCase{"too_large", command(0x8001, kBuf + 1, 0, 0), FrameStatus::Error, FrameError::SizeTooLarge}),
    [](const ::testing::TestParamInfo<TrailingCase>& i) { return std::string(i.param.name); });

// ---- tags --------------------------------------------------------------------------------------

struct TagCase {
  const char* name;
  TpmKind kind;
  Bytes start;     // the first bytes of the stream
  size_t used;     // up to and including the byte that shows the bad tag
  bool wrapped = false;  // the TPM_SEND_COMMAND prefix was recognised: the answer is wrapped
};

class BadTag : public ::testing::TestWithParam<TagCase> {};

TEST_P(BadTag, IsAnErrorWithTheBadTagResponse) {
  const TagCase& c = GetParam();
  sw::DataFramer f(c.kind, kBuf);
  Bytes b = c.start;
  b.resize(b.size() + 16, 0x00);
  EXPECT_EQ(f.feed(b.data(), b.size()), c.used);
  EXPECT_EQ(f.status(), FrameStatus::Error);
  EXPECT_EQ(f.error(), FrameError::BadTag);
  Bytes want = c.kind == TpmKind::Tpm2 ? kTpm2TagErr : kTpm12TagErr;
  if (c.wrapped) {
    want.insert(want.begin(), {0x00, 0x00, 0x00, 0x0a});
    want.insert(want.end(), {0x00, 0x00, 0x00, 0x00});
  }
  EXPECT_EQ(f.mssim(), c.wrapped);
  EXPECT_EQ(error_response(f), want);
  EXPECT_EQ(f.feed(b.data(), b.size()), 0u) << "an Error takes nothing more";
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadTag,
    ::testing::Values(
        // Only 0x0000 is refused by the framer; every other tag is libtpms' to judge.
        TagCase{"tpm2_0000_not_mssim", TpmKind::Tpm2, {0x00, 0x00, 0x00, 0x0a}, 4},
        TagCase{"tpm2_mssim_cmd_9", TpmKind::Tpm2, {0x00, 0x00, 0x00, 0x09}, 4},
        TagCase{"tpm2_mssim_cmd_0x108", TpmKind::Tpm2, {0x00, 0x00, 0x01, 0x08}, 3},
        TagCase{"tpm2_after_mssim_prefix", TpmKind::Tpm2,
                {0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00}, 11, true},
        TagCase{"tpm12_0000", TpmKind::Tpm12, {0x00, 0x00}, 2},
        TagCase{"tpm12_no_mssim", TpmKind::Tpm12, {0x00, 0x00, 0x00, 0x08}, 2}),
    [](const ::testing::TestParamInfo<TagCase>& i) { return std::string(i.param.name); });

// QEMU's version probe is a TPM 2 command even towards a TPM 1.2 (ref §2.1): it is framed, and
// libtpms answers it.
TEST(DataFramer, Tpm12FramesQemusTpm2Probe) {
  sw::DataFramer f(TpmKind::Tpm12, kBuf);
  EXPECT_EQ(f.feed(kQemuProbe.data(), kQemuProbe.size()), kQemuProbe.size());
  ASSERT_EQ(f.status(), FrameStatus::Frame);
  EXPECT_EQ(f.frame_size(), kQemuProbe.size());
}

TEST(DataFramer, AnyNonZeroTagIsFramedForLibtpmsToJudge) {
  for (uint16_t tag : {0x1234, 0x00c1, 0x8003, 0xffff}) {
    const Bytes b = command(tag, 10, 0x17b, 0);
    for (TpmKind k : {TpmKind::Tpm2, TpmKind::Tpm12}) {
      sw::DataFramer f(k, kBuf);
      EXPECT_EQ(f.feed(b.data(), b.size()), b.size());
      EXPECT_EQ(f.status(), FrameStatus::Frame) << std::hex << tag;
    }
  }
}

TEST(DataFramer, EveryValidTagIsAccepted) {
  for (uint16_t tag : {0x8001, 0x8002}) {
    sw::DataFramer f(TpmKind::Tpm2, kBuf);
    const Bytes b = command(tag, 10, 0x17b, 0);
    f.feed(b.data(), b.size());
    EXPECT_EQ(f.status(), FrameStatus::Frame) << tag;
  }
  for (uint16_t tag : {0x00c1, 0x00c2, 0x00c3}) {
    sw::DataFramer f(TpmKind::Tpm12, kBuf);
    const Bytes b = command(tag, 10, 0xf1, 0);
    f.feed(b.data(), b.size());
    EXPECT_EQ(f.status(), FrameStatus::Frame) << tag;
  }
}

// ---- splits ------------------------------------------------------------------------------------

// Feeds `b` split at `cut` (and, when `bytewise`, one byte at a time) and returns the frame.
Bytes frame_after_split(TpmKind kind, const Bytes& b, size_t cut, bool bytewise) {
  sw::DataFramer f(kind, kBuf);
  size_t off = 0;
  auto feed = [&](size_t end) {
    while (off < end && f.status() == FrameStatus::NeedMore) {
      const size_t step = bytewise ? 1 : end - off;
      off += f.feed(b.data() + off, step);
    }
  };
  feed(cut);
  EXPECT_EQ(f.status(), cut < b.size() ? FrameStatus::NeedMore : FrameStatus::Frame) << cut;
  feed(b.size());
  EXPECT_EQ(off, b.size());
  EXPECT_EQ(f.status(), FrameStatus::Frame);
  return frame_bytes(f);
}

TEST(DataFramer, EverySplitOfACommandGivesTheSameFrame) {
  const Bytes b = command(0x8002, 30, 0x17e, 20);
  for (size_t cut = 0; cut <= b.size(); ++cut) {
    EXPECT_EQ(frame_after_split(TpmKind::Tpm2, b, cut, false), b) << "cut at " << cut;
    EXPECT_EQ(frame_after_split(TpmKind::Tpm2, b, cut, true), b) << "cut at " << cut;
  }
  const Bytes b12 = command(0x00c1, 14, 0x99, 4);
  for (size_t cut = 0; cut <= b12.size(); ++cut)
    EXPECT_EQ(frame_after_split(TpmKind::Tpm12, b12, cut, false), b12) << "cut at " << cut;
}

// ---- TPM_SEND_COMMAND (MS simulator) prefix ----------------------------------------------------

Bytes mssim(uint8_t locality, uint32_t size, const Bytes& cmd) {
  Bytes b = {0x00, 0x00, 0x00, 0x08, locality, uint8_t(size >> 24), uint8_t(size >> 16),
             uint8_t(size >> 8), uint8_t(size)};
  b.insert(b.end(), cmd.begin(), cmd.end());
  return b;
}

TEST(DataFramer, MssimPrefixCarriesLocalityAndIsNotPartOfTheFrame) {
  // ref §1.5 observed: 00000008 03 0000000c <Startup>.
  const Bytes b = mssim(3, 12, kStartup);
  for (size_t cut = 0; cut <= b.size(); ++cut) {
    sw::DataFramer f(TpmKind::Tpm2, kBuf);
    size_t used = f.feed(b.data(), cut);
    used += f.feed(b.data() + used, b.size() - used);
    ASSERT_EQ(f.status(), FrameStatus::Frame) << cut;
    EXPECT_EQ(used, b.size());
    EXPECT_TRUE(f.mssim());
    EXPECT_TRUE(f.has_locality());
    EXPECT_EQ(f.locality(), 3);
    EXPECT_EQ(frame_bytes(f), kStartup);
  }
}

TEST(DataFramer, PlainCommandHasNoLocality) {
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  f.feed(kQemuProbe.data(), kQemuProbe.size());
  ASSERT_EQ(f.status(), FrameStatus::Frame);
  EXPECT_FALSE(f.mssim());
  EXPECT_FALSE(f.has_locality());
  EXPECT_EQ(frame_bytes(f), kQemuProbe);
}

TEST(DataFramer, PlainAndMssimCommandsMayAlternateOnOneConnection) {
  Bytes b = kQemuProbe;
  const Bytes m = mssim(0, 12, kStartup);
  b.insert(b.end(), m.begin(), m.end());
  b.insert(b.end(), kStartup.begin(), kStartup.end());
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  size_t off = 0;
  std::vector<bool> kinds;
  for (int i = 0; i < 3; ++i) {
    off += f.feed(b.data() + off, b.size() - off);
    ASSERT_EQ(f.status(), FrameStatus::Frame);
    kinds.push_back(f.mssim());
    f.reset();
  }
  EXPECT_EQ(off, b.size());
  EXPECT_EQ(kinds, (std::vector<bool>{false, true, false}));
}

struct MssimCase {
  const char* name;
  uint32_t prefix_size;
  Bytes cmd;
  FrameError error;
};

class MssimBad : public ::testing::TestWithParam<MssimCase> {};

TEST_P(MssimBad, IsAnErrorAnsweredInsideTheMssimWrapper) {
  const MssimCase& c = GetParam();
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  const Bytes b = mssim(0, c.prefix_size, c.cmd);
  f.feed(b.data(), b.size());
  EXPECT_EQ(f.status(), FrameStatus::Error);
  EXPECT_EQ(f.error(), c.error);
  EXPECT_TRUE(f.mssim());
  const Bytes& inner = c.error == FrameError::BadTag ? kTpm2TagErr : kTpm2SizeErr;
  Bytes want = {0x00, 0x00, 0x00, 0x0a};
  want.insert(want.end(), inner.begin(), inner.end());
  want.insert(want.end(), {0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(error_response(f), want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, MssimBad,
    ::testing::Values(
        MssimCase{"prefix_size_0", 0, kStartup, FrameError::SizeTooSmall},
        MssimCase{"prefix_size_9", 9, kStartup, FrameError::SizeTooSmall},
        MssimCase{"prefix_size_buffer_plus_1", kBuf + 1, kStartup, FrameError::SizeTooLarge},
        MssimCase{"prefix_size_2p32m1", 0xffffffffu, kStartup, FrameError::SizeTooLarge},
        MssimCase{"prefix_size_differs", 13, kStartup, FrameError::MssimSizeMismatch},
        MssimCase{"inner_size_9", 12, command(0x8001, 9, 0x144, 2), FrameError::SizeTooSmall},
        MssimCase{"inner_tag_0000", 12, command(0x0000, 12, 0x99, 2), FrameError::BadTag}),
    [](const ::testing::TestParamInfo<MssimCase>& i) { return std::string(i.param.name); });

TEST(DataFramer, WrapMssimReplyMatchesTheObservedBytes) {
  // ref §1.5 observed reply: 0000000a 80010000000a00000000 00000000.
  const Bytes resp = {0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00};
  const Bytes want = {0x00, 0x00, 0x00, 0x0a, 0x80, 0x01, 0x00, 0x00, 0x00, 0x0a,
                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  uint8_t out[32];
  ASSERT_EQ(sw::wrap_mssim_reply(resp.data(), resp.size(), out, sizeof out), 18u);
  EXPECT_EQ(Bytes(out, out + 18), want);
  // In place: the response already sits 4 bytes into the output.
  uint8_t buf[18] = {};
  std::copy(resp.begin(), resp.end(), buf + 4);
  ASSERT_EQ(sw::wrap_mssim_reply(buf + 4, resp.size(), buf, sizeof buf), 18u);
  EXPECT_EQ(Bytes(buf, buf + 18), want);
  // Capacity: one byte short writes nothing.
  uint8_t small[18] = {};
  small[17] = 0xee;
  EXPECT_EQ(sw::wrap_mssim_reply(resp.data(), resp.size(), small, 17), 0u);
  EXPECT_EQ(small[17], 0xee);
}

// ---- error responses and buffer size -----------------------------------------------------------

TEST(DataFramer, ErrorResponseNeedsTenBytesAndAnError) {
  uint8_t out[10];
  EXPECT_EQ(sw::tpm_error_response(out, 9, TpmKind::Tpm2, FrameError::BadTag), 0u);
  EXPECT_EQ(sw::tpm_error_response(out, 10, TpmKind::Tpm2, FrameError::None), 0u);
  EXPECT_EQ(sw::tpm_error_response(out, 10, TpmKind::Tpm12, FrameError::SizeTooLarge), 10u);
  EXPECT_EQ(Bytes(out, out + 10), kTpm12SizeErr);
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  EXPECT_EQ(f.error_response(out, sizeof out), 0u) << "no error, no response";
}

TEST(DataFramer, SetBufferSizeAppliesToTheNextHeader) {
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  EXPECT_EQ(f.capacity(), kBuf);
  EXPECT_FALSE(f.set_buffer_size(9));
  EXPECT_FALSE(f.set_buffer_size(kBuf + 1));
  ASSERT_TRUE(f.set_buffer_size(3968));  // QEMU's CRB size (ref §2.2)
  const Bytes big = command(0x8001, 3969, 0x144, 3959);
  f.feed(big.data(), big.size());
  EXPECT_EQ(f.error(), FrameError::SizeTooLarge);
  f.reset();
  const Bytes fits = command(0x8001, 3968, 0x144, 3958);
  EXPECT_EQ(f.feed(fits.data(), fits.size()), fits.size());
  EXPECT_EQ(f.status(), FrameStatus::Frame);
}

TEST(DataFramer, SmallInitialBufferStillHasRoomForTheLargest) {
  sw::DataFramer f(TpmKind::Tpm2, 2808);
  EXPECT_EQ(f.buffer_size(), 2808u);
  EXPECT_EQ(f.capacity(), sw::kMaxTpmBuffer);
  EXPECT_TRUE(f.set_buffer_size(4096));
}

TEST(DataFramer, ResetForgetsAPartialCommand) {
  sw::DataFramer f(TpmKind::Tpm2, kBuf);
  f.feed(kStartup.data(), 7);
  ASSERT_TRUE(f.in_progress());
  f.reset();
  EXPECT_FALSE(f.in_progress());
  EXPECT_EQ(f.feed(kQemuProbe.data(), kQemuProbe.size()), kQemuProbe.size());
  EXPECT_EQ(frame_bytes(f), kQemuProbe);
}
