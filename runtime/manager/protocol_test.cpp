// The manager wire codec against runtime/manager/README.md "Wire protocol": every message's bytes are written out
// by hand from the design's table (not produced by the encoder), parsed into the expected
// fields and re-encoded to the same bytes; every truncation, size and length-field change of
// those messages is refused with its own ParseError.
#include "manager/protocol.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "wire/big_endian.h"

namespace vtpm::manager {
namespace {

// Hex with spaces allowed between bytes; "*N:XX" repeats byte XX N times.
std::vector<uint8_t> hex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < s.size();) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    } else if (s[i] == '*') {
      const size_t colon = s.find(':', i);
      const size_t n = std::stoul(s.substr(i + 1, colon - i - 1));
      const auto b = static_cast<uint8_t>(std::stoul(s.substr(colon + 1, 2), nullptr, 16));
      out.insert(out.end(), n, b);
      i = colon + 3;
    } else {
      out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

const char* kUuid = "00112233445566778899aabbccddeeff";

struct Case {
  const char* name;
  Ordinal ordinal;
  bool request;
  std::string bytes;
};

// The valid messages, spelled out from the design's table.
std::vector<Case> valid_cases() {
  const std::string u = kUuid;
  return {
      {"save52", Ordinal::SaveHashKey, true, "01c1 0000003e 00000001 *52:a5"},
      {"save64", Ordinal::SaveHashKey, true, "01c1 0000004a 00000001 *52:a5 *11:00 01"},
      {"load", Ordinal::LoadHashKey, true, "01c1 0000000a 00000002"},
      {"open", Ordinal::Open, true, "01c1 00000025 40000001 " + u + " 00000001 00000003 616263"},
      {"open_nogroup", Ordinal::Open, true, "01c1 00000022 40000001 " + u + " 00000000 00000000"},
      {"prepare", Ordinal::Prepare, true, "01c1 00000032 40000002 0000000000000007 *32:11"},
      {"commit", Ordinal::Commit, true, "01c1 00000012 40000003 0102030405060708"},
      {"status", Ordinal::Status, true, "01c1 0000000a 40000010"},
      {"list", Ordinal::List, true, "01c1 0000000a 40000011"},
      {"create", Ordinal::Create, true, "01c1 00000020 40000012 " + u + " 00000002 6731"},
      {"delete", Ordinal::Delete, true, "01c1 0000001a 40000013 " + u},
      {"group_create", Ordinal::GroupCreate, true, "01c1 00000018 40000014 00000002 6731 00000004 deadbeef"},
      {"group_approve", Ordinal::GroupApprove, true, "01c1 00000017 40000015 00000002 6731 00000003 010203"},
      {"export_recovery", Ordinal::ExportRecovery, true, "01c1 0000000a 40000016"},
      {"approval_request", Ordinal::ApprovalRequest, true, "01c1 0000001c 40000017 00000002 6731 0000000000000003 00000080"},
      {"rsp_approval_request", Ordinal::ApprovalRequest, false, "01c4 00000011 00000000 00000003 010203"},
      {"rsp_save", Ordinal::SaveHashKey, false, "01c4 0000000a 00000000"},
      {"rsp_load52", Ordinal::LoadHashKey, false, "01c4 0000003e 00000000 *52:5a"},
      {"rsp_load64", Ordinal::LoadHashKey, false, "01c4 0000004a 00000000 *52:5a *11:00 02"},
      {"rsp_open", Ordinal::Open, false, "01c4 0000007a 00000000 0000000000000009 *32:22 000000000000000a *32:44 *32:33"},
      {"rsp_prepare", Ordinal::Prepare, false, "01c4 0000000a 00000000"},
      {"rsp_commit", Ordinal::Commit, false, "01c4 0000000a 00000000"},
      {"rsp_status", Ordinal::Status, false,
       "01c4 00000028 00000000 00000003 0000000000000005 0000000000000006 00000002 0004 000b1234"},
      {"rsp_list", Ordinal::List, false,
       "01c4 0000004f 00000000 00000002 " + u + " 00000002 0000000000000004 00000001 61 " +
           "ffeeddccbbaa99887766554433221100 00000003 0000000000000000 00000000"},
      {"rsp_list_empty", Ordinal::List, false, "01c4 0000000e 00000000 00000000"},
      {"rsp_create", Ordinal::Create, false, "01c4 0000000a 00000000"},
      {"rsp_delete", Ordinal::Delete, false, "01c4 0000000a 00000000"},
      {"rsp_group_create", Ordinal::GroupCreate, false, "01c4 0000000a 00000000"},
      {"rsp_group_approve", Ordinal::GroupApprove, false, "01c4 0000000a 00000000"},
      {"rsp_export_recovery", Ordinal::ExportRecovery, false, "01c4 0000002a 00000000 *32:77"},
      {"rsp_busy", Ordinal::Open, false, "01c4 0000000a 40000007"},
      {"rsp_bad_parameter", Ordinal::SaveHashKey, false, "01c4 0000000a 00000003"},
  };
}

ParseResult parse(const Case& c, const std::vector<uint8_t>& b, size_t len) {
  if (c.request) {
    Request q;
    return parse_request(b.data(), len, q);
  }
  Response s;
  return parse_response(c.ordinal, b.data(), len, s);
}

// Parses and re-encodes: the bytes must come back unchanged.
std::vector<uint8_t> round_trip(const Case& c, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> out;
  if (c.request) {
    Request q;
    const ParseResult r = parse_request(b.data(), b.size(), q);
    EXPECT_TRUE(r.ok) << c.name << ": " << r.text;
    EXPECT_EQ(q.ordinal, c.ordinal);
    EXPECT_TRUE(encode_request(q, out));
  } else {
    Response s;
    const ParseResult r = parse_response(c.ordinal, b.data(), b.size(), s);
    EXPECT_TRUE(r.ok) << c.name << ": " << r.text;
    EXPECT_TRUE(encode_response(s, out));
  }
  return out;
}

TEST(ManagerProtocol, EveryValidMessageRoundTrips) {
  for (const Case& c : valid_cases()) {
    const auto b = hex(c.bytes);
    ASSERT_EQ(wire::get_be32(&b[2]), b.size()) << c.name << ": the test's own paramSize";
    EXPECT_EQ(round_trip(c, b), b) << c.name;
  }
}

TEST(ManagerProtocol, RequestFieldsAreTheSpecsOnes) {
  const auto uuid = hex(kUuid);
  Request q;
  auto b = hex("01c1 00000025 40000001 00112233445566778899aabbccddeeff 00000001 00000003 616263");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  EXPECT_EQ(q.ordinal, Ordinal::Open);
  EXPECT_TRUE(std::equal(uuid.begin(), uuid.end(), q.uuid.begin()));
  EXPECT_EQ(q.flags, kOpenCreate);
  EXPECT_EQ(q.group, "abc");

  b = hex("01c1 00000032 40000002 0000000000000007 *32:11");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  EXPECT_EQ(q.generation, 7u);
  EXPECT_EQ(q.digest[0], 0x11);
  EXPECT_EQ(q.digest[31], 0x11);
  EXPECT_TRUE(q.group.empty());  // reset from the Open before

  b = hex("01c1 00000012 40000003 0102030405060708");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  EXPECT_EQ(q.generation, 0x0102030405060708u);

  b = hex("01c1 0000004a 00000001 *52:a5 *11:00 01");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  ASSERT_EQ(q.xen_blob.size(), 64u);
  EXPECT_EQ(q.xen_blob.data()[0], 0xa5);
  EXPECT_EQ(q.xen_blob.data()[63], 0x01);

  b = hex("01c1 00000018 40000014 00000002 6731 00000004 deadbeef");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  EXPECT_EQ(q.group, "g1");
  EXPECT_EQ(q.spki, hex("deadbeef"));

  b = hex("01c1 00000017 40000015 00000002 6731 00000003 010203");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  EXPECT_EQ(q.approval, hex("010203"));
}

TEST(ManagerProtocol, EncoderWritesTheSpecsBytes) {
  Request q;
  q.ordinal = Ordinal::Create;
  const auto uuid = hex(kUuid);
  std::copy(uuid.begin(), uuid.end(), q.uuid.begin());
  q.group = "g1";
  std::vector<uint8_t> out;
  ASSERT_TRUE(encode_request(q, out));
  EXPECT_EQ(out, hex("01c1 00000020 40000012 00112233445566778899aabbccddeeff 00000002 6731"));

  Response s;
  s.ordinal = Ordinal::Status;
  s.state = 3;
  s.counter = 5;
  s.soft_seq = 6;
  s.records = 2;
  s.srk_name = hex("000b1234");
  ASSERT_TRUE(encode_response(s, out));
  EXPECT_EQ(out, hex("01c4 00000028 00000000 00000003 0000000000000005 0000000000000006 "
                     "00000002 0004 000b1234"));

  s.reset();
  s.ordinal = Ordinal::Open;
  s.generation = 9;
  s.digest.fill(0x22);
  s.prepared_generation = 10;
  s.prepared_digest.fill(0x44);
  const auto key = hex("*32:33");
  s.key.assign(key.data(), key.size());
  ASSERT_TRUE(encode_response(s, out));
  EXPECT_EQ(out, hex("01c4 0000007a 00000000 0000000000000009 *32:22 000000000000000a *32:44 *32:33"));

  s.status = Status::Stale;  // an error carries no body
  ASSERT_TRUE(encode_response(s, out));
  EXPECT_EQ(out, hex("01c4 0000000a 40000009"));
}

TEST(ManagerProtocol, ResponseFieldsAreTheSpecsOnes) {
  Response s;
  auto b = hex("01c4 0000004f 00000000 00000002 00112233445566778899aabbccddeeff 00000002 "
               "0000000000000004 00000001 61 ffeeddccbbaa99887766554433221100 00000003 "
               "0000000000000000 00000000");
  ASSERT_TRUE(parse_response(Ordinal::List, b.data(), b.size(), s).ok);
  ASSERT_EQ(s.entries.size(), 2u);
  EXPECT_EQ(s.entries[0].uuid[0], 0x00);
  EXPECT_EQ(s.entries[0].uuid[15], 0xff);
  EXPECT_EQ(s.entries[0].state, 2u);
  EXPECT_EQ(s.entries[0].generation, 4u);
  EXPECT_EQ(s.entries[0].group, "a");
  EXPECT_EQ(s.entries[1].state, 3u);
  EXPECT_EQ(s.entries[1].group, "");

  b = hex("01c4 0000007a 00000000 0000000000000009 *32:22 000000000000000a *32:44 *32:33");
  ASSERT_TRUE(parse_response(Ordinal::Open, b.data(), b.size(), s).ok);
  EXPECT_EQ(s.generation, 9u);
  EXPECT_EQ(s.digest[5], 0x22);
  EXPECT_EQ(s.prepared_generation, 10u);
  EXPECT_EQ(s.prepared_digest[31], 0x44);
  ASSERT_EQ(s.key.size(), 32u);
  EXPECT_EQ(s.key.data()[31], 0x33);

  b = hex("01c4 0000000a 40000007");
  ASSERT_TRUE(parse_response(Ordinal::Open, b.data(), b.size(), s).ok);
  EXPECT_EQ(s.status, Status::Busy);
  EXPECT_TRUE(s.key.empty());
}

// A message cut at every byte is refused; so is one whose paramSize is then made to match,
// except where the design allows the shorter body (Xen's 52..64-byte blobs).
TEST(ManagerProtocol, EveryTruncationIsRefused) {
  for (const Case& c : valid_cases()) {
    const auto full = hex(c.bytes);
    for (size_t k = 0; k < full.size(); ++k) {
      const ParseResult r = parse(c, full, k);
      EXPECT_FALSE(r.ok) << c.name << " cut at " << k;
      EXPECT_EQ(r.error, ParseError::Truncated) << c.name << " cut at " << k;
      EXPECT_FALSE(r.text.empty());
      if (k < kHeaderBytes) continue;
      auto cut = std::vector<uint8_t>(full.begin(), full.begin() + static_cast<long>(k));
      wire::put_be32(&cut[2], static_cast<uint32_t>(k));
      const ParseResult r2 = parse(c, cut, k);
      const size_t body = k - kHeaderBytes;
      const bool allowed = (c.ordinal == Ordinal::SaveHashKey && c.request && body >= 52) ||
                           (c.ordinal == Ordinal::LoadHashKey && !c.request && body == 52);
      EXPECT_EQ(r2.ok, allowed) << c.name << " cut at " << k << " with paramSize " << k << ": "
                                << r2.text;
      if (!r2.ok) {
        EXPECT_FALSE(r2.text.empty());
      }
    }
  }
}

// paramSize other than the message's length, one byte more of body, and the bound values.
TEST(ManagerProtocol, EveryWrongParamSizeIsRefused) {
  for (const Case& c : valid_cases()) {
    const auto full = hex(c.bytes);
    for (uint32_t size = 0; size <= kMaxMessageBytes + 2; ++size) {
      if (size == full.size()) continue;
      auto b = full;
      wire::put_be32(&b[2], size);
      const ParseResult r = parse(c, b, b.size());
      EXPECT_FALSE(r.ok) << c.name << " paramSize " << size;
      const ParseError want = size < kHeaderBytes        ? ParseError::SizeTooSmall
                              : size > kMaxMessageBytes ? ParseError::SizeTooLarge
                              : size > full.size()      ? ParseError::Truncated
                                                        : ParseError::TrailingBytes;
      EXPECT_EQ(r.error, want) << c.name << " paramSize " << size;
    }
    auto longer = full;
    longer.push_back(0);
    wire::put_be32(&longer[2], static_cast<uint32_t>(longer.size()));
    const ParseResult r = parse(c, longer, longer.size());
    const bool allowed = c.ordinal == Ordinal::SaveHashKey && c.request && full.size() < 74;
    EXPECT_EQ(r.ok, allowed) << c.name << " with one more byte: " << r.text;
    // the same bytes with the old paramSize: one byte too many for the frame
    longer = full;
    longer.push_back(0);
    EXPECT_EQ(parse(c, longer, longer.size()).error, ParseError::TrailingBytes) << c.name;
  }
}

TEST(ManagerProtocol, WrongTagsAreRefused) {
  for (const Case& c : valid_cases()) {
    for (uint16_t tag : {0x0000, 0x00c1, 0x01c1, 0x01c2, 0x01c4, 0x01c5, 0x8001, 0xffff}) {
      auto b = hex(c.bytes);
      if (tag == (c.request ? kTagRequest : kTagResponse)) continue;
      wire::put_be16(&b[0], tag);
      const ParseResult r = parse(c, b, b.size());
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.error, ParseError::WrongTag) << c.name << " tag " << tag;
    }
  }
}

