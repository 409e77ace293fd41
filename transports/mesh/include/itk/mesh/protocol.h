// The MESH API (v2) protocol pieces, per spec/itk3-mesh.md §3: the NHSMESH authorization token,
// mex-* headers, chunk ranges, gzip per chunk, v2/v1 JSON bodies, error bodies, REPORT messages,
// and how an HTTP outcome is classified for the delivery engine. Pure functions and values: no
// I/O, so each is unit-tested on its own.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "itk/clock.h"
#include "itk/http/message.h"
#include "itk/status.h"
#include "itk/transport.h"

namespace itk::mesh {

// --- Authorization (§3.2) ---

inline constexpr std::string_view kAuthScheme = "NHSMESH";

struct Credentials {
  std::string mailbox;     // the mailbox id (sent upper-case)
  std::string password;    // the mailbox password
  std::string shared_key;  // the environment's shared secret (the HMAC key)
};

// UTC yyyyMMddHHmm.
std::string authTimestamp(TimePoint t);
// Lower-case hex HMAC-SHA256 (OpenSSL).
std::string hmacSha256Hex(std::string_view key, std::string_view message);

// The parts of "NHSMESH mailbox:nonce:count:timestamp:hmac".
struct AuthToken {
  std::string mailbox;
  std::string nonce;
  std::string nonce_count;
  std::string timestamp;
  std::string hmac;
};

// hmac = HMAC-SHA256(shared_key, "mailbox:nonce:count:password:timestamp"), mailbox upper-case.
std::string authorizationHeader(const Credentials& credentials, std::string_view nonce,
                                uint64_t nonce_count, TimePoint now);
// Parses an Authorization value (the scheme and its space are required). kInvalid when malformed.
Result<AuthToken> parseAuthorization(std::string_view header);
// True when `token` carries the HMAC its fields and these secrets give (compared in constant time).
bool hmacMatches(const AuthToken& token, std::string_view password, std::string_view shared_key);

// A fresh token for every request (MESH accepts each token once: reuse gives 403): a new random
// nonce per token and a count that only grows. Thread-safe.
class TokenSource {
 public:
  TokenSource(Credentials credentials, const Clock& clock);
  std::string next();
  const std::string& mailbox() const { return credentials_.mailbox; }

