// DE payload encodings (spec/itk2.md §1.4): base64, gzip (RFC 1952) then base64, and encrypted
// payloads, which are recognised and passed through untouched. Decoding is bounded: a payload
// that would decode to more than the limit is refused (a gzip bomb costs nothing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "itk/envelope/distribution_envelope.h"
#include "itk/status.h"

namespace itk::itk2 {

enum class PayloadEncoding : uint8_t {
  kXml,               // mimetype contains "xml", no flag set: the payload's child element
  kText,              // character data
  kBase64,            // base64="true"
  kCompressedBase64,  // compressed="true" (and base64): gzip then base64
  kEncrypted,         // encrypted="true": xenc:EncryptedData, never decoded here
};

// §1.4: the flags describe the cleartext of an encrypted payload, so encrypted wins; compressed
// implies base64 (DET: "gzip and then base64").
PayloadEncoding payloadEncoding(const ManifestItem& item);

struct CodecLimits {
  size_t max_decoded_bytes = size_t{64} << 20;
};

// Base64 (RFC 4648) ignoring XML whitespace; refuses other characters, bad padding, and output
// over `max_bytes`.
Result<std::string> base64Decode(std::string_view text, size_t max_bytes);
// Base64 with lines of `line_length` characters (0 = one line).
std::string base64Encode(std::string_view bytes, size_t line_length = 0);

// gzip (RFC 1952), maximum compression, mtime 0.
Result<std::string> gzipCompress(std::string_view bytes);
// Inflates gzip members (concatenated members are joined), refusing output over `max_bytes`.
Result<std::string> gzipDecompress(std::string_view gzip, size_t max_bytes);

// The cleartext of `payload` (one of de.payloads, read from `input`) as its manifest item
// describes it: the child element's bytes for kXml, the character data for kText, the decoded
// bytes for kBase64 and kCompressedBase64, and for kEncrypted the xenc:EncryptedData element
// untouched. Errors carry DE0012 (DE0007 when no manifest item describes the payload).
Result<std::string> decodePayload(std::string_view input, const DistributionEnvelope& de,
                                  const Payload& payload, const CodecLimits& limits = {});

}  // namespace itk::itk2
