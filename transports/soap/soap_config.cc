#include "soap_config.h"

#include <yaml-cpp/yaml.h>


#include "itk/duration.h"
#include "itk/http/config_fields.h"

namespace itk::soap {
namespace {

using Fields = http::ConfigFields;

void readListener(const YAML::Node& node, size_t index, SoapTransportConfig& config,
                  Status* error) {
  Fields f(node, "listeners[" + std::to_string(index) + "]", error);
  ListenerConfig l;
  l.server.name = "soap";
  f.str("name", &l.server.name);
  YAML::Node listen = f.raw("listen");
  if (!listen) {
    f.fail(node, f.name("listen") + " is required (host:port, e.g. 0.0.0.0:8443)");
  } else if (!listen.IsScalar() ||
             !http::parseListenAddress(listen.Scalar(), &l.server.address, &l.server.port)) {
    f.fail(listen, f.name("listen") + " must be host:port, e.g. 0.0.0.0:8443");
  }
  f.str("path", &l.path);
  if (f.ok() && l.path.front() != '/') f.fail(f.raw("path"), f.name("path") + " must start with /");
  if (YAML::Node tls = f.raw("tls")) {
    l.server.tls.emplace();
    http::readServerTls(Fields(tls, f.name("tls"), error), *l.server.tls);
  }
  if (YAML::Node limits = f.raw("limits")) {
    http::readServerLimits(Fields(limits, f.name("limits"), error), l.server.limits);
  }
  f.rejectUnknown();
  for (const auto& other : config.listeners) {
    if (other.server.name == l.server.name)
      f.fail(node, "two listeners are named " + l.server.name);
  }
  config.listeners.push_back(std::move(l));
}

}  // namespace

Result<SoapTransportConfig> parseTransportConfig(const YAML::Node& node) {
  SoapTransportConfig config;
  Status error;
  try {
    Fields top(node, "transports.soap", &error);
    if (YAML::Node listeners = top.raw("listeners")) {
      if (!listeners.IsSequence()) {
        top.fail(listeners, "transports.soap.listeners must be a list");
      } else {
        size_t i = 0;
        for (const auto& l : listeners) readListener(l, i++, config, &error);
      }
    }
    if (YAML::Node security = top.raw("security")) {
      Fields s(security, "transports.soap.security", &error);
      std::chrono::milliseconds skew = config.policy.clock_skew;
      s.duration("clock_skew", &skew);
      config.policy.clock_skew = std::chrono::duration_cast<std::chrono::seconds>(skew);
      s.strings("allowed_usernames", &config.policy.allowed_usernames);
      s.rejectUnknown();
    }
    top.duration("answer_timeout", &config.answer_timeout);
    if (YAML::Node client = top.raw("client")) {
      Fields c(client, "transports.soap.client", &error);
      c.duration("connect_timeout", &config.client.connect_timeout);
      c.duration("idle_keepalive", &config.client.idle_keepalive);
      c.integer("max_connections_per_origin", &config.client.max_connections_per_origin, 1, 10000);
      c.integer("max_response_bytes", &config.client.max_response_bytes, 1024, 1LL << 31);
      c.str("user_agent", &config.client.user_agent);
      c.rejectUnknown();
    }
    top.rejectUnknown();
  } catch (const YAML::Exception& e) {
    return Status::invalid(std::string("transports.soap: ") + e.what());
  }
  if (!error.ok()) return error;
  return config;
}

Result<std::shared_ptr<const SoapEndpoint>> parseEndpointConfig(const YAML::Node& node) {
  auto ep = std::make_shared<SoapEndpoint>();
  Status error;
  try {
    Fields f(node, "", &error);
    f.strings("urls", &ep->urls);
    if (f.ok() && ep->urls.empty()) f.fail(node, "urls: is required (one URL or a list)");
    bool https = false;
    for (const auto& u : ep->urls) {
      auto url = http::Url::parse(u);
      if (!url.ok()) {
        f.fail(f.raw("urls"), "urls: " + url.status().message());
        break;
      }
      https = https || url->tls();
    }
    if (YAML::Node tls = f.raw("tls")) {
      ep->tls.emplace();
      http::readClientTls(Fields(tls, "tls", &error), *ep->tls);
      if (f.ok() && !https) f.fail(tls, "tls: is given but no URL is https");
    }
    std::chrono::milliseconds timeout{0};
    if (f.raw("timeout")) {
      f.duration("timeout", &timeout);
      if (f.ok()) ep->timeout = timeout;
    }
    f.rejectUnknown();
  } catch (const YAML::Exception& e) {
    return Status::invalid(e.what());
  }
  if (!error.ok()) return error;
  return std::shared_ptr<const SoapEndpoint>(std::move(ep));
}

}  // namespace itk::soap
