// router.yaml: the router's own configuration (listeners, transports, store, identity, limits,
// admin). Routing tables are separate files (routing-rules/), named here.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "itk/log.h"
#include "itk/status.h"
#include "itk/transport.h"

namespace itk {

struct StoreSettings {
  std::string backend = "sqlite";  // sqlite | postgres | memory (tests only)
  std::string path = "var/itk-router.db";
  std::string url;                 // postgres
  std::string durability = "fsync";  // fsync | os
  size_t group_commit_max_batch = 256;
  std::chrono::milliseconds group_commit_max_wait{2};
  std::chrono::milliseconds dedup_window{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds retain_bodies{std::chrono::hours(24 * 30)};
  std::chrono::milliseconds retain_audit{std::chrono::hours(24 * 365)};
};

struct AdminToken {
  std::string name;
  std::string role;  // viewer | operator | admin
  std::string token;
};

struct AdminSettings {
  std::string address = "127.0.0.1";
  uint16_t port = 9180;
  bool enabled = true;
  std::vector<AdminToken> tokens;
};

struct RoutingSettings {
  std::vector<std::string> tables;
  bool watch = true;
  std::chrono::milliseconds watch_interval{2000};
};

struct DeliverySettings {
  size_t max_in_flight = 256;
  std::chrono::milliseconds poll_interval{1000};
  // How long a forwarded message waits for the acknowledgement it asked for before the
  // expectation times out (counted and audited).
  std::chrono::milliseconds infrastructure_ack_timeout{std::chrono::hours(1)};
  std::chrono::milliseconds business_ack_timeout{std::chrono::hours(24 * 5)};
  std::chrono::milliseconds shutdown_grace{10000};
};

struct RouterConfig {
  std::string file;  // where it was read from
  RouterIdentity identity;
  int threads = 0;  // 0: one per core
  log::Format log_format = log::Format::kText;
  log::Level log_level = log::Level::kInfo;
  std::string data_dir = "var";
  StoreSettings store;
  RoutingSettings routing;
  DeliverySettings delivery;
  AdminSettings admin;
  // Each transport's own section, keyed by transport type ("soap", "mesh", "loopback", ...);
  // the transport's factory parses it.
  std::vector<std::pair<std::string, YAML::Node>> transports;
};

// A problem in router.yaml: "file:line: message".
struct ConfigError {
  std::string file;
  int line = 0;
  std::string message;
  std::string toString() const;
};

// Reads and checks router.yaml. Relative paths stay relative: they resolve against the working
// directory the router runs in. Collects every error it can find, not just the first.
struct ConfigLoad {
  std::optional<RouterConfig> config;
  std::vector<ConfigError> errors;
};
ConfigLoad loadConfig(const std::string& file);

}  // namespace itk
