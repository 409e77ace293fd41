// CallbackThread: one thread that runs posted functions in submission order. The stores use it
// to call back "on a store thread, never inline" without holding up their writer.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace itk {

class CallbackThread {
 public:
  CallbackThread() : thread_([this] { run(); }) {}
  // Runs what was posted before, then joins. Must not be destroyed from its own thread.
  ~CallbackThread() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  CallbackThread(const CallbackThread&) = delete;
  CallbackThread& operator=(const CallbackThread&) = delete;

  // Thread-safe; `fn` runs later on the callback thread, never inline.
  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

  // The same for a batch (one lock, one wake-up).
  void postAll(std::vector<std::function<void()>> fns) {
    if (fns.empty()) return;
    {
      std::lock_guard lock(mu_);
      for (auto& fn : fns) queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::function<void()> fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace itk
