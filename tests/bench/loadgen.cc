// itk_loadgen: the end-to-end benchmark's load generator (tests/bench/e2e.py drives it).
//
// Sends ITK SOAP+DE requests (tests/bench/itk_message.h: a fresh tracking id, wsa:MessageID and
// timestamps each) over keep-alive HTTP/1.1 connections, in one of two modes:
//   closed loop (default): each of --connections sends its next request when the previous one is
//     answered; the rate found is the server's maximum at that concurrency.
//   fixed rate (--rate R): requests are scheduled at R per second whatever happens; a request
//     waits for a free connection if all are busy, and its latency is measured from its scheduled
//     time, so a stalled server is charged for every request it delayed (no coordinated
//     omission).
// Latencies go to a log-linear histogram (about 1.5 % resolution). Only responses completing in
// the measurement window (after --warmup, for --duration seconds) count. At the window's edges
// it reads the SOAP sink's /stats (--stats-url) and the CPU time of the processes named with
// --watch NAME=PID, so delivered messages and CPU are counted over exactly the same window.
// Prints one JSON object (also to --json FILE).
//
// `itk_loadgen --print-message --size N` prints one fresh request body and exits (the driver
// validates it with `itk-router validate` and uses it to probe readiness).
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "itk_message.h"

namespace itk::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

int64_t nowNs() {
  return std::chrono::duration_cast<Nanos>(SteadyClock::now().time_since_epoch()).count();
}

// ---- Latency histogram: log-linear, 64 sub-buckets per power of two, in nanoseconds ----------

class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr size_t kBuckets = 64 * kSub;

  void record(int64_t ns) {
    uint64_t v = ns < 0 ? 0 : static_cast<uint64_t>(ns);
    ++counts_[index(v)];
    ++total_;
    sum_ += static_cast<double>(v);
    max_ = std::max(max_, v);
  }
  void merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t total() const { return total_; }
  double meanNs() const { return total_ ? sum_ / static_cast<double>(total_) : 0; }
  uint64_t maxNs() const { return max_; }
  // The value at percentile p (0..100): the midpoint of the bucket holding it (max at 100).
  double percentileNs(double p) const {
    if (total_ == 0) return 0;
    if (p >= 100) return static_cast<double>(max_);
    const auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= std::max<uint64_t>(rank, 1)) {
        return std::min(midpoint(i), static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static size_t index(uint64_t v) {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - kSubBits;
    const size_t i =
        static_cast<size_t>(shift + 1) * kSub + static_cast<size_t>((v >> shift) - kSub);
    return std::min(i, kBuckets - 1);
  }
  static double midpoint(size_t i) {
    if (i < 2 * kSub) return static_cast<double>(i);
    const int shift = static_cast<int>(i / kSub) - 1;
    const double low = static_cast<double>((i % kSub) + kSub) * std::ldexp(1.0, shift);
    return low + std::ldexp(1.0, shift) / 2;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  double sum_ = 0;
  uint64_t max_ = 0;
};

// ---- Options -------------------------------------------------------------------------------

struct Options {
  std::string url;
  std::string host = "127.0.0.1";
  std::string port = "80";
  std::string path = "/";
  size_t size = 6144;
  int connections = 64;
  int threads = 1;
  double warmup_s = 2;
  double duration_s = 10;
  double rate = 0;  // 0: closed loop
  std::string stats_url;
  std::vector<std::pair<std::string, int>> watch;  // NAME=PID
  std::string json_path;
  std::string label;
  bool print_message = false;
};

bool parseUrl(const std::string& url, std::string* host, std::string* port, std::string* path) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return false;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  *path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  *host = authority.substr(0, colon);
  *port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  return !host->empty();
}

void usage() {
  std::cerr << "usage: itk_loadgen --url http://HOST:PORT/PATH [--size BYTES] [--connections N]\n"
               "                   [--threads N] [--warmup S] [--duration S] [--rate PER_S]\n"
               "                   [--stats-url URL] [--watch NAME=PID ...] [--json FILE]\n"
               "                   [--label TEXT]\n"
               "       itk_loadgen --print-message [--size BYTES] [--url URL]\n";
}

std::optional<Options> parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--url")
        o.url = value();
      else if (a == "--size")
        o.size = std::stoul(value());
      else if (a == "--connections")
        o.connections = std::stoi(value());
      else if (a == "--threads")
        o.threads = std::stoi(value());
      else if (a == "--warmup")
        o.warmup_s = std::stod(value());
      else if (a == "--duration")
        o.duration_s = std::stod(value());
      else if (a == "--rate")
        o.rate = std::stod(value());
      else if (a == "--stats-url")
        o.stats_url = value();
      else if (a == "--json")
        o.json_path = value();
      else if (a == "--label")
        o.label = value();
      else if (a == "--print-message")
        o.print_message = true;
      else if (a == "--watch") {
        std::string w = value();
        size_t eq = w.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("--watch takes NAME=PID");
        o.watch.emplace_back(w.substr(0, eq), std::stoi(w.substr(eq + 1)));
      } else {
        throw std::invalid_argument("unknown option " + a);
      }
    } catch (const std::exception& e) {
      std::cerr << "itk_loadgen: " << e.what() << "\n";
      usage();
      return std::nullopt;
    }
  }
  if (o.url.empty()) o.url = "http://127.0.0.1:80/";
  if (!parseUrl(o.url, &o.host, &o.port, &o.path)) {
    std::cerr << "itk_loadgen: --url must be http://HOST[:PORT]/PATH\n";
    return std::nullopt;
  }
  if (o.connections < 1 || o.threads < 1 || o.threads > o.connections || o.duration_s <= 0) {
    std::cerr << "itk_loadgen: need connections >= threads >= 1 and a positive duration\n";
    return std::nullopt;
  }
  return o;
}