TEST(ManagerProtocol, UnknownOrdinalsAreRefused) {
  for (uint32_t ord : {0x0u, 0x3u, 0x4u, 0x40000000u, 0x40000004u, 0x4000000fu, 0x40000018u,
                       0x02000106u, 0x80000001u, 0xffffffffu}) {
    auto b = hex("01c1 0000000a 00000000");
    wire::put_be32(&b[6], ord);
    Request q;
    const ParseResult r = parse_request(b.data(), b.size(), q);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, ParseError::UnknownOrdinal) << ord;
    EXPECT_EQ(status_for(r.error), Status::UnknownOrdinal);
    EXPECT_NE(r.text.find("ordinal"), std::string::npos) << r.text;
  }
  const auto b = hex("01c4 0000000a 00000000");
  Response s;
  EXPECT_EQ(parse_response(static_cast<Ordinal>(3), b.data(), b.size(), s).error,
            ParseError::UnknownOrdinal);
}

TEST(ManagerProtocol, UnknownStatusAndBodyOnErrorAreRefused) {
  Response s;
  for (uint32_t st : {1u, 2u, 4u, 0x40000000u, 0x40000013u, 0xffffffffu}) {
    auto b = hex("01c4 0000000a 00000000");
    wire::put_be32(&b[6], st);
    EXPECT_EQ(parse_response(Ordinal::Status, b.data(), b.size(), s).error,
              ParseError::UnknownStatus)
        << st;
  }
  const auto b = hex("01c4 0000000b 40000004 00");
  EXPECT_EQ(parse_response(Ordinal::Open, b.data(), b.size(), s).error, ParseError::BodyOnError);
}

