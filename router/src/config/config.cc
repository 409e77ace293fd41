#include "config/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "itk/duration.h"

namespace itk {

std::string ConfigError::toString() const {
  return file + ":" + std::to_string(line) + ": " + message;
}

namespace {

// Walks one YAML mapping, reading known keys and reporting everything wrong with file and line.
class Section {
 public:
  Section(YAML::Node node, std::string path, const std::string& file,
          std::vector<ConfigError>& errors)
      : node_(std::move(node)), path_(std::move(path)), file_(file), errors_(errors) {
    // A missing key gives yaml-cpp's "zombie" node, on which most calls throw: use a null node.
    if (!node_.IsDefined()) node_ = YAML::Node();
    if (!node_.IsNull() && !node_.IsMap()) error(node_, path_ + " must be a mapping");
  }

  YAML::Node raw(const char* key) const {
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = node_;  // const lookup: never inserts the key
    YAML::Node v = map[key];
    return v.IsDefined() ? v : YAML::Node(YAML::NodeType::Undefined);
  }
  Section child(const char* key) const { return Section(raw(key), name(key), file_, errors_); }

  void str(const char* key, std::string* out) {
    seen_.insert(key);
    YAML::Node v = raw(key);
    if (!v) return;
    if (!v.IsScalar()) return error(v, name(key) + " must be a string");
    *out = v.Scalar();
  }
  template <class Int>
  void integer(const char* key, Int* out, long long min, long long max) {
    seen_.insert(key);
    YAML::Node v = raw(key);
    if (!v) return;
    long long x;
    if (!v.IsScalar() || !YAML::convert<long long>::decode(v, x) || x < min || x > max) {
      return error(v, name(key) + " must be a whole number from " + std::to_string(min) +
                          " to " + std::to_string(max));
    }
    *out = static_cast<Int>(x);
  }
  void boolean(const char* key, bool* out) {
    seen_.insert(key);
    YAML::Node v = raw(key);
    if (!v) return;
    bool b;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
      return error(v, name(key) + " must be true or false");
    *out = b;
  }
  void duration(const char* key, std::chrono::milliseconds* out) {
    seen_.insert(key);
    YAML::Node v = raw(key);
    if (!v) return;
    if (!v.IsScalar() || !parseDuration(v.Scalar(), out))
      error(v, name(key) + " must be a duration such as 250ms, 30s, 5m, 2h or 7d");
  }
  void oneOf(const char* key, std::string* out, std::initializer_list<std::string_view> allowed) {
    std::string v = *out;
    str(key, &v);
    for (auto a : allowed) {
      if (v == a) {
        *out = v;
        return;
      }
    }
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    error(raw(key), name(key) + " must be one of: " + list);
  }
  void strings(const char* key, std::vector<std::string>* out) {
    seen_.insert(key);
    YAML::Node v = raw(key);
    if (!v) return;
    if (v.IsScalar()) {
      out->assign({v.Scalar()});
      return;
    }
    if (!v.IsSequence()) return error(v, name(key) + " must be a list of strings");
    out->clear();
    for (const auto& item : v) {
      if (!item.IsScalar()) return error(item, name(key) + " must be a list of strings");
      out->push_back(item.Scalar());
    }
  }
  // "host:port" or a bare port.
  void listen(const char* key, std::string* address, uint16_t* port) {
    seen_.insert(key);
    YAML::Node v = raw(key);
    if (!v) return;
    std::string s = v.IsScalar() ? v.Scalar() : "";
    auto colon = s.rfind(':');
    std::string host = colon == std::string::npos ? *address : s.substr(0, colon);
    std::string p = colon == std::string::npos ? s : s.substr(colon + 1);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    long long n = -1;
    try {
      size_t used = 0;
      n = std::stoll(p, &used);
      if (used != p.size()) n = -1;
    } catch (...) {
      n = -1;
    }
    if (host.empty() || n < 0 || n > 65535)
      return error(v, name(key) + " must be host:port, e.g. 127.0.0.1:9180");
    *address = host;
    *port = static_cast<uint16_t>(n);
  }
  void seen(const char* key) { seen_.insert(key); }
  // Unknown keys are errors: a misspelt option must not silently keep its default.
  void rejectUnknown() {
    if (!node_.IsMap()) return;
    for (const auto& kv : node_) {
      std::string key = kv.first.Scalar();
      if (!seen_.count(key)) error(kv.first, "unknown option " + name(key.c_str()));
    }
  }
  void error(const YAML::Node& at, std::string message) const {
    int line = at ? at.Mark().line + 1 : (node_ ? node_.Mark().line + 1 : 0);
    errors_.push_back({file_, line < 0 ? 0 : line, std::move(message)});
  }

