// App: one running router. Builds every part from RouterConfig, starts them in order, serves
// until SIGTERM/SIGINT, then stops gracefully: stop accepting, let accepts under way reach the
// store and attempts in flight finish (bounded by delivery.shutdown_grace), exit 0.
// SIGHUP reloads the routing tables.
#pragma once

#include <memory>

#include "config/config.h"
#include "itk/clock.h"
#include "itk/status.h"
#include "itk/transport.h"

namespace itk {

class App {
 public:
  // Builds the parts without starting anything (no port bound, no thread started): the form
  // --check-config uses. Fails with every problem found.
  static Result<std::unique_ptr<App>> create(RouterConfig config,
                                             const TransportRegistry& transports,
                                             const Clock& clock = SystemClock::instance());
  ~App();

  // Opens the store, binds listeners, starts transports and delivery. Fails cleanly (nothing
  // left running) when a port cannot be bound or the store cannot be opened.
  Status start();
  // Serves until a stop is requested (signal or requestStop()); returns the exit code.
  int run();
  // Thread-safe; the same as SIGTERM.
  void requestStop();

  // The admin listener's port (after start), for tests that bind port 0.
  uint16_t adminPort() const;

 private:
  struct Impl;
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace itk
