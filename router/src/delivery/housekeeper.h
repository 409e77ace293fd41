// Housekeeper: the store's periodic chores on their own thread, so that a long prune never holds
// up an I/O thread: expiring overdue ack expectations (AckTracker) and retention (Store::prune:
// bodies, old rows, audit, dedup keys, then the file's free space given back).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "delivery/ack_tracker.h"
#include "itk/clock.h"
#include "itk/store.h"

namespace itk {

struct HousekeeperOptions {
  std::chrono::seconds ack_check_interval{10};
  std::chrono::seconds prune_interval{3600};
};

class Housekeeper {
 public:
  // References outlive the housekeeper.
  Housekeeper(Store& store, AckTracker& acks, const Clock& clock, HousekeeperOptions options = {});
  // Stops the thread if it runs.
  ~Housekeeper();

  // Runs runOnce() every ack_check_interval (real time) on a thread of its own until stop().
  void start();
  void stop();

  // One round on the calling thread: expires overdue acks, and prunes when prune_interval has
  // passed on the clock since the last prune (the first round always prunes). Tests call this
  // with a ManualClock instead of starting the thread.
  void runOnce();

 private:
  Store& store_;
  AckTracker& acks_;
  const Clock& clock_;
  const HousekeeperOptions options_;
  std::optional<TimePoint> last_prune_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace itk
