// CtrlDecoder and the reply encoders against reference/swtpm-qemu.md §1.1-1.3: every opcode with
// a body one short, exact and one long; unknown opcodes; the deadline; SET_STATEBLOB and HASH_DATA
// payloads over several feeds; typed fields; and each reply's bytes, written out by hand from the
// ptm_* layouts of the reference (not computed with the code under test).
#include "transports/swtpm/ctrl_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sw = vtpm::transports::swtpm;
namespace rc = vtpm::engine::rc;
using Bytes = std::vector<uint8_t>;
using sw::CtrlCmd;
using sw::CtrlStatus;

namespace {

Bytes be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes filler(size_t n, uint8_t seed = 1) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 13);
  return b;
}

// Feeds one burst and returns what was used.
size_t feed(sw::CtrlDecoder& d, const Bytes& b) { return d.feed(b.data(), b.size()); }

}  // namespace

// ---- every opcode: body length expected-1, expected, expected+1 ---------------------------------

struct OpCase {
  const char* name;
  CtrlCmd cmd;
  size_t body;          // the exact body length (ref §1.2)
  bool at_least;        // SET_LOCALITY / RESET_TPMESTABLISHED: >= 1 byte, the rest ignored
};

const OpCase kOps[] = {
    {"get_capability", CtrlCmd::GetCapability, 0, false},
    {"init", CtrlCmd::Init, 4, false},
    {"shutdown", CtrlCmd::Shutdown, 0, false},
    {"get_tpmestablished", CtrlCmd::GetTpmEstablished, 0, false},
    {"set_locality", CtrlCmd::SetLocality, 1, true},
    {"hash_start", CtrlCmd::HashStart, 0, false},
    {"hash_data_len0", CtrlCmd::HashData, 4, false},  // length 0 = exactly the length field
    {"hash_end", CtrlCmd::HashEnd, 0, false},
    {"cancel_tpm_cmd", CtrlCmd::CancelTpmCmd, 0, false},
    {"store_volatile", CtrlCmd::StoreVolatile, 0, false},
    {"reset_tpmestablished", CtrlCmd::ResetTpmEstablished, 1, true},
    {"get_stateblob", CtrlCmd::GetStateBlob, 12, false},
    {"set_stateblob_len0", CtrlCmd::SetStateBlob, 12, false},  // length 0 clears the blob
    {"stop", CtrlCmd::Stop, 0, false},
    {"get_config", CtrlCmd::GetConfig, 0, false},
    {"set_datafd", CtrlCmd::SetDataFd, 0, false},
    {"set_buffersize", CtrlCmd::SetBufferSize, 4, false},
    {"get_info", CtrlCmd::GetInfo, 16, false},
};

class EveryOpcode : public ::testing::TestWithParam<OpCase> {
 protected:
  // Opcode then `len` body bytes; all zero, so HASH_DATA and SET_STATEBLOB announce length 0.
  Bytes message(size_t len) const { return cat({be32(uint32_t(GetParam().cmd)), Bytes(len, 0)}); }
};

TEST_P(EveryOpcode, OneByteShortWaitsThenFailsAtTheDeadline) {
  const OpCase& c = GetParam();
  sw::CtrlDecoder d;
  const Bytes m = message(c.body);
  EXPECT_EQ(d.feed(m.data(), m.size() - 1), m.size() - 1);
  EXPECT_EQ(d.status(), CtrlStatus::NeedMore);
  EXPECT_TRUE(d.in_progress());
  EXPECT_EQ(d.expected_total(), c.body == 0 ? 4u : 4u + c.body);
  d.on_deadline();
  EXPECT_EQ(d.status(), CtrlStatus::Error);
  EXPECT_EQ(d.error_code(), rc::kBadParameter);
}

TEST_P(EveryOpcode, ExactBodyCompletes) {
  const OpCase& c = GetParam();
  sw::CtrlDecoder d;
  const Bytes m = message(c.body);
  EXPECT_EQ(feed(d, m), m.size());
  ASSERT_EQ(d.status(), CtrlStatus::Complete) << d.error_text();
  EXPECT_EQ(d.request().cmd, c.cmd);
  EXPECT_EQ(d.request().opcode, uint32_t(c.cmd));
  EXPECT_EQ(d.received(), m.size());
  EXPECT_EQ(d.expected_total(), m.size());
  EXPECT_FALSE(d.in_progress());
  EXPECT_EQ(feed(d, m), 0u) << "Complete takes nothing until reset()";
}

