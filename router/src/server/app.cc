#include "server/app.h"

#include <prometheus/registry.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "delivery/ack_tracker.h"
#include "delivery/delivery_engine.h"
#include "delivery/housekeeper.h"
#include "itk/http/server.h"
#include "itk/log.h"
#include "itk/routing.h"
#include "itk/routing/reloader.h"
#include "itk/store.h"
#include "metrics/live_metrics.h"
#include "metrics/metered_sink.h"
#include "metrics/router_metrics.h"
#include "server/admin.h"
#include "server/answers.h"
#include "server/decode.h"
#include "server/operations_api.h"
#include "server/router.h"

namespace itk {

namespace asio = boost::asio;

namespace {

// router.yaml's store section as the store factory's configuration.
Result<std::unique_ptr<Store>> openConfiguredStore(const StoreSettings& s, RouterMetrics& metrics) {
  StoreConfig c;
  if (!parseStoreBackend(s.backend, &c.backend))
    return Status::invalid("store.backend " + s.backend + " is not a store backend");
  if (!parseDurability(s.durability, &c.durability))
    return Status::invalid("store.durability " + s.durability + " must be fsync or os");
  c.path = s.path;
  c.url = s.url;
  c.group_commit_max_batch = s.group_commit_max_batch;
  c.group_commit_max_wait = s.group_commit_max_wait;
  c.dedup_window = std::chrono::duration_cast<std::chrono::seconds>(s.dedup_window);
  c.body_retention = std::chrono::duration_cast<std::chrono::seconds>(s.retain_bodies);
  c.audit_retention = std::chrono::duration_cast<std::chrono::seconds>(s.retain_audit);
  c.on_commit = [&metrics](const CommitReport& r) { metrics.commit(r); };
  return openStore(c);  // router mode: creates, locks, recovers in-flight deliveries
}

}  // namespace

struct App::Impl {
  Impl(RouterConfig c, const TransportRegistry& r, const Clock& k)
      : config(std::move(c)), registry(r), clock(k), signals(io) {}

  RouterConfig config;
  const TransportRegistry& registry;
  const Clock& clock;
  asio::io_context io;
  std::shared_ptr<prometheus::Registry> metrics = std::make_shared<prometheus::Registry>();
  RoutingTableHolder routing;
  RouterMetrics router_metrics{*metrics, routing};
  RoutingHistory routing_history;  // loads and refused reloads, for /admin/routing/history
  std::unique_ptr<RoutingTableReloader> reloader;
  std::unique_ptr<TransportContext> context;
  std::map<std::string, std::unique_ptr<Transport>, std::less<>> transports;
  std::unique_ptr<Store> store;
  std::unique_ptr<AckTracker> acks;
  std::unique_ptr<Housekeeper> housekeeper;
  std::unique_ptr<DeliveryEngine> engine;
  std::unique_ptr<Router> router;
  std::unique_ptr<MeteredSink> inbound;  // what transports hand messages to: counts, then router
  std::unique_ptr<Answers> answers;
  std::shared_ptr<LiveMetrics> live_metrics;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<http::Server> admin_server;
  asio::signal_set signals;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop_requested = false;

  Transport* transport(std::string_view type) {
    auto it = transports.find(type);
    return it == transports.end() ? nullptr : it->second.get();
  }

  // Reloads the routing tables now; the running table stays when the files are invalid.
  Status reloadRoutes() {
    ReloadOutcome outcome = reloader->reloadNow();
    if (outcome.kind != ReloadOutcome::Kind::kFailed) return Status();
    std::string all;
    for (const auto& e : outcome.errors) all += (all.empty() ? "" : "\n") + e.toString();
    return Status::invalid(all);
  }

  void waitForSignal() {
    signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        log::info("router.sighup", {});
        (void)reloadRoutes();  // logs its own outcome
        waitForSignal();
        return;
      }
      log::info("router.signal", {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
      requestStop();
    });
  }

  void requestStop() {
    std::lock_guard lock(stop_mu);
    stop_requested = true;
    stop_cv.notify_all();
  }

