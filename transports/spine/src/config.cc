// transports.spine and spine endpoints: parsing only (no file opened, no port bound).
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <set>

#include "itk/duration.h"
#include "itk/spine/transport.h"

namespace itk::spine {
namespace {

// Reads one YAML mapping and reports keys nobody asked for (a misspelt option is an error, not a
// silent default). The first error wins.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string path, Status* error)
      : node_(node.IsDefined() ? node : YAML::Node()), path_(std::move(path)), error_(error) {
    if (!node_.IsNull() && !node_.IsMap()) fail(node_, label() + " must be a mapping");
  }
  YAML::Node raw(const char* key) {
    used_.insert(key);
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = node_;
    YAML::Node v = map[key];
    return v.IsDefined() ? v : YAML::Node(YAML::NodeType::Undefined);
  }
  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  std::string label() const { return path_.empty() ? "the endpoint" : path_; }
  void str(const char* key, std::string* out, bool required = false) {
    YAML::Node v = raw(key);
    if (!v) {
      if (required) fail(node_, name(key) + " is required");
      return;
    }
    if (!v.IsScalar() || v.Scalar().empty())
      return fail(v, name(key) + " must be a non-empty string");
    *out = v.Scalar();
  }
  void duration(const char* key, std::chrono::milliseconds* out) {
    YAML::Node v = raw(key);
    if (!v) return;
    std::chrono::milliseconds d{0};
    if (!v.IsScalar() || !parseDuration(v.Scalar(), &d) || d.count() <= 0)
      return fail(v, name(key) + " must be a positive duration such as 250ms, 30s or 5m");
    *out = d;
  }
  template <class Int>
  void integer(const char* key, Int* out, long long min, long long max) {
    YAML::Node v = raw(key);
    if (!v) return;
    long long x = 0;
    if (!v.IsScalar() || !YAML::convert<long long>::decode(v, x) || x < min || x > max) {
      return fail(v, name(key) + " must be a whole number from " + std::to_string(min) + " to " +
                         std::to_string(max));
    }
    *out = static_cast<Int>(x);
  }
  void boolean(const char* key, bool* out) {
    YAML::Node v = raw(key);
    if (v && (!v.IsScalar() || !YAML::convert<bool>::decode(v, *out)))
      fail(v, name(key) + " must be true or false");
  }
  void rejectUnknown() {
    if (!node_.IsMap()) return;
    for (const auto& kv : node_)
      if (!used_.count(kv.first.Scalar()))
        fail(kv.first, "unknown option " + name(kv.first.Scalar()));
  }
  void fail(const YAML::Node& at, const std::string& message) {
    if (!error_->ok()) return;
    int line = at && at.IsDefined() ? at.Mark().line + 1 : 0;
    *error_ =
        Status::invalid(line > 0 ? message + " (line " + std::to_string(line) + ")" : message);
  }
  bool ok() const { return error_->ok(); }
  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node node_;
  std::string path_;
  Status* error_;
  std::set<std::string> used_;
};

void readClientTls(Fields f, http::ClientTlsConfig& tls) {
  f.str("ca", &tls.ca_file);
  f.str("cert", &tls.cert_file);
  f.str("key", &tls.key_file);
  f.str("server_name", &tls.server_name);
  f.boolean("verify", &tls.verify_peer);
  f.rejectUnknown();
  if (f.ok() && tls.cert_file.empty() != tls.key_file.empty())
    f.fail(f.node(), f.name("cert") + " and " + f.name("key") + " go together");
}

void readServerTls(Fields f, http::TlsServerConfig& tls) {
  f.str("cert", &tls.cert_file, true);
  f.str("key", &tls.key_file, true);
  f.str("ca", &tls.ca_file);
  std::string client_cert = "none";
  YAML::Node cc = f.raw("client_cert");
  f.str("client_cert", &client_cert);
  if (client_cert == "none") {
    tls.client_cert = http::TlsServerConfig::ClientCert::kNone;
  } else if (client_cert == "optional") {
    tls.client_cert = http::TlsServerConfig::ClientCert::kOptional;
  } else if (client_cert == "required") {
    tls.client_cert = http::TlsServerConfig::ClientCert::kRequired;
  } else {
    f.fail(cc, f.name("client_cert") + " must be none, optional or required");
  }
  f.rejectUnknown();
  if (f.ok() && tls.client_cert != http::TlsServerConfig::ClientCert::kNone && tls.ca_file.empty())
    f.fail(cc, f.name("ca") + " is required to check client certificates");
}

void readLimits(Fields f, http::ServerLimits& l) {
  f.integer("max_body_bytes", &l.max_body_bytes, 1024, 1LL << 31);
  f.integer("max_header_bytes", &l.max_header_bytes, 1024, 1 << 20);
  f.integer("max_connections", &l.max_connections, 1, 1000000);
  f.duration("idle_timeout", &l.idle_timeout);
  f.duration("read_timeout", &l.read_timeout);
  f.duration("write_timeout", &l.write_timeout);
  f.rejectUnknown();
}

// "host:port", "[v6]:port" or a bare port (on 127.0.0.1).
bool parseListen(const std::string& text, std::string* address, uint16_t* port) {
  auto colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "127.0.0.1" : text.substr(0, colon);
  std::string p = colon == std::string::npos ? text : text.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || p.empty() || p.size() > 5) return false;
  unsigned n = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n > 65535) return false;
  *address = host;
  *port = static_cast<uint16_t>(n);
  return true;
}

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
      if (!listen.IsScalar() || !parseListen(listen.Scalar(), &server.address, &server.port))
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
        readServerTls(Fields(tls, f.name("tls"), &error), *c.listener->tls);
      }
    }
    if (YAML::Node limits = f.raw("limits")) {
      if (!c.listener)
        f.fail(limits, f.name("limits") + " is for the listener: give listen too");
      else
        readLimits(Fields(limits, f.name("limits"), &error), c.listener->limits);
    }
    if (YAML::Node tls = f.raw("client_tls")) {
      c.client_tls.emplace();
      readClientTls(Fields(tls, f.name("client_tls"), &error), *c.client_tls);
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
      readClientTls(Fields(tls, "tls", &error), *ep->tls);
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
