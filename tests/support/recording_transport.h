// RecordingTransport: a Transport that records every send and answers it the way the test says:
// with a scripted responder (answered later on the io_context, never inline), or by hand with
// complete(). Waits use condition variables with a generous bound so a broken test fails instead
// of hanging; they never sleep for timing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "itk/transport.h"

namespace itk::test {

class RecordingTransport final : public Transport {
 public:
  struct Sent {
    OutboundMessage message;
    std::string endpoint;
  };
  using Responder = std::function<SendResult(const OutboundMessage&, const std::string& endpoint)>;

  explicit RecordingTransport(boost::asio::io_context& io) : io_(io) {}

  // Answers every later send with responder(message) on the io_context. Without a responder,
  // sends wait for complete().
  void setResponder(Responder responder) {
    std::lock_guard lock(mu_);
    responder_ = std::move(responder);
  }

  Status start(InboundSink&) override { return {}; }
  void stopAccepting() override {}
  bool ready() const override { return true; }

  void send(OutboundMessage message, const EndpointSpec& endpoint, SendCallback done) override {
    Responder responder;
    {
      std::lock_guard lock(mu_);
      sent_.push_back({message, endpoint.name});
      responder = responder_;
      if (!responder) waiting_.push_back(std::move(done));
    }
    cv_.notify_all();
    if (responder) {
      SendResult r = responder(message, endpoint.name);
      boost::asio::post(io_, [done = std::move(done), r = std::move(r)] { done(r); });
    }
  }

  // Answers the oldest send still waiting (on the io_context). False when none waits.
  bool complete(SendResult result) {
    SendCallback done;
    {
      std::lock_guard lock(mu_);
      if (waiting_.empty()) return false;
      done = std::move(waiting_.front());
      waiting_.pop_front();
    }
    boost::asio::post(io_, [done = std::move(done), result = std::move(result)] { done(result); });
    return true;
  }

  // Waits until at least `n` sends were made in all.
  bool waitForSends(size_t n, std::chrono::seconds bound = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return sent_.size() >= n; });
  }

  std::vector<Sent> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  size_t sentCount() const {
    std::lock_guard lock(mu_);
    return sent_.size();
  }
  size_t waitingCount() const {
    std::lock_guard lock(mu_);
    return waiting_.size();
  }

 private:
  boost::asio::io_context& io_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Responder responder_;
  std::vector<Sent> sent_;
  std::deque<SendCallback> waiting_;
};

}  // namespace itk::test