// Xen: SaveHashKey takes 52..64 bytes; 51 and 65 are TPM_BAD_PARAMETER.
TEST(ManagerProtocol, SaveHashKeyLengthBounds) {
  for (size_t n = 0; n <= 80; ++n) {
    std::vector<uint8_t> b = hex("01c1 00000000 00000001");
    b.resize(kHeaderBytes + n, 0x42);
    wire::put_be32(&b[2], static_cast<uint32_t>(b.size()));
    Request q;
    const ParseResult r = parse_request(b.data(), b.size(), q);
    if (n >= 52 && n <= 64) {
      EXPECT_TRUE(r.ok) << n << ": " << r.text;
      EXPECT_EQ(q.xen_blob.size(), n);
    } else {
      EXPECT_FALSE(r.ok) << n;
      EXPECT_EQ(r.error, ParseError::XenBlobLength) << n;
      EXPECT_EQ(status_for(r.error), Status::BadParameter) << n;
      EXPECT_TRUE(q.xen_blob.empty());
    }
  }
  Request q;
  q.ordinal = Ordinal::SaveHashKey;
  const auto blob = hex("*51:01");
  q.xen_blob.assign(blob.data(), blob.size());
  std::vector<uint8_t> out;
  EXPECT_FALSE(encode_request(q, out));
  EXPECT_TRUE(out.empty());
}

