// Reading a transport's router.yaml section: one YAML mapping at a time, with every misspelt key
// reported (never a silently kept default) and the first error, with its line, kept. Shared by
// the transports that run HTTP listeners and clients (SOAP, Spine) for the parts they have in
// common: listen addresses, server limits, server and client TLS.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "itk/http/client.h"
#include "itk/http/server.h"
#include "itk/status.h"

namespace itk::http {

class ConfigFields {
 public:
  // `path` names the mapping in messages ("listeners[0].tls"); errors go to `*error`.
  ConfigFields(const YAML::Node& node, std::string path, Status* error);

  // The value of `key`, or an undefined node (false in a condition) when it is absent.
  YAML::Node raw(const char* key);
  std::string name(const std::string& key) const;

  void str(const char* key, std::string* out, bool required = false);
  void boolean(const char* key, bool* out);
  // A positive duration such as 250ms, 30s or 5m.
  void duration(const char* key, std::chrono::milliseconds* out);
  // A string or a list of non-empty strings.
  void strings(const char* key, std::vector<std::string>* out);
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
  // Fails on every key of the mapping that no call above asked for.
  void rejectUnknown();
  void fail(const YAML::Node& at, const std::string& message);
  bool ok() const { return error_->ok(); }
  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node node_;
  std::string path_;
  Status* error_;
  std::set<std::string> used_;
};

// "host:port", "[v6]:port" or a bare port (on 127.0.0.1).
bool parseListenAddress(const std::string& text, std::string* address, uint16_t* port);

// limits: {max_body_bytes, max_header_bytes, max_connections, idle_timeout, read_timeout,
// write_timeout}
void readServerLimits(ConfigFields f, ServerLimits& limits);
// tls: {cert, key (both required), ca, client_cert: none|optional|required (ca required unless
// none)}
void readServerTls(ConfigFields f, TlsServerConfig& tls);
// tls: {ca, cert, key (together), server_name, verify}
void readClientTls(ConfigFields f, ClientTlsConfig& tls);

}  // namespace itk::http
