// Key loading for --key, --pwdfile and --migration-key, as swtpm 0.7.1 reads them (key.c; checked
// against files swtpm writes, key_test.cpp / swtpm_interop_test.cpp). The accepted forms are
// listed below the includes. Buffers that held key material are wiped.
#pragma once

#include <cstdint>
#include <string>

#include "instance/config.h"
#include "store/crypto.h"
#include "store/secret.h"

//   key file/fd, format=hex     32 or 64 hex digits (exactly the mode's key length), optional
//                                "0x", then only whitespace (a trailing newline is fine)
//   key file/fd, format=binary  16 or 32 bytes, at most the mode's length (swtpm uses a 16-byte
//                                binary key as AES-128 even with mode=aes-256-cbc)
//   pwdfile/pwdfd               every byte of the file, newline included, through kdf=pbkdf2
//                                (PBKDF2-HMAC-SHA512, salt "swtpm", 1000 iterations) or kdf=sha512
//                                (SHA-512 truncated), to the mode's key length
// remove=true unlinks the key or passphrase file once it was read (and fails if it cannot).
// File descriptors are read to their end and left open (they belong to whoever passed them).

namespace vtpm::store {

// Fills `out` with the key `cfg` describes; KeySource::None leaves it empty and succeeds.
bool load_key(Crypto& crypto, const instance::KeyConfig& cfg, SecretKey& out, std::string& err);

// The parts, on bytes already read.
bool parse_key_file(Bytes content, instance::KeyFormat format, uint32_t key_bits, SecretKey& out,
                    std::string& err);
bool derive_passphrase_key(Crypto& crypto, Bytes passphrase, instance::Kdf kdf, uint32_t key_bits,
                           SecretKey& out, std::string& err);

}  // namespace vtpm::store
