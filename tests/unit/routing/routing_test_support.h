// Test helpers for the routing tests: fake transport factories (accept any mapping) and small
// builders for routes and endpoints.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "itk/routing.h"
#include "itk/transport.h"
#include "support/temp_dir.h"

namespace itk::test {

// What a fake factory parsed: the keys it was given, in order.
class FakeEndpointConfig : public EndpointConfig {
 public:
  std::vector<std::string> keys;
  YAML::Node params;
};

// Accepts any mapping. A key named `fail` makes it refuse the endpoint with that value as the
// reason, so tests can see a transport's error reach the diagnostics.
class FakeTransportFactory : public TransportFactory {
 public:
  explicit FakeTransportFactory(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(
      const YAML::Node& node) const override {
    if (!node.IsMap()) return Status::invalid("parameters must be a mapping");
    auto config = std::make_shared<FakeEndpointConfig>();
    for (const auto& kv : node) config->keys.push_back(kv.first.Scalar());
    if (node["fail"]) return Status::invalid("field 'fail': " + node["fail"].Scalar());
    config->params = YAML::Clone(node);
    return std::shared_ptr<const EndpointConfig>(std::move(config));
  }
  Result<std::unique_ptr<Transport>> create(const YAML::Node&,
                                            const TransportContext&) const override {
    return Status::internal("the fake " + name_ + " transport creates nothing");
  }

 private:
  std::string name_;
};

// The transports routing tables name today: soap, mesh, dts, spine, loopback.
inline void registerFakeTransports(TransportRegistry& registry) {
  for (const char* name : {"soap", "mesh", "dts", "spine", "loopback"}) {
    (void)registry.add(std::make_unique<FakeTransportFactory>(name));
  }
}

inline Route makeRoute(std::string name, FieldMatch address, FieldMatch service = {},
                       std::string endpoint = "ep") {
  Route r;
  r.name = std::move(name);
  r.address = std::move(address);
  r.service = std::move(service);
  r.endpoint = std::move(endpoint);
  return r;
}

inline std::vector<EndpointSpec> endpointsNamed(std::initializer_list<const char*> names) {
  std::vector<EndpointSpec> out;
  for (const char* n : names) out.push_back({n, "loopback", 8, nullptr});
  return out;
}

}  // namespace itk::test
