#include "itk/transport.h"

namespace itk {

Status TransportRegistry::add(std::unique_ptr<TransportFactory> factory) {
  std::string name(factory->name());
  if (factories_.count(name)) return Status::invalid("transport '" + name + "' registered twice");
  factories_.emplace(std::move(name), std::move(factory));
  return Status();
}

const TransportFactory* TransportRegistry::find(std::string_view name) const {
  auto it = factories_.find(name);
  return it == factories_.end() ? nullptr : it->second.get();
}

std::vector<std::string> TransportRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, factory] : factories_) out.push_back(name);
  return out;
}

}  // namespace itk