 private:
  Credentials credentials_;
  const Clock& clock_;
  std::mutex mu_;
  uint64_t count_ = 0;
};

// --- mex-* headers (§3.5) ---

namespace header {
inline constexpr std::string_view kTo = "mex-To";
inline constexpr std::string_view kFrom = "mex-From";
inline constexpr std::string_view kWorkflowId = "mex-WorkflowID";
inline constexpr std::string_view kChunkRange = "mex-Chunk-Range";
inline constexpr std::string_view kTotalChunks = "mex-Total-Chunks";
inline constexpr std::string_view kSubject = "mex-Subject";
inline constexpr std::string_view kLocalId = "mex-LocalID";
inline constexpr std::string_view kFileName = "mex-FileName";
inline constexpr std::string_view kPartnerId = "mex-PartnerID";
inline constexpr std::string_view kContentType = "mex-Content-Type";
inline constexpr std::string_view kContentCompressed = "mex-Content-Compressed";
inline constexpr std::string_view kContentEncrypted = "mex-Content-Encrypted";
inline constexpr std::string_view kContentChecksum = "mex-Content-Checksum";
inline constexpr std::string_view kMessageType = "mex-MessageType";
inline constexpr std::string_view kMessageId = "mex-MessageID";
inline constexpr std::string_view kLinkedMsgId = "mex-LinkedMsgID";
inline constexpr std::string_view kStatusCode = "mex-StatusCode";
inline constexpr std::string_view kStatusEvent = "mex-StatusEvent";
inline constexpr std::string_view kStatusDescription = "mex-StatusDescription";
inline constexpr std::string_view kStatusSuccess = "mex-StatusSuccess";
inline constexpr std::string_view kStatusTimestamp = "mex-StatusTimestamp";
inline constexpr std::string_view kClientVersion = "mex-ClientVersion";
inline constexpr std::string_view kOsName = "mex-OSName";
inline constexpr std::string_view kOsVersion = "mex-OSVersion";
inline constexpr std::string_view kOsArchitecture = "mex-OSArchitecture";
}  // namespace header

inline constexpr std::string_view kAcceptV2 = "application/vnd.mesh.v2+json";

// Chunk n of N ("n:N", 1-based).
struct ChunkRange {
  int index = 1;
  int total = 1;
  bool operator==(const ChunkRange&) const = default;
};
std::optional<ChunkRange> parseChunkRange(std::string_view text);
std::string formatChunkRange(ChunkRange range);

// What the router puts on a message it sends.
struct SendHeaders {
  std::string to;            // recipient mailbox (100)
  std::string workflow_id;   // (300)
  std::string subject;       // (500), optional
  std::string local_id;      // (300): the ITK2 tracking id or ITK3 MessageHeader.id
  std::string file_name;     // (300), optional
  std::string content_type;  // mex-Content-Type (100), optional
};
// Refuses what MESH would refuse with 400/06 or 417/08: control characters, an http(s):// value
// in mex-To or mex-WorkflowID, values over their length limits, no recipient or workflow.
Status validate(const SendHeaders& headers);
// The request headers for chunk `range` of a send (Content-Encoding gzip when `gzip`).
http::Headers sendRequestHeaders(const SendHeaders& headers, ChunkRange range, bool gzip);

// What a download carries in its response headers.
struct ReceivedHeaders {
  std::string message_id;
  std::string from;
  std::string to;
  std::string workflow_id;
  std::string local_id;
  std::string subject;
  std::string file_name;
  std::string message_type;  // DATA | REPORT
  std::string content_type;
  std::string content_encoding;
  std::string linked_message_id;
  std::string status_code;
  std::string status_event;
  std::string status_description;
  std::string status_success;
  std::string status_timestamp;
  std::optional<ChunkRange> chunk_range;
  int total_chunks = 0;

