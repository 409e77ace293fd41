#include "itk/http/config_fields.h"

#include "itk/duration.h"

namespace itk::http {

ConfigFields::ConfigFields(const YAML::Node& node, std::string path, Status* error)
    : node_(node), path_(std::move(path)), error_(error) {
  // A missing key is yaml-cpp's "zombie" node, on which most calls throw: use a null node.
  if (!node_.IsDefined()) node_ = YAML::Node();
  if (!node_.IsNull() && !node_.IsMap())
    fail(node_, (path_.empty() ? std::string("the endpoint") : path_) + " must be a mapping");
}

YAML::Node ConfigFields::raw(const char* key) {
  used_.insert(key);
  if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& map = node_;  // const lookup: never inserts the key
  YAML::Node v = map[key];
  return v.IsDefined() ? v : YAML::Node(YAML::NodeType::Undefined);
}

std::string ConfigFields::name(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ConfigFields::str(const char* key, std::string* out, bool required) {
  YAML::Node v = raw(key);
  if (!v) {
    if (required) fail(node_, name(key) + " is required");
    return;
  }
  if (!v.IsScalar() || v.Scalar().empty())
    return fail(v, name(key) + " must be a non-empty string");
  *out = v.Scalar();
}

void ConfigFields::boolean(const char* key, bool* out) {
  YAML::Node v = raw(key);
  if (v && (!v.IsScalar() || !YAML::convert<bool>::decode(v, *out)))
    fail(v, name(key) + " must be true or false");
}

void ConfigFields::duration(const char* key, std::chrono::milliseconds* out) {
  YAML::Node v = raw(key);
  if (!v) return;
  std::chrono::milliseconds d{0};
  if (!v.IsScalar() || !parseDuration(v.Scalar(), &d) || d.count() <= 0)
    return fail(v, name(key) + " must be a positive duration such as 250ms, 30s or 5m");
  *out = d;
}

void ConfigFields::strings(const char* key, std::vector<std::string>* out) {
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

void ConfigFields::rejectUnknown() {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    std::string key = kv.first.Scalar();
    if (!used_.count(key)) fail(kv.first, "unknown option " + name(key));
  }
}

void ConfigFields::fail(const YAML::Node& at, const std::string& message) {
  if (!error_->ok()) return;
  int line = at && at.IsDefined() ? at.Mark().line + 1 : 0;
  *error_ = Status::invalid(line > 0 ? message + " (line " + std::to_string(line) + ")" : message);
}

bool parseListenAddress(const std::string& text, std::string* address, uint16_t* port) {
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

void readServerLimits(ConfigFields f, ServerLimits& l) {
  f.integer("max_body_bytes", &l.max_body_bytes, 1024, 1LL << 31);
  f.integer("max_header_bytes", &l.max_header_bytes, 1024, 1 << 20);
  f.integer("max_connections", &l.max_connections, 1, 1000000);
  f.duration("idle_timeout", &l.idle_timeout);
  f.duration("read_timeout", &l.read_timeout);
  f.duration("write_timeout", &l.write_timeout);
  f.rejectUnknown();
}

void readServerTls(ConfigFields f, TlsServerConfig& tls) {
  f.str("cert", &tls.cert_file);
  f.str("key", &tls.key_file);
  f.str("ca", &tls.ca_file);
  std::string client_cert = "none";
  YAML::Node cc = f.raw("client_cert");
  f.str("client_cert", &client_cert);
  if (client_cert == "none") {
    tls.client_cert = TlsServerConfig::ClientCert::kNone;
  } else if (client_cert == "optional") {
    tls.client_cert = TlsServerConfig::ClientCert::kOptional;
  } else if (client_cert == "required") {
    tls.client_cert = TlsServerConfig::ClientCert::kRequired;
  } else {
    f.fail(cc, f.name("client_cert") + " must be none, optional or required");
  }
  f.rejectUnknown();
  if (!f.ok()) return;
  if (tls.cert_file.empty() || tls.key_file.empty())
    f.fail(f.node(), f.name("cert") + " and " + f.name("key") + " are both required");
  else if (tls.client_cert != TlsServerConfig::ClientCert::kNone && tls.ca_file.empty())
    f.fail(cc, f.name("ca") + " is required to check client certificates");
}

void readClientTls(ConfigFields f, ClientTlsConfig& tls) {
  f.str("ca", &tls.ca_file);
  f.str("cert", &tls.cert_file);
  f.str("key", &tls.key_file);
  f.str("server_name", &tls.server_name);
  f.boolean("verify", &tls.verify_peer);
  f.rejectUnknown();
  if (f.ok() && tls.cert_file.empty() != tls.key_file.empty())
    f.fail(f.node(), f.name("cert") + " and " + f.name("key") + " go together");
}

}  // namespace itk::http
