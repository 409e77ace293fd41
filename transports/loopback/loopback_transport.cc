#include "loopback_transport.h"

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "itk/duration.h"
#include "itk/file_names.h"
#include "itk/log.h"

namespace itk {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct LoopbackEndpoint final : EndpointConfig {
  enum class Behaviour { kDeliver, kRetryable, kPermanent } behaviour = Behaviour::kDeliver;
  int fail_first = 0;  // the first N attempts of each delivery fail retryably
  std::string deliver_dir;
};

// Writes `bytes` to dir/name atomically (temp file, then rename), so readers never see half.
Status writeAtomically(const fs::path& dir, const std::string& name, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::path tmp = dir / (name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) return Status::unavailable("cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / name, ec);
  if (ec) return Status::unavailable("cannot rename " + tmp.string() + ": " + ec.message());
  return Status();
}

class LoopbackTransport final : public Transport,
                                public std::enable_shared_from_this<LoopbackTransport> {
 public:
  LoopbackTransport(const TransportContext& ctx, std::string inbound_dir,
                    std::chrono::milliseconds poll_interval)
      : ctx_(ctx),
        strand_(asio::make_strand(ctx.io)),
        timer_(strand_),
        inbound_dir_(std::move(inbound_dir)),
        poll_interval_(poll_interval) {}

  Status start(InboundSink& sink) override {
    sink_ = &sink;
    if (inbound_dir_.empty()) return Status();
    std::error_code ec;
    fs::create_directories(inbound_dir_, ec);
    if (ec)
      return Status::unavailable("loopback: cannot create " + inbound_dir_ + ": " + ec.message());
    accepting_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->scan(); });
    return Status();
  }

