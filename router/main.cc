// itk-router: parse the command line, then run the router or one of the admin commands.
// Thin on purpose: everything it calls is in a library that the tests link too.
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "itk/clock.h"
#include "itk/envelope/validate_command.h"
#include "itk/log.h"
#include "itk/routing/commands.h"
#include "itk/transport.h"
#include "server/app.h"
#include "store/commands.h"

#ifndef ITK_ROUTER_VERSION
#define ITK_ROUTER_VERSION "0.0.0"
#endif

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage = R"(usage: itk-router [--config FILE] [--log-format text|json]
       itk-router --check-config --config FILE
       itk-router --version
       itk-router validate [--now TIME] FILE...
       itk-router messages show TRACKING_ID (--config FILE | --store PATH)
       itk-router audit TRACKING_ID (--config FILE | --store PATH)
       itk-router dead-letters list [--route R] [--after ID] [--limit N] (--config FILE | --store PATH)
       itk-router dead-letters replay DELIVERY_ID|--all [--route R] (--config FILE | --store PATH)
       itk-router check-routes [--strict] [--config FILE | TABLE...]
       itk-router explain [--config FILE | --routes TABLE...] --service S --address A
                          [--address B ...] [--sender X] [--interaction I]

Starts the ITK router with the configuration FILE (default deploy/config/router.yaml).
  --check-config     load the configuration and every routing table, print each problem
                     as FILE:LINE: PROBLEM, and exit 2 if there is any (0 if none)
  --log-format F     text (default) or json, overriding the configuration
  --version          print the version

Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the routing tables.
)";

// Test-only (the hidden option --fake-now TIME): the router's clock starts at TIME and then runs
// at the normal rate, so that messages with fixed WS-Security timestamps (the shared fixtures)
// can be replayed against the real binary, and retries and timeouts still happen.
class FakeNowClock final : public itk::Clock {
 public:
  explicit FakeNowClock(itk::TimePoint start) : offset_(start - std::chrono::system_clock::now()) {}
  itk::TimePoint now() const override { return std::chrono::system_clock::now() + offset_; }

 private:
  itk::Duration offset_;
};

int runRouter(const po::variables_map& vm) {
  const std::string file = vm["config"].as<std::string>();
  itk::ConfigLoad loaded = itk::loadConfig(file);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.toString() << "\n";
    return 2;
  }
  itk::RouterConfig& config = *loaded.config;
  if (vm.count("log-format")) {
    if (!itk::log::parseFormat(vm["log-format"].as<std::string>(), &config.log_format)) {
      std::cerr << "itk-router: --log-format must be text or json\n";
      return 2;
    }
  }
  itk::log::configure(config.log_format, config.log_level);

  std::optional<FakeNowClock> fake_clock;
  if (vm.count("fake-now")) {
    itk::TimePoint start;
    if (!itk::parseIsoDateTime(vm["fake-now"].as<std::string>(), &start)) {
      std::cerr << "itk-router: --fake-now needs an xs:dateTime such as 2026-11-25T10:00:30Z\n";
      return 2;
    }
    fake_clock.emplace(start);
    itk::log::warn("clock.fake_now", {{"start", itk::formatIsoSeconds(start)},
                                      {"note", "test-only: the clock does not tell real time"}});
  }
  const itk::Clock& clock =
      fake_clock ? static_cast<const itk::Clock&>(*fake_clock) : itk::SystemClock::instance();

  itk::TransportRegistry registry;
  itk::registerBuiltinTransports(registry);
  auto app = itk::App::create(config, registry, clock);
  if (!app.ok()) {
    std::cerr << app.status().message() << "\n";
    return 2;
  }
  if (vm.count("check-config")) {
    std::cout << file << ": configuration OK\n";
    return 0;
  }
  itk::Status started = (*app)->start();
  if (!started.ok()) {
    itk::log::error("router.start_failed", {{"error", started.message()}});
    return 1;
  }
  return (*app)->run();
}

// `--config FILE` in a command's arguments stands for what FILE names: the routing tables (file
// arguments for check-routes, a --routes list for explain) or the store (--store PATH).
enum class Expand { kTableFiles, kRoutesOption, kStore };
bool expandConfig(std::vector<std::string>& args, Expand what) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] != "--config") continue;
    if (i + 1 >= args.size()) {
      std::cerr << "itk-router: --config needs a file\n";
      return false;
    }
    itk::ConfigLoad loaded = itk::loadConfig(args[i + 1]);
    if (!loaded.config) {
      for (const auto& e : loaded.errors) std::cerr << e.toString() << "\n";
      return false;
    }
    args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
    if (what == Expand::kStore) {
      args.push_back("--store");
      args.push_back(loaded.config->store.path);
      return true;
    }
    if (what == Expand::kRoutesOption) args.push_back("--routes");
    for (const auto& t : loaded.config->routing.tables) args.push_back(t);
    return true;
  }
  return true;
}

// The administrators' commands: `itk-router COMMAND ARGS...`.
std::optional<int> runCommand(const std::string& command, std::vector<std::string> args) {
  itk::TransportRegistry registry;
  itk::registerBuiltinTransports(registry);
  if (command == "validate") return itk::itk2::runValidateCommand(args, std::cout, std::cerr);
  if (command == "messages" || command == "dead-letters" || command == "audit") {
    if (!expandConfig(args, Expand::kStore)) return 2;
    if (command == "audit") return itk::runAuditCommand(args, std::cout, std::cerr);
    return command == "messages" ? itk::runMessagesCommand(args, std::cout, std::cerr)
                                 : itk::runDeadLettersCommand(args, std::cout, std::cerr);
  }
  if (command == "check-routes") {
    if (!expandConfig(args, Expand::kTableFiles)) return 2;
    return itk::runCheckRoutesCommand(args, registry, std::cout, std::cerr);
  }
  if (command == "explain") {
    if (!expandConfig(args, Expand::kRoutesOption)) return 2;
    return itk::runExplainCommand(args, registry, std::cout, std::cerr);
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && argv[1][0] != '-') {
    std::vector<std::string> args(argv + 2, argv + argc);
    try {
      if (auto code = runCommand(argv[1], std::move(args))) return *code;
    } catch (const std::exception& e) {
      std::cerr << "itk-router " << argv[1] << ": " << e.what() << "\n";
      return 1;
    }
    std::cerr << "itk-router: unknown command '" << argv[1] << "'\n" << kUsage;
    return 2;
  }
  po::options_description options;
  options.add_options()("help,h", "")("version", "")("check-config", "")(
      "config", po::value<std::string>()->default_value("deploy/config/router.yaml"), "")(
      "log-format", po::value<std::string>(), "")(
      // Test-only, deliberately not in the usage text: see FakeNowClock.
      "fake-now", po::value<std::string>(), "");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "itk-router: " << e.what() << "\n" << kUsage;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "itk-router " << ITK_ROUTER_VERSION << "\n";
    return 0;
  }
  try {
    return runRouter(vm);
  } catch (const std::exception& e) {
    // A last resort: one clear line, never a stack trace.
    std::cerr << "itk-router: " << e.what() << "\n";
    return 1;
  }
}