// Xen: LoadHashKey answers 64 bytes if any of bytes 52..63 is non-zero, else 52.
TEST(ManagerProtocol, LoadHashKeyAnswerIs52Or64) {
  Response s;
  for (size_t n : {0u, 51u, 53u, 60u, 63u, 65u}) {
    std::vector<uint8_t> b = hex("01c4 00000000 00000000");
    b.resize(kHeaderBytes + n, 0x01);
    wire::put_be32(&b[2], static_cast<uint32_t>(b.size()));
    EXPECT_EQ(parse_response(Ordinal::LoadHashKey, b.data(), b.size(), s).error,
              ParseError::XenBlobLength)
        << n;
  }
  auto b = hex("01c4 0000004a 00000000 *52:5a *12:00");  // 64 with a zero tail: must be 52
  EXPECT_EQ(parse_response(Ordinal::LoadHashKey, b.data(), b.size(), s).error,
            ParseError::XenBlobLength);
  for (size_t at = 52; at < 64; ++at) {  // any non-zero byte of the tail makes 64 right
    b = hex("01c4 0000004a 00000000 *52:5a *12:00");
    b[kHeaderBytes + at] = 0x80;
    EXPECT_TRUE(parse_response(Ordinal::LoadHashKey, b.data(), b.size(), s).ok) << at;
  }

  s.reset();
  s.ordinal = Ordinal::LoadHashKey;
  auto blob = hex("*52:5a *8:00");  // a 60-byte stored blob with a zero tail goes out as 52
  s.xen_blob.assign(blob.data(), blob.size());
  std::vector<uint8_t> out;
  ASSERT_TRUE(encode_response(s, out));
  EXPECT_EQ(out, hex("01c4 0000003e 00000000 *52:5a"));
  blob = hex("*52:5a *7:00 09");  // 60 bytes with a non-zero tail: zero-padded to 64
  s.xen_blob.assign(blob.data(), blob.size());
  ASSERT_TRUE(encode_response(s, out));
  EXPECT_EQ(out, hex("01c4 0000004a 00000000 *52:5a *7:00 09 *4:00"));
}