  void stopAccepting() override {
    accepting_ = false;
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  bool ready() const override { return inbound_dir_.empty() || accepting_; }

  void send(OutboundMessage message, const EndpointSpec& endpoint, SendCallback done) override {
    const auto* ep = endpoint.as<LoopbackEndpoint>();
    SendResult result;
    if (!ep) {
      result = SendResult::permanent("endpoint " + endpoint.name + " is not a loopback endpoint");
    } else if (ep->behaviour == LoopbackEndpoint::Behaviour::kPermanent) {
      result = SendResult::permanent("loopback endpoint " + endpoint.name +
                                     " refuses every message (behaviour: permanent)");
    } else if (ep->behaviour == LoopbackEndpoint::Behaviour::kRetryable ||
               message.attempt <= ep->fail_first) {
      result =
          SendResult::retryable("loopback endpoint " + endpoint.name + " is unavailable (attempt " +
                                std::to_string(message.attempt) + ")");
    } else if (!ep->deliver_dir.empty()) {
      std::string name = safeFileName(message.message->header.tracking_id, 64) + "-" +
                         std::to_string(message.delivery_id) + ".xml";
      Status s = writeAtomically(ep->deliver_dir, name, *message.message->body);
      result = s.ok() ? SendResult::delivered("written to " + ep->deliver_dir)
                      : SendResult::retryable(s.message());
    } else {
      result = SendResult::delivered("loopback");
    }
    // Contract: the callback never runs inline from send().
    asio::post(ctx_.io, [done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

 private:
  // Hands every new *.xml file to the router, oldest name first.
  void scan() {
    if (!accepting_) return;
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(inbound_dir_, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() == ".xml") files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      if (!accepting_) break;
      if (!in_progress_.insert(path.string()).second) continue;
      submit(path);
    }
    timer_.expires_after(poll_interval_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->scan();
    });
  }

  void submit(const fs::path& path) {
    auto bytes = std::make_shared<std::string>();
    {
      std::ifstream in(path, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      *bytes = ss.str();
    }
    Origin origin;
    origin.transport = "loopback";
    origin.peer = path.filename().string();
    Result<Message> decoded =
        ctx_.decode ? ctx_.decode(bytes) : Result<Message>(Status::internal("no message decoder"));
    if (!decoded.ok()) {
      sink_->reportUnreadable(origin, decoded.status());
      reject(path, decoded.status());
      return;
    }
    Message message = std::move(*decoded);
    message.origin = std::move(origin);
    message.received_at = ctx_.clock.now();
    sink_->accept(std::move(message), [self = shared_from_this(), path](AcceptOutcome o) {
      asio::post(self->strand_, [self, path, o = std::move(o)] { self->settle(path, o); });
    });
  }

  void settle(const fs::path& path, const AcceptOutcome& o) {
    std::error_code ec;
    switch (o.kind) {
      case AcceptOutcome::Kind::kAccepted:
      case AcceptOutcome::Kind::kDuplicate:
        fs::remove(path, ec);  // the acknowledgement: the file is gone only once it is durable
        break;
      case AcceptOutcome::Kind::kRejected:
        reject(path, o.status);
        break;
      case AcceptOutcome::Kind::kBusy:
        break;  // left in place: the next scan offers it again
    }
    in_progress_.erase(path.string());
  }

  void reject(const fs::path& path, const Status& why) {
    fs::path dir = fs::path(inbound_dir_) / "rejected";
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::rename(path, dir / path.filename(), ec);
    std::ofstream(dir / (path.filename().string() + ".reason")) << why.toString() << "\n";
    in_progress_.erase(path.string());
  }

  const TransportContext& ctx_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  std::string inbound_dir_;
  std::chrono::milliseconds poll_interval_;
  InboundSink* sink_ = nullptr;
  std::atomic<bool> accepting_{false};
  std::set<std::string> in_progress_;  // strand only
};

class LoopbackFactory final : public TransportFactory {
 public:
  std::string_view name() const override { return "loopback"; }

  Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(
      const YAML::Node& node) const override {
    auto ep = std::make_shared<LoopbackEndpoint>();
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "transport" || key == "max_concurrency" || key == "description") continue;
      if (key == "behaviour" || key == "behavior") {
        std::string b = v.IsScalar() ? v.Scalar() : "";
        if (b == "deliver")
          ep->behaviour = LoopbackEndpoint::Behaviour::kDeliver;
        else if (b == "retryable")
          ep->behaviour = LoopbackEndpoint::Behaviour::kRetryable;
        else if (b == "permanent")
          ep->behaviour = LoopbackEndpoint::Behaviour::kPermanent;
        else
          return Status::invalid("behaviour must be deliver, retryable or permanent");
      } else if (key == "fail_first") {
        int n = -1;
        if (!v.IsScalar() || !YAML::convert<int>::decode(v, n) || n < 0)
          return Status::invalid("fail_first must be a whole number of attempts");
        ep->fail_first = n;
      } else if (key == "deliver_dir") {
        if (!v.IsScalar()) return Status::invalid("deliver_dir must be a folder path");
        ep->deliver_dir = v.Scalar();
      } else {
        return Status::invalid("unknown loopback endpoint option '" + key + "'");
      }
    }
    return std::shared_ptr<const EndpointConfig>(std::move(ep));
  }

  Result<std::unique_ptr<Transport>> create(const YAML::Node& config,
                                            const TransportContext& ctx) const override {
    std::string inbound_dir;
    std::chrono::milliseconds poll{200};
    if (config && config.IsMap()) {
      for (const auto& kv : config) {
        std::string key = kv.first.Scalar();
        if (key == "inbound_dir" && kv.second.IsScalar()) {
          inbound_dir = kv.second.Scalar();
        } else if (key == "poll_interval" && kv.second.IsScalar() &&
                   parseDuration(kv.second.Scalar(), &poll) && poll.count() > 0) {
        } else {
          return Status::invalid("transports.loopback: bad or unknown option '" + key + "' (line " +
                                 std::to_string(kv.first.Mark().line + 1) + ")");
        }
      }
    } else if (config && !config.IsNull()) {
      return Status::invalid("transports.loopback must be a mapping");
    }
    auto impl = std::make_shared<LoopbackTransport>(ctx, inbound_dir, poll);
    return std::unique_ptr<Transport>(
        std::make_unique<SharedTransport<LoopbackTransport>>(std::move(impl)));
  }
};

}  // namespace

std::unique_ptr<TransportFactory> makeLoopbackTransportFactory() {
  return std::make_unique<LoopbackFactory>();
}

}  // namespace itk