 private:
  std::string name(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  YAML::Node node_;
  std::string path_;
  const std::string& file_;
  std::vector<ConfigError>& errors_;
  std::set<std::string> seen_;
};

void readStore(Section s, StoreSettings& st) {
  s.oneOf("backend", &st.backend, {"sqlite", "postgres", "memory"});
  s.str("path", &st.path);
  s.str("url", &st.url);
  s.oneOf("durability", &st.durability, {"fsync", "os"});
  Section gc = s.child("group_commit");
  s.seen("group_commit");
  gc.integer("max_batch", &st.group_commit_max_batch, 1, 100000);
  gc.duration("max_wait", &st.group_commit_max_wait);
  gc.rejectUnknown();
  s.duration("dedup_window", &st.dedup_window);
  Section ret = s.child("retention");
  s.seen("retention");
  ret.duration("bodies", &st.retain_bodies);
  ret.duration("audit", &st.retain_audit);
  // IG: the audit trail says what happened to a message long after its body is gone.
  if (st.retain_audit < st.retain_bodies)
    ret.error(ret.raw("audit"), "store.retention.audit must be at least store.retention.bodies");
  ret.rejectUnknown();
  if (st.backend == "postgres" && st.url.empty()) s.error(s.raw("backend"), "store.url is required for postgres");
  s.rejectUnknown();
}

void readAdmin(Section s, AdminSettings& a, const std::string& file,
               std::vector<ConfigError>& errors) {
  s.boolean("enabled", &a.enabled);
  s.listen("listen", &a.address, &a.port);
  s.seen("tokens");
  YAML::Node tokens = s.raw("tokens");
  if (tokens) {
    if (!tokens.IsSequence()) {
      s.error(tokens, "admin.tokens must be a list");
    } else {
      for (const auto& t : tokens) {
        Section ts(t, "admin.tokens[]", file, errors);
        AdminToken token;
        ts.str("name", &token.name);
        token.role = "viewer";
        ts.oneOf("role", &token.role, {"viewer", "operator", "admin"});
        std::string token_file;
        ts.str("token", &token.token);
        ts.str("token_file", &token_file);
        if (!token_file.empty()) {
          std::ifstream in(token_file);
          std::string line;
          if (!in || !std::getline(in, line)) {
            ts.error(t, "cannot read admin token file " + token_file);
          } else {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            token.token = line;
          }
        }
        if (token.token.size() < 16)
          ts.error(t, "an admin token must be given (token or token_file), 16 characters at least");
        ts.rejectUnknown();
        a.tokens.push_back(std::move(token));
      }
    }
  }
  s.rejectUnknown();
}

}  // namespace

ConfigLoad loadConfig(const std::string& file) {
  ConfigLoad out;
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    out.errors.push_back({file, 0, "cannot read the configuration file"});
    return out;
  } catch (const YAML::ParserException& e) {
    out.errors.push_back({file, e.mark.line + 1, "YAML syntax error: " + e.msg});
    return out;
  }
  RouterConfig c;
  c.file = file;
  Section top(root, "", file, out.errors);
  if (!root.IsMap()) {
    out.errors.push_back({file, 1, "the configuration must be a YAML mapping"});
    return out;
  }

  Section id = top.child("identity");
  top.seen("identity");
  id.str("audit_identity", &c.identity.audit_identity);
  id.str("sender_address", &c.identity.sender_address);
  id.str("username", &c.identity.username);
  // The ODS code defaults to the one in the sender address (urn:nhs-uk:addressing:ods:CODE...).
  constexpr std::string_view kOds = "urn:nhs-uk:addressing:ods:";
  if (c.identity.sender_address.rfind(kOds, 0) == 0) {
    std::string rest = c.identity.sender_address.substr(kOds.size());
    c.identity.ods_code = rest.substr(0, rest.find(':'));
  }
  id.str("ods_code", &c.identity.ods_code);
  id.str("mesh_mailbox", &c.identity.mesh_mailbox);
  id.rejectUnknown();
  if (c.identity.audit_identity.rfind("urn:nhs-uk:identity:", 0) != 0)
    id.error(id.raw("audit_identity"), "identity.audit_identity must be a urn:nhs-uk:identity: URI");
  if (c.identity.sender_address.rfind("urn:nhs-uk:addressing:", 0) != 0)
    id.error(id.raw("sender_address"), "identity.sender_address must be a urn:nhs-uk:addressing: URI");

  top.integer("threads", &c.threads, 0, 256);
  top.str("data_dir", &c.data_dir);

  Section lg = top.child("log");
  top.seen("log");
  std::string format = "text", level = "info";
  lg.oneOf("format", &format, {"text", "json"});
  lg.oneOf("level", &level, {"debug", "info", "warn", "error"});
  log::parseFormat(format, &c.log_format);
  log::parseLevel(level, &c.log_level);
  lg.rejectUnknown();

  top.seen("store");
  readStore(top.child("store"), c.store);

  Section rt = top.child("routing");
  top.seen("routing");
  rt.strings("tables", &c.routing.tables);
  rt.boolean("watch", &c.routing.watch);
  rt.duration("watch_interval", &c.routing.watch_interval);
  rt.rejectUnknown();
  if (c.routing.tables.empty())
    top.error(top.raw("routing"), "routing.tables must name at least one routing table file");

  Section dl = top.child("delivery");
  top.seen("delivery");
  dl.integer("max_in_flight", &c.delivery.max_in_flight, 1, 100000);
  dl.duration("poll_interval", &c.delivery.poll_interval);
  dl.duration("infrastructure_ack_timeout", &c.delivery.infrastructure_ack_timeout);
  dl.duration("business_ack_timeout", &c.delivery.business_ack_timeout);
  dl.duration("shutdown_grace", &c.delivery.shutdown_grace);
  dl.rejectUnknown();

  top.seen("admin");
  readAdmin(top.child("admin"), c.admin, file, out.errors);

  top.seen("transports");
  YAML::Node transports = top.raw("transports");
  if (transports) {
    if (!transports.IsMap()) {
      top.error(transports, "transports must be a mapping from transport type to its settings");
    } else {
      for (const auto& kv : transports) c.transports.emplace_back(kv.first.Scalar(), kv.second);
    }
  }
  top.rejectUnknown();
  if (out.errors.empty()) out.config = std::move(c);
  return out;
}

}  // namespace itk
