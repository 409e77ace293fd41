// loadRoutingTables: reads the YAML routing tables administrators edit (routing-rules/README.md
// documents the format), validates them as a whole and builds one RoutingTable.
//
// yaml-cpp throws on malformed input and on failed conversions; every call that can throw is
// inside this file and turned into a diagnostic with file and line (DEVELOPING.md: catch
// yaml-cpp exceptions at the wrapper).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "itk/duration.h"
#include "itk/routing.h"
#include "routing/files.h"
#include "routing/index.h"

namespace itk {
namespace {

constexpr size_t kMaxPatternLength = 2048;
// One route entry may expand (lists in its match) to at most this many routes.
constexpr size_t kMaxExpansion = 100'000;
// Pair checks the analysis of routes that can never win may spend (a warning says when spent).
constexpr uint64_t kShadowCheckBudget = 50'000'000;

using Severity = TableDiagnostic::Severity;

int lineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

class Diagnostics {
 public:
  void add(Severity severity, const std::string& file, int line, std::string message) {
    auto& list = severity == Severity::kError ? errors : warnings;
    list.push_back({severity, file, line, std::move(message)});
  }
  void error(const std::string& file, const YAML::Node& at, std::string message) {
    add(Severity::kError, file, lineOf(at), std::move(message));
  }
  void warning(const std::string& file, const YAML::Node& at, std::string message) {
    add(Severity::kWarning, file, lineOf(at), std::move(message));
  }

  std::vector<TableDiagnostic> errors;
  std::vector<TableDiagnostic> warnings;
};

std::string quote(std::string_view s) {
  return std::string("'").append(s) + "'";
}
std::string where(const std::string& file, int line) {
  return file + ":" + std::to_string(line);
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// Names of routes and endpoints end up in logs, metric labels and store rows: keep them plain.
bool validName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  };
  return std::all_of(name.begin(), name.end(), ok) && name.front() != '.' && name.front() != '-';
}

// One file's parse state while loading.
struct FileContext {
  const std::string& file;
  Diagnostics& diag;

  void error(const YAML::Node& at, std::string message) const {
    diag.error(file, at, std::move(message));
  }
  void warning(const YAML::Node& at, std::string message) const {
    diag.warning(file, at, std::move(message));
  }

  // Walks a mapping: refuses non-scalar, duplicate and unknown keys, and calls `handle` for the
  // others in file order. Returns false (after reporting) when `node` is not a mapping.
  bool forEachEntry(
      const YAML::Node& node, std::string_view what, std::initializer_list<std::string_view> known,
      const std::function<void(const std::string&, const YAML::Node&)>& handle) const {
    if (!node.IsMap()) {
      error(node, std::string(what) + " must be a mapping");
      return false;
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        error(entry.first, std::string(what) + ": keys must be plain names");
        continue;
      }
      std::string key = entry.first.Scalar();
      if (!seen.insert(key).second) {
        error(entry.first, std::string(what) + ": duplicate key " + quote(key));
        continue;
      }
      if (known.size() != 0 && std::find(known.begin(), known.end(), key) == known.end()) {
        std::string expected;
        for (std::string_view k : known)
          expected += (expected.empty() ? "" : ", ") + std::string(k);
        error(entry.first, std::string(what) + ": unknown key " + quote(key) +
                               " (expected one of: " + expected + ")");
        continue;
      }
      handle(key, entry.second);
    }
    return true;
  }

