// The SOAP transport's configuration: its section of router.yaml (listeners, WS-Security policy,
// outbound client settings) and the parameters of one endpoint in a routing table. Parsing is
// pure (no file is opened, no port bound); README.md beside this file documents both formats.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "itk/envelope/soap_checks.h"
#include "itk/http/client.h"
#include "itk/http/server.h"
#include "itk/status.h"
#include "itk/transport.h"

namespace YAML {
class Node;
}

namespace itk::soap {

// One HTTP(S) listener that accepts ITK Web Service requests on `path`.
struct ListenerConfig {
  http::ServerConfig server;  // name, address, port, TLS, limits
  std::string path = "/";     // requests to other paths get 404
};

struct SoapTransportConfig {
  std::vector<ListenerConfig> listeners;  // none: outbound only
  itk2::SoapPolicy policy;                // clock skew, allowed usernames
  // The longest a listener waits for the router's answer (the durable commit, or a proxied
  // response) before it answers the caller fault 2100 itself. Above any sync-proxy route's
  // timeout, so that the route's own timeout is what callers normally see.
  std::chrono::milliseconds answer_timeout{60000};
  // Outbound: connect timeout, pooled connections, idle keep-alive, response size limit.
  http::ClientOptions client;
};

// `node` is transports.soap from router.yaml (a null node gives the defaults). Errors name the
// option and its line.
Result<SoapTransportConfig> parseTransportConfig(const YAML::Node& node);

// An endpoint on the SOAP transport (routing tables: transport: soap).
struct SoapEndpoint final : EndpointConfig {
  std::vector<std::string> urls;             // tried in order: failover on connection failure/503
  std::optional<http::ClientTlsConfig> tls;  // for https URLs; absent: system CAs
  // Overrides the route's timeout for the peer's answer when given.
  std::optional<std::chrono::milliseconds> timeout;
};

// `node` holds the endpoint's parameters (what remains after transport, max_concurrency and
// description). Errors name the field.
Result<std::shared_ptr<const SoapEndpoint>> parseEndpointConfig(const YAML::Node& node);

}  // namespace itk::soap
