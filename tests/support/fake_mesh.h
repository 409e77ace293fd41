// The fake MESH server (tests/fakes/mesh_server.py) as a child process, and a simple HTTP
// exchange for the MESH client that runs each request on its own thread over the blocking test
// client (plain HTTP; TLS goes through itk::http::Client in the transport tests).
#pragma once

#include <boost/json.hpp>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "itk/http/client.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace itk::test {

inline std::string fakeMeshScript() {
  return std::string(ITK_SOURCE_DIR) + "/tests/fakes/mesh_server.py";
}

class FakeMeshServer {
 public:
  explicit FakeMeshServer(std::vector<std::string> extra_args = {}) {
    std::vector<std::string> argv = {ITK_PYTHON3, fakeMeshScript(), "--port", "0"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    if (std::getenv("ITK_FAKE_MESH_VERBOSE")) argv.push_back("--verbose");
    for (const auto& a : extra_args) tls_ = tls_ || a == "--cert";
    process_ = std::make_unique<ChildProcess>(argv, dir_ / "mesh.log");
    // "PORT n", or "PORT n ADMIN m" with TLS (the admin API on a plain port).
    auto m = process_->waitForLog("PORT ([0-9]+)(?: ADMIN ([0-9]+))?\n", std::chrono::seconds(30));
    if (m) {
      port_ = static_cast<uint16_t>(std::stoi((*m)[1].str()));
      admin_port_ = (*m)[2].matched ? static_cast<uint16_t>(std::stoi((*m)[2].str())) : port_;
    }
  }
  ~FakeMeshServer() {
    if (std::getenv("ITK_FAKE_MESH_VERBOSE")) fprintf(stderr, "%s", log().c_str());
    process_->kill(SIGTERM);
    process_->wait(std::chrono::seconds(10));
  }

  bool running() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  std::string baseUrl() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  std::string log() const { return process_->log(); }

  // The admin API (no authentication). Returns the parsed JSON body (null when not JSON).
  boost::json::value admin(const std::string& method, const std::string& path,
                           const boost::json::value& body = nullptr, int* status = nullptr) {
    HttpConnection c(admin_port_);
    std::string payload = body.is_null() ? std::string() : boost::json::serialize(body);
    auto reply = c.request(method, "/messageexchange/admin/" + path, payload,
                           {{"Content-Type", "application/json"}});
    if (status) *status = reply ? reply->status : 0;
    if (!reply) return nullptr;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(reply->body, ec);
    return ec ? boost::json::value(nullptr) : v;
  }

  // Puts a DATA message in `to`'s inbox as if `from` had sent it; returns its MESH id.
  std::string inject(const std::string& from, const std::string& to, const std::string& workflow,
                     const std::string& data, size_t chunk_size = 0, bool gzip = false,
                     const std::string& local_id = {}) {
    boost::json::object o;
    o["from"] = from;
    o["to"] = to;
    o["workflow_id"] = workflow;
    o["local_id"] = local_id;
    o["data_b64"] = base64(data);
    o["chunk_size"] = chunk_size;
    o["gzip"] = gzip;
    auto r = admin("POST", "inject", o);
    return r.is_object() ? std::string(r.at("message_id").as_string()) : std::string();
  }

  boost::json::object message(const std::string& id) {
    auto r = admin("GET", "message/" + id);
    return r.is_object() ? r.as_object() : boost::json::object();
  }

  // The MESH status of a message ("accepted", "acknowledged", ...), empty when unknown.
  std::string status(const std::string& id) {
    auto m = message(id);
    return m.contains("status") ? std::string(m.at("status").as_string()) : std::string();
  }

  // Every message's metadata (admin/messages), optionally only those sent to `recipient`.
  std::vector<boost::json::object> messages(const std::string& recipient = {}) {
    std::vector<boost::json::object> out;
    auto r = admin("GET", "messages");
    if (!r.is_array()) return out;
    for (const auto& m : r.as_array()) {
      if (recipient.empty() || m.at("recipient").as_string() == recipient)
        out.push_back(m.as_object());
    }
    return out;
  }

  // A counter of admin/stats: table "requests" (by route name: handshake, inbox, download,
  // acknowledge, send_message, ...), "auth_failures" (by reason) or "held" (by operation).
  int64_t stat(const std::string& table, const std::string& key) {
    auto s = admin("GET", "stats");
    if (!s.is_object() || !s.as_object().contains(table)) return 0;
    const auto& t = s.at(table).as_object();
    return t.contains(key) ? t.at(key).as_int64() : 0;
  }
  // The sum of a stats table.
  int64_t statTotal(const std::string& table) {
    auto s = admin("GET", "stats");
    int64_t n = 0;
    if (s.is_object() && s.as_object().contains(table))
      for (const auto& [k, v] : s.at(table).as_object()) n += v.as_int64();
    return n;
  }

  // The next `count` requests of operation `op` (handshake, list, download, acknowledge, send,
  // send_chunk, tracking) are held open until release(). With `after`, MESH does the operation at
  // once and holds only its answer.
  void hold(const std::string& op, int count = 1, bool after = false) {
    admin("POST", "fault",
          boost::json::object{{"op", op}, {"hold", true}, {"count", count}, {"after", after}});
  }
  // Answers the held requests: "drop" closes their connections without doing the operation,
  // "proceed" does it and answers.
  void release(const std::string& mode = "drop") {
    admin("POST", "release", boost::json::object{{"mode", mode}});
  }

  static std::string base64(const std::string& in) {
    static constexpr char kTable[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
      uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
      for (int k = 18; k >= 0; k -= 6) out += kTable[(n >> k) & 63];
    }
    if (i < in.size()) {
      uint32_t n = uint8_t(in[i]) << 16;
      if (i + 1 < in.size()) n |= uint8_t(in[i + 1]) << 8;
      out += kTable[(n >> 18) & 63];
      out += kTable[(n >> 12) & 63];
      out += i + 1 < in.size() ? kTable[(n >> 6) & 63] : '=';
      out += '=';
    }
    return out;
  }

  static std::string unbase64(std::string_view in) {
    auto val = [](char c) -> int {
      if (c >= 'A' && c <= 'Z') return c - 'A';
      if (c >= 'a' && c <= 'z') return c - 'a' + 26;
      if (c >= '0' && c <= '9') return c - '0' + 52;
      if (c == '+') return 62;
      if (c == '/') return 63;
      return -1;
    };
    std::string out;
    uint32_t buf = 0;
    int bits = 0;
    for (char c : in) {
      int v = val(c);
      if (v < 0) continue;
      buf = (buf << 6) | uint32_t(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += char((buf >> bits) & 0xFF);
      }
    }
    return out;
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  bool tls_ = false;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
};

// An HTTP exchange on plain TCP for the MESH client in tests: each request on its own thread
// (so callbacks are never inline), all joined when the exchange is destroyed.
class ThreadExchange {
 public:
  ~ThreadExchange() { join(); }

  void join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  void operator()(http::ClientRequest request, http::ResponseCallback done) {
    std::lock_guard lock(mu_);
    threads_.emplace_back([request = std::move(request), done = std::move(done)]() mutable {
      done(perform(request));
    });
  }

  void post(std::function<void()> f) {
    std::lock_guard lock(mu_);
    threads_.emplace_back(std::move(f));
  }

  static Result<http::Response> perform(const http::ClientRequest& r) {
    // http://127.0.0.1:PORT/target
    constexpr std::string_view kPrefix = "http://127.0.0.1:";
    if (!std::string_view(r.url).starts_with(kPrefix)) return Status::invalid("bad url " + r.url);
    std::string rest = r.url.substr(kPrefix.size());
    size_t slash = rest.find('/');
    uint16_t port = static_cast<uint16_t>(std::stoi(rest.substr(0, slash)));
    HttpConnection c(port);
    if (!c.connected()) return Status::unavailable("connection refused");
    std::map<std::string, std::string> headers;
    for (const auto& [k, v] : r.headers.all()) headers[k] = v;
    auto reply = c.request(r.method, rest.substr(slash), r.body, headers);
    if (!reply) return Status::unavailable("connection closed without a response");
    http::Response out;
    out.status = reply->status;
    for (const auto& [k, v] : reply->headers) out.headers.add(k, v);
    out.body = std::move(reply->body);
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// Waits for an asynchronous callback's value.
template <class T>
class Await {
 public:
  std::function<void(T)> callback() {
    return [p = promise_](T v) { p->set_value(std::move(v)); };
  }
  T get() { return future_.get(); }

 private:
  std::shared_ptr<std::promise<T>> promise_ = std::make_shared<std::promise<T>>();
  std::future<T> future_ = promise_->get_future();
};

}  // namespace itk::test