struct LengthCase {
  const char* name;
  Ordinal ordinal;
  bool request;
  std::string bytes;
  ParseError want;
};

TEST(ManagerProtocol, LengthFieldsOutOfBounds) {
  const std::string u = kUuid;
  const std::vector<LengthCase> cases = {
      // Open: group_len one too long / short / above 64
      {"open+1", Ordinal::Open, true, "01c1 00000025 40000001 " + u + " 00000001 00000004 616263",
       ParseError::FieldOverrun},
      {"open-1", Ordinal::Open, true, "01c1 00000025 40000001 " + u + " 00000001 00000002 616263",
       ParseError::TrailingBody},
      {"open65", Ordinal::Open, true, "01c1 00000063 40000001 " + u + " 00000000 00000041 *65:61",
       ParseError::FieldTooLong},
      {"open_huge", Ordinal::Open, true, "01c1 00000025 40000001 " + u + " 00000000 ffffffff 616263",
       ParseError::FieldTooLong},
      {"open_flags", Ordinal::Open, true, "01c1 00000022 40000001 " + u + " 00000002 00000000",
       ParseError::UnknownFlags},
      {"open_short", Ordinal::Open, true, "01c1 0000001d 40000001 " + u + " 000000",
       ParseError::Truncated},
      // Create
      {"create+1", Ordinal::Create, true, "01c1 00000020 40000012 " + u + " 00000003 6731",
       ParseError::FieldOverrun},
      {"create-1", Ordinal::Create, true, "01c1 00000020 40000012 " + u + " 00000001 6731",
       ParseError::TrailingBody},
      {"create65", Ordinal::Create, true, "01c1 0000005f 40000012 " + u + " 00000041 *65:61",
       ParseError::FieldTooLong},
      // GroupCreate: name and key
      {"gc_name+1", Ordinal::GroupCreate, true, "01c1 00000018 40000014 00000003 6731 00000004 deadbeef",
       ParseError::FieldTooLong},
      {"gc_name_big", Ordinal::GroupCreate, true, "01c1 00000018 40000014 0000000b 6731 00000004 deadbeef",
       ParseError::FieldOverrun},
      {"gc_key+1", Ordinal::GroupCreate, true, "01c1 00000018 40000014 00000002 6731 00000005 deadbeef",
       ParseError::FieldOverrun},
      {"gc_key-1", Ordinal::GroupCreate, true, "01c1 00000018 40000014 00000002 6731 00000003 deadbeef",
       ParseError::TrailingBody},
      {"gc_key601", Ordinal::GroupCreate, true,
       "01c1 0000026d 40000014 00000002 6731 00000259 *601:30", ParseError::FieldTooLong},
      // GroupApprove
      {"ga+1", Ordinal::GroupApprove, true, "01c1 00000017 40000015 00000002 6731 00000004 010203",
       ParseError::FieldOverrun},
      {"ga-1", Ordinal::GroupApprove, true, "01c1 00000017 40000015 00000002 6731 00000002 010203",
       ParseError::TrailingBody},
      {"ga_name65", Ordinal::GroupApprove, true,
       "01c1 00000053 40000015 00000041 *65:61 00000000", ParseError::FieldTooLong},
      // fixed bodies
      {"prepare-1", Ordinal::Prepare, true, "01c1 00000031 40000002 0000000000000007 *31:11",
       ParseError::BodyLength},
      {"commit+1", Ordinal::Commit, true, "01c1 00000013 40000003 0102030405060708 00",
       ParseError::BodyLength},
      {"delete-1", Ordinal::Delete, true, "01c1 00000019 40000013 00112233445566778899aabbccddee",
       ParseError::BodyLength},
      {"status+1", Ordinal::Status, true, "01c1 0000000b 40000010 00", ParseError::BodyLength},
      {"rsp_open-1", Ordinal::Open, false, "01c4 00000079 00000000 0000000000000009 *32:22 000000000000000a *32:44 *31:33",
       ParseError::BodyLength},
      {"rsp_save+1", Ordinal::SaveHashKey, false, "01c4 0000000b 00000000 00", ParseError::BodyLength},
      // Status: srk name
      {"srk+1", Ordinal::Status, false,
       "01c4 00000028 00000000 00000003 0000000000000005 0000000000000006 00000002 0005 000b1234",
       ParseError::FieldOverrun},
      {"srk-1", Ordinal::Status, false,
       "01c4 00000028 00000000 00000003 0000000000000005 0000000000000006 00000002 0003 000b1234",
       ParseError::TrailingBody},
      {"srk67", Ordinal::Status, false,
       "01c4 00000067 00000000 00000003 0000000000000005 0000000000000006 00000002 0043 *67:01",
       ParseError::FieldTooLong},
      // List: count and an entry's group_len
      {"list_n+1", Ordinal::List, false,
       "01c4 0000004f 00000000 00000003 " + u + " 00000002 0000000000000004 00000001 61 " +
           "ffeeddccbbaa99887766554433221100 00000003 0000000000000000 00000000",
       ParseError::FieldOverrun},
      {"list_n-1", Ordinal::List, false,
       "01c4 0000004f 00000000 00000001 " + u + " 00000002 0000000000000004 00000001 61 " +
           "ffeeddccbbaa99887766554433221100 00000003 0000000000000000 00000000",
       ParseError::TrailingBody},
      {"list_group+1", Ordinal::List, false,
       "01c4 0000004f 00000000 00000002 " + u + " 00000002 0000000000000004 00000002 61 " +
           "ffeeddccbbaa99887766554433221100 00000003 0000000000000000 00000000",
       ParseError::Truncated},
      {"list_group65", Ordinal::List, false,
       "01c4 0000006f 00000000 00000001 " + u + " 00000002 0000000000000004 00000041 *65:61",
       ParseError::FieldTooLong},
      {"list_huge_n", Ordinal::List, false, "01c4 0000000e 00000000 7fffffff", ParseError::FieldOverrun},
  };
  for (const LengthCase& c : cases) {
    const auto b = hex(c.bytes);
    ASSERT_EQ(wire::get_be32(&b[2]), b.size()) << c.name << ": the test's own paramSize";
    const Case as{c.name, c.ordinal, c.request, c.bytes};
    const ParseResult r = parse(as, b, b.size());
    EXPECT_FALSE(r.ok) << c.name;
    EXPECT_EQ(r.error, c.want) << c.name << ": " << r.text;
    EXPECT_FALSE(r.text.empty()) << c.name;
    EXPECT_EQ(status_for(r.error), Status::Malformed) << c.name;
  }
}

