#include "server/admin.h"

#include <openssl/crypto.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace itk {

AdminService::AdminService(AdminSettings settings, std::shared_ptr<prometheus::Registry> metrics)
    : settings_(std::move(settings)), metrics_(std::move(metrics)) {}

void AdminService::addReadinessCheck(ReadinessCheck check) {
  checks_.push_back(std::move(check));
}
void AdminService::addRoute(AdminRoute route) {
  routes_.push_back(std::move(route));
}
void AdminService::addCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  collectables_.push_back(std::move(collectable));
}

http::Response AdminService::readiness() const {
  std::string failing;
  for (const auto& c : checks_) {
    Status s = c.check();
    if (!s.ok()) failing += c.name + ": " + s.message() + "\n";
  }
  if (failing.empty()) return http::Response::text(200, "ready\n");
  return http::Response::text(503, "not ready\n" + failing);
}

const AdminToken* AdminService::tokenOf(const http::Request& request) const {
  auto auth = request.headers.get("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!auth || auth->size() <= kBearer.size() || !http::iequals(auth->substr(0, 7), kBearer))
    return nullptr;
  std::string_view presented = auth->substr(kBearer.size());
  for (const auto& t : settings_.tokens) {
    // Constant-time comparison: a token must not leak through response timing.
    if (t.token.size() == presented.size() &&
        CRYPTO_memcmp(t.token.data(), presented.data(), presented.size()) == 0) {
      return &t;
    }
  }
  return nullptr;
}

namespace {

AdminRole roleNamed(const std::string& role) {
  if (role == "admin") return AdminRole::kAdmin;
  if (role == "operator") return AdminRole::kOperator;
  return AdminRole::kViewer;
}

}  // namespace

void AdminService::handle(http::Request&& request, http::Responder respond) const {
  std::string_view path = request.path();
  if (path == "/healthz") return respond(http::Response::text(200, "ok\n"));
  if (path == "/readyz") return respond(readiness());
  if (path == "/metrics") {
    std::vector<prometheus::MetricFamily> families = metrics_->Collect();
    for (const auto& c : collectables_) {
      auto more = c->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
    prometheus::TextSerializer serializer;
    return respond(http::Response::text(200, serializer.Serialize(families),
                                        "text/plain; version=0.0.4; charset=utf-8"));
  }
  for (const auto& route : routes_) {
    bool prefix = !route.path.empty() && route.path.back() == '/';
    bool match =
        prefix ? path.substr(0, route.path.size()) == route.path && path.size() > route.path.size()
               : path == route.path;
    if (!match) continue;
    if (request.method != route.method) {
      http::Response r = http::Response::text(405, "method not allowed\n");
      r.headers.set("Allow", route.method);
      return respond(std::move(r));
    }
    const AdminToken* token = tokenOf(request);
    if (!token) {
      http::Response r = http::Response::text(401, "a bearer token is required\n");
      r.headers.set("WWW-Authenticate", "Bearer");
      return respond(std::move(r));
    }
    if (roleNamed(token->role) < route.role)
      return respond(http::Response::text(403, "this needs a higher role\n"));
    std::string_view argument = prefix ? path.substr(route.path.size()) : std::string_view();
    return route.handle(request, argument, token->name, std::move(respond));
  }
  respond(http::Response::text(404, "not found\n"));
}

}  // namespace itk
