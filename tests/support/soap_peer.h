// A SOAP peer for tests: the next hop the router delivers to. It runs the project's HTTP server
// (optionally TLS) on 127.0.0.1:0 in its own thread, records every request, and answers each
// from a script (a queue of answers, then a default: 200 SimpleMessageResponse OK). An answer
// can also be held (never sent) until the test releases it.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "itk/envelope/builders.h"
#include "itk/envelope/reader.h"
#include "itk/http/server.h"

namespace itk::test {

class SoapPeer {
 public:
  struct Received {
    std::string target;
    http::Headers headers;
    std::string body;
    bool tls = false;
    std::string tls_client_subject;
  };

  struct Answer {
    enum class Kind { kOk, kRespond, kHold } kind = Kind::kOk;
    http::Response response;  // kRespond
  };
  // 200 SimpleMessageResponse OK, Action <service>Response, RelatesTo the request's MessageID.
  static Answer ok() { return {}; }
  static Answer respond(int status, std::string body = {},
                        std::string content_type = "text/xml; charset=UTF-8") {
    Answer a;
    a.kind = Answer::Kind::kRespond;
    a.response.status = status;
    if (!body.empty()) a.response.headers.set("Content-Type", std::move(content_type));
    a.response.body = std::move(body);
    return a;
  }
  static Answer hold() {
    Answer a;
    a.kind = Answer::Kind::kHold;
    return a;
  }

  explicit SoapPeer(std::optional<http::TlsServerConfig> tls = {}, std::string name = "peer") {
    http::ServerConfig config;
    config.name = std::move(name);
    tls_ = tls.has_value();
    config.tls = std::move(tls);
    auto server = http::Server::start(io_, config, [this](http::Request&& r, http::Responder d) {
      handle(std::move(r), std::move(d));
    });
    if (!server.ok()) {
      error_ = server.status().toString();
      return;
    }
    server_ = std::move(*server);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SoapPeer() {
    releaseHeld();
    if (server_) server_->stopAccepting();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  SoapPeer(const SoapPeer&) = delete;
  SoapPeer& operator=(const SoapPeer&) = delete;

  bool started() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return server_ ? server_->port() : 0; }
  std::string url(const std::string& path = "/itk") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + path;
  }

  // Answers to the next requests, in order; afterwards the default answer.
  void script(std::vector<Answer> answers) {
    std::lock_guard lock(mu_);
    for (auto& a : answers) script_.push_back(std::move(a));
  }
  void setDefault(Answer a) {
    std::lock_guard lock(mu_);
    default_ = std::move(a);
  }

  size_t count() {
    std::lock_guard lock(mu_);
    return received_.size();
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  // Waits until at least `n` requests have arrived.
  bool waitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  }
  // Answers every held request with 503 (so nothing hangs when the test ends).
  void releaseHeld() {
    std::vector<http::Responder> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& h : held) h(http::Response::text(503, "released\n"));
  }

 private:
  void handle(http::Request&& r, http::Responder respond) {
    Answer answer;
    {
      std::lock_guard lock(mu_);
      received_.push_back({r.target, r.headers, r.body, r.tls, r.tls_client_subject});
      if (!script_.empty()) {
        answer = std::move(script_.front());
        script_.pop_front();
      } else {
        answer = default_;
      }
      if (answer.kind == Answer::Kind::kHold) held_.push_back(std::move(respond));
    }
    cv_.notify_all();
    switch (answer.kind) {
      case Answer::Kind::kHold:
        return;
      case Answer::Kind::kRespond:
        return respond(std::move(answer.response));
      case Answer::Kind::kOk: {
        auto doc = itk2::readItkDocument(r.body);
        std::string action = doc.ok() && doc->soap.action ? *doc->soap.action : "unknown";
        std::string id = doc.ok() && doc->soap.message_id ? *doc->soap.message_id : "";
        http::Response ok;
        ok.status = 200;
        ok.headers.set("Content-Type", "text/xml; charset=UTF-8");
        ok.body = itk2::buildSimpleMessageResponse(action, id);
        return respond(std::move(ok));
      }
    }
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::string error_;
  bool tls_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Answer> script_;
  Answer default_;
  std::vector<Received> received_;
  std::vector<http::Responder> held_;
};

}  // namespace itk::test