TEST(ManagerProtocol, BoundValuesAreAccepted) {
  const std::string u = kUuid;
  Request q;
  auto b = hex("01c1 00000062 40000001 " + u + " 00000000 00000040 *64:61");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  EXPECT_EQ(q.group.size(), 64u);
  b = hex("01c1 0000026c 40000014 00000002 6731 00000258 *600:30");
  ASSERT_TRUE(parse_request(b.data(), b.size(), q).ok);
  EXPECT_EQ(q.spki.size(), 600u);
  Response s;
  b = hex("01c4 00000066 00000000 00000003 0000000000000005 0000000000000006 00000002 0042 *66:01");
  ASSERT_TRUE(parse_response(Ordinal::Status, b.data(), b.size(), s).ok);
  EXPECT_EQ(s.srk_name.size(), 66u);
}

TEST(ManagerProtocol, EncodersRefuseOutOfBoundFields) {
  std::vector<uint8_t> out;
  Request q;
  q.ordinal = Ordinal::Open;
  q.group.assign(65, 'a');
  EXPECT_FALSE(encode_request(q, out));
  q.ordinal = Ordinal::GroupCreate;
  q.group = "g";
  q.spki.assign(601, 0);
  EXPECT_FALSE(encode_request(q, out));
  Response s;
  s.ordinal = Ordinal::List;
  s.entries.resize(200);  // 200 × 32 bytes > 4096
  EXPECT_FALSE(encode_response(s, out));
  EXPECT_TRUE(out.empty());
  s.entries.resize(127);  // 14 + 127 × 32 = 4078 fits
  EXPECT_TRUE(encode_response(s, out));
  EXPECT_EQ(out.size(), 4078u);
  s.reset();
  s.ordinal = Ordinal::Open;  // the key must be 32 bytes
  EXPECT_FALSE(encode_response(s, out));
}