// ---- Side measurements at the window's edges -----------------------------------------------

// CPU seconds (user + system, every thread) of a process, from /proc/PID/stat; -1 if gone.
double processCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 0; i <= 12 && (fields >> f); ++i) {
    if (i == 11) utime = std::stoull(f);
    if (i == 12) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double selfCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// GET url (plain HTTP) and return the body; empty on failure.
std::string httpGet(const std::string& url) {
  std::string host, port, path;
  if (!parseUrl(url, &host, &port, &path)) return {};
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.connect(resolver.resolve(host, port));
    http::request<http::empty_body> req(http::verb::get, path, 11);
    req.set(http::field::host, host);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return res.result_int() == 200 ? res.body() : std::string();
  } catch (const std::exception&) {
    return {};
  }
}

int64_t sinkCount(const std::string& stats_url) {
  if (stats_url.empty()) return -1;
  std::string body = httpGet(stats_url);
  if (body.empty()) return -1;
  try {
    return json::parse(body).at("requests").to_number<int64_t>();
  } catch (const std::exception&) {
    return -1;
  }
}

// ---- The load ------------------------------------------------------------------------------

struct Shared {
  const Options& options;
  const ItkMessage& message;
  std::string http_head;  // request line and headers, Content-Length included
  tcp::resolver::results_type endpoints;
  uint64_t id_prefix = 0;
  std::atomic<int64_t> window_start{INT64_MAX};
  std::atomic<int64_t> window_end{INT64_MAX};
  std::atomic<bool> stopping{false};
};

class Worker;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker& worker, asio::io_context& io);
  void connect();
  void send(int64_t scheduled_ns);
  void close() {
    beast::error_code ec;
    socket_.close(ec);
  }

 private:
  void onRead(const beast::error_code& ec);
  void fail(const char* what);

  Worker& worker_;
  tcp::socket socket_;
  asio::steady_timer retry_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::string head_;
  int64_t scheduled_ns_ = 0;
  bool busy_ = false;
};

class Worker {
 public:
  Worker(Shared& shared, int connections, double rate, uint64_t seq_base)
      : shared_(shared), timer_(io_), rate_(rate), seq_(seq_base) {
    for (int i = 0; i < connections; ++i)
      connections_.push_back(std::make_shared<Connection>(*this, io_));
  }

