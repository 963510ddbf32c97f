// Masks of the differential test: which bytes of a successful answer may differ between two
// daemons that start from the same permanent state, and why. Everything not listed here is
// compared byte for byte, error answers always whole. A mask covers only the bodies of the
// named fields (never their size prefixes, tags or the header), so a target that gets a length
// or a structure wrong still differs.
//
// | answer to                         | masked bytes                                  | why they differ run to run                          |
// |-----------------------------------|-----------------------------------------------|-----------------------------------------------------|
// | GetRandom                         | randomBytes.buffer                            | libtpms' DRBG is seeded from host entropy (OpenSSL)  |
// |                                   |                                               | at every process start                               |
// | ReadClock                         | time, clockInfo.clock                         | milliseconds since start / TPM clock: wall time      |
// | GetTime (NULL signer, unsigned)   | TPMS_ATTEST clockInfo.clock, attested         | the same clocks inside the attestation structure     |
// |                                   | time.time and time.clockInfo.clock            |                                                      |
// | Create                            | outPrivate.buffer, outPublic.unique,          | a fresh seedValue/private key and a random IV for    |
// |                                   | creationTicket.digest                         | the sensitive area; the ticket's HMAC covers the     |
// |                                   |                                               | name, which covers unique                            |
// | Load (of a Create'd object)       | name.buffer                                   | name = nameAlg ‖ H(public), public has that unique  |
// | ReadPublic (of a Create'd object) | outPublic.unique, name, qualifiedName         | as Load                                              |
// | CreatePrimary(TPM_RH_NULL)        | outPublic.unique, creationTicket.digest, name | the null seed is drawn again at every TPM Reset      |
// | Sign with ECDSA                   | signatureR, signatureS                        | libtpms draws the nonce k at random (not RFC 6979)  |
// | ContextSave                       | contextBlob.buffer                            | encrypted with a key/IV from per-reset random state  |
// | StartAuthSession                  | nonceTPM.buffer                               | a fresh random nonce                                 |
// | CMD_GET_STATEBLOB after           | the libtpms state inside the blob's           | Shutdown(STATE) wrote state-reset data (nullProof,  |
// | Shutdown(STATE)                   | innermost TLV (reply header, blob header and  | null seed, context nonces, clock) drawn from each    |
// |                                   | TLV tags/lengths still compared)              | process's DRBG into NV                               |
//
// Deterministic, so not masked: CreatePrimary in the owner and endorsement hierarchies (keys
// derived from the shared primary seeds; creation data and tickets from the shared proofs),
// HMAC and Sign with a keyed-hash key whose bytes the trace supplies, Hash and its ticket, NV
// contents and names, PCR values and pcrUpdateCounter, policy digests, session and object
// handles, capabilities, resetCount/restartCount, and the permanent blob before any
// Shutdown(STATE).
#include "differential_trace.h"

