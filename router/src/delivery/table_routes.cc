// DeliveryRoutes over the routing table (kept apart from the engine so that the engine's tests
// need no routing-table implementation).
#include "delivery/delivery_engine.h"

namespace itk {

namespace {

class TableRoutes final : public DeliveryRoutes {
 public:
  explicit TableRoutes(const RoutingTableHolder& holder) : holder_(holder) {}

  std::shared_ptr<const EndpointSpec> endpoint(std::string_view name) const override {
    RoutingTablePtr table = holder_.current();
    const EndpointSpec* e = table ? table->endpoint(name) : nullptr;
    if (!e) return nullptr;
    return std::shared_ptr<const EndpointSpec>(table, e);  // keeps the snapshot alive
  }

  std::vector<std::shared_ptr<const EndpointSpec>> endpoints() const override {
    std::vector<std::shared_ptr<const EndpointSpec>> out;
    RoutingTablePtr table = holder_.current();
    if (!table) return out;
    for (const EndpointSpec& e : table->endpoints()) out.emplace_back(table, &e);
    return out;
  }

  std::optional<RouteParams> route(std::string_view name) const override {
    RoutingTablePtr table = holder_.current();
    if (!table) return std::nullopt;
    for (const Route& r : table->routes())
      if (r.name == name) return RouteParams{r.retry, r.time_to_live, r.timeout};
    return std::nullopt;
  }

 private:
  const RoutingTableHolder& holder_;
};

}  // namespace

std::shared_ptr<const DeliveryRoutes> routesFromTable(const RoutingTableHolder& holder) {
  return std::make_shared<TableRoutes>(holder);
}

DeliveryEngine::DeliveryEngine(boost::asio::io_context& io, Store& store,
                               const RoutingTableHolder& routing, TransportResolver transports,
                               const Clock& clock, DeliveryHooks hooks, DeliveryOptions options)
    : DeliveryEngine(io, store, routesFromTable(routing), std::move(transports), clock,
                     std::move(hooks), std::move(options)) {}

}  // namespace itk
