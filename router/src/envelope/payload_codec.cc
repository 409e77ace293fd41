#include "itk/envelope/payload_codec.h"

#include <zlib.h>

#include <array>

#include "itk/envelope/vocabulary.h"
#include "itk/xml/text.h"

namespace itk::itk2 {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> makeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (size_t i = 0; i < kBase64Alphabet.size(); ++i) {
    table[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}
constexpr std::array<int8_t, 256> kDecodeTable = makeDecodeTable();

Status payloadError(std::string reason) {
  return deError(DeError::kPayload, std::move(reason));
}

Status tooLarge(size_t max_bytes) {
  return payloadError("payload decodes to more than " + std::to_string(max_bytes) + " bytes");
}

// Inflates one zlib stream already initialised for gzip; appends to *out.
Status inflateAll(z_stream& z, std::string* out, size_t max_bytes) {
  std::array<unsigned char, 16384> chunk;
  while (true) {
    z.next_out = chunk.data();
    z.avail_out = chunk.size();
    int rc = inflate(&z, Z_NO_FLUSH);
    size_t produced = chunk.size() - z.avail_out;
    if (out->size() + produced > max_bytes) return tooLarge(max_bytes);
    out->append(reinterpret_cast<const char*>(chunk.data()), produced);
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (RFC 1952 §2.2); anything else is the end.
      if (z.avail_in == 0) return {};
      if (inflateReset(&z) != Z_OK) return payloadError("gzip: cannot continue");
      continue;
    }
    if (rc != Z_OK) {
      return payloadError(std::string("gzip data is corrupt: ") + (z.msg ? z.msg : "error"));
    }
    if (z.avail_in == 0 && produced == 0) return payloadError("gzip data is truncated");
  }
}

const ManifestItem* manifestItemFor(const DistributionEnvelope& de, const Payload& payload) {
  for (const ManifestItem& item : de.manifest) {
    if (item.id == payload.id) return &item;
  }
  return nullptr;
}

}  // namespace

PayloadEncoding payloadEncoding(const ManifestItem& item) {
  if (item.encrypted) return PayloadEncoding::kEncrypted;
  if (item.compressed) return PayloadEncoding::kCompressedBase64;
  if (item.base64) return PayloadEncoding::kBase64;
  return item.mimetype.find("xml") != std::string::npos ? PayloadEncoding::kXml
                                                        : PayloadEncoding::kText;
}

Result<std::string> base64Decode(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size() / 4 * 3, max_bytes));
  uint32_t buffer = 0;
  int bits = 0;
  size_t padding = 0;
  size_t symbols = 0;
  for (char c : text) {
    if (xml::isXmlSpace(static_cast<unsigned char>(c))) continue;
    if (c == '=') {
      ++padding;
      ++symbols;
      continue;
    }
    int8_t v = kDecodeTable[static_cast<unsigned char>(c)];
    if (v < 0 || padding > 0) return payloadError("payload is not base64");
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      if (out.size() == max_bytes) return tooLarge(max_bytes);
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if (symbols % 4 != 0 || padding > 2) return payloadError("payload base64 is not padded to 4");
  return out;
}

std::string base64Encode(std::string_view bytes, size_t line_length) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4 + (line_length ? bytes.size() / line_length : 0));
  size_t column = 0;
  auto put = [&](char c) {
    if (line_length != 0 && column == line_length) {
      out += '\n';
      column = 0;
    }
    out += c;
    ++column;
  };
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                 uint8_t(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) put(kBase64Alphabet[(n >> shift) & 0x3F]);
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    put(kBase64Alphabet[(n >> 18) & 0x3F]);
    put(kBase64Alphabet[(n >> 12) & 0x3F]);
    put(rest == 2 ? kBase64Alphabet[(n >> 6) & 0x3F] : '=');
    put('=');
  }
  return out;
}

Result<std::string> gzipCompress(std::string_view bytes) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper (RFC 1952) with zlib's default header (mtime 0).
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::internal("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::internal("gzip: deflate failed");
  return out;
}

Result<std::string> gzipDecompress(std::string_view gzip, size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Status::internal("gzip: inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzip.data()));
  z.avail_in = static_cast<uInt>(gzip.size());
  std::string out;
  Status s = inflateAll(z, &out, max_bytes);
  inflateEnd(&z);
  if (!s.ok()) return s;
  return out;
}

Result<std::string> decodePayload(std::string_view input, const DistributionEnvelope& de,
                                  const Payload& payload, const CodecLimits& limits) {
  const ManifestItem* item = manifestItemFor(de, payload);
  if (item == nullptr) {
    return deError(DeError::kManifestItem, "no manifest item describes payload " + payload.id);
  }
  PayloadEncoding encoding = payloadEncoding(*item);
  if (encoding == PayloadEncoding::kXml || encoding == PayloadEncoding::kEncrypted) {
    if (payload.child_name.empty()) {
      return payloadError("payload " + payload.id + " holds no element");
    }
    return std::string(payload.child.in(input));
  }
  Result<std::string> text = xml::decodeCharacterData(payload.content.in(input));
  if (!text.ok()) return payloadError("payload " + payload.id + ": " + text.status().message());
  if (encoding == PayloadEncoding::kText) return text;
  // Base64 output is at most 3/4 of its input: a compressed payload's gzip bytes are bounded by
  // the message size, and the inflated cleartext by the limit.
  Result<std::string> bytes = base64Decode(*text, limits.max_decoded_bytes);
  if (!bytes.ok() || encoding == PayloadEncoding::kBase64) return bytes;
  return gzipDecompress(*bytes, limits.max_decoded_bytes);
}

}  // namespace itk::itk2
