// Test helpers for the routing tests: fake transport factories (accept any mapping) and a
// temporary folder for table files.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "itk/routing.h"
#include "itk/transport.h"

namespace itk::testing {

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

// A fresh folder, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "itk-routing-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to `name` in the folder (replacing it) and returns the file's path.
  std::string write(const std::string& name, const std::string& text) const {
    std::filesystem::path p = path_ / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

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

}  // namespace itk::testing