  bool isReport() const;  // "Always check the type after download" (§3.5)
};
ReceivedHeaders parseReceivedHeaders(const http::Headers& headers);

// A MESH error report (REPORT message, empty body): a message this mailbox sent failed.
struct Report {
  std::string report_id;          // the REPORT's own message id
  std::string linked_message_id;  // mex-LinkedMsgID: the message that failed
  std::string local_id;           // mex-LocalID: the local id we sent it with
  std::string workflow_id;
  std::string subject;
  std::string status_code;  // "14" undelivered, "12", "EPL-151", ...
  std::string status_event;
  std::string status_description;
  std::string status_success;  // ERROR
  std::string status_timestamp;
};
std::optional<Report> reportOf(const ReceivedHeaders& headers);

// --- Bodies (v2, tolerant of v1 and of application/json media types: §3.3) ---

struct InboxPage {
  std::vector<std::string> message_ids;
  std::string next;  // links.next, when more ids wait
  std::optional<int64_t> approx_inbox_count;
};
Result<InboxPage> parseInboxList(std::string_view body);
// The message id of a 202 send: v2 {"message_id"}, v1 {"messageID"}.
Result<std::string> parseSendResponse(std::string_view body);

struct Tracking {
  std::string message_id;
  std::string local_id;
  std::string workflow_id;
  std::string recipient;
  std::string status;  // uploading | accepted | acknowledged | undeliverable | error
  std::optional<bool> status_success;
  std::string status_code;
  std::string status_description;
};
Result<Tracking> parseTracking(std::string_view body);

// An error body: v2 {"detail":[{"event","code","msg"}]}, v1 {"errorEvent","errorCode",
// "errorDescription"}, validation {"detail":[{"loc","msg","type"}]}, unhandled {"message"}.
struct MeshError {
  std::string event;  // TRANSFER, SEND, COLLECT, RECEIVE, ...
  std::string code;   // 02, 06, 08, 12, 17, 20, ...
  std::string description;
  std::string message_id;
  std::string toString() const;  // "SEND/12 Unregistered to address"
};
MeshError parseErrorBody(std::string_view body);

// --- Outcomes ---

// What the MESH client reports for an HTTP exchange, as a Status:
//   ok                    2xx
//   kAccessDenied         401/403: an authentication failure (bad token, key, clock, certificate)
//   kUnavailable          5xx, 408, 425, 429, connection failures, and (for a chunk upload) 404
//                         (the upload is lost: the next attempt starts again from chunk 1)
//   kTimeout              no answer in time
//   kNotFound             404 / 410 on an inbox message (gone, or not ours)
//   kRejected             any other 4xx: 400 malformed (06), 417 (02 empty, 08 no mex-To, 12
//                         unregistered address, bad chunk range), 422 encoding, 406, 413, 423
//   kInvalid              an answer we cannot read (bad JSON, a chunk out of order)
// The vocabulary code is the MESH error code when the body had one.
enum class Operation { kHandshake, kList, kDownload, kAcknowledge, kSend, kSendChunk, kTracking };
Status classifyHttp(Operation op, int http_status, std::string_view body);

// The delivery engine's view of a send's Status: delivered, retryable (5xx, timeouts, connection
// failures), permanent (400/417/422 and other refusals). 403 is retryable but marked as an
// authentication failure in the detail: the transport also stops using that mailbox for a while
// (MailboxGate), so the engine's retries do not become a storm of rejected requests.
SendResult toSendResult(const Status& status, std::string remote_id = {});
bool isAuthFailure(const Status& status);

// --- gzip and chunks (§3.6) ---

Result<std::string> gzipCompress(std::string_view data);
// Decompresses one gzip member; kInvalid when corrupt or larger than `max_output`.
Result<std::string> gzipDecompress(std::string_view data, size_t max_output);

// Splits the UNCOMPRESSED data into pieces of `chunk_size` bytes (the last may be shorter). Each
// piece is then sent (gzipped independently) as one chunk.
std::vector<std::string_view> splitChunks(std::string_view data, size_t chunk_size);

// Reassembles a download: chunk 1 (200 when it is the only one, 206 when more follow), then chunks
// 2..N in order; each chunk is gunzipped on its own when its Content-Encoding is gzip.
class ChunkAssembler {
 public:
  explicit ChunkAssembler(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Adds the chunk the server returned for chunk number `requested`.
  Status add(int requested, int http_status, const ReceivedHeaders& headers, std::string_view body);
  bool complete() const { return complete_; }
  int total() const { return total_; }
  // The next chunk number to request (valid while !complete()).
  int next() const { return received_ + 1; }
  std::string take() { return std::move(data_); }

 private:
  size_t max_bytes_;
  int received_ = 0;
  int total_ = 0;
  bool complete_ = false;
  std::string data_;
};

// --- Authentication-failure gate ---

// Keeps a mailbox whose requests were refused with 401/403 from hammering MESH: after a failure
// the mailbox is closed for `backoff` (doubling up to `max_backoff`), during which the transport
// fails sends at once (retryable) and skips polls. A success reopens it. Thread-safe.
class MailboxGate {
 public:
  MailboxGate(const Clock& clock, std::chrono::milliseconds backoff,
              std::chrono::milliseconds max_backoff)
      : clock_(clock), initial_(backoff), max_(max_backoff), backoff_(backoff) {}
  // True when requests may go out now.
  bool open() const;
  // Records an authentication failure; returns true when this closes a gate that was open (the
  // caller logs loudly once per outage, not once per request).
  bool failed();
  void succeeded();
  TimePoint reopensAt() const;
  uint64_t failures() const;

 private:
  const Clock& clock_;
  const std::chrono::milliseconds initial_;
  const std::chrono::milliseconds max_;
  mutable std::mutex mu_;
  std::chrono::milliseconds backoff_;
  TimePoint closed_until_{};
  bool closed_ = false;
  uint64_t failures_ = 0;
};

}  // namespace itk::mesh