TEST(ManagerProtocol, FrameLength) {
  const auto b = hex("01c1 00000025 40000001 00112233445566778899aabbccddeeff 00000001 00000003 616263");
  for (size_t k = 0; k < kHeaderBytes; ++k) {
    size_t need = 99;
    const ParseResult r = frame_length(b.data(), k, need);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(need, 0u) << k;
  }
  for (size_t k = kHeaderBytes; k <= b.size(); ++k) {
    size_t need = 0;
    EXPECT_TRUE(frame_length(b.data(), k, need).ok);
    EXPECT_EQ(need, 0x25u);
  }
  size_t need = 0;
  auto r = frame_length(hex("01c4 00000fff 00000000").data(), 10, need);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(need, 0xfffu);
  r = frame_length(hex("01c4 00001000 00000000").data(), 10, need);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(need, 4096u);
  r = frame_length(hex("01c1 00001001 00000000").data(), 10, need);
  EXPECT_EQ(r.error, ParseError::SizeTooLarge);
  EXPECT_EQ(need, 0u);
  r = frame_length(hex("01c1 00000009 00000000").data(), 10, need);
  EXPECT_EQ(r.error, ParseError::SizeTooSmall);
  r = frame_length(hex("8001 0000000a 00000000").data(), 10, need);
  EXPECT_EQ(r.error, ParseError::WrongTag);
}

