#include "itk/mesh/protocol.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <ctime>

#include "itk/uuid.h"

namespace itk::mesh {

namespace json = boost::json;

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool startsWithHttp(std::string_view v) {
  std::string lower(v.substr(0, 8));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.starts_with("http://") || lower.starts_with("https://");
}

std::optional<int> parseInt(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  return {};
}

Result<json::object> parseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Status::invalid("MESH answered with a body that is not JSON: " + ec.message());
  if (!v.is_object()) return Status::invalid("MESH answered with JSON that is not an object");
  return std::move(v.get_object());
}

}  // namespace

// --- Authorization ---

std::string authTimestamp(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M", &tm);
  return buf;
}

std::string hmacSha256Hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  return hex;
}

std::string authorizationHeader(const Credentials& c, std::string_view nonce, uint64_t nonce_count,
                                TimePoint now) {
  const std::string mailbox = upper(c.mailbox);  // §3.2: the mailbox id is upper case
  const std::string count = std::to_string(nonce_count);
  const std::string timestamp = authTimestamp(now);
  std::string message =
      mailbox + ":" + std::string(nonce) + ":" + count + ":" + c.password + ":" + timestamp;
  return std::string(kAuthScheme) + " " + mailbox + ":" + std::string(nonce) + ":" + count + ":" +
         timestamp + ":" + hmacSha256Hex(c.shared_key, message);
}

Result<AuthToken> parseAuthorization(std::string_view header) {
  const std::string prefix = std::string(kAuthScheme) + " ";
  if (!header.starts_with(prefix)) return Status::invalid("not an NHSMESH authorization");
  std::string_view rest = header.substr(prefix.size());
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = rest.find(':', start);
    parts.emplace_back(rest.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 5) return Status::invalid("an NHSMESH token has five ':'-separated parts");
  for (const auto& p : parts) {
    if (p.empty()) return Status::invalid("an NHSMESH token part is empty");
  }
  return AuthToken{parts[0], parts[1], parts[2], parts[3], parts[4]};
}

