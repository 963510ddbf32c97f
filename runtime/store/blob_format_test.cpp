// Container parsing: each malformed layout is refused with the sentence that names it; valid
// layouts give views of exactly the right bytes; the writers produce what the parser accepts.
#include "store/blob_format.h"

#include <gtest/gtest.h>

#include "store/store_test_support.h"

namespace vtpm::store {
namespace {

using testing::from_hex;

std::vector<uint8_t> blob(uint8_t version, uint8_t min, uint16_t hdrsize, uint16_t flags,
                          const std::vector<uint8_t>& body, int64_t totlen = -1) {
  std::vector<uint8_t> b(kHeaderBytes);
  b[0] = version;
  b[1] = min;
  put_be16(&b[2], hdrsize);
  put_be16(&b[4], flags);
  put_be32(&b[6], static_cast<uint32_t>(totlen >= 0 ? totlen : int64_t(kHeaderBytes + body.size())));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

std::vector<uint8_t> tlv(uint16_t t, const std::vector<uint8_t>& v, int64_t len = -1) {
  std::vector<uint8_t> out(kTlvHeaderBytes);
  put_be16(&out[0], t);
  put_be32(&out[2], static_cast<uint32_t>(len >= 0 ? len : int64_t(v.size())));
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string parse_error(const std::vector<uint8_t>& b) {
  Container c;
  std::string err;
  EXPECT_FALSE(Container::parse(b, c, err));
  return err;
}

TEST(BlobFormat, ParsesPlainSwtpmBlob) {
  const auto payload = from_hex("0003ab3647230003");
  const auto b = blob(2, 1, 10, 0, tlv(tag::kData, payload));
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(b, c, err)) << err;
  EXPECT_EQ(c.header().version, 2);
  EXPECT_EQ(c.header().flags, 0);
  EXPECT_EQ(c.header().total_len, b.size());
  ASSERT_TRUE(c.has(tag::kData));
  EXPECT_EQ(std::vector<uint8_t>(c.value(tag::kData).begin(), c.value(tag::kData).end()), payload);
  EXPECT_FALSE(c.has(tag::kHmac));
  EXPECT_TRUE(c.value(tag::kHmac).empty());
  EXPECT_EQ(c.header_bytes().size(), kHeaderBytes);
}

TEST(BlobFormat, HeaderErrorsAreNamed) {
  EXPECT_EQ(parse_error({2, 1, 0, 10, 0, 0, 0}), "blob has 7 bytes, shorter than the 10-byte header");
  EXPECT_EQ(parse_error(blob(2, 1, 11, 0, {})), "header size field is 11, expected 10");
  EXPECT_EQ(parse_error(blob(2, 1, 10, 0, tlv(1, {1, 2, 3}), 20)),
            "header says the blob has 20 bytes, but it has 19 (truncated or extended)");
  EXPECT_EQ(parse_error(blob(3, 3, 10, 0, {})),
            "blob needs format version 3; this reader knows versions 1 and 2");
  EXPECT_EQ(parse_error(blob(0, 0, 10, 0, {})), "header version 0 (minimum 0) is not version 1 or 2");
  EXPECT_EQ(parse_error(blob(1, 2, 10, 0, {})), "header version 1 (minimum 2) is not version 1 or 2");
}

TEST(BlobFormat, TlvErrorsAreNamed) {
  // A TLV 3 claiming 40 bytes with 12 left.
  EXPECT_EQ(parse_error(blob(2, 1, 10, 0, tlv(3, std::vector<uint8_t>(12), 40))),
            "TLV 3 length 40 exceeds remaining 12 bytes");
  EXPECT_EQ(parse_error(blob(2, 1, 10, 0, cat(tlv(1, {9}), {0, 1, 0}))),
            "3 stray bytes at offset 17, too few for a TLV header");
  EXPECT_EQ(parse_error(blob(2, 1, 10, 0, tlv(0x99, {}))), "unknown TLV tag 0x99 at offset 10");
  EXPECT_EQ(parse_error(blob(2, 1, 10, 0, cat(tlv(1, {1}), tlv(1, {2})))),
            "duplicate TLV 1 at offset 17");
  // The maximal length (0xffffffff) must not wrap anything.
  EXPECT_EQ(parse_error(blob(2, 1, 10, 0, tlv(2, {1, 2}, 0xffffffffLL))),
            "TLV 2 length 4294967295 exceeds remaining 2 bytes");
}

TEST(BlobFormat, RequiredAndAllowedTags) {
  const auto b = blob(2, 1, 10, 1, cat(tlv(2, {1}), tlv(3, {2})));
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(b, c, err)) << err;
  EXPECT_TRUE(c.require(Container::tag_bit(2) | Container::tag_bit(3), err));
  EXPECT_FALSE(c.require(Container::tag_bit(6), err));
  EXPECT_EQ(err, "required TLV 6 is missing");
  EXPECT_FALSE(c.only(Container::tag_bit(2), err));
  EXPECT_EQ(err, "unexpected TLV 3 in this kind of blob");
  EXPECT_EQ(Container::tag_bit(8), 0u);
  EXPECT_EQ(Container::tag_bit(0x17), 0u);
  EXPECT_NE(Container::tag_bit(0x14), Container::tag_bit(0x15));
  EXPECT_NE(Container::tag_bit(0x16), 0u);
  EXPECT_NE(Container::tag_bit(0x15), Container::tag_bit(0x16));
}

TEST(BlobFormat, VersionOneHasOnePayload) {
  const auto b = blob(1, 1, 10, 2, {0xde, 0xad, 0xbe});
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(b, c, err)) << err;
  EXPECT_EQ(c.payload().size(), 3u);
  EXPECT_FALSE(c.has(tag::kData));
}

TEST(BlobFormat, EmptyBodyIsValid) {
  Container c;
  std::string err;
  EXPECT_TRUE(Container::parse(blob(2, 1, 10, 4, {}), c, err)) << err;
  EXPECT_TRUE(c.payload().empty());
}

TEST(BlobFormat, TlvStreamWithoutHeader) {
  Container c;
  std::string err;
  const auto s = cat(tlv(1, {7, 7}), tlv(6, {}));
  ASSERT_TRUE(Container::parse_tlvs(s, c, err)) << err;
  EXPECT_EQ(c.value(1).size(), 2u);
  EXPECT_TRUE(c.has(6));
  EXPECT_FALSE(Container::parse_tlvs(tlv(1, {}, 5), c, err));
  EXPECT_EQ(err, "TLV 1 length 5 exceeds remaining 0 bytes");
}

TEST(BlobFormat, LooksLikeHeader) {
  EXPECT_TRUE(looks_like_header(from_hex("0201000a")));
  EXPECT_TRUE(looks_like_header(from_hex("0301000a")));  // version byte damaged
  EXPECT_TRUE(looks_like_header(from_hex("0201010a")));  // hdrsize damaged
  EXPECT_TRUE(looks_like_header(from_hex("0101000a")));
  EXPECT_FALSE(looks_like_header(from_hex("0002ab36")));  // libtpms TPM2 permall, no header
  EXPECT_FALSE(looks_like_header(from_hex("00010022")));  // libtpms TPM 1.2 permall
  EXPECT_FALSE(looks_like_header(from_hex("eb564643")));  // swtpm legacy encrypted test file
  EXPECT_FALSE(looks_like_header(from_hex("0201")));
}

TEST(BlobFormat, WriterRoundTrip) {
  std::vector<uint8_t> out;
  start_blob(out, 64);
  append_tlv(out, tag::kGcmGeneration, from_hex("0000000000000007"));
  append_tlv(out, tag::kData, from_hex("aabb"));
  finish_blob(out, 2, flag::kGcm);
  EXPECT_EQ(out, from_hex("0202000a002000000020" "0013000000080000000000000007" "00010000000" "2aabb"));
  Container c;
  std::string err;
  ASSERT_TRUE(Container::parse(out, c, err)) << err;
  EXPECT_EQ(get_be64(c.value(tag::kGcmGeneration).data()), 7u);
}

}  // namespace
}  // namespace vtpm::store
