// Starts the real itk-router binary on a generated configuration in a temp folder, with every
// port 0, and finds the ports it bound from its log.
#pragma once

#include <regex>
#include <string>

#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace itk::test {

// The router.yaml most integration tests start from: identity ods:ODS, the SQLite store in
// store.db, routing from routes.yaml, the admin listener on port 0, a loopback spool in in/, and
// then `more_transports` (sections indented two spaces, e.g. "  dts:\n    root: dts\n").
inline std::string loopbackRouterYaml(const std::string& more_transports = "",
                                      const std::string& ods = "X09") {
  return "identity:\n"
         "  audit_identity: urn:nhs-uk:identity:ods:" +
         ods +
         ":itkrouter\n"
         "  sender_address: urn:nhs-uk:addressing:ods:" +
         ods +
         ":itkrouter\n"
         "threads: 2\n"
         "store:\n"
         "  path: store.db\n"
         "routing:\n"
         "  tables: [routes.yaml]\n"
         "admin:\n"
         "  listen: 127.0.0.1:0\n"
         "delivery:\n"
         "  poll_interval: 100ms\n"
         "transports:\n"
         "  loopback:\n"
         "    inbound_dir: in\n"
         "    poll_interval: 20ms\n" +
         more_transports;
}

class RouterProcess {
 public:
  // `config_yaml` is written to dir/router.yaml; the router runs with dir as its working folder.
  RouterProcess(const TempDir& dir, const std::string& config_yaml,
                std::vector<std::string> extra_args = {})
      : dir_(dir) {
    dir.write("router.yaml", config_yaml);
    std::vector<std::string> argv{routerBinary(), "--config", dir / "router.yaml"};
    for (auto& a : extra_args) argv.push_back(std::move(a));
    process_ = std::make_unique<ChildProcess>(argv, dir / "router.log", dir.path().string());
  }

  // Waits for "router.ready" and reads the admin port. False (with the log in *why) on failure.
  bool waitReady(std::string* why, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    auto m = process_->waitForLog("router\\.ready .*admin_port=(\\d+)", timeout);
    if (!m) {
      *why = "router did not become ready; log:\n" + process_->log();
      return false;
    }
    admin_port_ = static_cast<uint16_t>(std::stoi((*m)[1].str()));
    return true;
  }

  // The port a named listener bound ("http.listening listener=NAME ... port=N").
  uint16_t listenerPort(const std::string& name) {
    std::regex re("http\\.listening listener=" + name + " address=\\S+ port=(\\d+)");
    std::smatch m;
    std::string log = process_->log();
    if (!std::regex_search(log, m, re)) return 0;
    return static_cast<uint16_t>(std::stoi(m[1].str()));
  }

  uint16_t adminPort() const { return admin_port_; }
  ChildProcess& process() { return *process_; }
  std::string log() const { return process_->log(); }

 private:
  const TempDir& dir_;
  std::unique_ptr<ChildProcess> process_;
  uint16_t admin_port_ = 0;
};

}  // namespace itk::test