bool hmacMatches(const AuthToken& t, std::string_view password, std::string_view shared_key) {
  std::string message = t.mailbox + ":" + t.nonce + ":" + t.nonce_count + ":" +
                        std::string(password) + ":" + t.timestamp;
  std::string expected = hmacSha256Hex(shared_key, message);
  std::string given = t.hmac;
  for (char& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

TokenSource::TokenSource(Credentials credentials, const Clock& clock)
    : credentials_(std::move(credentials)), clock_(clock) {}

std::string TokenSource::next() {
  uint64_t count;
  {
    std::lock_guard lock(mu_);
    count = ++count_;
  }
  // A new nonce per token: two router nodes (or a restarted one) can never repeat a token.
  return authorizationHeader(credentials_, newUuidLower(), count, clock_.now());
}

// --- Headers ---

std::optional<ChunkRange> parseChunkRange(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto n = parseInt(text.substr(0, colon));
  auto total = parseInt(text.substr(colon + 1));
  if (!n || !total || *n < 1 || *total < 1 || *n > *total) return std::nullopt;
  return ChunkRange{*n, *total};
}

std::string formatChunkRange(ChunkRange r) {
  return std::to_string(r.index) + ":" + std::to_string(r.total);
}

Status validate(const SendHeaders& h) {
  struct Field {
    std::string_view name;
    const std::string& value;
    size_t max;
    bool required;
    bool no_url;
  };
  const Field fields[] = {
      {header::kTo, h.to, 100, true, true},
      {header::kWorkflowId, h.workflow_id, 300, true, true},
      {header::kSubject, h.subject, 500, false, false},
      {header::kLocalId, h.local_id, 300, false, false},
      {header::kFileName, h.file_name, 300, false, false},
      {header::kContentType, h.content_type, 100, false, false},
  };
  for (const Field& f : fields) {
    std::string name(f.name);
    if (f.required && f.value.empty()) return Status::invalid(name + " is required");
    if (f.value.size() > f.max) {
      return Status::invalid(name + " is longer than " + std::to_string(f.max) + " characters");
    }
    // MESH 400/06 MalformedControlFile: control characters anywhere, a URL in To/WorkflowID.
    if (std::any_of(f.value.begin(), f.value.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      return Status::invalid(name + " contains a control character");
    }
    if (f.no_url && startsWithHttp(f.value)) return Status::invalid(name + " must not be a URL");
  }
  return Status();
}

http::Headers sendRequestHeaders(const SendHeaders& h, ChunkRange range, bool gzip) {
  http::Headers out;
  out.add("Accept", std::string(kAcceptV2));
  out.add(std::string(header::kTo), h.to);
  out.add(std::string(header::kWorkflowId), h.workflow_id);
  if (!h.subject.empty()) out.add(std::string(header::kSubject), h.subject);
  if (!h.local_id.empty()) out.add(std::string(header::kLocalId), h.local_id);
  if (!h.file_name.empty()) out.add(std::string(header::kFileName), h.file_name);
  if (!h.content_type.empty()) out.add(std::string(header::kContentType), h.content_type);
  out.add("Content-Type", "application/octet-stream");
  out.add(std::string(header::kChunkRange), formatChunkRange(range));
  if (gzip) {
    out.add("Content-Encoding", "gzip");
    out.add(std::string(header::kContentCompressed), "Y");
  }
  return out;
}

bool ReceivedHeaders::isReport() const {
  std::string t = upper(message_type);
  return t == "REPORT";
}

ReceivedHeaders parseReceivedHeaders(const http::Headers& h) {
  auto get = [&](std::string_view name) { return std::string(h.get(name).value_or("")); };
  ReceivedHeaders r;
  r.message_id = get(header::kMessageId);
  r.from = get(header::kFrom);
  r.to = get(header::kTo);
  r.workflow_id = get(header::kWorkflowId);
  r.local_id = get(header::kLocalId);
  r.subject = get(header::kSubject);
  r.file_name = get(header::kFileName);
  r.message_type = get(header::kMessageType);
  r.content_type = get(header::kContentType);
  if (r.content_type.empty()) r.content_type = get("Content-Type");
  r.content_encoding = get("Content-Encoding");
  r.linked_message_id = get(header::kLinkedMsgId);
  r.status_code = get(header::kStatusCode);
  r.status_event = get(header::kStatusEvent);
  r.status_description = get(header::kStatusDescription);
  r.status_success = get(header::kStatusSuccess);
  r.status_timestamp = get(header::kStatusTimestamp);
  r.chunk_range = parseChunkRange(get(header::kChunkRange));
  r.total_chunks = parseInt(get(header::kTotalChunks)).value_or(0);
  return r;
}

std::optional<Report> reportOf(const ReceivedHeaders& h) {
  if (!h.isReport()) return std::nullopt;
  return Report{h.message_id,     h.linked_message_id, h.local_id,     h.workflow_id,
                h.subject,        h.status_code,       h.status_event, h.status_description,
                h.status_success, h.status_timestamp};
}

// --- Bodies ---

Result<InboxPage> parseInboxList(std::string_view body) {
  auto o = parseObject(body);
  if (!o.ok()) return o.status();
  const json::value* messages = o->if_contains("messages");
  if (!messages || !messages->is_array()) {
    return Status::invalid("MESH inbox list has no \"messages\" array");
  }
  InboxPage page;
  for (const json::value& id : messages->get_array()) {
    if (!id.is_string() || id.get_string().empty()) {
      return Status::invalid("MESH inbox list holds an id that is not a string");
    }
    page.message_ids.emplace_back(id.get_string());
  }
  if (const json::value* links = o->if_contains("links"); links && links->is_object()) {
    page.next = str(links->get_object(), "next");
  }
  if (const json::value* n = o->if_contains("approx_inbox_count"); n && n->is_int64()) {
    page.approx_inbox_count = n->get_int64();
  }
  return page;
}

Result<std::string> parseSendResponse(std::string_view body) {
  auto o = parseObject(body);
  if (!o.ok()) return o.status();
  std::string id = str(*o, "message_id");
  if (id.empty()) id = str(*o, "messageID");
  if (id.empty()) return Status::invalid("MESH accepted the message without giving its id");
  return id;
}

Result<Tracking> parseTracking(std::string_view body) {
  auto o = parseObject(body);
  if (!o.ok()) return o.status();
  Tracking t;
  auto either = [&](std::string_view v2, std::string_view v1) {
    std::string s = str(*o, v2);
    return s.empty() ? str(*o, v1) : s;
  };
  t.message_id = either("message_id", "messageID");
  t.local_id = either("local_id", "localId");
  t.workflow_id = either("workflow_id", "workflowId");
  t.recipient = either("recipient", "recipient");
  t.status = either("status", "status");
  for (char& c : t.status) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  t.status_code = either("status_code", "statusCode");
  t.status_description = either("status_description", "statusDescription");
  for (std::string_view key : {"status_success", "statusSuccess"}) {
    if (const json::value* v = o->if_contains(key); v && v->is_bool()) {
      t.status_success = v->get_bool();
    }
  }
  if (t.message_id.empty()) return Status::invalid("MESH tracking has no message id");
  return t;
}

std::string MeshError::toString() const {
  std::string out = event;
  if (!code.empty()) out += (out.empty() ? "" : "/") + code;
  if (!description.empty()) out += (out.empty() ? "" : " ") + description;
  return out;
}

MeshError parseErrorBody(std::string_view body) {
  MeshError e;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    e.description = std::string(body.substr(0, 200));
    return e;
  }
  const json::object& o = v.get_object();
  e.message_id = str(o, "message_id");
  if (e.message_id.empty()) e.message_id = str(o, "messageID");
  if (const json::value* d = o.if_contains("detail");
      d && d->is_array() && !d->get_array().empty()) {
    const json::value& first = d->get_array().front();
    if (first.is_object()) {
      const json::object& f = first.get_object();
      e.event = str(f, "event");
      e.code = str(f, "code");
      e.description = str(f, "msg");
      // A validation error names the offending field in "loc".
      if (const json::value* loc = f.if_contains("loc"); loc && loc->is_array()) {
        for (const json::value& part : loc->get_array()) {
          if (part.is_string()) e.description += std::string(" ") + part.get_string().c_str();
        }
      }
    }
  } else if (o.contains("errorCode") || o.contains("errorEvent")) {
    e.event = str(o, "errorEvent");
    e.code = str(o, "errorCode");
    e.description = str(o, "errorDescription");
  } else {
    e.description = str(o, "message");
  }
  return e;
}

// --- Outcomes ---

Status classifyHttp(Operation op, int status, std::string_view body) {
  if (status >= 200 && status < 300) return Status();
  MeshError error = parseErrorBody(body);
  std::string detail = "MESH answered " + std::to_string(status);
  if (!error.toString().empty()) detail += ": " + error.toString();
  auto tag = [&](Status s) { return std::move(s).withToolkit(ToolkitCode::kNone, error.code); };
  if (status == 401 || status == 403) {
    return tag(Status::accessDenied("MESH authentication failure: " + detail));
  }
  if (status >= 500 || status == 408 || status == 425 || status == 429) {
    return tag(Status::unavailable(detail));
  }
  if (status == 404 && op == Operation::kSendChunk) {
    // The partial upload is gone; the next attempt uploads the whole message again.
    return tag(Status::unavailable(detail + " (chunked upload lost)"));
  }
  if ((status == 404 || status == 410) &&
      (op == Operation::kDownload || op == Operation::kAcknowledge || op == Operation::kTracking)) {
    return tag(Status::notFound(detail));
  }
  if (status >= 400) return tag(Status::rejected(detail));
  // 1xx/3xx: nothing MESH documents; treat as a transient oddity of something in between.
  return tag(Status::unavailable(detail));
}

bool isAuthFailure(const Status& s) {
  return s.code() == Code::kAccessDenied;
}

SendResult toSendResult(const Status& s, std::string remote_id) {
  SendResult r;
  switch (s.code()) {
    case Code::kOk:
      r = SendResult::delivered("accepted by MESH as " + remote_id);
      break;
    case Code::kUnavailable:
    case Code::kTimeout:
      r = SendResult::retryable(s.message());
      break;
    case Code::kAccessDenied:
      // Retryable: credentials get fixed, and the message must not be dead-lettered for it. The
      // MailboxGate keeps these retries off the wire while the mailbox is failing.
      r = SendResult::retryable(s.message());
      break;
    default:
      r = SendResult::permanent(s.message());
      break;
  }
  r.remote_id = std::move(remote_id);
  return r;
}

// --- gzip and chunks ---

Result<std::string> gzipCompress(std::string_view data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper, not zlib.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::internal("zlib deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&z, data.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::internal("zlib deflate did not finish");
  out.resize(produced);
  return out;
}

Result<std::string> gzipDecompress(std::string_view data, size_t max_output) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Status::internal("zlib inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return Status::invalid("a gzip chunk is corrupt (zlib " + std::to_string(rc) + ")");
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > max_output) {
      inflateEnd(&z);
      return Status::invalid("a gzip chunk expands beyond " + std::to_string(max_output) +
                             " bytes");
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      return Status::invalid("a gzip chunk is truncated");
    }
  }
  inflateEnd(&z);
  return out;
}

std::vector<std::string_view> splitChunks(std::string_view data, size_t chunk_size) {
  std::vector<std::string_view> chunks;
  if (chunk_size == 0) chunk_size = data.size();
  for (size_t at = 0; at < data.size(); at += chunk_size) {
    chunks.push_back(data.substr(at, chunk_size));
  }
  return chunks;
}

Status ChunkAssembler::add(int requested, int http_status, const ReceivedHeaders& h,
                           std::string_view body) {
  if (complete_) return Status::invalid("MESH sent a chunk after the last one");
  if (requested != received_ + 1) return Status::invalid("chunks requested out of order");
  // A message without mex-Chunk-Range is one chunk.
  ChunkRange range = h.chunk_range.value_or(ChunkRange{requested, requested});
  if (range.index != requested) {
    return Status::invalid("MESH returned chunk " + std::to_string(range.index) + " for chunk " +
                           std::to_string(requested));
  }
  if (total_ == 0) total_ = range.total;
  if (range.total != total_) return Status::invalid("MESH changed the chunk count mid-download");
  // §3.4: 206 while more chunks follow, 200 for the last (or only) one.
  const bool last = range.index == range.total;
  if (http_status != (last ? 200 : 206)) {
    return Status::invalid("MESH answered " + std::to_string(http_status) + " for chunk " +
                           formatChunkRange(range));
  }
  size_t room = max_bytes_ - std::min(max_bytes_, data_.size());
  if (h.content_encoding == "gzip") {
    auto plain = gzipDecompress(body, room);
    if (!plain.ok()) return plain.status();
    data_ += *plain;
  } else if (h.content_encoding.empty() || h.content_encoding == "identity") {
    if (body.size() > room) {
      return Status::invalid("the message is larger than " + std::to_string(max_bytes_) + " bytes");
    }
    data_ += body;
  } else {
    return Status::invalid("MESH sent Content-Encoding " + h.content_encoding);
  }
  received_ = range.index;
  complete_ = last;
  return Status();
}

// --- MailboxGate ---

bool MailboxGate::open() const {
  std::lock_guard lock(mu_);
  return !closed_ || clock_.now() >= closed_until_;
}

bool MailboxGate::failed() {
  std::lock_guard lock(mu_);
  ++failures_;
  const bool was_open = !closed_ || clock_.now() >= closed_until_;
  if (closed_ && was_open) backoff_ = std::min(max_, backoff_ * 2);  // failed again on reopening
  closed_ = true;
  closed_until_ = clock_.now() + backoff_;
  return was_open;
}

void MailboxGate::succeeded() {
  std::lock_guard lock(mu_);
  closed_ = false;
  backoff_ = initial_;
}

TimePoint MailboxGate::reopensAt() const {
  std::lock_guard lock(mu_);
  return closed_ ? closed_until_ : TimePoint{};
}

uint64_t MailboxGate::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

}  // namespace itk::mesh