  void run() {
    for (auto& c : connections_) c->connect();
    thread_ = std::thread([this] { io_.run(); });
  }
  void startSchedule(int64_t start_ns) {
    asio::post(io_, [this, start_ns] {
      next_ns_ = start_ns;
      interval_ns_ = 1e9 / rate_;
      arm();
    });
  }
  void stop() {
    asio::post(io_, [this] {
      timer_.cancel();
      for (auto& c : connections_) c->close();
      work_.reset();
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  // ---- Called by connections, on this worker's thread ----
  Shared& shared() { return shared_; }
  uint64_t nextSeq() { return seq_++; }
  std::time_t wallNow() {
    // Timestamps to the second: one clock read per 1,024 requests is plenty.
    if ((seq_ & 1023) == 0 || wall_ == 0) wall_ = std::time(nullptr);
    return wall_;
  }
  void ready(Connection* c) {
    if (shared_.stopping) return;
    if (rate_ <= 0) return c->send(nowNs());
    if (!due_.empty()) {
      int64_t t = due_.front();
      due_.pop_front();
      return c->send(t);
    }
    idle_.push_back(c);
  }
  void completed(int64_t scheduled_ns, int64_t done_ns, bool ok, const std::string& error) {
    if (ok) ++ok_total_;
    if (done_ns < shared_.window_start || done_ns >= shared_.window_end) return;
    ++completed_;
    if (ok) {
      ++ok_;
      latency_.record(done_ns - scheduled_ns);
    } else {
      ++errors_[error];
    }
  }
  void ioError(const std::string& what) {
    if (nowNs() >= shared_.window_start && nowNs() < shared_.window_end) ++errors_[what];
  }

  // ---- Read after join ----
  const Histogram& latency() const { return latency_; }
  uint64_t completedCount() const { return completed_; }
  uint64_t okCount() const { return ok_; }
  uint64_t okTotal() const { return ok_total_; }
  const std::map<std::string, uint64_t>& errors() const { return errors_; }
  size_t maxBacklog() const { return max_backlog_; }

 private:
  void arm() {
    if (shared_.stopping) return;
    timer_.expires_at(SteadyClock::time_point(Nanos(static_cast<int64_t>(next_ns_))));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      const int64_t now = nowNs();
      while (next_ns_ <= now) {
        const auto t = static_cast<int64_t>(next_ns_);
        next_ns_ += interval_ns_;
        if (!idle_.empty()) {
          Connection* c = idle_.back();
          idle_.pop_back();
          c->send(t);
        } else if (due_.size() < (size_t{1} << 22)) {
          due_.push_back(t);
        }
      }
      max_backlog_ = std::max(max_backlog_, due_.size());
      arm();
    });
  }

  Shared& shared_;
  asio::io_context io_;
  // Idle connections waiting for the schedule hold no operation: keep run() going until stop().
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  asio::steady_timer timer_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::thread thread_;
  const double rate_;
  uint64_t seq_;
  std::time_t wall_ = 0;
  // Fixed rate: the schedule, requests due with no free connection, free connections.
  double next_ns_ = 0;
  double interval_ns_ = 0;
  std::deque<int64_t> due_;
  std::vector<Connection*> idle_;
  size_t max_backlog_ = 0;

  Histogram latency_;
  uint64_t completed_ = 0;
  uint64_t ok_ = 0;
  uint64_t ok_total_ = 0;  // in and out of the window: what the server accepted in all
  std::map<std::string, uint64_t> errors_;
};

Connection::Connection(Worker& worker, asio::io_context& io)
    : worker_(worker), socket_(io), retry_(io), head_(worker.shared().message.head()) {}

void Connection::connect() {
  if (worker_.shared().stopping) return;
  asio::async_connect(
      socket_, worker_.shared().endpoints,
      [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
        if (ec) return self->fail("connect");
        self->socket_.set_option(tcp::no_delay(true));
        self->busy_ = false;
        self->worker_.ready(self.get());
      });
}

void Connection::fail(const char* what) {
  const bool was_busy = busy_;
  busy_ = false;
  if (worker_.shared().stopping) return;
  if (was_busy) {
    // The request in flight failed: it counts as an error at its completion time.
    worker_.completed(scheduled_ns_, nowNs(), false, std::string("io_") + what);
  } else {
    worker_.ioError(std::string("io_") + what);
  }
  close();
  buffer_.clear();
  // Reconnect shortly; a fixed-rate request that was in flight is not resent.
  retry_.expires_after(std::chrono::milliseconds(10));
  retry_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->connect();
  });
}

void Connection::send(int64_t scheduled_ns) {
  Shared& s = worker_.shared();
  scheduled_ns_ = scheduled_ns;
  busy_ = true;
  s.message.fill(head_, s.id_prefix, worker_.nextSeq(), worker_.wallNow());
  std::array<asio::const_buffer, 3> buffers{asio::buffer(s.http_head), asio::buffer(head_),
                                            asio::buffer(s.message.tail())};
  asio::async_write(
      socket_, buffers, [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
        if (ec) return self->fail("write");
        self->parser_.emplace();
        self->parser_->body_limit(64 << 20);
        http::async_read(self->socket_, self->buffer_, *self->parser_,
                         [self](const beast::error_code& ec2, size_t) { self->onRead(ec2); });
      });
}

void Connection::onRead(const beast::error_code& ec) {
  if (ec) return fail("read");
  const int64_t done = nowNs();
  busy_ = false;
  auto& res = parser_->get();
  const int status = res.result_int();
  const bool ok = status == 200 && res.body().find("SimpleMessageResponse") != std::string::npos;
  worker_.completed(
      scheduled_ns_, done, ok,
      status == 200 ? "status_200_not_simple_response" : "status_" + std::to_string(status));
  if (!res.keep_alive()) {
    close();
    buffer_.clear();
    return connect();
  }
  worker_.ready(this);
}

// ---- Main ----------------------------------------------------------------------------------