TEST_P(EveryOpcode, OneByteLongIsBadParameterUnlessAtLeastOne) {
  const OpCase& c = GetParam();
  sw::CtrlDecoder d;
  const Bytes m = message(c.body + 1);
  EXPECT_EQ(feed(d, m), m.size()) << "the whole burst is consumed either way";
  if (c.at_least) {
    ASSERT_EQ(d.status(), CtrlStatus::Complete);
    EXPECT_EQ(d.request().cmd, c.cmd);
  } else {
    ASSERT_EQ(d.status(), CtrlStatus::Error);
    EXPECT_EQ(d.error_code(), rc::kBadParameter);
  }
}

TEST_P(EveryOpcode, SplitAtEveryByteStillCompletes) {
  const OpCase& c = GetParam();
  const Bytes m = message(c.body);
  for (size_t cut = 1; cut < m.size(); ++cut) {
    sw::CtrlDecoder d;
    EXPECT_EQ(d.feed(m.data(), cut), cut);
    EXPECT_EQ(d.status(), CtrlStatus::NeedMore);
    EXPECT_EQ(d.feed(m.data() + cut, m.size() - cut), m.size() - cut);
    EXPECT_EQ(d.status(), CtrlStatus::Complete) << "cut at " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, EveryOpcode, ::testing::ValuesIn(kOps),
                         [](const ::testing::TestParamInfo<OpCase>& i) { return std::string(i.param.name); });

// ---- unknown opcodes and the deadline ----------------------------------------------------------

class UnknownOpcode : public ::testing::TestWithParam<uint32_t> {};

TEST_P(UnknownOpcode, IsBadOrdinalOnceFourBytesAreThere) {
  const Bytes op = be32(GetParam());
  sw::CtrlDecoder d;
  EXPECT_EQ(d.feed(op.data(), 3), 3u);
  EXPECT_EQ(d.status(), CtrlStatus::NeedMore) << "three bytes are not yet an opcode";
  EXPECT_EQ(d.feed(op.data() + 3, 1), 1u);
  ASSERT_EQ(d.status(), CtrlStatus::Error);
  EXPECT_EQ(d.error_code(), rc::kBadOrdinal);
  EXPECT_EQ(d.request().opcode, GetParam());
  // With a body in the same burst: the same answer, the burst consumed.
  sw::CtrlDecoder d2;
  const Bytes m = cat({op, filler(20)});
  EXPECT_EQ(feed(d2, m), m.size());
  EXPECT_EQ(d2.error_code(), rc::kBadOrdinal);
}

INSTANTIATE_TEST_SUITE_P(Table, UnknownOpcode,
                         ::testing::Values(0x00u, 0x14u, 0x20u, 0xffu, 0x100u, 0x0101u, 0x01000001u,
                                           0x80000002u, 0xffffffffu));

TEST(CtrlDecoder, ShortOpcodeAtTheDeadlineIsBadParameter) {
  sw::CtrlDecoder d;
  const Bytes b = {0x00, 0x00};
  feed(d, b);
  EXPECT_EQ(d.expected_total(), 4u);
  d.on_deadline();
  EXPECT_EQ(d.status(), CtrlStatus::Error);
  EXPECT_EQ(d.error_code(), rc::kBadParameter);
}

TEST(CtrlDecoder, DeadlineWhileIdleOrCompleteChangesNothing) {
  sw::CtrlDecoder d;
  d.on_deadline();
  EXPECT_EQ(d.status(), CtrlStatus::NeedMore);
  EXPECT_FALSE(d.in_progress());
  feed(d, be32(0x01));
  d.on_deadline();
  EXPECT_EQ(d.status(), CtrlStatus::Complete);
}

TEST(CtrlDecoder, ResetStartsAFreshMessage) {
  sw::CtrlDecoder d;
  feed(d, cat({be32(0x02), be32(1)}));
  ASSERT_EQ(d.request().init_flags, 1u);
  d.reset();
  EXPECT_EQ(d.received(), 0u);
  feed(d, be32(0x0e));
  EXPECT_EQ(d.status(), CtrlStatus::Complete);
  EXPECT_EQ(d.request().cmd, CtrlCmd::Stop);
  EXPECT_EQ(d.request().init_flags, 0u) << "fields of the previous request are cleared";
}

// ---- typed fields ------------------------------------------------------------------------------

TEST(CtrlDecoder, InitFlags) {
  sw::CtrlDecoder d;
  feed(d, cat({be32(0x02), be32(sw::kInitFlagDeleteVolatile)}));
  ASSERT_EQ(d.status(), CtrlStatus::Complete);
  EXPECT_EQ(d.request().init_flags, 1u);
}

TEST(CtrlDecoder, SetLocalityAsQemuAndTctiSwtpmSendIt) {
  sw::CtrlDecoder qemu;  // ref §2.3: 4-byte body loc,0,0,0
  feed(qemu, Bytes{0, 0, 0, 0x05, 3, 0, 0, 0});
  ASSERT_EQ(qemu.status(), CtrlStatus::Complete);
  EXPECT_EQ(qemu.request().locality, 3);
  sw::CtrlDecoder tcti;  // ref §1.6: 1-byte body
  feed(tcti, Bytes{0, 0, 0, 0x05, 4});
  ASSERT_EQ(tcti.status(), CtrlStatus::Complete);
  EXPECT_EQ(tcti.request().locality, 4);
  sw::CtrlDecoder bad;  // the decoder passes 0xff on; the machine answers 0x3d
  feed(bad, Bytes{0, 0, 0, 0x0b, 0xff, 0, 0, 0});
  ASSERT_EQ(bad.status(), CtrlStatus::Complete);
  EXPECT_EQ(bad.request().cmd, CtrlCmd::ResetTpmEstablished);
  EXPECT_EQ(bad.request().locality, 0xff);
}

TEST(CtrlDecoder, GetStateBlobFields) {
  sw::CtrlDecoder d;  // ref §2.4: 0c 00000001 00000002 00000000
  feed(d, cat({be32(0x0c), be32(1), be32(2), be32(0x1234)}));
  ASSERT_EQ(d.status(), CtrlStatus::Complete);
  EXPECT_EQ(d.request().state_flags, sw::kStateFlagDecrypted);
  EXPECT_EQ(d.request().blob_type, 2u);
  EXPECT_EQ(d.request().offset, 0x1234u);
}

TEST(CtrlDecoder, GetInfoFields) {
  sw::CtrlDecoder d;  // flags u64 BE, offset, pad
  feed(d, Bytes{0, 0, 0, 0x12, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x03,
                0x00, 0x00, 0x0c, 0x00, 0xde, 0xad, 0xbe, 0xef});
  ASSERT_EQ(d.status(), CtrlStatus::Complete);
  EXPECT_EQ(d.request().info_flags, 0x0000000180000003ull);
  EXPECT_EQ(d.request().info_offset, 3072u);
}

TEST(CtrlDecoder, SetBufferSizeFields) {
  for (uint32_t size : {0u, 0x0f80u, 4096u, 0xffffffffu}) {  // 0 = query; QEMU's CRB 0x0f80
    sw::CtrlDecoder d;
    feed(d, cat({be32(0x11), be32(size)}));
    ASSERT_EQ(d.status(), CtrlStatus::Complete);
    EXPECT_EQ(d.request().buffer_size, size);
  }
}

TEST(CtrlDecoder, LockStorageIsUnknownAsInSwtpm071) {
  sw::CtrlDecoder d;  // QEMU sends CMD_LOCK_STORAGE(300) only when the caps advertise it
  feed(d, cat({be32(0x13), be32(300)}));
  ASSERT_EQ(d.status(), CtrlStatus::Error);
  EXPECT_EQ(d.error_code(), 0x0au);
}

// ---- SET_STATEBLOB -----------------------------------------------------------------------------

TEST(CtrlDecoder, SetStateBlobInSeveralParts) {
  // ref §2.5: QEMU writes the header, then the blob in a separate write.
  const Bytes blob = filler(10000, 7);
  const Bytes header = cat({be32(0x0d), be32(sw::kStateFlagEncrypted), be32(1), be32(10000)});
  sw::CtrlDecoder d;
  EXPECT_EQ(feed(d, Bytes(header.begin(), header.begin() + 9)), 9u);
  EXPECT_EQ(d.expected_total(), 16u);
  EXPECT_EQ(feed(d, Bytes(header.begin() + 9, header.end())), 7u);
  EXPECT_EQ(d.status(), CtrlStatus::NeedMore);
  EXPECT_EQ(d.expected_total(), 16u + 10000u);
  size_t off = 0;
  for (size_t part : {4096u, 1u, 3000u}) {
    EXPECT_EQ(d.feed(blob.data() + off, part), part);
    EXPECT_EQ(d.status(), CtrlStatus::NeedMore);
    off += part;
  }
  EXPECT_EQ(d.feed(blob.data() + off, blob.size() - off), blob.size() - off);
  ASSERT_EQ(d.status(), CtrlStatus::Complete);
  const sw::CtrlRequest& r = d.request();
  EXPECT_EQ(r.cmd, CtrlCmd::SetStateBlob);
  EXPECT_EQ(r.state_flags, sw::kStateFlagEncrypted);
  EXPECT_EQ(r.blob_type, 1u);
  EXPECT_EQ(r.blob_length, 10000u);
  EXPECT_EQ(Bytes(r.blob.begin(), r.blob.end()), blob);
  EXPECT_EQ(d.received(), 16u + 10000u);
}

TEST(CtrlDecoder, SetStateBlobInOneBurst) {
  const Bytes blob = filler(33);
  sw::CtrlDecoder d;
  feed(d, cat({be32(0x0d), be32(0), be32(2), be32(33), blob}));
  ASSERT_EQ(d.status(), CtrlStatus::Complete);
  EXPECT_EQ(Bytes(d.request().blob.begin(), d.request().blob.end()), blob);
}

TEST(CtrlDecoder, SetStateBlobWithBytesBeyondItsLengthIsBadParameter) {
  sw::CtrlDecoder d;
  feed(d, cat({be32(0x0d), be32(0), be32(2), be32(3), filler(4)}));
  EXPECT_EQ(d.status(), CtrlStatus::Error);
  EXPECT_EQ(d.error_code(), rc::kBadParameter);
}

TEST(CtrlDecoder, SetStateBlobAtTheLimitIsAccepted) {
  sw::CtrlDecoder d;
  ASSERT_EQ(d.max_blob(), 512u * 1024u);
  const Bytes blob = filler(512 * 1024, 3);
  feed(d, cat({be32(0x0d), be32(0), be32(1), be32(512 * 1024)}));
  EXPECT_EQ(feed(d, blob), blob.size());
  ASSERT_EQ(d.status(), CtrlStatus::Complete);
  EXPECT_EQ(d.request().blob.size(), blob.size());
  EXPECT_EQ(d.request().blob.back(), blob.back());
}

TEST(CtrlDecoder, SetStateBlobAboveTheLimitIsFail) {
  sw::CtrlDecoder d;
  const Bytes m = cat({be32(0x0d), be32(0), be32(1), be32(512 * 1024 + 1), filler(100)});
  EXPECT_EQ(feed(d, m), m.size());
  ASSERT_EQ(d.status(), CtrlStatus::Error);
  EXPECT_EQ(d.error_code(), rc::kFail);
  sw::CtrlDecoder huge;
  feed(huge, cat({be32(0x0d), be32(0), be32(1), be32(0xffffffff)}));
  EXPECT_EQ(huge.error_code(), rc::kFail);
}

TEST(CtrlDecoder, SetStateBlobShortAtTheDeadlineIsBadParameter) {
  sw::CtrlDecoder d;
  feed(d, cat({be32(0x0d), be32(0), be32(1), be32(10), filler(5)}));
  ASSERT_EQ(d.status(), CtrlStatus::NeedMore);
  d.on_deadline();
  EXPECT_EQ(d.error_code(), rc::kBadParameter);
}

// ---- HASH_DATA ---------------------------------------------------------------------------------

// Feeds `m` in bursts of `burst` bytes and returns the concatenated chunks, counting HashChunks.
Bytes hash_all(sw::CtrlDecoder& d, const Bytes& m, size_t burst, int& chunks) {
  Bytes data;
  chunks = 0;
  size_t off = 0;
  for (int guard = 0; off < m.size() && guard < 100000; ++guard) {
    const size_t n = std::min(burst, m.size() - off);
    off += d.feed(m.data() + off, n);
    if (d.status() == CtrlStatus::HashChunk || d.status() == CtrlStatus::Complete) {
      data.insert(data.end(), d.request().hash_data.begin(), d.request().hash_data.end());
      if (d.status() == CtrlStatus::HashChunk) ++chunks;
    }
    if (d.status() == CtrlStatus::Complete || d.status() == CtrlStatus::Error) break;
  }
  EXPECT_EQ(off, m.size());
  return data;
}

TEST(CtrlDecoder, HashDataAsSwtpmsTestSendsIt) {
  // swtpm tests/test_ctrlchannel: 00 00 00 07 00 00 20 00 and 0x2000 bytes, more than one
  // 4096-byte ptm_hdata; the socket accepts any length (ref §1.2).
  const Bytes data = filler(0x2000, 5);
  const Bytes m = cat({be32(0x07), be32(0x2000), data});
  for (size_t burst : {m.size(), size_t{4104}, size_t{1000}, size_t{1}}) {
    sw::CtrlDecoder d;
    int chunks = 0;
    EXPECT_EQ(hash_all(d, m, burst, chunks), data) << burst;
    EXPECT_EQ(chunks, 1) << "4096 + the last 4096 in Complete";
    EXPECT_EQ(d.status(), CtrlStatus::Complete);
    EXPECT_EQ(d.request().hash_length, 0x2000u);
    EXPECT_EQ(d.request().hash_data.size(), 4096u);
  }
}

TEST(CtrlDecoder, HashChunkLeavesTheRestOfTheBurstToTheCaller) {
  sw::CtrlDecoder d(1024, 16);
  const Bytes m = cat({be32(0x07), be32(40), filler(40)});
  EXPECT_EQ(feed(d, m), 8u + 16u);
  ASSERT_EQ(d.status(), CtrlStatus::HashChunk);
  EXPECT_TRUE(d.in_progress());
  EXPECT_EQ(d.request().hash_data.size(), 16u);
  EXPECT_EQ(d.expected_total(), 48u);
  EXPECT_EQ(d.feed(m.data() + 24, m.size() - 24), 16u);
  ASSERT_EQ(d.status(), CtrlStatus::HashChunk);
  EXPECT_EQ(d.feed(m.data() + 40, m.size() - 40), 8u);
  ASSERT_EQ(d.status(), CtrlStatus::Complete);
  EXPECT_EQ(d.request().hash_data.size(), 8u);
}

TEST(CtrlDecoder, HashDataTooLongForItsLengthIsBadParameter) {
  sw::CtrlDecoder d;
  feed(d, cat({be32(0x07), be32(4), filler(5)}));
  EXPECT_EQ(d.status(), CtrlStatus::Error);
  EXPECT_EQ(d.error_code(), rc::kBadParameter);
}

TEST(CtrlDecoder, HashDataShortAtTheDeadlineIsBadParameter) {
  for (size_t have : {0u, 3u}) {
    sw::CtrlDecoder d;
    feed(d, cat({be32(0x07), be32(4), filler(have)}));
    ASSERT_EQ(d.status(), CtrlStatus::NeedMore);
    d.on_deadline();
    EXPECT_EQ(d.error_code(), rc::kBadParameter);
  }
}

// ---- replies -----------------------------------------------------------------------------------

// Runs `enc` into a buffer of exactly the expected size and of one byte less (which must write
// nothing and return 0), and returns the bytes.
template <typename Enc>
Bytes encoded(size_t want, Enc enc) {
  Bytes small(want + 1, 0xee);
  EXPECT_EQ(enc(small.data(), want - 1), 0u) << "one byte short";
  EXPECT_EQ(small, Bytes(want + 1, 0xee)) << "nothing written when it does not fit";
  Bytes out(want + 8, 0xee);
  EXPECT_EQ(enc(out.data(), want), want);
  EXPECT_EQ(out[want], 0xee) << "nothing written past the reply";
  out.resize(want);
  return out;
}

TEST(CtrlReplies, PlainResult) {
  EXPECT_EQ(encoded(4, [](uint8_t* o, size_t c) { return sw::encode_result(o, c, 0); }),
            (Bytes{0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(encoded(4, [](uint8_t* o, size_t c) { return sw::encode_error(o, c, rc::kBadOrdinal); }),
            (Bytes{0x00, 0x00, 0x00, 0x0a}));
  EXPECT_EQ(encoded(4, [](uint8_t* o, size_t c) { return sw::encode_error(o, c, rc::kRetry); }),
            (Bytes{0x00, 0x00, 0x08, 0x00}));
}

TEST(CtrlReplies, Capability) {
  // ref §2.1: 0.7.1 answers "… 0000ffff" (ptm_cap_n {0, caps}).
  EXPECT_EQ(encoded(8, [](uint8_t* o, size_t c) { return sw::encode_capability(o, c, 0xffff); }),
            (Bytes{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff}));
}

TEST(CtrlReplies, Established) {
  // swtpm tests/test_ctrlchannel expects " 00 00 00 00 01 00 00 00" after HASH_END.
  EXPECT_EQ(encoded(8, [](uint8_t* o, size_t c) { return sw::encode_established(o, c, true); }),
            (Bytes{0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}));
  EXPECT_EQ(encoded(8, [](uint8_t* o, size_t c) { return sw::encode_established(o, c, false); }),
            (Bytes{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
}

TEST(CtrlReplies, Config) {
  EXPECT_EQ(encoded(8, [](uint8_t* o, size_t c) { return sw::encode_config(o, c, 3); }),
            (Bytes{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03}));
}

TEST(CtrlReplies, BufferSize) {
  // ref §2.2: SET_BUFFERSIZE(0) → 0, 4096, 2808, 4096.
  EXPECT_EQ(encoded(16, [](uint8_t* o, size_t c) { return sw::encode_buffer_size(o, c, 4096, 2808, 4096); }),
            (Bytes{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                   0x00, 0x00, 0x0a, 0xf8, 0x00, 0x00, 0x10, 0x00}));
}

TEST(CtrlReplies, StateBlobFromOffset) {
  const Bytes blob = {0x01, 0x02, 0x03, 0x04, 0x05};
  EXPECT_EQ(encoded(19, [&](uint8_t* o, size_t c) { return sw::encode_state_blob(o, c, 0, 2, blob, 2); }),
            (Bytes{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
                   0x00, 0x00, 0x00, 0x03, 0x03, 0x04, 0x05}));
}

TEST(CtrlReplies, StateBlobErrorsAndEmpty) {
  // ref §1.4: TPM2 savestate → tpm_result 0x800, totlength 0 (16-byte header even on error).
  const Bytes header_800 = {0x00, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(encoded(16, [](uint8_t* o, size_t c) { return sw::encode_state_blob(o, c, rc::kRetry, 0, {}, 0); }),
            header_800);
  const Bytes blob = {9, 9, 9};
  EXPECT_EQ(encoded(16, [&](uint8_t* o, size_t c) { return sw::encode_state_blob(o, c, rc::kRetry, 0, blob, 0); }),
            header_800)
      << "no data with an error";
  EXPECT_EQ(encoded(16, [&](uint8_t* o, size_t c) { return sw::encode_state_blob(o, c, 0, 0, blob, 3); }),
            (Bytes(16, 0x00)))
      << "offset at the end: nothing left";
  EXPECT_EQ(encoded(16, [&](uint8_t* o, size_t c) { return sw::encode_state_blob(o, c, 0, 0, blob, 0xffffffff); }),
            (Bytes(16, 0x00)));
  EXPECT_EQ(encoded(16, [](uint8_t* o, size_t c) { return sw::encode_state_blob_header(o, c, 0, 2, 0x529, 0x529); }),
            (Bytes{0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0x05, 0x29, 0, 0, 0x05, 0x29}));
}

TEST(CtrlReplies, InfoWithItsNul) {
  const std::string json = "{\"a\":1}";  // 7 bytes; totlength 8 with the NUL
  EXPECT_EQ(encoded(20, [&](uint8_t* o, size_t c) { return sw::encode_info(o, c, json, 0); }),
            (Bytes{0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, '{', '"', 'a', '"', ':', '1', '}', 0}));
  EXPECT_EQ(encoded(17, [&](uint8_t* o, size_t c) { return sw::encode_info(o, c, json, 3); }),
            (Bytes{0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 5, '"', ':', '1', '}', 0}));
  EXPECT_EQ(encoded(4, [&](uint8_t* o, size_t c) { return sw::encode_info(o, c, json, 7); }),
            (Bytes{0, 0, 0, 0x03}))
      << "offset >= strlen: swtpm's TPM_BAD_PARAMETER";
}

TEST(CtrlReplies, InfoLongerThanOneChunk) {
  const std::string json(4000, 'x');
  Bytes out(12 + 3072);
  ASSERT_EQ(sw::encode_info(out.data(), out.size(), json, 0), 12u + 3072u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 12),
            (Bytes{0, 0, 0, 0, 0, 0, 0x0f, 0xa1, 0, 0, 0x0c, 0x00}));  // 4001, 3072
  EXPECT_EQ(out.back(), 'x');
  ASSERT_EQ(sw::encode_info(out.data(), out.size(), json, 3072), 12u + 929u);  // 928 + NUL
  EXPECT_EQ(Bytes(out.begin() + 8, out.begin() + 12), (Bytes{0, 0, 0x03, 0xa1}));
  EXPECT_EQ(out[12 + 928], 0);
}

TEST(CtrlReplies, NullOutputIsRefused) {
  EXPECT_EQ(sw::encode_result(nullptr, 100, 0), 0u);
  EXPECT_EQ(sw::encode_capability(nullptr, 100, 0), 0u);
}

// ---- capability word ---------------------------------------------------------------------------

TEST(CtrlCapabilities, MatchSwtpm071AndCoverQemusMinimum) {
  using vtpm::engine::TpmVersion;
  EXPECT_EQ(sw::capabilities(TpmVersion::Tpm2), 0xffffu);
  EXPECT_EQ(sw::capabilities(TpmVersion::Tpm12), 0x7fffu);
  EXPECT_EQ(sw::capabilities(TpmVersion::Tpm2) & 0x348fu, 0x348fu);   // ref §1.3 QEMU TPM2 minimum
  EXPECT_EQ(sw::capabilities(TpmVersion::Tpm12) & 0x340fu, 0x340fu);  // TPM 1.2 minimum
  EXPECT_EQ(sw::capabilities(TpmVersion::Tpm2) & 0x700u, 0x700u);     // no migration blocker
  EXPECT_EQ(sw::capabilities(TpmVersion::Tpm2) & sw::cap::kLockStorage, 0u);
  EXPECT_EQ(sw::cap::kGetInfo, 0x4000u);
  EXPECT_EQ(sw::cap::kSendCommandHeader, 0x8000u);
}

// The instance core's typed replies in swtpm 0.7.1's layouts (ref §1.2).
Bytes encode(const vtpm::instance::ControlReply& r, Bytes* tail_out = nullptr) {
  uint8_t out[64];
  std::span<const uint8_t> tail;
  size_t n = sw::encode_reply(out, sizeof out, r, tail);
  if (tail_out) *tail_out = Bytes(tail.begin(), tail.end());
  return Bytes(out, out + n);
}

TEST(CtrlReplies, CoreRepliesInSwtpmLayouts) {
  using vtpm::instance::ControlReply;
  using vtpm::instance::ReplyShape;
  auto reply = [](ReplyShape shape, uint32_t result = 0, uint32_t value = 0) {
    ControlReply r;
    r.shape = shape;
    r.result = result;
    r.value = value;
    return r;
  };
  EXPECT_TRUE(encode(ControlReply{}).empty()) << "nothing is sent for ReplyShape::None";
  EXPECT_EQ(encode(reply(ReplyShape::Result, 0x0a)), cat({be32(0x0a)}));
  EXPECT_EQ(encode(reply(ReplyShape::Capability, 0, 0xffff)), cat({be32(0), be32(0xffff)}));
  ControlReply est = reply(ReplyShape::Established);
  est.established = true;
  EXPECT_EQ(encode(est), (Bytes{0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(encode(reply(ReplyShape::Config, 0, 3)), cat({be32(0), be32(3)}));
  ControlReply buf = reply(ReplyShape::BufferSize);
  buf.buffer_size = 4096;
  buf.min_size = 2808;
  buf.max_size = 4096;
  EXPECT_EQ(encode(buf), cat({be32(0), be32(4096), be32(2808), be32(4096)}));
  // GET_STATEBLOB: always the 16-byte header; the data follows as the tail, unchanged
  Bytes tail;
  EXPECT_EQ(encode(reply(ReplyShape::StateBlob, 0x800), &tail), cat({be32(0x800), be32(0), be32(0), be32(0)}));
  EXPECT_TRUE(tail.empty());
  const Bytes blob = {9, 8, 7, 6, 5};
  ControlReply ok = reply(ReplyShape::StateBlob, 0, 2);
  ok.blob = blob;
  EXPECT_EQ(encode(ok, &tail), cat({be32(0), be32(2), be32(5), be32(5)}));
  EXPECT_EQ(tail, blob);
  ControlReply info = reply(ReplyShape::Info);
  info.info = "{}";
  EXPECT_EQ(encode(info), cat({be32(0), be32(3), be32(3), Bytes{'{', '}', 0}}));
}
