#include "itk/mesh/client.h"

#include <cctype>
#include <initializer_list>
#include <string_view>

namespace itk::mesh {

// A download in progress: chunks are fetched one after another (MESH numbers them).
struct DownloadState {
  std::string message_id;
  ChunkAssembler assembler;
  ReceivedHeaders first;
  std::function<void(Result<DownloadedMessage>)> done;
};

// A send in progress: chunk 1 creates the message, chunks 2..N are posted to it.
struct SendState {
  SendRequest request;
  std::vector<std::string_view> pieces;
  size_t next = 0;  // index into pieces
  std::string message_id;
  std::function<void(Result<std::string>)> done;
};

namespace {

// Percent-encodes a query or path value (ids are opaque strings: §3.4).
std::string encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*' || c == '!') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// Joins pieces by appending them: GCC 12 at -O3 misreports "literal" + std::string as an
// overlapping copy (-Werror=restrict, a known false positive), as in transports/common/src/url.cc.
std::string join(std::initializer_list<std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  std::string out;
  out.reserve(size);
  for (std::string_view p : pieces) out.append(p);
  return out;
}

}  // namespace

std::shared_ptr<Client> Client::create(ClientConfig config, HttpExchange exchange, Post post,
                                       const Clock& clock) {
  return std::shared_ptr<Client>(
      new Client(std::move(config), std::move(exchange), std::move(post), clock));
}

Client::Client(ClientConfig config, HttpExchange exchange, Post post, const Clock& clock)
    : config_(std::move(config)),
      exchange_(std::move(exchange)),
      post_(std::move(post)),
      tokens_(config_.credentials, clock) {}

http::ClientRequest Client::request(std::string method, std::string path) {
  http::ClientRequest r;
  r.method = std::move(method);
  r.url = join({config_.base_url, "/messageexchange/", encode(config_.credentials.mailbox), path});
  r.headers.add("Authorization", tokens_.next());  // §3.2: one token per request
  r.headers.add("Accept", std::string(kAcceptV2));
  r.timeout = config_.timeout;
  return r;
}

void Client::handshake(std::function<void(Status)> done) {
  http::ClientRequest r = request("POST", "");
  r.headers.add(std::string(header::kClientVersion), config_.client_version);
  r.headers.add(std::string(header::kOsName), "Linux");
  r.headers.add(std::string(header::kOsVersion), "itk-router");
  r.headers.add(std::string(header::kOsArchitecture), "x86_64");
  exchange_(std::move(r), [done = std::move(done)](Result<http::Response> resp) {
    if (!resp.ok()) return done(resp.status());
    done(classifyHttp(Operation::kHandshake, resp->status, resp->body));
  });
}

void Client::listInbox(std::string workflow_filter, std::string next,
                       std::function<void(Result<InboxPage>)> done) {
  std::string path = "/inbox?max_results=500";
  if (!workflow_filter.empty()) path += join({"&workflow_filter=", encode(workflow_filter)});
  if (!next.empty()) {
    // links.next is "/messageexchange/{mailbox}/inbox?...continue_from=..." (or a full URL):
    // keep what follows the mailbox, so the request goes to our base URL with a fresh token.
    const std::string marker = join({"/", encode(config_.credentials.mailbox), "/inbox"});
    size_t at = next.find(marker);
    if (at != std::string::npos)
      path = join({"/inbox", std::string_view(next).substr(at + marker.size())});
  }
  exchange_(request("GET", path), [done = std::move(done)](Result<http::Response> resp) {
    if (!resp.ok()) return done(resp.status());
    if (Status s = classifyHttp(Operation::kList, resp->status, resp->body); !s.ok()) {
      return done(s);
    }
    done(parseInboxList(resp->body));
  });
}

void Client::download(std::string message_id, std::function<void(Result<DownloadedMessage>)> done) {
  auto state = std::make_shared<DownloadState>(DownloadState{
      std::move(message_id), ChunkAssembler(config_.max_message_bytes), {}, std::move(done)});
  downloadChunk(std::move(state));
}

void Client::downloadChunk(std::shared_ptr<DownloadState> state) {
  const int n = state->assembler.next();
  std::string path = join({"/inbox/", encode(state->message_id)});
  if (n > 1) path += join({"/", std::to_string(n)});
  http::ClientRequest r = request("GET", path);
  r.headers.add("Accept-Encoding", "gzip");
  exchange_(std::move(r), [self = shared_from_this(), state, n](Result<http::Response> resp) {
    if (!resp.ok()) return state->done(resp.status());
    if (resp->status != 200 && resp->status != 206) {
      return state->done(classifyHttp(Operation::kDownload, resp->status, resp->body));
    }
    ReceivedHeaders headers = parseReceivedHeaders(resp->headers);
    if (Status s = state->assembler.add(n, resp->status, headers, resp->body); !s.ok()) {
      return state->done(s);
    }
    if (n == 1) state->first = std::move(headers);
    if (!state->assembler.complete()) return self->downloadChunk(state);
    DownloadedMessage m;
    m.headers = std::move(state->first);
    if (m.headers.message_id.empty()) m.headers.message_id = state->message_id;
    m.chunks = state->assembler.total();
    m.data = state->assembler.take();
    state->done(std::move(m));
  });
}

void Client::acknowledge(std::string message_id, std::function<void(Status)> done) {
  exchange_(request("PUT", join({"/inbox/", encode(message_id), "/status/acknowledged"})),
            [done = std::move(done)](Result<http::Response> resp) {
              if (!resp.ok()) return done(resp.status());
              done(classifyHttp(Operation::kAcknowledge, resp->status, resp->body));
            });
}

void Client::send(SendRequest request, std::function<void(Result<std::string>)> done) {
  if (Status s = validate(request.headers); !s.ok()) {
    // Nothing MESH could accept (it would answer 400/06 or 417/08): a permanent refusal.
    return post_([done = std::move(done), s] { done(Status::rejected(s.message())); });
  }
  if (!request.data || request.data->empty()) {
    // MESH 417/02: a message needs data.
    return post_([done = std::move(done)] {
      done(Status::rejected("MESH refuses an empty message (COLLECT/02)"));
    });
  }
  auto state = std::make_shared<SendState>();
  state->request = std::move(request);
  state->pieces = splitChunks(*state->request.data, state->request.chunk_size);
  state->done = std::move(done);
  sendChunk(std::move(state));
}

void Client::sendChunk(std::shared_ptr<SendState> state) {
  const int total = static_cast<int>(state->pieces.size());
  const int n = static_cast<int>(state->next) + 1;
  std::string body;
  const bool gzip = state->request.compress;
  if (gzip) {
    auto packed = gzipCompress(state->pieces[state->next]);
    if (!packed.ok()) return post_([state, s = packed.status()] { state->done(s); });
    body = std::move(*packed);
  } else {
    body = std::string(state->pieces[state->next]);
  }
  http::ClientRequest r = request(
      "POST", n == 1 ? std::string("/outbox")
                     : join({"/outbox/", encode(state->message_id), "/", std::to_string(n)}));
  const http::Headers headers = sendRequestHeaders(state->request.headers, {n, total}, gzip);
  for (const auto& [name, value] : headers.all()) {
    if (name != "Accept") r.headers.add(name, value);  // request() set it already
  }

  r.body = std::move(body);
  exchange_(std::move(r), [self = shared_from_this(), state, n](Result<http::Response> resp) {
    if (!resp.ok()) return state->done(resp.status());
    Operation op = n == 1 ? Operation::kSend : Operation::kSendChunk;
    if (Status s = classifyHttp(op, resp->status, resp->body); !s.ok()) return state->done(s);
    if (n == 1) {
      auto id = parseSendResponse(resp->body);
      if (!id.ok()) return state->done(id.status());
      state->message_id = std::move(*id);
    }
    if (++state->next < state->pieces.size()) return self->sendChunk(state);
    state->done(std::move(state->message_id));
  });
}

void Client::tracking(std::string message_id, std::function<void(Result<Tracking>)> done) {
  exchange_(request("GET", join({"/outbox/tracking?messageID=", encode(message_id)})),
            [done = std::move(done)](Result<http::Response> resp) {
              if (!resp.ok()) return done(resp.status());
              if (Status s = classifyHttp(Operation::kTracking, resp->status, resp->body);
                  !s.ok()) {
                return done(s);
              }
              done(parseTracking(resp->body));
            });
}

}  // namespace itk::mesh
