// The MESH transport as registered in the router: each mailbox talks HTTPS through its own
// itk::http::Client (its client certificate, the environment's CA bundle, pooled keep-alive
// connections). Kept apart from transport.cc so that tests which bring their own exchange do not
// link the HTTP client.
#include "itk/http/client.h"
#include "itk/mesh/transport.h"

namespace itk::mesh {

std::unique_ptr<TransportFactory> makeMeshTransportFactory() {
  return makeMeshTransportFactory([](const TransportConfig& config, const MailboxConfig& mailbox,
                                     boost::asio::io_context& io) -> Result<HttpExchange> {
    http::ClientOptions options;
    options.response_timeout = config.request_timeout;
    // A chunk is at most 100 MB (§3.6); a whole message is never one response.
    options.max_response_bytes = size_t{110} << 20;
    options.user_agent = "itk-router;mesh";
    std::optional<http::ClientTlsConfig> tls;
    if (mailbox.tls) {
      tls =
          http::ClientTlsConfig{mailbox.tls->ca_file, mailbox.tls->cert_file, mailbox.tls->key_file,
                                mailbox.tls->verify_peer, mailbox.tls->server_name};
    }
    auto client = http::Client::create(io, options, tls);
    if (!client.ok()) return client.status();
    std::shared_ptr<http::Client> shared(std::move(*client));
    return HttpExchange([shared](http::ClientRequest r, http::ResponseCallback done) {
      shared->request(std::move(r), std::move(done));
    });
  });
}

}  // namespace itk::mesh