json::object percentiles(const Histogram& h) {
  json::object o;
  auto us = [&](double p) { return std::round(h.percentileNs(p) / 10.0) / 100.0; };
  o["p50"] = us(50);
  o["p90"] = us(90);
  o["p99"] = us(99);
  o["p999"] = us(99.9);
  o["max"] = static_cast<double>(h.maxNs()) / 1000.0;
  o["mean"] = std::round(h.meanNs() / 10.0) / 100.0;
  json::array spectrum;
  for (double p :
       {0.0,  10.0, 20.0,   30.0, 40.0, 50.0, 60.0,  70.0, 75.0,  80.0,  85.0,   90.0,
        92.5, 95.0, 96.875, 98.0, 99.0, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100.0}) {
    spectrum.push_back(json::array{p, us(p)});
  }
  o["spectrum"] = std::move(spectrum);
  return o;
}

int run(const Options& o) {
  ItkMessage message(o.size, "http://" + o.host + ":" + o.port + o.path);
  if (o.print_message) {
    std::string head = message.head();
    std::random_device rd;
    message.fill(head, (uint64_t{rd()} << 32) | rd(), 1, std::time(nullptr));
    std::cout << head << message.tail();
    return 0;
  }
  Shared shared{o, message, {}, {}, 0};
  shared.http_head = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + o.port +
                     "\r\nContent-Type: text/xml; charset=UTF-8\r\nSOAPAction: \"" +
                     std::string(kService) +
                     "\"\r\nContent-Length: " + std::to_string(message.size()) + "\r\n\r\n";
  {
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    shared.endpoints = resolver.resolve(o.host, o.port, ec);
    if (ec) {
      std::cerr << "itk_loadgen: cannot resolve " << o.host << ": " << ec.message() << "\n";
      return 1;
    }
  }
  std::random_device rd;
  shared.id_prefix = (uint64_t{rd()} << 32) | rd();

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) {
    int conns = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(shared, conns, o.rate / o.threads,
                                               static_cast<uint64_t>(t) << 40));
  }
  const int64_t t0 = nowNs();
  for (auto& w : workers) w->run();
  if (o.rate > 0) {
    for (auto& w : workers) w->startSchedule(t0);
  }

  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));
  // The window opens: read the side measurements, then start counting.
  const int64_t sink0 = sinkCount(o.stats_url);
  std::vector<double> cpu0;
  for (const auto& [name, pid] : o.watch) cpu0.push_back(processCpuSeconds(pid));
  const double self0 = selfCpuSeconds();
  const int64_t start = nowNs();
  shared.window_start = start;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  const int64_t end = nowNs();
  shared.window_end = end;
  const int64_t sink1 = sinkCount(o.stats_url);
  std::vector<double> cpu1;
  for (const auto& [name, pid] : o.watch) cpu1.push_back(processCpuSeconds(pid));
  const double self1 = selfCpuSeconds();
  shared.stopping = true;
  for (auto& w : workers) w->stop();
  for (auto& w : workers) w->join();

  const double window = static_cast<double>(end - start) / 1e9;
  Histogram all;
  uint64_t completed = 0, ok = 0, ok_total = 0;
  size_t backlog = 0;
  std::map<std::string, uint64_t> errors;
  for (auto& w : workers) {
    all.merge(w->latency());
    completed += w->completedCount();
    ok += w->okCount();
    ok_total += w->okTotal();
    backlog = std::max(backlog, w->maxBacklog());
    for (const auto& [k, v] : w->errors()) errors[k] += v;
  }
  json::object out;
  out["label"] = o.label;
  out["mode"] = o.rate > 0 ? "rate" : "closed";
  out["url"] = o.url;
  out["size_bytes"] = message.size();
  out["connections"] = o.connections;
  out["threads"] = o.threads;
  out["target_rate"] = o.rate;
  out["window_s"] = window;
  out["completed"] = completed;
  out["ok"] = ok;
  out["ok_per_s"] = static_cast<double>(ok) / window;
  out["ok_total"] = ok_total;
  json::object errs;
  for (const auto& [k, v] : errors) errs[k] = v;
  out["errors"] = std::move(errs);
  out["latency_us"] = percentiles(all);
  if (o.rate > 0) out["max_backlog"] = backlog;
  if (sink0 >= 0 && sink1 >= 0) {
    out["sink_delta"] = sink1 - sink0;
    out["delivered_per_s"] = static_cast<double>(sink1 - sink0) / window;
  }
  json::object cpu;
  for (size_t i = 0; i < o.watch.size(); ++i) {
    if (cpu0[i] >= 0 && cpu1[i] >= 0) cpu[o.watch[i].first] = cpu1[i] - cpu0[i];
  }
  cpu["loadgen"] = self1 - self0;
  out["cpu_s"] = std::move(cpu);
  const std::string text = json::serialize(out);
  std::cout << text << std::endl;
  if (!o.json_path.empty()) std::ofstream(o.json_path) << text << "\n";
  return 0;
}

}  // namespace
}  // namespace itk::bench

int main(int argc, char** argv) {
  auto options = itk::bench::parseArgs(argc, argv);
  if (!options) return 2;
  return itk::bench::run(*options);
}