  // Stop accepting, let accepts reach the store and attempts in flight finish, then stop I/O.
  void shutdown() {
    log::info("router.stopping", {});
    if (reloader) reloader->stop();
    if (housekeeper) housekeeper->stop();
    for (auto& [type, t] : transports) t->stopAccepting();
    if (router) router->stopAccepting();
    auto deadline = std::chrono::steady_clock::now() + config.delivery.shutdown_grace;
    while (router && router->pending() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (engine) {
      auto stopped = std::make_shared<std::promise<void>>();
      auto done = stopped->get_future();
      engine->stop([stopped] { stopped->set_value(); });
      if (done.wait_until(deadline) != std::future_status::ready) {
        log::warn("router.shutdown_grace_expired",
                  {{"in_flight", static_cast<unsigned long>(engine->inFlight())}});
      }
    }
    if (admin_server) admin_server->stopAccepting();
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
    threads.clear();
    log::info("router.stopped", {});
  }
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

App::~App() {
  if (!impl_->threads.empty()) impl_->shutdown();
}

Result<std::unique_ptr<App>> App::create(RouterConfig config, const TransportRegistry& registry,
                                         const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(config), registry, clock);
  Impl& a = *impl;
  std::string errors;
  auto fail = [&](std::string line) { errors += (errors.empty() ? "" : "\n") + line; };

  a.context = std::make_unique<TransportContext>(TransportContext{
      a.io, a.clock, a.config.identity, *a.metrics, a.config.data_dir, decodeItkDocument});
  for (const auto& [type, node] : a.config.transports) {
    const TransportFactory* factory = registry.find(type);
    if (!factory) {
      std::string known;
      for (const auto& n : registry.names()) known += (known.empty() ? "" : ", ") + n;
      fail(a.config.file + ":" + std::to_string(node.Mark().line + 1) + ": unknown transport '" +
           type + "' (known: " + known + ")");
      continue;
    }
    auto t = factory->create(node, *a.context);
    if (!t.ok()) {
      fail(a.config.file + ": transports." + type + ": " + t.status().message());
      continue;
    }
    a.transports.emplace(type, std::move(*t));
  }
  TableLoadResult tables = loadRoutingTables(a.config.routing.tables, registry);
  for (const auto& e : tables.errors) fail(e.toString());
  for (const auto& w : tables.warnings) log::warn("routing.warning", {{"detail", w.toString()}});
  if (tables.table) {
    // Every endpoint's transport must be configured, or its deliveries could never leave.
    for (const auto& ep : tables.table->endpoints()) {
      if (!a.transport(ep.transport)) {
        fail(a.config.file + ": endpoint '" + ep.name + "' uses transport '" + ep.transport +
             "', which has no section under transports:");
      }
    }
    a.routing.publish(tables.table);
    a.routing_history.record(a.clock.now(), "loaded", tables.table.get(), {});
    log::info("routing.loaded",
              {{"version", tables.table->version()},
               {"checksum", tables.table->checksum()},
               {"routes", static_cast<unsigned long>(tables.table->routes().size())}});
  }
  if (!errors.empty()) return Status::invalid(errors);
  ReloaderOptions reload;
  reload.files = a.config.routing.tables;
  reload.poll_interval = a.config.routing.watch_interval;
  reload.on_reload = [&a](const ReloadOutcome& o) {
    a.router_metrics.reload(o);
    a.routing_history.record(a.clock.now(), std::string(reloadKindName(o.kind)), o.table.get(),
                             o.errors);
  };
  a.reloader = std::make_unique<RoutingTableReloader>(a.routing, registry, std::move(reload));
  return std::unique_ptr<App>(new App(std::move(impl)));
}

Status App::start() {
  Impl& a = *impl_;
  // A fresh checkout has no var/: create the data folder and the store file's folder.
  for (const std::string& dir :
       {a.config.data_dir, std::filesystem::path(a.config.store.path).parent_path().string()}) {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return Status::unavailable("cannot create folder " + dir + ": " + ec.message());
  }
  auto store = openConfiguredStore(a.config.store, a.router_metrics);
  if (!store.ok()) return store.status();
  a.store = std::move(*store);

  DeliveryOptions options;
  options.max_in_flight = a.config.delivery.max_in_flight;
  options.idle_poll = a.config.delivery.poll_interval;
  options.ack_timeouts.infrastructure =
      std::chrono::ceil<std::chrono::seconds>(a.config.delivery.infrastructure_ack_timeout);
  options.ack_timeouts.business =
      std::chrono::ceil<std::chrono::seconds>(a.config.delivery.business_ack_timeout);
  auto resolver = [&a](std::string_view type) { return a.transport(type); };
  // The router's own answers (NACKs, ITK3 responses, router-sent infacks) go through the Router,
  // which exists only after the engine: the hooks reach it through `a`.
  DeliveryHooks delivery_hooks;
  delivery_hooks.on_attempt = [&a](const DeliveryTask& task, const AttemptRecord& record) {
    a.router_metrics.attempt(task, record);
  };
  delivery_hooks.on_dead_letter = [&a](const DeadLetterNotice& notice,
                                       std::function<void()> notified) {
    a.router_metrics.deadLettered(notice.task);
    a.answers->onDeadLetter(notice, std::move(notified));
  };
  a.engine = std::make_unique<DeliveryEngine>(a.io, *a.store, a.routing, resolver, a.clock,
                                              std::move(delivery_hooks), options);
  AckTrackerHooks ack_hooks;
  ack_hooks.on_resolved = [&a](const PendingAck& ack) { a.router_metrics.ackResolved(ack); };
  ack_hooks.on_expired = [&a](const PendingAck& ack) { a.router_metrics.ackTimedOut(ack); };
  a.acks = std::make_unique<AckTracker>(*a.store, a.clock, std::move(ack_hooks));
  RouterHooks router_hooks;
  router_hooks.on_unrouted = [&a](const MessagePtr&, const std::vector<UnroutedAddress>& refused) {
    for (const auto& u : refused) a.router_metrics.rejected(u.route);
  };
  router_hooks.on_accepted = [&a](const MessagePtr& m, AcceptOutcome::Kind kind) {
    a.answers->onAccepted(m, kind);
  };
  a.router = std::make_unique<Router>(*a.store, a.routing, *a.engine, resolver, a.clock,
                                      std::move(router_hooks), a.acks.get());
  a.inbound = std::make_unique<MeteredSink>(*a.router, a.router_metrics);
  a.answers = std::make_unique<Answers>(*a.router, *a.store, a.routing, a.clock, a.config.identity);
  a.housekeeper = std::make_unique<Housekeeper>(*a.store, *a.acks, a.clock);

  LiveSources live;
  live.statistics = [&a] { return a.store->statistics(); };
  live.store_health = [&a] { return a.store->health(); };
  live.routing = &a.routing;
  live.transports = [&a] {
    std::vector<std::pair<std::string, bool>> up;
    for (const auto& [type, t] : a.transports) up.emplace_back(type, t->ready());
    return up;
  };
  live.acks_unmatched = [&a] { return a.acks->counters().unmatched; };
  a.live_metrics = std::make_shared<LiveMetrics>(std::move(live), a.clock);
  a.admin = std::make_unique<AdminService>(a.config.admin, a.metrics);
  a.admin->addCollectable(a.live_metrics);
  a.admin->addReadinessCheck({"store", [&a] { return a.store->health(); }});
  a.admin->addReadinessCheck({"routing", [&a] {
                                return a.routing.current() ? Status()
                                                           : Status::unavailable("no table");
                              }});
  for (auto& [type, t] : a.transports) {
    Transport* tp = t.get();
    std::string name = type;
    a.admin->addReadinessCheck({"transport " + name, [tp] {
                                  return tp->ready() ? Status() : Status::unavailable("not ready");
                                }});
  }
  a.admin->addRoute(
      {"POST", "/admin/routing/reload", AdminRole::kAdmin,
       [&a](const http::Request&, std::string_view, const std::string&, http::Responder respond) {
         Status s = a.reloadRoutes();
         respond(s.ok() ? http::Response::text(200, "reloaded\n")
                        : http::Response::text(422, s.message() + "\n"));
       }});
  a.admin->addRoute(
      {"GET", "/admin/routing", AdminRole::kViewer,
       [&a](const http::Request&, std::string_view, const std::string&, http::Responder respond) {
         auto t = a.routing.current();
         respond(http::Response::text(200, "version " + t->version() + "\nchecksum " +
                                               t->checksum() + "\nroutes " +
                                               std::to_string(t->routes().size()) + "\n"));
       }});
  addOperationsApi(
      *a.admin, *a.store, a.clock, [&a] { a.engine->notify(); }, a.routing_history);

  if (a.config.admin.enabled) {
    http::ServerConfig sc;
    sc.name = "admin";
    sc.address = a.config.admin.address;
    sc.port = a.config.admin.port;
    auto server = http::Server::start(a.io, sc, [&a](http::Request&& r, http::Responder respond) {
      a.admin->handle(std::move(r), std::move(respond));
    });
    if (!server.ok()) return server.status();
    a.admin_server = std::move(*server);
  }
  for (auto& [type, t] : a.transports) {
    Status s = t->start(*a.inbound);
    if (!s.ok()) return Status::unavailable("transport " + type + ": " + s.message());
  }
  a.engine->start();
  a.housekeeper->start();
  if (a.config.routing.watch) a.reloader->start();

  a.signals.add(SIGINT);
  a.signals.add(SIGTERM);
  a.signals.add(SIGHUP);
  a.waitForSignal();

  a.work.emplace(a.io.get_executor());
  int n = a.config.threads > 0
              ? a.config.threads
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) a.threads.emplace_back([&a] { a.io.run(); });
  log::info("router.ready", {{"threads", n},
                             {"admin_port", static_cast<int>(adminPort())},
                             {"routing_version", a.routing.current()->version()}});
  return Status();
}

int App::run() {
  Impl& a = *impl_;
  {
    std::unique_lock lock(a.stop_mu);
    a.stop_cv.wait(lock, [&a] { return a.stop_requested; });
  }
  a.shutdown();
  return 0;
}

void App::requestStop() {
  impl_->requestStop();
}

uint16_t App::adminPort() const {
  return impl_->admin_server ? impl_->admin_server->port() : 0;
}

}  // namespace itk
