// transports.spine and spine endpoints: parsing only (no file opened, no port bound).
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "itk/duration.h"
#include "itk/http/config_fields.h"
#include "itk/spine/transport.h"

namespace itk::spine {
namespace {

using Fields = http::ConfigFields;

// ASIDs are digits (SDS gives 12); a YAML number would lose leading zeros, so quote them.
bool validAsid(const std::string& s) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

Result<TransportConfig> parseTransportConfig(const YAML::Node& node) {
  TransportConfig c;
  Status error;
  try {
    Fields f(node, "transports.spine", &error);
    f.str("party_key", &c.party_key, true);
    YAML::Node asid = f.raw("asid");
    f.str("asid", &c.asid, true);
    if (f.ok() && !validAsid(c.asid)) f.fail(asid, f.name("asid") + " must be digits (quote it)");
    f.str("cpa_id", &c.cpa_id);
    if (YAML::Node listen = f.raw("listen")) {
      http::ServerConfig server;
      server.name = "spine";
      if (!listen.IsScalar() ||
          !http::parseListenAddress(listen.Scalar(), &server.address, &server.port))
        f.fail(listen, f.name("listen") + " must be host:port, e.g. 0.0.0.0:8443");
      c.listener = std::move(server);
    }
    f.str("path", &c.path);
    if (f.ok() && c.path.front() != '/')
      f.fail(f.raw("path"), f.name("path") + " must start with /");
    if (YAML::Node tls = f.raw("tls")) {
      if (!c.listener) {
        f.fail(tls, f.name("tls") + " is for the listener: give listen too");
      } else {
        c.listener->tls.emplace();
        http::readServerTls(Fields(tls, f.name("tls"), &error), *c.listener->tls);
      }
    }
    if (YAML::Node limits = f.raw("limits")) {
      if (!c.listener)
        f.fail(limits, f.name("limits") + " is for the listener: give listen too");
      else
        http::readServerLimits(Fields(limits, f.name("limits"), &error), c.listener->limits);
    }
    if (YAML::Node tls = f.raw("client_tls")) {
      c.client_tls.emplace();
      http::readClientTls(Fields(tls, f.name("client_tls"), &error), *c.client_tls);
    }
    if (YAML::Node acks = f.raw("ack_urls")) {
      if (!acks.IsMap()) {
        f.fail(acks, f.name("ack_urls") + " must map party keys to URLs");
      } else {
        for (const auto& kv : acks) {
          std::string key = kv.first.Scalar();
          if (!kv.second.IsScalar() || !http::Url::parse(kv.second.Scalar()).ok()) {
            f.fail(kv.second, f.name("ack_urls") + "." + key + " must be an http(s) URL");
            break;
          }
          c.ack_urls[key] = kv.second.Scalar();
        }
      }
    }
    f.duration("ack_timeout", &c.ack_timeout);
    f.duration("request_timeout", &c.request_timeout);
    f.rejectUnknown();
  } catch (const YAML::Exception& e) {
    return Status::invalid(std::string("transports.spine: ") + e.what());
  }
  if (!error.ok()) return error;
  return c;
}

Result<std::shared_ptr<const Endpoint>> parseEndpoint(const YAML::Node& node) {
  auto ep = std::make_shared<Endpoint>();
  Status error;
  try {
    Fields f(node, "", &error);
    YAML::Node url = f.raw("url");
    f.str("url", &ep->url, true);
    bool https = false;
    if (f.ok()) {
      auto parsed = http::Url::parse(ep->url);
      if (!parsed.ok())
        f.fail(url, "url: " + parsed.status().message());
      else
        https = parsed->tls();
    }
    f.str("party_key", &ep->party_key, true);
    YAML::Node asid = f.raw("asid");
    f.str("asid", &ep->asid, true);
    if (f.ok() && !validAsid(ep->asid)) f.fail(asid, "asid must be digits (quote it)");
    f.str("cpa_id", &ep->cpa_id);
    if (YAML::Node tls = f.raw("tls")) {
      ep->tls.emplace();
      http::readClientTls(Fields(tls, "tls", &error), *ep->tls);
      if (f.ok() && !https) f.fail(tls, "tls: is given but the url is not https");
    }
    if (f.raw("timeout")) {
      std::chrono::milliseconds t{0};
      f.duration("timeout", &t);
      if (f.ok()) ep->timeout = t;
    }
    f.rejectUnknown();
  } catch (const YAML::Exception& e) {
    return Status::invalid(e.what());
  }
  if (!error.ok()) return error;
  return std::shared_ptr<const Endpoint>(std::move(ep));
}

std::string messageIdFor(const std::string& party_key, const std::string& tracking_id,
                         int64_t delivery_id) {
  // A name-based UUID (RFC 4122 version 5 layout over SHA-256): deterministic per delivery.
  const std::string name =
      "itk-router/spine/" + party_key + "/" + tracking_id + "/" + std::to_string(delivery_id);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(name.data(), name.size(), md, &len, EVP_sha256(), nullptr);
  md[6] = static_cast<unsigned char>((md[6] & 0x0F) | 0x50);
  md[8] = static_cast<unsigned char>((md[8] & 0x3F) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", md[0],
                md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11],
                md[12], md[13], md[14], md[15]);
  return out;
}

}  // namespace itk::spine
