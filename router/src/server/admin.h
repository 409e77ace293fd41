// The admin/metrics listener: /healthz (alive), /readyz (store writable, routing table loaded,
// listeners up), /metrics (Prometheus text exposition) and the token-protected admin API under
// /admin/ with roles viewer < operator < admin.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "itk/http/server.h"

namespace prometheus {
class Collectable;
class Registry;
}  // namespace prometheus

namespace itk {

enum class AdminRole { kViewer = 0, kOperator = 1, kAdmin = 2 };

// One readiness check: its name and whether it passes now (with a reason when not).
struct ReadinessCheck {
  std::string name;
  std::function<Status()> check;
};

// An admin API operation: the role it needs and what it does. Handlers run on an I/O thread and
// answer through the Responder (inline or later).
// `caller` is the name of the token the request presented (audit events name it as actor).
struct AdminRoute {
  std::string method;  // GET, POST
  std::string path;    // exact path, or a prefix ending in '/' (the rest is an argument)
  AdminRole role = AdminRole::kViewer;
  std::function<void(const http::Request&, std::string_view argument, const std::string& caller,
                     http::Responder)>
      handle;
};

class AdminService {
 public:
  AdminService(AdminSettings settings, std::shared_ptr<prometheus::Registry> metrics);

  void addReadinessCheck(ReadinessCheck check);
  void addRoute(AdminRoute route);
  // Metrics collected at each scrape beside the registry's (gauges read at scrape time). Call
  // before the listener starts.
  void addCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  // The HTTP handler: route a request.
  void handle(http::Request&& request, http::Responder respond) const;

  // 200 with every check passing, 503 listing the failing ones.
  http::Response readiness() const;

 private:
  // The token a request presents (its name and role), or nullptr.
  const AdminToken* tokenOf(const http::Request& request) const;

  AdminSettings settings_;
  std::shared_ptr<prometheus::Registry> metrics_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::vector<ReadinessCheck> checks_;
  std::vector<AdminRoute> routes_;
};

}  // namespace itk