  std::optional<std::string> scalar(const YAML::Node& node, std::string_view what) const {
    if (!node.IsScalar()) {
      error(node, std::string(what) + " must be a single value");
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<int> integer(const YAML::Node& node, std::string_view what, int min,
                             int max) const {
    auto text = scalar(node, what);
    if (!text) return std::nullopt;
    int value = 0;
    if (!YAML::convert<int>::decode(node, value)) {
      error(node, std::string(what) + " must be a whole number, not " + quote(*text));
      return std::nullopt;
    }
    if (value < min || value > max) {
      error(node, std::string(what) + " must be between " + std::to_string(min) + " and " +
                      std::to_string(max) + ", not " + std::to_string(value));
      return std::nullopt;
    }
    return value;
  }

  std::optional<double> number(const YAML::Node& node, std::string_view what, double min,
                               double max, bool max_inclusive) const {
    auto text = scalar(node, what);
    if (!text) return std::nullopt;
    double value = 0;
    if (!YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
      error(node, std::string(what) + " must be a number, not " + quote(*text));
      return std::nullopt;
    }
    if (value < min || value > max || (!max_inclusive && value == max)) {
      error(node, std::string(what) + " must be at least " + std::to_string(min) +
                      (max_inclusive ? " and at most " : " and below ") + std::to_string(max));
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::chrono::milliseconds> duration(const YAML::Node& node,
                                                    std::string_view what) const {
    auto text = scalar(node, what);
    if (!text) return std::nullopt;
    std::chrono::milliseconds d{};
    if (!parseDuration(*text, &d)) {
      error(node, std::string(what) + ": " + quote(*text) +
                      " is not a duration (a number and a unit: 250ms, 30s, 5m, 2h, 5d)");
      return std::nullopt;
    }
    if (d.count() <= 0) {
      error(node, std::string(what) + " must be longer than 0");
      return std::nullopt;
    }
    return d;
  }
};

// ---- Route settings shared by defaults and routes ----------------------------------------------

struct Settings {
  RetrySpec retry;
  RouteMode mode = RouteMode::kStoreAndForward;
  OrderingSpec ordering;
  std::chrono::seconds time_to_live{600};
  std::chrono::milliseconds timeout{30000};
};

std::chrono::seconds ceilSeconds(std::chrono::milliseconds d) {
  return std::chrono::ceil<std::chrono::seconds>(d);
}

void parseRetry(const FileContext& ctx, const YAML::Node& node, RetrySpec& retry) {
  ctx.forEachEntry(
      node, "retry",
      {"max_attempts", "initial_backoff", "max_backoff", "multiplier", "jitter", "deadline"},
      [&](const std::string& key, const YAML::Node& value) {
        if (key == "max_attempts") {
          if (auto v = ctx.integer(value, "retry.max_attempts", 1, 1'000'000)) {
            retry.max_attempts = *v;
          }
        } else if (key == "initial_backoff") {
          if (auto v = ctx.duration(value, "retry.initial_backoff")) retry.initial_backoff = *v;
        } else if (key == "max_backoff") {
          if (auto v = ctx.duration(value, "retry.max_backoff")) retry.max_backoff = *v;
        } else if (key == "multiplier") {
          if (auto v = ctx.number(value, "retry.multiplier", 1.0, 100.0, true)) {
            retry.multiplier = *v;
          }
        } else if (key == "jitter") {
          if (auto v = ctx.number(value, "retry.jitter", 0.0, 1.0, false)) retry.jitter = *v;
        } else if (key == "deadline") {
          if (auto v = ctx.duration(value, "retry.deadline")) retry.deadline = ceilSeconds(*v);
        }
      });
  if (retry.max_backoff < retry.initial_backoff) {
    ctx.error(node, "retry.max_backoff (" + formatDuration(retry.max_backoff) +
                        ") is shorter than retry.initial_backoff (" +
                        formatDuration(retry.initial_backoff) + ")");
  }
}

std::optional<RouteMode> parseMode(const FileContext& ctx, const YAML::Node& node) {
  auto text = ctx.scalar(node, "mode");
  if (!text) return std::nullopt;
  if (*text == "store-and-forward") return RouteMode::kStoreAndForward;
  if (*text == "sync-proxy") return RouteMode::kSyncProxy;
  ctx.error(node, "mode must be store-and-forward or sync-proxy, not " + quote(*text));
  return std::nullopt;
}

std::optional<OrderingSpec> parseOrdering(const FileContext& ctx, const YAML::Node& node) {
  OrderingSpec spec;
  if (node.IsScalar()) {
    if (node.Scalar() == "none") return spec;
    if (node.Scalar() == "fifo") {
      spec.kind = OrderingSpec::Kind::kFifo;
      return spec;
    }
    ctx.error(node, "ordering must be none, fifo or {fifo: KEY}, not " + quote(node.Scalar()));
    return std::nullopt;
  }
  std::optional<YAML::Node> parts;
  bool ok = ctx.forEachEntry(node, "ordering", {"fifo"},
                             [&](const std::string&, const YAML::Node& v) { parts = v; });
  if (!ok) return std::nullopt;
  if (!parts) {
    ctx.error(node, "ordering needs fifo: KEY");
    return std::nullopt;
  }
  std::vector<YAML::Node> items;
  if (parts->IsSequence()) {
    for (const auto& p : *parts) items.push_back(p);
  } else {
    items.push_back(*parts);
  }
  if (items.empty()) {
    ctx.error(*parts, "ordering.fifo needs at least one key");
    return std::nullopt;
  }
  std::string key;
  std::set<std::string> seen;
  for (const auto& item : items) {
    auto text = ctx.scalar(item, "ordering.fifo");
    if (!text) return std::nullopt;
    if (*text == "patient") {
      ctx.error(item,
                "ordering by patient is not available: routing sees the envelope header, which "
                "carries no patient identifier (use sender, address, service or interaction)");
      return std::nullopt;
    }
    if (*text != "sender" && *text != "address" && *text != "service" && *text != "interaction") {
      ctx.error(item, "ordering.fifo key must be sender, address, service or interaction, not " +
                          quote(*text));
      return std::nullopt;
    }
    if (!seen.insert(*text).second) {
      ctx.error(item, "ordering.fifo lists " + quote(*text) + " twice");
      return std::nullopt;
    }
    key += (key.empty() ? "" : "+") + *text;
  }
  spec.kind = OrderingSpec::Kind::kFifo;
  spec.key = key;
  return spec;
}

// The keys both `defaults` and a route may set. Returns true when `key` was one of them.
bool parseSetting(const FileContext& ctx, const std::string& key, const YAML::Node& value,
                  Settings& s) {
  if (key == "retry") {
    parseRetry(ctx, value, s.retry);
  } else if (key == "mode") {
    if (auto m = parseMode(ctx, value)) s.mode = *m;
  } else if (key == "ordering") {
    if (auto o = parseOrdering(ctx, value)) s.ordering = *o;
  } else if (key == "time_to_live") {
    if (auto d = ctx.duration(value, "time_to_live")) s.time_to_live = ceilSeconds(*d);
  } else if (key == "timeout") {
    if (auto d = ctx.duration(value, "timeout")) s.timeout = *d;
  } else {
    return false;
  }
  return true;
}

// ---- Match patterns ----------------------------------------------------------------------------

size_t tokenCount(std::string_view s) {
  return std::count(s.begin(), s.end(), ':') + 1;
}

std::optional<FieldMatch> parsePattern(const FileContext& ctx, const YAML::Node& node,
                                       const std::string& field) {
  std::string what = "match." + field;
  FieldMatch match;
  YAML::Node text_node = node;
  if (node.IsScalar()) {
    match = FieldMatch::glob(node.Scalar());
  } else if (node.IsMap()) {
    if (node.size() != 1) {
      ctx.error(node, what + " takes one of exact:, glob: or prefix:");
      return std::nullopt;
    }
    auto entry = *node.begin();
    std::string kind = entry.first.IsScalar() ? entry.first.Scalar() : "";
    text_node = entry.second;
    auto text = ctx.scalar(text_node, what + "." + kind);
    if (!text) return std::nullopt;
    if (kind == "exact") {
      match = FieldMatch::exact(*text);
    } else if (kind == "glob") {
      match = FieldMatch::glob(*text);
    } else if (kind == "prefix") {
      if (text->find_first_of("*?") != std::string::npos) {
        ctx.error(text_node,
                  what + ": a prefix has no wildcards (use glob: for " + quote(*text) + ")");
        return std::nullopt;
      }
      if (!text->empty() && (text->front() == ':' || text->back() == ':')) {
        ctx.error(text_node, what + ": write the prefix without a leading or trailing ':' (" +
                                 quote(*text) + ")");
        return std::nullopt;
      }
      match = FieldMatch::prefix(*text);
    } else {
      ctx.error(entry.first, what + " takes exact:, glob: or prefix:, not " + quote(kind));
      return std::nullopt;
    }
  } else {
    ctx.error(node, what + " must be a pattern, a {exact|glob|prefix: pattern} or a list of them");
    return std::nullopt;
  }
  if (match.kind != FieldMatch::Kind::kAny && match.pattern.empty()) {
    ctx.error(text_node, what + " is empty (leave the field out to match anything)");
    return std::nullopt;
  }
  if (match.pattern.size() > kMaxPatternLength) {
    ctx.error(text_node,
              what + " is longer than " + std::to_string(kMaxPatternLength) + " characters");
    return std::nullopt;
  }
  if (field == "address" && tokenCount(match.pattern) > RoutingIndex::kMaxTokens) {
    ctx.error(text_node, what + " has more than " + std::to_string(RoutingIndex::kMaxTokens) +
                             " colon-separated tokens");
    return std::nullopt;
  }
  return match;
}

// A field's patterns: one, or a list (the route matches when any of them does).
std::optional<std::vector<FieldMatch>> parsePatterns(const FileContext& ctx, const YAML::Node& node,
                                                     const std::string& field) {
  std::vector<FieldMatch> out;
  if (!node.IsSequence()) {
    auto m = parsePattern(ctx, node, field);
    if (!m) return std::nullopt;
    out.push_back(std::move(*m));
    return out;
  }
  if (node.size() == 0) {
    ctx.error(node, "match." + field + " is an empty list");
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& item : node) {
    if (item.IsSequence()) {
      ctx.error(item, "match." + field + ": lists do not nest");
      ok = false;
      continue;
    }
    auto m = parsePattern(ctx, item, field);
    if (!m) {
      ok = false;
      continue;
    }
    if (std::find(out.begin(), out.end(), *m) != out.end()) {
      ctx.warning(item, "match." + field + " lists " + m->toString() + " twice");
      continue;
    }
    out.push_back(std::move(*m));
  }
  if (!ok) return std::nullopt;
  return out;
}

// ---- The table ---------------------------------------------------------------------------------

struct FileSections {
  std::string file;
  std::optional<YAML::Node> version, defaults, endpoints, routes;
};

struct EndpointInfo {
  std::string file;
  int line = 0;
  bool used = false;
};

class Loader {
 public:
  Loader(const TransportRegistry& transports) : transports_(transports) {}

  TableLoadResult load(const std::vector<RoutingSource>& sources) {
    std::vector<FileSections> files;
    for (const RoutingSource& source : sources) readSections(source, files);
    for (const FileSections& f : files) {
      FileContext ctx{f.file, diag_};
      if (f.defaults) parseDefaults(ctx, *f.defaults);
    }
    for (const FileSections& f : files) {
      FileContext ctx{f.file, diag_};
      if (f.endpoints) parseEndpoints(ctx, *f.endpoints);
    }
    for (const FileSections& f : files) {
      FileContext ctx{f.file, diag_};
      if (f.routes) parseRoutes(ctx, *f.routes);
    }

    if (routes_.empty() && diag_.errors.empty()) {
      // Never intended, and what a file caught half-written (truncated to nothing) looks like:
      // refuse it rather than answer every message "route not found".
      diag_.add(Severity::kError, sources.empty() ? "" : sources.back().file, 0,
                "the table has no routes (a default route is `- name: default` with an "
                "endpoint and no match)");
    }
    TableLoadResult result;
    if (diag_.errors.empty()) {
      for (const EndpointSpec& e : endpoints_) {
        const EndpointInfo& info = endpoint_info_[e.name];
        if (!info.used) {
          diag_.add(Severity::kWarning, info.file, info.line,
                    "endpoint " + quote(e.name) + " is not used by any route");
        }
      }
      auto table = std::make_shared<RoutingTable>(std::move(routes_), std::move(endpoints_),
                                                  version_, routing_files::sha256Hex(sources));
      warnShadowed(*table);
      result.table = std::move(table);
    }
    result.errors = std::move(diag_.errors);
    result.warnings = std::move(diag_.warnings);
    return result;
  }

 private:
  void readSections(const RoutingSource& source, std::vector<FileSections>& files) {
    FileContext ctx{source.file, diag_};
    YAML::Node root;
    try {
      root = YAML::Load(source.bytes);
    } catch (const YAML::Exception& e) {
      diag_.add(Severity::kError, source.file, e.mark.line >= 0 ? e.mark.line + 1 : 0,
                "YAML syntax: " + e.msg);
      return;
    }
    if (root.IsNull()) {
      diag_.add(Severity::kWarning, source.file, 0, "the file is empty");
      return;
    }
    FileSections f{source.file, {}, {}, {}, {}};
    ctx.forEachEntry(root, "the file", {"version", "defaults", "endpoints", "routes"},
                     [&](const std::string& key, const YAML::Node& value) {
                       if (key == "version") {
                         f.version = value;
                       } else if (key == "defaults") {
                         f.defaults = value;
                       } else if (key == "endpoints") {
                         f.endpoints = value;
                       } else {
                         f.routes = value;
                       }
                     });
    if (f.version) {
      if (auto v = ctx.scalar(*f.version, "version")) {
        if (!version_file_.empty()) {
          ctx.error(*f.version, "version is already set at " + where(version_file_, version_line_));
        } else {
          version_ = *v;
          version_file_ = source.file;
          version_line_ = lineOf(*f.version);
        }
      }
    }
    if (f.defaults) {
      if (!defaults_file_.empty()) {
        ctx.error(*f.defaults,
                  "defaults are already set at " + where(defaults_file_, defaults_line_));
        f.defaults.reset();
      } else {
        defaults_file_ = source.file;
        defaults_line_ = lineOf(*f.defaults);
      }
    }
    files.push_back(std::move(f));
  }

  void parseDefaults(const FileContext& ctx, const YAML::Node& node) {
    ctx.forEachEntry(node, "defaults", {"retry", "mode", "ordering", "time_to_live", "timeout"},
                     [&](const std::string& key, const YAML::Node& value) {
                       parseSetting(ctx, key, value, defaults_);
                     });
    if (defaults_.mode == RouteMode::kSyncProxy &&
        defaults_.ordering.kind == OrderingSpec::Kind::kFifo) {
      ctx.error(node, "defaults: a sync-proxy route cannot order its deliveries (ordering: fifo)");
    }
  }

  void parseEndpoints(const FileContext& ctx, const YAML::Node& node) {
    ctx.forEachEntry(node, "endpoints", {}, [&](const std::string& name, const YAML::Node& value) {
      parseEndpoint(ctx, name, value);
    });
  }

  void parseEndpoint(const FileContext& ctx, const std::string& name, const YAML::Node& node) {
    const std::string what = "endpoint " + quote(name);
    if (!validName(name)) {
      ctx.error(node, what + ": names use letters, digits, '_', '-' and '.'");
      return;
    }
    if (auto it = endpoint_info_.find(name); it != endpoint_info_.end()) {
      ctx.error(node, what + " is already defined at " + where(it->second.file, it->second.line));
      return;
    }
    if (!node.IsMap()) {
      ctx.error(node, what + " must be a mapping with transport: and its parameters");
      return;
    }
    EndpointSpec spec;
    spec.name = name;
    std::optional<YAML::Node> transport_node;
    YAML::Node params(YAML::NodeType::Map);
    bool ok = true;
    ctx.forEachEntry(node, what, {}, [&](const std::string& key, const YAML::Node& value) {
      if (key == "transport") {
        transport_node = value;
      } else if (key == "description") {
        (void)ctx.scalar(value, what + ": description");  // for people: not the transport's
      } else if (key == "max_concurrency") {
        if (auto v = ctx.integer(value, what + ": max_concurrency", 1, 10'000)) {
          spec.max_concurrency = *v;
        } else {
          ok = false;
        }
      } else {
        params[key] = value;  // shares the node, so the transport's errors keep their lines
      }
    });
    if (!transport_node) {
      ctx.error(node, what + " needs transport: (one of: " + joinNames(transports_.names()) + ")");
      ok = false;
    } else if (auto t = ctx.scalar(*transport_node, what + ": transport")) {
      spec.transport = *t;
    } else {
      ok = false;
    }
    endpoint_info_[name] = {ctx.file, lineOf(node), false};
    if (!ok) return;
    const TransportFactory* factory = transports_.find(spec.transport);
    if (factory == nullptr) {
      ctx.error(*transport_node, what + ": unknown transport " + quote(spec.transport) +
                                     " (known: " + joinNames(transports_.names()) + ")");
      return;
    }
    try {
      auto config = factory->parseEndpoint(params);
      if (!config.ok()) {
        ctx.error(node, what + " (" + spec.transport + "): " + config.status().message());
        return;
      }
      spec.config = std::move(*config);
    } catch (const std::exception& e) {
      ctx.error(node, what + " (" + spec.transport + "): " + e.what());
      return;
    }
    endpoints_.push_back(std::move(spec));
  }

  void parseRoutes(const FileContext& ctx, const YAML::Node& node) {
    if (!node.IsSequence()) {
      ctx.error(node, "routes must be a list (each route starts with '- name:')");
      return;
    }
    for (const auto& route : node) parseRoute(ctx, route);
  }

  void parseRoute(const FileContext& ctx, const YAML::Node& node) {
    if (!node.IsMap()) {
      ctx.error(node, "a route must be a mapping with name:, match: and endpoint: or reject:");
      return;
    }
    const size_t errors_before = diag_.errors.size();
    Route proto;
    proto.file = ctx.file;
    proto.line = lineOf(node);
    Settings settings = defaults_;
    std::vector<FieldMatch> services{FieldMatch::any()}, addresses{FieldMatch::any()},
        senders{FieldMatch::any()}, interactions{FieldMatch::any()};
    std::optional<YAML::Node> name_node, endpoint_node, reject_node;
    std::vector<std::pair<std::string, YAML::Node>> delivery_settings;
    std::string label = "route";
    if (const YAML::Node n = node["name"]; n.IsDefined() && n.IsScalar()) {
      label += " " + quote(n.Scalar());
    }
    ctx.forEachEntry(node, label,
                     {"name", "description", "match", "priority", "endpoint", "reject", "retry",
                      "mode", "ordering", "time_to_live", "timeout"},
                     [&](const std::string& key, const YAML::Node& value) {
                       if (key == "name") {
                         name_node = value;
                       } else if (key == "description") {
                         (void)ctx.scalar(value, "description");
                       } else if (key == "match") {
                         parseMatch(ctx, value, services, addresses, senders, interactions);
                       } else if (key == "priority") {
                         if (auto p = ctx.integer(value, "priority", -1'000'000, 1'000'000)) {
                           proto.priority = *p;
                         }
                       } else if (key == "endpoint") {
                         endpoint_node = value;
                       } else if (key == "reject") {
                         reject_node = value;
                       } else {
                         parseSetting(ctx, key, value, settings);
                         delivery_settings.emplace_back(key, value);
                       }
                     });

    if (!name_node) {
      ctx.error(node, "a route needs name:");
    } else if (auto name = ctx.scalar(*name_node, "name")) {
      proto.name = *name;
      if (!validName(proto.name)) {
        ctx.error(*name_node, "route name " + quote(proto.name) +
                                  ": names use letters, digits, '_', '-' and '.'");
      } else if (auto it = route_lines_.find(proto.name); it != route_lines_.end()) {
        ctx.error(*name_node, "route " + quote(proto.name) + " is already defined at " +
                                  where(it->second.first, it->second.second));
      } else {
        route_lines_[proto.name] = {ctx.file, proto.line};
      }
    }
    const std::string what = "route " + quote(proto.name);

    if (endpoint_node.has_value() == reject_node.has_value()) {
      ctx.error(node, what + " needs exactly one of endpoint: and reject:");
    } else if (endpoint_node) {
      if (auto e = ctx.scalar(*endpoint_node, "endpoint")) {
        proto.endpoint = *e;
        auto it = endpoint_info_.find(proto.endpoint);
        if (it == endpoint_info_.end()) {
          ctx.error(*endpoint_node, what + ": unknown endpoint " + quote(proto.endpoint));
        } else {
          it->second.used = true;
        }
      }
    } else {
      proto.reject = true;
      parseReject(ctx, *reject_node, proto);
      for (const auto& [key, value] : delivery_settings) {
        ctx.warning(value, what + ": " + key + " has no effect on a reject route");
      }
    }
    if (settings.mode == RouteMode::kSyncProxy &&
        settings.ordering.kind == OrderingSpec::Kind::kFifo && !proto.reject) {
      ctx.error(node, what + ": a sync-proxy route cannot order its deliveries (ordering: fifo)");
    }
    proto.retry = settings.retry;
    proto.mode = settings.mode;
    proto.ordering = settings.ordering;
    proto.time_to_live = settings.time_to_live;
    proto.timeout = settings.timeout;
    if (diag_.errors.size() != errors_before) return;

    size_t expansion = services.size() * addresses.size() * senders.size() * interactions.size();
    if (expansion > kMaxExpansion) {
      ctx.error(node, what + ": its match lists expand to " + std::to_string(expansion) +
                          " routes (at most " + std::to_string(kMaxExpansion) + ")");
      return;
    }
    for (const auto& service : services) {
      for (const auto& address : addresses) {
        for (const auto& interaction : interactions) {
          for (const auto& sender : senders) {
            Route r = proto;
            r.service = service;
            r.address = address;
            r.interaction = interaction;
            r.sender = sender;
            routes_.push_back(std::move(r));
          }
        }
      }
    }
  }

  void parseMatch(const FileContext& ctx, const YAML::Node& node, std::vector<FieldMatch>& services,
                  std::vector<FieldMatch>& addresses, std::vector<FieldMatch>& senders,
                  std::vector<FieldMatch>& interactions) {
    ctx.forEachEntry(node, "match", {"service", "address", "sender", "interaction"},
                     [&](const std::string& key, const YAML::Node& value) {
                       auto patterns = parsePatterns(ctx, value, key);
                       if (!patterns) return;
                       if (key == "service") services = std::move(*patterns);
                       if (key == "address") addresses = std::move(*patterns);
                       if (key == "sender") senders = std::move(*patterns);
                       if (key == "interaction") interactions = std::move(*patterns);
                     });
  }

  void parseReject(const FileContext& ctx, const YAML::Node& node, Route& route) {
    if (node.IsScalar()) {
      route.reject_reason = node.Scalar();
    } else {
      ctx.forEachEntry(node, "reject", {"reason", "code"},
                       [&](const std::string& key, const YAML::Node& value) {
                         if (key == "reason") {
                           if (auto r = ctx.scalar(value, "reject.reason")) {
                             route.reject_reason = *r;
                           }
                           return;
                         }
                         auto code = ctx.integer(value, "reject.code", 0, 9999);
                         if (!code) return;
                         if (*code == 1000 || *code == 2200 || *code == 3000) {
                           route.reject_code = static_cast<ToolkitCode>(*code);
                         } else {
                           ctx.error(value,
                                     "reject.code must be 1000 (invalid message), 2200 (not "
                                     "retryable) or 3000 (access denied), not " +
                                         std::to_string(*code));
                         }
                       });
    }
    if (route.reject_reason.empty()) {
      ctx.error(node, "reject needs a reason: the sender's NACK states it");
    }
  }

  // A route that can never win: an earlier or more specific route matches everything it
  // matches. Routes sharing a name (one route's match list) are not compared with each other.
  void warnShadowed(const RoutingTable& table) {
    const RoutingIndex& index = table.index();
    std::unordered_map<std::string_view, int> entries_per_name;
    for (const Route& route : table.routes()) ++entries_per_name[route.name];
    ShadowAnalysis analysis = findShadowedRoutes(table, kShadowCheckBudget);
    for (const auto& [route, winner] : analysis.shadowed) {
      std::string which = "route " + quote(route->name);
      if (entries_per_name[route->name] > 1) {  // say which entry of its match lists
        which += " (address " + route->address.toString() + ", service " +
                 route->service.toString() + ")";
      }
      diag_.add(
          Severity::kWarning, route->file, route->line,
          which + " can never win: route " + quote(winner->name) + " at " +
              where(winner->file, winner->line) +
              " matches every message it matches and takes precedence (" +
              describePrecedence(*winner, index.position(*winner), *route, index.position(*route)) +
              ")");
    }
    if (analysis.stopped_at != nullptr) {
      diag_.add(Severity::kWarning, analysis.stopped_at->file, analysis.stopped_at->line,
                "the table is too large to look for routes that can never win past this one");
    }
  }

  const TransportRegistry& transports_;
  Diagnostics diag_;
  std::string version_;
  std::string version_file_, defaults_file_;
  int version_line_ = 0, defaults_line_ = 0;
  Settings defaults_;
  std::vector<EndpointSpec> endpoints_;
  std::map<std::string, EndpointInfo, std::less<>> endpoint_info_;
  std::vector<Route> routes_;
  std::map<std::string, std::pair<std::string, int>> route_lines_;
};

}  // namespace

TableLoadResult loadRoutingSources(const std::vector<RoutingSource>& sources,
                                   const TransportRegistry& transports) {
  try {
    return Loader(transports).load(sources);
  } catch (const std::exception& e) {
    // Reached only through a bug or memory exhaustion; the reloader's thread must survive it
    // and keep the running table.
    TableLoadResult failed;
    failed.errors.push_back({Severity::kError, sources.empty() ? "" : sources.front().file, 0,
                             std::string("the table could not be loaded: ") + e.what()});
    return failed;
  }
}

TableLoadResult loadRoutingTables(const std::vector<std::string>& files,
                                  const TransportRegistry& transports) {
  std::vector<RoutingSource> sources;
  TableLoadResult failed;
  for (const std::string& file : files) {
    auto bytes = routing_files::readFile(file);
    if (!bytes.ok()) {
      failed.errors.push_back({Severity::kError, file, 0, bytes.status().message()});
      continue;
    }
    sources.push_back({file, std::move(*bytes)});
  }
  if (files.empty()) failed.errors.push_back({Severity::kError, "", 0, "no routing-table files"});
  if (!failed.errors.empty()) return failed;
  return loadRoutingSources(sources, transports);
}

}  // namespace itk