TEST(ManagerProtocol, EveryStatusHasANameAndASentence) {
  const std::vector<uint32_t> codes = {0, 3, 0x40000001, 0x40000002, 0x40000003, 0x40000004,
                                       0x40000005, 0x40000006, 0x40000007, 0x40000008, 0x40000009,
                                       0x4000000a, 0x4000000b, 0x4000000c, 0x4000000d, 0x4000000e,
                                       0x4000000f, 0x40000010, 0x40000011, 0x40000012};
  std::set<std::string> names, texts;
  for (uint32_t c : codes) {
    EXPECT_TRUE(status_known(c)) << c;
    names.insert(status_name(c));
    texts.insert(status_text(c));
    const std::string t = status_text(c);
    EXPECT_EQ(t.back(), '.') << c;
  }
  EXPECT_EQ(names.size(), codes.size());
  EXPECT_EQ(texts.size(), codes.size());
  EXPECT_EQ(std::string(status_name(3)), "TPM_BAD_PARAMETER");
  EXPECT_EQ(std::string(status_name(0x40000007)), "VTPM_MGR_BUSY");
  for (uint32_t c : {1u, 2u, 4u, 0x40000000u, 0x40000013u}) {
    EXPECT_FALSE(status_known(c));
    EXPECT_EQ(std::string(status_name(c)), "unknown status");
  }
}

}  // namespace
}  // namespace vtpm::manager
