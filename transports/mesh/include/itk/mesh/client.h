// The MESH API client for one mailbox (spec/itk3-mesh.md §3.4): handshake, inbox list, chunked
// download, acknowledge, chunked send and tracking, each request with a fresh NHSMESH token and
// Accept: application/vnd.mesh.v2+json. It speaks through an HttpExchange (one request, one
// response), which is an itk::http::Client in the router and may be anything in tests.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "itk/clock.h"
#include "itk/http/client.h"
#include "itk/mesh/protocol.h"
#include "itk/status.h"

namespace itk::mesh {

// Sends one request and calls back exactly once with the response or the failure (kUnavailable,
// kTimeout, kInvalid as itk::http::Client documents). Must not call back inline.
using HttpExchange = std::function<void(http::ClientRequest, http::ResponseCallback)>;
// Runs a function soon on another thread (asio::post on the router's io_context): for answers the
// client has without asking MESH, which must not be given inline either.
using Post = std::function<void(std::function<void()>)>;

struct ClientConfig {
  std::string base_url;  // "https://mesh-sync.spineservices.nhs.uk" (no trailing /messageexchange)
  Credentials credentials;
  std::string client_version = "itk-router;mesh;1";  // mex-ClientVersion on the handshake
  size_t max_message_bytes = size_t{100} << 20;      // a download larger than this is refused
  std::chrono::milliseconds timeout{60000};          // per request
};

struct DownloadedMessage {
  ReceivedHeaders headers;  // of chunk 1
  std::string data;         // all chunks, each gunzipped when sent gzip
  int chunks = 0;
};

struct SendRequest {
  SendHeaders headers;
  std::shared_ptr<const std::string> data;
  size_t chunk_size = size_t{20} << 20;  // of UNCOMPRESSED data; MESH's limit is 100 MB a request
  bool compress = true;                  // gzip each chunk independently
};

// Every callback is called exactly once, never inline, on a thread of the exchange (or of `post`).
// The client must outlive its requests (the transport keeps it in a shared_ptr captured by each
// request).
class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> create(ClientConfig config, HttpExchange exchange, Post post,
                                        const Clock& clock);

  const std::string& mailbox() const { return config_.credentials.mailbox; }

  // POST /messageexchange/{mailbox} with the mex-Client/OS headers (§3.4 handshake).
  void handshake(std::function<void(Status)> done);
  // GET .../inbox: one page of up to 500 ids (`next` continues from a previous page's link).
  void listInbox(std::string workflow_filter, std::string next,
                 std::function<void(Result<InboxPage>)> done);
  // GET .../inbox/{id} then .../inbox/{id}/{n} while MESH answers 206.
  void download(std::string message_id, std::function<void(Result<DownloadedMessage>)> done);
  // PUT .../inbox/{id}/status/acknowledged.
  void acknowledge(std::string message_id, std::function<void(Status)> done);
  // POST .../outbox (chunk 1) then .../outbox/{id}/{n}; the result's value is the message id.
  // The headers are validated first (a refusal is kRejected: permanent), and empty data is
  // refused (MESH 417/02).
  void send(SendRequest request, std::function<void(Result<std::string>)> done);
  // GET .../outbox/tracking?messageID=id
  void tracking(std::string message_id, std::function<void(Result<Tracking>)> done);

 private:
  Client(ClientConfig config, HttpExchange exchange, Post post, const Clock& clock);

  http::ClientRequest request(std::string method, std::string path);
  void downloadChunk(std::shared_ptr<struct DownloadState> state);
  void sendChunk(std::shared_ptr<struct SendState> state);

  ClientConfig config_;
  HttpExchange exchange_;
  Post post_;
  TokenSource tokens_;
};

}  // namespace itk::mesh