namespace vtpm::testtools::diff {

namespace {

// Field walkers over a TPM answer. Each returns the body range of one TPM2B and moves on.
Range body(Reader& r) {
  uint16_t n = r.u16();
  Range g{r.pos(), n};
  r.skip(n);
  return g;
}

// TPMT_PUBLIC at the reader; pushes the body ranges of its unique field (Part 2 §12.2.4).
void public_unique(Reader& r, std::vector<Range>& out) {
  uint16_t type = r.u16();
  r.u16();    // nameAlg
  r.u32();    // objectAttributes
  body(r);    // authPolicy
  auto sym = [&] {
    if (r.u16() != 0x10) r.skip(4);  // algorithm, then keyBits + mode unless TPM_ALG_NULL
  };
  auto scheme = [&] {
    if (r.u16() != 0x10) r.skip(2);  // scheme, then hashAlg unless TPM_ALG_NULL
  };
  switch (type) {
    case 0x01:  // RSA
      sym();
      scheme();
      r.skip(2 + 4);  // keyBits, exponent
      out.push_back(body(r));
      break;
    case 0x23:  // ECC
      sym();
      scheme();
      r.skip(2);  // curveID
      scheme();   // kdf
      out.push_back(body(r));
      out.push_back(body(r));
      break;
    case 0x08:  // KEYEDHASH
      scheme();
      out.push_back(body(r));
      break;
    case 0x25:  // SYMCIPHER
      sym();
      out.push_back(body(r));
      break;
    default:
      throw WireError("unknown public type");
  }
}

// TPM2B_PUBLIC at the reader.
void tpm2b_public_unique(Reader& r, std::vector<Range>& out) {
  size_t n = r.u16();
  size_t end = r.pos() + n;
  public_unique(r, out);
  if (r.pos() != end) throw WireError("TPM2B_PUBLIC size mismatch");
}

// TPMT_TK_CREATION: tag, hierarchy, digest.
Range ticket_digest(Reader& r) {
  r.skip(2 + 4);
  return body(r);
}

std::vector<Range> tpm_ranges(Mask m, const Bytes& b) {
  std::vector<Range> out;
  Reader r(b, 10);
  switch (m) {
    case Mask::None:
    case Mask::StateBlobPayload:
      break;
    case Mask::GetRandom:
      out.push_back(body(r));
      break;
    case Mask::ReadClock:
      out.push_back({10, 8});
      out.push_back({18, 8});
      break;
    case Mask::GetTime: {
      r.u32();  // parameterSize
      r.u16();  // TPM2B_ATTEST size
      r.skip(4 + 2);  // magic, type
      body(r);        // qualifiedSigner
      body(r);        // extraData
      out.push_back({r.pos(), 8});  // clockInfo.clock
      r.skip(8 + 4 + 4 + 1 + 8);    // clockInfo, firmwareVersion
      out.push_back({r.pos(), 8});  // attested.time.time
      out.push_back({r.pos() + 8, 8});  // attested.time.clockInfo.clock
      break;
    }
    case Mask::Create:
      r.u32();
      out.push_back(body(r));  // outPrivate
      tpm2b_public_unique(r, out);
      body(r);  // creationData
      body(r);  // creationHash
      out.push_back(ticket_digest(r));
      break;
    case Mask::Load:
      r.u32();  // objectHandle
      r.u32();  // parameterSize
      out.push_back(body(r));
      break;
    case Mask::CreatePrimaryNull:
      r.u32();  // objectHandle
      r.u32();  // parameterSize
      tpm2b_public_unique(r, out);
      body(r);
      body(r);
      out.push_back(ticket_digest(r));
      out.push_back(body(r));  // name
      break;
    case Mask::ReadPublicCreated:
      tpm2b_public_unique(r, out);
      out.push_back(body(r));  // name
      out.push_back(body(r));  // qualifiedName
      break;
    case Mask::EcdsaSignature:
      r.u32();        // parameterSize
      r.skip(2 + 2);  // sigAlg, hash
      out.push_back(body(r));
      out.push_back(body(r));
      break;
    case Mask::ContextSave:
      r.skip(8 + 4 + 4);  // sequence, savedHandle, hierarchy
      out.push_back(body(r));
      break;
    case Mask::StartAuthSession:
      r.u32();  // sessionHandle
      out.push_back(body(r));
      break;
  }
  return out;
}

// CMD_GET_STATEBLOB reply: result, flags, totlength, length, then the blob: a 10-byte header
// (version, min_version, hdrsize, flags, totlen) and TLVs (tag u16, length u32); tag 4
// (MIGRATION_DATA) wraps TLVs again. The innermost value is libtpms' own state.
std::vector<Range> stateblob_ranges(const Bytes& b) {
  Reader r(b, 16);
  r.skip(2);
  uint16_t hdrsize = r.u16();
  r.skip(hdrsize - 4);
  for (;;) {
    uint16_t tag = r.u16();
    uint32_t len = r.u32();
    if (tag != 4) {
      if (len > r.left()) throw WireError("TLV past the end");
      return {{r.pos(), len}};
    }
  }
}

}  // namespace

const char* mask_name(Mask m) {
  switch (m) {
    case Mask::None: return "none";
    case Mask::GetRandom: return "randomBytes";
    case Mask::ReadClock: return "time, clock";
    case Mask::GetTime: return "attested clocks";
    case Mask::Create: return "outPrivate, unique, ticket";
    case Mask::Load: return "name";
    case Mask::CreatePrimaryNull: return "unique, ticket, name (null seed)";
    case Mask::ReadPublicCreated: return "unique, name, qualifiedName";
    case Mask::EcdsaSignature: return "ECDSA r, s";
    case Mask::ContextSave: return "contextBlob";
    case Mask::StartAuthSession: return "nonceTPM";
    case Mask::StateBlobPayload: return "libtpms state in the blob";
  }
  return "?";
}

std::vector<Range> mask_ranges(Mask m, Channel ch, const Bytes& reply) {
  if (m == Mask::None) return {};
  try {
    if (ch == Channel::Ctrl) {
      if (m != Mask::StateBlobPayload || be32_at(reply, 0) != 0) return {};
      return stateblob_ranges(reply);
    }
    if (be32_at(reply, 6) != 0) return {};
    auto out = tpm_ranges(m, reply);
    for (const auto& g : out)
      if (g.offset + g.length > reply.size()) return {};
    return out;
  } catch (const WireError&) {
    return {};  // does not parse as the masked structure: compare it whole
  }
}

}  // namespace vtpm::testtools::diff
