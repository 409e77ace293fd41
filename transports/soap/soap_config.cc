#include "soap_config.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "itk/duration.h"

namespace itk::soap {
namespace {

// Reads one YAML mapping, remembering which keys were used so that unknown (misspelt) keys are
// reported instead of silently keeping a default. The first error wins.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string path, Status* error)
      : node_(node), path_(std::move(path)), error_(error) {
    // A missing key is yaml-cpp's "zombie" node, on which most calls throw: use a null node.
    if (!node_.IsDefined()) node_ = YAML::Node();
    if (!node_.IsNull() && !node_.IsMap()) fail(node_, path_ + " must be a mapping");
  }

  // The value of `key`, or an undefined node (false in a condition) when it is absent.
  YAML::Node raw(const char* key) {
    used_.insert(key);
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = node_;  // const lookup: never inserts the key
    YAML::Node v = map[key];
    return v.IsDefined() ? v : YAML::Node(YAML::NodeType::Undefined);
  }
  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  void str(const char* key, std::string* out) {
    YAML::Node v = raw(key);
    if (!v) return;
    if (!v.IsScalar() || v.Scalar().empty())
      return fail(v, name(key) + " must be a non-empty string");
    *out = v.Scalar();
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
    if (!v) return;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, *out))
      fail(v, name(key) + " must be true or false");
  }
  void duration(const char* key, std::chrono::milliseconds* out) {
    YAML::Node v = raw(key);
    if (!v) return;
    std::chrono::milliseconds d{0};
    if (!v.IsScalar() || !parseDuration(v.Scalar(), &d) || d.count() <= 0)
      return fail(v, name(key) + " must be a positive duration such as 250ms, 30s or 5m");
    *out = d;
  }
  void strings(const char* key, std::vector<std::string>* out) {
    YAML::Node v = raw(key);
    if (!v) return;
    out->clear();
    if (v.IsScalar()) {
      out->push_back(v.Scalar());
      return;
    }
    if (!v.IsSequence()) return fail(v, name(key) + " must be a list of strings");
    for (const auto& item : v) {
      if (!item.IsScalar() || item.Scalar().empty())
        return fail(item, name(key) + " must be a list of non-empty strings");
      out->push_back(item.Scalar());
    }
  }
  void rejectUnknown() {
    if (!node_.IsMap()) return;
    for (const auto& kv : node_) {
      std::string key = kv.first.Scalar();
      if (!used_.count(key)) fail(kv.first, "unknown option " + name(key));
    }
  }
  void fail(const YAML::Node& at, const std::string& message) {
    if (!error_->ok()) return;
    int line = at ? at.Mark().line + 1 : 0;
    *error_ =
        Status::invalid(line > 0 ? message + " (line " + std::to_string(line) + ")" : message);
  }
  bool ok() const { return error_->ok(); }

 private:
  YAML::Node node_;
  std::string path_;
  Status* error_;
  std::set<std::string> used_;
};

void readLimits(Fields f, http::ServerLimits& l) {
  f.integer("max_body_bytes", &l.max_body_bytes, 1024, 1LL << 31);
  f.integer("max_header_bytes", &l.max_header_bytes, 1024, 1 << 20);
  f.integer("max_connections", &l.max_connections, 1, 1000000);
  f.duration("idle_timeout", &l.idle_timeout);
  f.duration("read_timeout", &l.read_timeout);
  f.duration("write_timeout", &l.write_timeout);
  f.rejectUnknown();
}

void readServerTls(Fields f, http::TlsServerConfig& tls) {
  f.str("cert", &tls.cert_file);
  f.str("key", &tls.key_file);
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
  if (!f.ok()) return;
  if (tls.cert_file.empty() || tls.key_file.empty())
    f.fail(YAML::Node(), f.name("cert") + " and " + f.name("key") + " are both required");
  else if (tls.client_cert != http::TlsServerConfig::ClientCert::kNone && tls.ca_file.empty())
    f.fail(cc, f.name("ca") + " is required to check client certificates");
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
             !parseListen(listen.Scalar(), &l.server.address, &l.server.port)) {
    f.fail(listen, f.name("listen") + " must be host:port, e.g. 0.0.0.0:8443");
  }
  f.str("path", &l.path);
  if (f.ok() && l.path.front() != '/') f.fail(f.raw("path"), f.name("path") + " must start with /");
  if (YAML::Node tls = f.raw("tls")) {
    l.server.tls.emplace();
    readServerTls(Fields(tls, f.name("tls"), error), *l.server.tls);
  }
  if (YAML::Node limits = f.raw("limits")) {
    readLimits(Fields(limits, f.name("limits"), error), l.server.limits);
  }
  f.rejectUnknown();
  for (const auto& other : config.listeners) {
    if (other.server.name == l.server.name)
      f.fail(node, "two listeners are named " + l.server.name);
  }
  config.listeners.push_back(std::move(l));
}

void readClientTls(Fields f, http::ClientTlsConfig& tls) {
  f.str("ca", &tls.ca_file);
  f.str("cert", &tls.cert_file);
  f.str("key", &tls.key_file);
  f.str("server_name", &tls.server_name);
  f.boolean("verify", &tls.verify_peer);
  f.rejectUnknown();
  if (f.ok() && tls.cert_file.empty() != tls.key_file.empty())
    f.fail(YAML::Node(), f.name("cert") + " and " + f.name("key") + " go together");
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
      readClientTls(Fields(tls, "tls", &error), *ep->tls);
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
